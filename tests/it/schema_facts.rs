//! The scoped DB after a move has exactly the V5 shape spec-kitty's own
//! releases create, so the CLI reads it as its own. The oracle is the DDL
//! captured from the releases' code (`fixtures/releases/<X>/facts.json`,
//! `ddl`), not our migrations; the facts written out below from the design
//! (`docs/schema.md`) are checked against that DDL too. The SQL fixtures
//! other suites materialise as "spec-kitty's schema" (`fixtures/sql/`) have
//! the releases' schema of their version.

use crate::common::*;
use rusqlite::Connection;
use sk_boundary::migrate::observe::Quiet;
use sk_boundary::migrate::{self, RunOptions};

/// (name, type, notnull, default, pk) as PRAGMA table_info reports them.
type Col = (&'static str, &'static str, bool, Option<&'static str>, bool);

fn expected_tables() -> Vec<(&'static str, Vec<Col>)> {
    vec![
        (
            "queue",
            vec![
                ("id", "INTEGER", false, None, true),
                ("event_id", "TEXT", true, None, false),
                ("event_type", "TEXT", true, None, false),
                ("data", "TEXT", true, None, false),
                ("timestamp", "INTEGER", true, None, false),
                ("retry_count", "INTEGER", false, Some("0"), false),
                ("coalesce_key", "TEXT", false, None, false),
            ],
        ),
        (
            "body_upload_queue",
            vec![
                ("id", "INTEGER", false, None, true),
                ("project_uuid", "TEXT", true, None, false),
                ("mission_slug", "TEXT", true, None, false),
                ("target_branch", "TEXT", true, None, false),
                ("mission_type", "TEXT", true, None, false),
                ("manifest_version", "TEXT", true, None, false),
                ("artifact_path", "TEXT", true, None, false),
                ("content_hash", "TEXT", true, None, false),
                ("hash_algorithm", "TEXT", true, Some("'sha256'"), false),
                ("content_body", "TEXT", true, None, false),
                ("size_bytes", "INTEGER", true, None, false),
                ("retry_count", "INTEGER", true, Some("0"), false),
                ("next_attempt_at", "REAL", true, Some("0.0"), false),
                ("created_at", "REAL", true, None, false),
                ("last_error", "TEXT", false, None, false),
            ],
        ),
        (
            "body_upload_failure_log",
            vec![
                ("id", "INTEGER", false, None, true),
                ("project_uuid", "TEXT", true, None, false),
                ("mission_slug", "TEXT", true, None, false),
                ("target_branch", "TEXT", true, None, false),
                ("mission_type", "TEXT", true, None, false),
                ("manifest_version", "TEXT", true, None, false),
                ("artifact_path", "TEXT", true, None, false),
                ("content_hash", "TEXT", true, None, false),
                ("hash_algorithm", "TEXT", true, Some("'sha256'"), false),
                ("size_bytes", "INTEGER", true, None, false),
                ("failure_reason", "TEXT", true, None, false),
                ("failure_count", "INTEGER", true, Some("1"), false),
                ("first_failed_at", "REAL", true, None, false),
                ("last_failed_at", "REAL", true, None, false),
            ],
        ),
    ]
}

const BODY_KEY: &[&str] = &[
    "project_uuid",
    "mission_slug",
    "target_branch",
    "mission_type",
    "manifest_version",
    "artifact_path",
    "content_hash",
];

/// (table, index name or None for the UNIQUE constraint's autoindex, unique, columns)
fn expected_indexes() -> Vec<(&'static str, Option<&'static str>, bool, Vec<&'static str>)> {
    let mut failure_key = BODY_KEY.to_vec();
    failure_key.push("failure_reason");
    vec![
        ("queue", None, true, vec!["event_id"]),
        ("queue", Some("idx_timestamp"), false, vec!["timestamp"]),
        ("queue", Some("idx_retry"), false, vec!["retry_count"]),
        (
            "queue",
            Some("idx_coalesce_key"),
            false,
            vec!["coalesce_key"],
        ),
        ("body_upload_queue", None, true, BODY_KEY.to_vec()),
        (
            "body_upload_queue",
            Some("idx_body_queue_next_attempt"),
            false,
            vec!["next_attempt_at"],
        ),
        (
            "body_upload_queue",
            Some("idx_body_queue_namespace"),
            false,
            vec!["project_uuid", "mission_slug", "target_branch"],
        ),
        ("body_upload_failure_log", None, true, failure_key),
        (
            "body_upload_failure_log",
            Some("idx_body_failure_last_failed_at"),
            false,
            vec!["last_failed_at"],
        ),
    ]
}

fn assert_v5_shape(conn: &Connection, what: &str) {
    for (table, cols) in expected_tables() {
        let mut stmt = conn
            .prepare("SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_info(?1)")
            .unwrap();
        let got: Vec<(String, String, bool, Option<String>, bool)> = stmt
            .query_map([table], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, i64>(2)? != 0,
                    r.get(3)?,
                    r.get::<_, i64>(4)? != 0,
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let want: Vec<(String, String, bool, Option<String>, bool)> = cols
            .iter()
            .map(|(n, t, nn, d, pk)| {
                (
                    n.to_string(),
                    t.to_string(),
                    *nn,
                    d.map(str::to_string),
                    *pk,
                )
            })
            .collect();
        assert_eq!(got, want, "{what}: columns of {table}");
        // AUTOINCREMENT: the table's id is declared with it.
        let sql: String = conn
            .query_row(
                "SELECT sql FROM sqlite_master WHERE type='table' AND name=?1",
                [table],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            sql.contains("AUTOINCREMENT"),
            "{what}: {table} id must be AUTOINCREMENT"
        );
    }
    for (table, name, unique, cols) in expected_indexes() {
        let mut stmt = conn
            .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1)")
            .unwrap();
        let list: Vec<(String, bool, String)> = stmt
            .query_map([table], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)? != 0, r.get(2)?))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let found = list.iter().find(|(n, u, origin)| match name {
            Some(want) => n == want,
            None => *u && origin == "u",
        });
        let Some((idx, u, _)) = found else {
            panic!("{what}: {table} lacks index {name:?}; has {list:?}");
        };
        assert_eq!(*u, unique, "{what}: {idx} uniqueness");
        let mut stmt = conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
            .unwrap();
        let got: Vec<String> = stmt
            .query_map([idx], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, cols, "{what}: columns of {idx}");
    }
    // The DESC of idx_body_failure_last_failed_at.
    let desc: i64 = conn
        .query_row(
            "SELECT \"desc\" FROM pragma_index_xinfo('idx_body_failure_last_failed_at') WHERE seqno = 0",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(desc, 1, "{what}: last_failed_at index must be DESC");
    // Nothing but the design's tables, SQLite's own, and refinery's history.
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        .unwrap();
    let tables: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        tables,
        [
            "body_upload_failure_log",
            "body_upload_queue",
            "queue",
            "refinery_schema_history",
            "sqlite_sequence"
        ],
        "{what}"
    );
}

/// The V5 DB the newest captured V5 release creates.
fn release_v5() -> (&'static str, Connection) {
    let (release, ddl) = release_ddl::newest_at(5).expect("a captured V5 release");
    let conn = Connection::open_in_memory().unwrap();
    release_ddl::apply(&conn, ddl);
    (release, conn)
}

/// Exactly the structure of the release's own DB (refinery's history aside).
fn assert_release_shape(conn: &Connection, what: &str) {
    let (release, theirs) = release_v5();
    assert_eq!(
        release_ddl::structure(conn),
        release_ddl::structure(&theirs),
        "{what}: vs the DB spec-kitty-cli {release} creates"
    );
}

/// The design's V5 facts are those of every captured V5 release's own DDL.
#[test]
fn the_design_v5_shape_is_the_releases() {
    let mut n = 0;
    for (release, v, ddl) in release_ddl::captured() {
        if *v != 5 {
            continue;
        }
        let conn = Connection::open_in_memory().unwrap();
        release_ddl::apply(&conn, ddl);
        conn.execute_batch("CREATE TABLE refinery_schema_history (version INTEGER)")
            .unwrap();
        assert_v5_shape(&conn, release);
        n += 1;
    }
    assert!(n > 0, "no captured V5 release");
}

/// `fixtures/sql/legacy_vN.sql` and `scoped_v5.sql`, which many suites
/// materialise as spec-kitty's DBs, have the schema the releases of that
/// version create (V1/V2 predate every captured release).
#[test]
fn sql_fixtures_have_the_releases_schema() {
    for v in 3..=5 {
        let (release, ddl) = release_ddl::newest_at(v).expect("a captured release");
        let theirs = Connection::open_in_memory().unwrap();
        release_ddl::apply(&theirs, ddl);
        let mut names = vec![format!("legacy_v{v}")];
        if v == 5 {
            names.push("scoped_v5".to_string());
        }
        for name in names {
            let ours = Connection::open_in_memory().unwrap();
            ours.execute_batch(&fixture_sql(&name)).unwrap();
            assert_eq!(
                release_ddl::structure(&ours),
                release_ddl::structure(&theirs),
                "fixtures/sql/{name}.sql vs spec-kitty-cli {release}"
            );
        }
    }
}

#[test]
fn scoped_db_created_by_a_move_has_exactly_the_v5_shape() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap();
    let conn = Connection::open(h.scoped_path()).unwrap();
    assert_v5_shape(&conn, "new scoped DB");
    assert_release_shape(&conn, "new scoped DB");
}

/// A scoped DB of each older version, as a release of that version created
/// it (V1, V2: the fixtures; no captured release writes them), upgraded by
/// the move: exactly the V5 release's shape.
#[test]
fn scoped_db_upgraded_from_every_older_version_has_exactly_the_v5_shape() {
    for v in 1..=4 {
        let h = TestHome::new();
        h.login().legacy("legacy_v5");
        let what = match release_ddl::newest_at(v) {
            Some((release, ddl)) => {
                release_ddl::materialise(&h.scoped_path(), ddl);
                format!("upgraded from V{v} as {release} creates it")
            }
            None => {
                materialise(&h.scoped_path(), &fixture_sql(&format!("legacy_v{v}")));
                format!("upgraded from V{v} (fixtures/sql)")
            }
        };
        migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap();
        let conn = Connection::open(h.scoped_path()).unwrap();
        assert_v5_shape(&conn, &what);
        assert_release_shape(&conn, &what);
    }
}

/// The fast path builds secondary indexes after loading: their SQL must be
/// the migrations' own, verbatim, as if refinery alone had made the DB.
#[test]
fn new_scoped_db_schema_sql_is_the_migrations_verbatim() {
    let h = TestHome::new();
    h.login().legacy("legacy_v3");
    migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap();
    let reference = h.dir.path().join("reference.db");
    let mut conn = Connection::open(&reference).unwrap();
    sk_boundary::db::schema::upgrade(&mut conn, &reference).unwrap();
    let master = |c: &Connection| -> Vec<(String, String, String, Option<String>)> {
        let mut stmt = c
            .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(
        master(&Connection::open(h.scoped_path()).unwrap()),
        master(&conn)
    );
}
