//! Queue DB schema: embedded refinery migrations V1..V5 and the fingerprint
//! that recognises a DB's version from its columns (`docs/schema.md`).
//!
//! spec-kitty writes its DBs without refinery's history table, so a DB's
//! version is read from its shape. When this tool upgrades a DB it first
//! records that version as a baseline in refinery's history, so refinery then
//! applies only the missing steps.

pub mod tables;

use std::collections::BTreeMap;
use std::path::Path;

use rusqlite::{Connection, OptionalExtension};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::Error;
use tables::{ALL, Table};

/// The newest schema version this tool knows.
pub const LATEST: u32 = 5;

/// refinery's history table (its default name).
pub const HISTORY_TABLE: &str = "refinery_schema_history";

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// The embedded migrations, V1..V5 in order.
pub fn migrations() -> Vec<refinery::Migration> {
    embedded::migrations::runner().get_migrations().clone()
}

/// One embedded migration (the closed set of `migrations/`), named as
/// refinery names it: `V{version}__{name}` (a test holds the two equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MigrationId {
    V1Queue,
    V2BodyUploadQueue,
    V3QueueCoalesceKey,
    V4MissionRename,
    V5BodyUploadFailureLog,
}

impl MigrationId {
    /// Every migration, in version order.
    pub const ALL: [MigrationId; 5] = [
        MigrationId::V1Queue,
        MigrationId::V2BodyUploadQueue,
        MigrationId::V3QueueCoalesceKey,
        MigrationId::V4MissionRename,
        MigrationId::V5BodyUploadFailureLog,
    ];

    /// The schema version it upgrades a DB to.
    pub const fn version(self) -> u32 {
        match self {
            MigrationId::V1Queue => 1,
            MigrationId::V2BodyUploadQueue => 2,
            MigrationId::V3QueueCoalesceKey => 3,
            MigrationId::V4MissionRename => 4,
            MigrationId::V5BodyUploadFailureLog => 5,
        }
    }

    /// Its file's name after `V{version}__`.
    pub const fn name(self) -> &'static str {
        match self {
            MigrationId::V1Queue => "queue",
            MigrationId::V2BodyUploadQueue => "body_upload_queue",
            MigrationId::V3QueueCoalesceKey => "queue_coalesce_key",
            MigrationId::V4MissionRename => "mission_rename",
            MigrationId::V5BodyUploadFailureLog => "body_upload_failure_log",
        }
    }

    /// The migrations a DB at version `from` needs to reach `target`.
    pub fn pending(from: u32, target: u32) -> Vec<MigrationId> {
        MigrationId::ALL
            .into_iter()
            .filter(|m| m.version() > from && m.version() <= target)
            .collect()
    }
}

impl std::fmt::Display for MigrationId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "V{}__{}", self.version(), self.name())
    }
}

impl serde::Serialize for MigrationId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One column as `PRAGMA table_info` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    /// The declared type, as written (its affinity decides comparisons).
    pub decl_type: String,
    pub notnull: bool,
    pub has_default: bool,
    pub pk: bool,
}

/// The queue tables a DB has (by name) and their columns. Other tables are
/// not part of the shape: they are left alone.
pub type Shape = BTreeMap<Table, Vec<ColumnInfo>>;

/// Read the shape of the DB attached as `schema` (`main`, `legacy`, ...).
pub fn read_shape(conn: &Connection, schema: &str) -> rusqlite::Result<Shape> {
    let mut shape = Shape::new();
    let mut stmt = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_info(?1, ?2)",
    )?;
    for t in ALL {
        let cols = stmt
            .query_map((t.name(), schema), |r| {
                Ok(ColumnInfo {
                    name: r.get(0)?,
                    decl_type: r.get(1)?,
                    notnull: r.get::<_, i64>(2)? != 0,
                    has_default: r.get(3)?,
                    pk: r.get::<_, i64>(4)? != 0,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        if !cols.is_empty() {
            shape.insert(t.table, cols);
        }
    }
    Ok(shape)
}

/// Does a declared type give TEXT affinity? (SQLite's rules, in order: "INT"
/// means INTEGER; then "CHAR", "CLOB" or "TEXT" means TEXT.)
pub fn text_affinity(decl_type: &str) -> bool {
    let t = decl_type.to_ascii_uppercase();
    !t.contains("INT") && (t.contains("CHAR") || t.contains("CLOB") || t.contains("TEXT"))
}

/// Column names that hide SQLite's own rowid, which the move relies on.
const ROWID_NAMES: [&str; 3] = ["rowid", "oid", "_rowid_"];

/// What keeps `shape` from being version `v`; empty when it is.
fn mismatches(shape: &Shape, v: u32) -> Vec<String> {
    let mut out = Vec::new();
    for t in ALL {
        match (t.exists_at(v), shape.get(&t.table)) {
            (true, None) => out.push(format!("table {} is missing", t.name())),
            (false, Some(_)) => out.push(format!("table {} is present", t.name())),
            (false, None) => {}
            (true, Some(cols)) => {
                let expected = t.columns_at(v);
                for e in &expected {
                    if !cols.iter().any(|c| c.name == *e) {
                        out.push(format!("column {}.{e} is missing", t.name()));
                    }
                }
                for k in t.key.iter().filter_map(|k| t.column_at(k, v)) {
                    // Keys compare exactly only as text: another affinity
                    // would make '1.0' and 1 the same key.
                    if let Some(c) = cols.iter().find(|c| c.name == k)
                        && !text_affinity(&c.decl_type)
                    {
                        out.push(format!(
                            "key column {}.{k} is declared {:?}, not TEXT",
                            t.name(),
                            c.decl_type
                        ));
                    }
                }
                for c in cols {
                    if ROWID_NAMES.iter().any(|r| c.name.eq_ignore_ascii_case(r)) {
                        out.push(format!(
                            "column {}.{} hides SQLite's rowid",
                            t.name(),
                            c.name
                        ));
                    }
                    let known = expected.contains(&c.name.as_str());
                    // An extra column the CLI's inserts can omit is harmless;
                    // one they cannot fill would make every insert fail.
                    if !known && c.notnull && !c.has_default && !c.pk {
                        out.push(format!(
                            "unknown column {}.{} is NOT NULL without a default",
                            t.name(),
                            c.name
                        ));
                    }
                }
            }
        }
    }
    out
}

/// The schema version of a shape: 0 when it has no queue table, else the
/// highest version it matches. Pure. `Err` explains the nearest miss.
pub fn version_of(shape: &Shape) -> Result<u32, String> {
    if shape.is_empty() {
        return Ok(0);
    }
    let mut nearest: Option<(usize, Vec<String>)> = None;
    for v in (1..=LATEST).rev() {
        let m = mismatches(shape, v);
        if m.is_empty() {
            return Ok(v);
        }
        if nearest.as_ref().is_none_or(|(n, _)| m.len() < *n) {
            nearest = Some((m.len(), m));
        }
    }
    let detail = nearest.map(|(_, m)| m.join("; ")).unwrap_or_default();
    Err(detail)
}

/// Fingerprint the DB attached as `schema` on `conn` (file `path`). Beyond
/// the columns, a queue table must have a rowid and no trigger: the move
/// relies on both to prove what it moved.
pub fn fingerprint(conn: &Connection, schema: &str, path: &Path) -> Result<u32, Error> {
    let sq = |e| Error::sqlite(path, e, 0);
    let unknown = |detail: String| Error::UnknownSchema {
        path: path.to_path_buf(),
        detail,
    };
    let shape = read_shape(conn, schema).map_err(sq)?;
    let version = version_of(&shape).map_err(unknown)?;
    // In name order: the first such table named is the one it always was.
    let mut tables: Vec<&Table> = shape.keys().collect();
    tables.sort_by_key(|t| t.as_str());
    for table in tables {
        let probe = format!("SELECT rowid FROM \"{schema}\".\"{table}\" LIMIT 0");
        if conn.prepare(&probe).is_err() {
            return Err(unknown(format!(
                "table {table} has no rowid (WITHOUT ROWID)"
            )));
        }
    }
    let mut stmt = conn
        .prepare(&format!(
            "SELECT name, tbl_name FROM \"{schema}\".sqlite_master WHERE type = 'trigger'"
        ))
        .map_err(sq)?;
    let triggers = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(sq)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sq)?;
    if let Some((name, table)) = triggers
        .iter()
        .find(|(_, t)| Table::from_name(t).is_some_and(|t| shape.contains_key(&t)))
    {
        return Err(unknown(format!(
            "trigger {name} on {table}: a trigger could change rows behind the move's back"
        )));
    }
    Ok(version)
}

/// The highest version in refinery's history, `None` when the DB has no
/// history table. Rows refinery could not parse (it would panic on them) or
/// that diverge from the embedded migrations are refused here.
pub fn history_version(conn: &Connection, path: &Path) -> Result<Option<u32>, Error> {
    let sq = |e| Error::sqlite(path, e, 0);
    let has: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?1",
            [HISTORY_TABLE],
            |r| r.get(0),
        )
        .optional()
        .map_err(sq)?;
    if has.is_none() {
        return Ok(None);
    }
    let known = migrations();
    let bad = |detail: String| Error::UnknownSchema {
        path: path.to_path_buf(),
        detail: format!("{HISTORY_TABLE}: {detail}"),
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT CAST(version AS TEXT), name, applied_on, checksum FROM {HISTORY_TABLE} ORDER BY version"
        ))
        .map_err(sq)?;
    let mut rows = stmt.query([]).map_err(sq)?;
    let mut max = 0;
    while let Some(row) = rows.next().map_err(sq)? {
        let text = |i| {
            row.get::<_, Option<String>>(i)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        let (version, name, applied_on, checksum) = (text(0), text(1), text(2), text(3));
        let v: u32 = version
            .parse()
            .map_err(|_| bad(format!("version {version:?} is not a number")))?;
        if OffsetDateTime::parse(&applied_on, &Rfc3339).is_err() {
            return Err(bad(format!("V{v} has an unreadable applied_on")));
        }
        let sum: u64 = checksum
            .parse()
            .map_err(|_| bad(format!("V{v} has an unreadable checksum")))?;
        let Some(m) = known.iter().find(|m| m.version() as u32 == v) else {
            return Err(bad(format!("V{v} is newer than this tool knows")));
        };
        if m.checksum() != sum || m.name() != name {
            return Err(bad(format!(
                "V{v} differs from the migration this tool embeds"
            )));
        }
        max = max.max(v);
    }
    Ok(Some(max))
}

/// A schema upgrade that was run (or found unnecessary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Upgrade {
    pub from: u32,
    pub to: u32,
}

impl Upgrade {
    pub fn changed(&self) -> bool {
        self.from != self.to
    }
}

/// Bring the DB open on `conn` (its `main`) to [`LATEST`]. See [`upgrade_to`].
pub fn upgrade(conn: &mut Connection, path: &Path) -> Result<Upgrade, Error> {
    upgrade_to(conn, path, LATEST)
}

/// Bring the DB open on `conn` (its `main`) to `target` (the version the
/// installed release reads and writes): fingerprint it, record a baseline
/// when it has no history and steps are missing, let refinery apply them in
/// one transaction. A DB already at `target` or beyond is left as it is (no
/// history is written: nothing is to be applied, and a later run
/// fingerprints it again). Unknown shapes are refused untouched.
pub fn upgrade_to(conn: &mut Connection, path: &Path, target: u32) -> Result<Upgrade, Error> {
    let target = target.min(LATEST);
    let from = fingerprint(conn, "main", path)?;
    match history_version(conn, path)? {
        Some(h) if h != from => {
            return Err(Error::UnknownSchema {
                path: path.to_path_buf(),
                detail: format!("its history says V{h} but its columns are V{from}"),
            });
        }
        Some(_) => {}
        None if from > 0 && from < target => record_baseline(conn, path, from)?,
        None => {}
    }
    if from >= target {
        return Ok(Upgrade { from, to: from });
    }
    embedded::migrations::runner()
        .set_grouped(true)
        .set_target(refinery::Target::Version(target as i32))
        .run(conn)
        .map_err(|e| Error::Migration {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    Ok(Upgrade { from, to: target })
}

/// Write refinery history rows for V1..=`version`, as if refinery had applied
/// them: same names and checksums, so it applies only what is missing.
fn record_baseline(conn: &mut Connection, path: &Path, version: u32) -> Result<(), Error> {
    let sq = |e| Error::sqlite(path, e, 0);
    let now = OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .map_err(|e| Error::Migration {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    let tx = conn.transaction().map_err(sq)?;
    tx.execute_batch(&format!(
        "CREATE TABLE IF NOT EXISTS {HISTORY_TABLE}(
             version int4 PRIMARY KEY,
             name VARCHAR(255),
             applied_on VARCHAR(255),
             checksum VARCHAR(255));"
    ))
    .map_err(sq)?;
    for m in migrations()
        .iter()
        .filter(|m| m.version() as u32 <= version)
    {
        tx.execute(
            &format!(
                "INSERT INTO {HISTORY_TABLE} (version, name, applied_on, checksum) VALUES (?1, ?2, ?3, ?4)"
            ),
            (m.version(), m.name(), &now, m.checksum().to_string()),
        )
        .map_err(sq)?;
    }
    tx.commit().map_err(sq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_ids_name_the_embedded_migrations() {
        let embedded: Vec<String> = migrations()
            .iter()
            .map(|m| format!("V{}__{}", m.version(), m.name()))
            .collect();
        let ids: Vec<String> = MigrationId::ALL.iter().map(|m| m.to_string()).collect();
        assert_eq!(ids, embedded);
        assert_eq!(MigrationId::ALL.len() as u32, LATEST);
        assert_eq!(
            serde_json::to_value(MigrationId::pending(3, 5)).unwrap(),
            serde_json::json!(["V4__mission_rename", "V5__body_upload_failure_log"])
        );
    }

    /// A DB as spec-kitty wrote it at version `v`: the migrations' SQL, no history.
    fn spec_kitty_db(v: u32) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        for m in migrations().iter().filter(|m| m.version() as u32 <= v) {
            conn.execute_batch(m.sql().unwrap()).unwrap();
        }
        conn
    }

    #[test]
    fn fingerprint_recognises_every_version() {
        for v in 0..=LATEST {
            let conn = spec_kitty_db(v);
            assert_eq!(fingerprint(&conn, "main", Path::new("x")).unwrap(), v);
        }
    }

    #[test]
    fn extra_nullable_column_is_tolerated_but_not_null_without_default_is_not() {
        let conn = spec_kitty_db(5);
        conn.execute_batch("ALTER TABLE queue ADD COLUMN extra TEXT")
            .unwrap();
        assert_eq!(fingerprint(&conn, "main", Path::new("x")).unwrap(), 5);
        conn.execute_batch("ALTER TABLE queue ADD COLUMN hard TEXT NOT NULL DEFAULT 'x'")
            .unwrap();
        assert_eq!(fingerprint(&conn, "main", Path::new("x")).unwrap(), 5);
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER, newer TEXT NOT NULL)").unwrap();
        let err = fingerprint(&conn, "main", Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("queue.newer"), "{err}");
    }

    #[test]
    fn affinity_follows_sqlite_rules() {
        for t in ["TEXT", "varchar(20)", "CLOB", "character"] {
            assert!(text_affinity(t), "{t}");
        }
        for t in ["INTEGER", "", "BLOB", "REAL", "NUMERIC", "POINT"] {
            assert!(!text_affinity(t), "{t}");
        }
    }

    #[test]
    fn hostile_shapes_the_move_cannot_prove_are_unknown() {
        let cases = [
            // A user column named rowid hides the real one.
            "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER, rowid INTEGER)",
            // A numeric key compares '1.0' equal to 1.
            "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id INTEGER, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER)",
            // No rowid at all.
            "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER) WITHOUT ROWID",
        ];
        for sql in cases {
            let conn = Connection::open_in_memory().unwrap();
            conn.execute_batch(sql).unwrap();
            assert!(
                matches!(
                    fingerprint(&conn, "main", Path::new("x")),
                    Err(Error::UnknownSchema { .. })
                ),
                "{sql}"
            );
        }
        let conn = spec_kitty_db(5);
        conn.execute_batch("CREATE TRIGGER eat AFTER INSERT ON queue BEGIN DELETE FROM queue WHERE id = new.id; END;")
            .unwrap();
        let err = fingerprint(&conn, "main", Path::new("x"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("trigger eat"), "{err}");
    }

    #[test]
    fn missing_key_column_is_unknown() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE queue (id INTEGER PRIMARY KEY, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER)").unwrap();
        let err = fingerprint(&conn, "main", Path::new("q.db"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("queue.event_id is missing") && err.contains("q.db"),
            "{err}"
        );
    }

    #[test]
    fn latest_without_history_is_left_as_it_is() {
        let mut conn = spec_kitty_db(LATEST);
        let up = upgrade(&mut conn, Path::new("x")).unwrap();
        assert!(!up.changed());
        assert_eq!(history_version(&conn, Path::new("x")).unwrap(), None);
    }

    #[test]
    fn upgrade_from_every_version_reaches_latest_and_records_history() {
        for v in 0..LATEST {
            let mut conn = spec_kitty_db(v);
            let up = upgrade(&mut conn, Path::new("x")).unwrap();
            assert_eq!(
                up,
                Upgrade {
                    from: v,
                    to: LATEST
                }
            );
            assert_eq!(fingerprint(&conn, "main", Path::new("x")).unwrap(), LATEST);
            assert_eq!(
                history_version(&conn, Path::new("x")).unwrap(),
                Some(LATEST)
            );
            // A second upgrade is a no-op.
            let again = upgrade(&mut conn, Path::new("x")).unwrap();
            assert!(!again.changed());
        }
    }

    #[test]
    fn corrupt_history_is_refused_not_panicked_on() {
        let mut conn = spec_kitty_db(2);
        record_baseline(&mut conn, Path::new("x"), 2).unwrap();
        conn.execute_batch(&format!(
            "UPDATE {HISTORY_TABLE} SET applied_on = 'yesterday'"
        ))
        .unwrap();
        assert!(matches!(
            upgrade(&mut conn, Path::new("x")),
            Err(Error::UnknownSchema { .. })
        ));
    }

    #[test]
    fn history_disagreeing_with_shape_is_refused() {
        let mut conn = spec_kitty_db(3);
        record_baseline(&mut conn, Path::new("x"), 2).unwrap();
        assert!(matches!(
            upgrade(&mut conn, Path::new("x")),
            Err(Error::UnknownSchema { .. })
        ));
    }
}
