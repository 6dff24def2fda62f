//! spec-kitty's own queue-DB schema, as its releases create it: the DDL
//! captured from each release's code (`fixtures/releases/<X>/facts.json`,
//! `ddl.legacy`), materialised, and the structure SQLite reports for a DB,
//! for comparing a DB with a release's.

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::Connection;
use serde_json::Value;

/// The DDL statements one release's `OfflineQueue` + `OfflineBodyUploadQueue`
/// create in a fresh queue DB, for each captured queue-DB release:
/// (release, schema version its DB fingerprints as, statements).
pub fn captured() -> &'static [(String, u32, Vec<String>)] {
    static CAPTURED: std::sync::OnceLock<Vec<(String, u32, Vec<String>)>> =
        std::sync::OnceLock::new();
    CAPTURED.get_or_init(read_captured)
}

fn read_captured() -> Vec<(String, u32, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path().join("facts.json");
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let facts: Value = serde_json::from_slice(&bytes).unwrap();
        let Some(stmts) = facts["ddl"]["legacy"].as_array() else {
            continue; // a project-store release: no queue DB of its own
        };
        let stmts: Vec<String> = stmts
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        let conn = Connection::open_in_memory().unwrap();
        apply(&conn, &stmts);
        let shape = sk_boundary::db::schema::read_shape(&conn, "main").unwrap();
        let v = sk_boundary::db::schema::version_of(&shape).unwrap();
        out.push((facts["release"].as_str().unwrap().to_string(), v, stmts));
    }
    out.sort_by_key(|(r, _, _)| {
        r.split('.')
            .map(|n| n.parse::<u32>().unwrap())
            .collect::<Vec<_>>()
    });
    out
}

/// The DDL of the newest captured release whose DB is schema `v`; `None`
/// when no captured release writes that version (V1, V2: older than 2.1).
pub fn newest_at(v: u32) -> Option<(&'static str, &'static [String])> {
    captured()
        .iter()
        .rev()
        .find(|(_, at, _)| *at == v)
        .map(|(r, _, s)| (r.as_str(), s.as_slice()))
}

/// Run a release's statements on `conn` (SQLite makes `sqlite_sequence`
/// itself, for the first AUTOINCREMENT table).
pub fn apply(conn: &Connection, stmts: &[String]) {
    // Tables before indexes (the capture lists them by type, indexes first).
    let mut ordered: Vec<&String> = stmts
        .iter()
        .filter(|s| s.starts_with("CREATE TABLE"))
        .collect();
    ordered.extend(stmts.iter().filter(|s| !s.starts_with("CREATE TABLE")));
    for s in ordered {
        if s.starts_with("CREATE TABLE sqlite_sequence") {
            continue;
        }
        conn.execute_batch(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
}

/// A fresh DB file at `path` with a release's schema.
pub fn materialise(path: &Path, stmts: &[String]) -> Connection {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    apply(&conn, stmts);
    conn
}

/// A DB's schema as SQLite reports it, table by table: columns
/// (`table_info`: name, type, notnull, default, pk) and indexes
/// (`index_list` + `index_xinfo`: name, unique, origin, partial, and each
/// key column with its order and collation). SQL text and whitespace do
/// not matter; refinery's history and `sqlite_*` tables are left out.
pub type Structure = BTreeMap<String, (Vec<String>, Vec<String>)>;

pub fn structure(conn: &Connection) -> Structure {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name != 'refinery_schema_history' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let rows = |sql: &str, arg: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        stmt.query_map([arg], |r| {
            Ok((0..n)
                .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                .collect::<Vec<_>>()
                .join(" "))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let mut out = Structure::new();
    for t in tables {
        let cols = rows(
            "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1) ORDER BY cid",
            &t,
        );
        let mut idx = Vec::new();
        let list: Vec<(String, i64, String, i64)> = conn
            .prepare("SELECT name, \"unique\", origin, partial FROM pragma_index_list(?1)")
            .unwrap()
            .query_map([&t], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for (name, unique, origin, partial) in list {
            let keys = rows(
                "SELECT name, \"desc\", coll FROM pragma_index_xinfo(?1) WHERE key ORDER BY seqno",
                &name,
            );
            // Autoindex names depend on creation order, not on the schema.
            let shown = if name.starts_with("sqlite_autoindex_") {
                "autoindex"
            } else {
                name.as_str()
            };
            idx.push(format!(
                "{shown} unique={unique} origin={origin} partial={partial}: {}",
                keys.join(", ")
            ));
        }
        idx.sort();
        out.insert(t, (cols, idx));
    }
    out
}

/// A DB built by our own migrations V1..=`v`, as refinery would build it.
pub fn from_migrations(v: u32) -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    for m in sk_boundary::db::schema::migrations() {
        if m.version() as u32 <= v {
            conn.execute_batch(m.sql().unwrap()).unwrap();
        }
    }
    conn
}
