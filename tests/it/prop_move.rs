//! Property tests of the move (`docs/migrate.md`, invariants 1–8) over generated
//! legacy DBs of every schema version V1..V5, as spec-kitty writes them and in
//! hostile variants (no UNIQUE/NOT NULL constraints, unknown tables, WAL mode,
//! newer unknown columns), into scoped DBs that are absent or hold unrelated
//! rows and rows sharing keys with legacy.
//!
//! Case count: 32 per property by default, so `cargo test` stays fast in CI.
//! Run longer with the standard proptest variable, e.g.
//!
//! ```text
//! PROPTEST_CASES=2000 cargo test --test it prop_move
//! ```
//!
//! The oracle never looks at the generator: it reads both DBs before the move,
//! computes what `docs/migrate.md` says they must hold afterwards, and compares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::common::*;
use proptest::prelude::*;
use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};
use sk_boundary::Error;
use sk_boundary::db::schema;
use sk_boundary::db::schema::tables::{ALL, TableDef};
use sk_boundary::migrate::observe::{Observer, Quiet, Step};
use sk_boundary::migrate::{self, RunOptions, Status};

type Row = BTreeMap<String, Value>;

/// 32 cases per property unless `PROPTEST_CASES` says otherwise.
fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    // Shrunk failures are kept as fixed `#[test]`s below, not as seed files.
    c.failure_persistence = None;
    c
}

// ------------------------------------------------------------------ inputs

/// One column value in a generated row: omitted from the INSERT (the column
/// default applies), explicit NULL, or a value.
#[derive(Debug, Clone)]
enum Field {
    Omit,
    Null,
    Val(Value),
}

/// A generated row: V5 column names (mapped to the DB's version on insert).
type RowSpec = Vec<(&'static str, Field)>;

#[derive(Debug, Clone)]
struct SideSpec {
    /// Rows of queue, body_upload_queue, body_upload_failure_log, each with
    /// the gap to the previous row's id (legacy ids are sparse).
    rows: [Vec<(i64, RowSpec)>; 3],
    wal: bool,
    /// Rows of an unknown table the move must leave alone (None: no such table).
    extra: Option<ExtraRows>,
}

/// Rows of the unknown table `zz_unknown`: (note, n).
type ExtraRows = Vec<(Option<String>, i64)>;

#[derive(Debug, Clone)]
struct Case {
    version: u32,
    /// Legacy tables without UNIQUE / NOT NULL: duplicate and NULL keys possible.
    hostile: bool,
    /// Add a newer, nullable, unknown column to the n-th legacy table.
    newer_column: Option<usize>,
    legacy: SideSpec,
    /// None: no scoped DB yet.
    scoped: Option<SideSpec>,
}

const PROJECTS: &[&str] = &["p-1", "p-ünï", ""];
const SCOPED_PROJECTS: &[&str] = &["p-1", "p-ünï", "", "p-scoped-only"];
const SLUGS: &[&str] = &["001-plan", "002-straße"];
const BRANCHES: &[&str] = &["main", ""];
const TYPES: &[&str] = &["software-dev", "research"];
const MANIFESTS: &[&str] = &["1", "2"];
const PATHS: &[&str] = &["spec.md", "plan/ä 😀.md"];
const HASHES: &[&str] = &["h1", "h2"];
const REASONS: &[&str] = &["timeout", "413 too large", ""];

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        6 => "\\PC{0,12}",
        2 => Just(String::new()),
        1 => "[a-z ]{0,40}",
    ]
    .boxed()
}

/// Payload text; now and then large (up to ~1 MB), kept rare so CI stays fast.
fn payload() -> BoxedStrategy<String> {
    prop_oneof![
        80 => "\\PC{0,64}",
        5 => Just(String::new()),
        1 => (0usize..=1 << 20).prop_map(|n| "ü€x".chars().cycle().take(n / 2).collect()),
    ]
    .boxed()
}

fn t(s: String) -> Value {
    Value::Text(s)
}

fn pick(pool: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(pool).prop_map(String::from).boxed()
}

/// A key column: almost always a value; NULL now and then (only a hostile
/// table keeps such a row).
fn key(s: BoxedStrategy<String>) -> BoxedStrategy<Field> {
    prop_oneof![40 => s.prop_map(|s| Field::Val(t(s))), 1 => Just(Field::Null)].boxed()
}

/// NOT NULL without default: a NULL only survives in a hostile table.
fn required(s: BoxedStrategy<Value>) -> BoxedStrategy<Field> {
    prop_oneof![40 => s.prop_map(Field::Val), 1 => Just(Field::Null)].boxed()
}

/// Nullable by schema (retry_count of queue, coalesce_key, last_error).
fn nullable(s: BoxedStrategy<Value>) -> BoxedStrategy<Field> {
    prop_oneof![3 => s.prop_map(Field::Val), 1 => Just(Field::Null), 1 => Just(Field::Omit)].boxed()
}

/// NOT NULL DEFAULT x: omitted (default), a value, or NULL (hostile only).
fn defaulted(s: BoxedStrategy<Value>) -> BoxedStrategy<Field> {
    prop_oneof![4 => s.prop_map(Field::Val), 2 => Just(Field::Omit), 1 => Just(Field::Null)].boxed()
}

fn int() -> BoxedStrategy<Value> {
    prop_oneof![any::<i64>(), -5i64..100]
        .prop_map(Value::Integer)
        .boxed()
}

fn real() -> BoxedStrategy<Value> {
    (-1e12f64..1e12f64).prop_map(Value::Real).boxed()
}

fn txt() -> BoxedStrategy<Value> {
    text().prop_map(Value::Text).boxed()
}

fn event_id(max: u32) -> BoxedStrategy<String> {
    prop_oneof![
        8 => (0..max).prop_map(|i| format!("evt-{i:03}")),
        1 => Just(String::new()),
        1 => "\\PC{1,6}",
    ]
    .boxed()
}

fn queue_row(max_event: u32) -> BoxedStrategy<RowSpec> {
    (
        key(event_id(max_event)),
        required(txt()),
        required(payload().prop_map(Value::Text).boxed()),
        required(int()),
        nullable(int()),
        nullable(txt()),
    )
        .prop_map(|(e, ty, d, ts, r, c)| {
            vec![
                ("event_id", e),
                ("event_type", ty),
                ("data", d),
                ("timestamp", ts),
                ("retry_count", r),
                ("coalesce_key", c),
            ]
        })
        .boxed()
}

fn body_key(projects: &'static [&'static str]) -> BoxedStrategy<RowSpec> {
    (
        key(pick(projects)),
        key(pick(SLUGS)),
        key(pick(BRANCHES)),
        key(pick(TYPES)),
        key(pick(MANIFESTS)),
        key(pick(PATHS)),
        key(pick(HASHES)),
    )
        .prop_map(|(a, b, c, d, e, f, g)| {
            vec![
                ("project_uuid", a),
                ("mission_slug", b),
                ("target_branch", c),
                ("mission_type", d),
                ("manifest_version", e),
                ("artifact_path", f),
                ("content_hash", g),
            ]
        })
        .boxed()
}

fn body_row(projects: &'static [&'static str]) -> BoxedStrategy<RowSpec> {
    (
        body_key(projects),
        defaulted(txt()),
        required(payload().prop_map(Value::Text).boxed()),
        required(int()),
        defaulted(int()),
        defaulted(real()),
        required(real()),
        nullable(txt()),
    )
        .prop_map(|(mut k, ha, body, size, retry, next, created, err)| {
            k.extend([
                ("hash_algorithm", ha),
                ("content_body", body),
                ("size_bytes", size),
                ("retry_count", retry),
                ("next_attempt_at", next),
                ("created_at", created),
                ("last_error", err),
            ]);
            k
        })
        .boxed()
}

fn failure_row(projects: &'static [&'static str]) -> BoxedStrategy<RowSpec> {
    (
        body_key(projects),
        key(pick(REASONS)),
        defaulted(txt()),
        required(int()),
        defaulted(int()),
        required(real()),
        required(real()),
    )
        .prop_map(|(mut k, reason, ha, size, n, first, last)| {
            k.extend([
                ("hash_algorithm", ha),
                ("size_bytes", size),
                ("failure_reason", reason),
                ("failure_count", n),
                ("first_failed_at", first),
                ("last_failed_at", last),
            ]);
            k
        })
        .boxed()
}

/// 0 rows now and then, else 1..40, each with an id gap of 1..5.
fn rows_of(row: BoxedStrategy<RowSpec>) -> BoxedStrategy<Vec<(i64, RowSpec)>> {
    prop_oneof![
        1 => Just(Vec::new()),
        6 => prop::collection::vec((1i64..5, row), 1..40),
    ]
    .boxed()
}

fn extra_table() -> BoxedStrategy<Option<ExtraRows>> {
    prop::option::of(prop::collection::vec(
        (prop::option::of(text()), any::<i64>()),
        0..5,
    ))
    .boxed()
}

fn side(legacy: bool) -> BoxedStrategy<SideSpec> {
    // Legacy draws event ids from evt-000..029, scoped from evt-000..059:
    // shared keys and unrelated keys both occur.
    let (max_event, projects) = if legacy {
        (30, PROJECTS)
    } else {
        (60, SCOPED_PROJECTS)
    };
    (
        rows_of(queue_row(max_event)),
        rows_of(body_row(projects)),
        rows_of(failure_row(projects)),
        any::<bool>(),
        extra_table(),
    )
        .prop_map(|(q, b, f, wal, extra)| SideSpec {
            rows: [q, b, f],
            wal,
            extra,
        })
        .boxed()
}

fn case() -> impl Strategy<Value = Case> {
    (
        1u32..=5,
        any::<bool>(),
        prop::option::weighted(0.25, 0usize..3),
        side(true),
        prop::option::weighted(0.7, side(false)),
    )
        .prop_map(|(version, hostile, newer_column, legacy, scoped)| Case {
            version,
            hostile,
            newer_column,
            legacy,
            scoped,
        })
}

// ------------------------------------------------------------ building DBs

/// The schema at `v` as spec-kitty writes it: the DDL the newest captured
/// release of that schema version creates (`fixtures/releases/<X>/facts.json`,
/// measured from its own code). No captured release writes V1 or V2 (they
/// are older than 2.1): those come from our migrations, which
/// `release_conformance` checks against every release's DDL.
fn spec_kitty_schema(conn: &Connection, v: u32) {
    // Building test DBs need not survive a power cut: skip the fsyncs.
    conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
    if let Some((_, ddl)) = crate::common::release_ddl::newest_at(v) {
        crate::common::release_ddl::apply(conn, ddl);
        return;
    }
    assert!(v < 3, "no captured release writes V{v}");
    for m in schema::migrations()
        .iter()
        .filter(|m| m.version() as u32 <= v)
    {
        conn.execute_batch(m.sql().unwrap()).unwrap();
    }
}

/// The schema statements of a DB at `v` (tables first, then indexes), as
/// SQLite stores them after running the migrations.
fn schema_statements(v: u32) -> Vec<(String, String)> {
    let mem = Connection::open_in_memory().unwrap();
    spec_kitty_schema(&mem, v);
    let mut stmt = mem
        .prepare(
            "SELECT type, sql FROM sqlite_master WHERE sql IS NOT NULL \
             AND name NOT LIKE 'sqlite_%' ORDER BY type = 'index', rowid",
        )
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A CREATE TABLE statement without UNIQUE and NOT NULL constraints.
fn strip_constraints(sql: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    for line in sql.lines() {
        if line.trim_start().starts_with("UNIQUE") {
            // A table constraint: drop it and the comma that introduced it.
            if let Some(prev) = out.last_mut() {
                let trimmed = prev.trim_end().trim_end_matches(',').to_string();
                *prev = trimmed;
            }
            if line.trim_end().ends_with(')') && line.matches(')').count() > 1 {
                out.push(")".to_string());
            }
            continue;
        }
        out.push(line.replace(" UNIQUE", "").replace(" NOT NULL", ""));
    }
    out.join("\n")
}

/// The hostile variant of the schema at `v`: same columns and indexes, no
/// UNIQUE and no NOT NULL anywhere.
fn hostile_schema(conn: &Connection, v: u32) {
    conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
    for (kind, sql) in schema_statements(v) {
        let sql = if kind == "table" {
            strip_constraints(&sql)
        } else {
            sql
        };
        conn.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
    }
}

fn set_wal(conn: &Connection) {
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Insert generated rows (V5 names mapped to `v`); rows the schema rejects
/// (NULL in NOT NULL, duplicate key) are skipped, as a real CLI never wrote them.
fn insert_rows(conn: &Connection, t: &TableDef, v: u32, rows: &[(i64, RowSpec)], ids: bool) {
    let mut id = 0;
    for (gap, spec) in rows {
        id += gap;
        let mut cols = Vec::new();
        let mut vals = Vec::new();
        if ids {
            cols.push("id".to_string());
            vals.push(Value::Integer(id));
        }
        for (name, field) in spec {
            let Some(col) = t.column_at(name, v) else {
                continue;
            };
            match field {
                Field::Omit => continue,
                Field::Null => vals.push(Value::Null),
                Field::Val(x) => vals.push(x.clone()),
            }
            cols.push(format!("\"{col}\""));
        }
        let marks = vec!["?"; vals.len()].join(", ");
        conn.execute(
            &format!(
                "INSERT OR IGNORE INTO {} ({}) VALUES ({marks})",
                t.name(),
                cols.join(", ")
            ),
            params_from_iter(vals),
        )
        .unwrap();
    }
}

fn create_extra(conn: &Connection, extra: &Option<ExtraRows>) {
    let Some(rows) = extra else { return };
    conn.execute_batch("CREATE TABLE zz_unknown (id INTEGER PRIMARY KEY, note TEXT, n INTEGER)")
        .unwrap();
    for (note, n) in rows {
        conn.execute(
            "INSERT INTO zz_unknown (note, n) VALUES (?1, ?2)",
            (note, n),
        )
        .unwrap();
    }
}

fn build_legacy(path: &Path, c: &Case) {
    let conn = Connection::open(path).unwrap();
    if c.hostile {
        hostile_schema(&conn, c.version);
    } else {
        spec_kitty_schema(&conn, c.version);
    }
    let tables: Vec<&TableDef> = ALL.iter().filter(|t| t.exists_at(c.version)).collect();
    conn.execute_batch("BEGIN").unwrap();
    for (i, t) in ALL.iter().enumerate() {
        if t.exists_at(c.version) {
            insert_rows(&conn, t, c.version, &c.legacy.rows[i], true);
        }
    }
    conn.execute_batch("COMMIT").unwrap();
    if let Some(n) = c.newer_column {
        let t = tables[n % tables.len()];
        conn.execute_batch(&format!(
            "ALTER TABLE {0} ADD COLUMN newer_col TEXT; \
             UPDATE {0} SET newer_col = 'newer ' || id WHERE id % 2 = 0;",
            t.name()
        ))
        .unwrap();
    }
    create_extra(&conn, &c.legacy.extra);
    if c.legacy.wal {
        set_wal(&conn);
    }
}

fn build_scoped(path: &Path, s: &SideSpec) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    spec_kitty_schema(&conn, 5);
    conn.execute_batch("BEGIN").unwrap();
    for (i, t) in ALL.iter().enumerate() {
        insert_rows(&conn, t, 5, &s.rows[i], false);
    }
    conn.execute_batch("COMMIT").unwrap();
    create_extra(&conn, &s.extra);
    if s.wal {
        set_wal(&conn);
    }
}

// ------------------------------------------------------------------ oracle

fn table_rows(path: &Path, table: &str) -> Vec<Row> {
    rows(path, table)
}

fn id_of(r: &Row) -> i64 {
    match r["id"] {
        Value::Integer(i) => i,
        ref v => panic!("id {v:?}"),
    }
}

fn default_value(sql: &str) -> Value {
    if let Some(s) = sql.strip_prefix('\'') {
        Value::Text(s.trim_end_matches('\'').to_string())
    } else if sql.contains('.') {
        Value::Real(sql.parse().unwrap())
    } else {
        Value::Integer(sql.parse().unwrap())
    }
}

/// A legacy row at version `v` as the scoped DB must hold it: V5 names, no
/// id, unknown columns dropped, NULL or absent defaulted columns defaulted.
fn to_v5(t: &TableDef, row: &Row, v: u32) -> Row {
    let mut out = Row::new();
    for c in t.columns {
        let val = t
            .column_at(c.name, v)
            .map_or(Value::Null, |src| row[src].clone());
        let val = match (val, c.default_sql) {
            (Value::Null, Some(d)) => default_value(d),
            (val, _) => val,
        };
        out.insert(c.name.to_string(), val);
    }
    out
}

/// A legacy row's raw value of V5 column `col`.
fn raw(t: &TableDef, row: &Row, v: u32, col: &'static str) -> Value {
    t.column_at(col, v)
        .map_or(Value::Null, |src| row[src].clone())
}

/// The natural key, `None` when a key column is NULL (invariant 8).
fn natural_key(t: &TableDef, row: &Row, v: u32) -> Option<String> {
    let vals: Vec<Value> = t.key.iter().map(|k| raw(t, row, v, k)).collect();
    if vals.contains(&Value::Null) {
        None
    } else {
        Some(format!("{vals:?}"))
    }
}

/// Every column the scoped table requires is present (else the row is unreadable).
fn movable(t: &TableDef, row: &Row, v: u32) -> bool {
    t.columns
        .iter()
        .filter(|c| c.required)
        .all(|c| raw(t, row, v, c.name) != Value::Null)
}

fn without_id(r: &Row) -> Row {
    let mut r = r.clone();
    r.remove("id");
    r
}

fn extra_rows(path: &Path) -> Option<Vec<Row>> {
    if !path.exists() {
        return None;
    }
    let conn = Connection::open(path).unwrap();
    let has: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE name = 'zz_unknown'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    has.then(|| rows_on(&conn, "zz_unknown"))
}

/// Run the move on the home `c` describes and check every invariant of
/// `docs/migrate.md` against an independent model computed from the DBs' contents.
/// A temp home holding the case's legacy DB and, when it has one, its
/// scoped DB: (home, legacy path, scoped path).
fn home_of(c: &Case) -> (TestHome, std::path::PathBuf, std::path::PathBuf) {
    let h = TestHome::new();
    let legacy = h.home.legacy_queue();
    let scoped = h.scoped_path();
    build_legacy(&legacy, c);
    if let Some(s) = &c.scoped {
        build_scoped(&scoped, s);
    }
    (h, legacy, scoped)
}

fn check_case(c: &Case) {
    let (h, legacy, scoped) = home_of(c);
    let v = c.version;
    let tables: Vec<&TableDef> = ALL.iter().filter(|t| t.exists_at(v)).collect();
    let legacy_before: BTreeMap<&str, Vec<Row>> = tables
        .iter()
        .map(|t| (t.name(), table_rows(&legacy, t.name())))
        .collect();
    let scoped_before: BTreeMap<&str, Vec<Row>> = ALL
        .iter()
        .map(|t| {
            let r = if scoped.exists() {
                table_rows(&scoped, t.name())
            } else {
                Vec::new()
            };
            (t.name(), r)
        })
        .collect();
    let extras_before = (extra_rows(&legacy), extra_rows(&scoped));
    let legacy_total: usize = legacy_before.values().map(Vec::len).sum();

    let opts = RunOptions {
        scope: Some(h.scope()),
        ..RunOptions::default()
    };
    let report = migrate::run(&h.home, &opts, &mut Quiet).expect("the move fails");
    assert_eq!(report.legacy_schema_version, Some(v));

    let mut anything_moved = false;
    for t in &tables {
        let l_before = &legacy_before[t.name()];
        let s_before = &scoped_before[t.name()];
        // The model: scoped keys, then each movable legacy row whose key is
        // absent, first by id (duplicates in hostile tables), in legacy order.
        let mut present: BTreeSet<String> = s_before
            .iter()
            .map(|r| natural_key(t, r, 5).expect("scoped rows have keys"))
            .collect();
        let mut expected_new: Vec<Row> = Vec::new();
        for r in l_before {
            if !movable(t, r, v) {
                continue;
            }
            let k = natural_key(t, r, v).unwrap();
            if present.insert(k) {
                expected_new.push(to_v5(t, r, v));
            }
        }
        let expected_legacy: Vec<Row> = l_before
            .iter()
            .filter(|r| natural_key(t, r, v).is_none_or(|k| !present.contains(&k)))
            .cloned()
            .collect();

        let l_after = table_rows(&legacy, t.name());
        let s_after = if scoped.exists() {
            table_rows(&scoped, t.name())
        } else {
            assert_eq!(legacy_total, 0, "scoped DB missing after a move");
            Vec::new()
        };
        let name = t.name();

        // 2. Nothing duplicated in scoped.
        let s_keys: Vec<String> = s_after
            .iter()
            .map(|r| natural_key(t, r, 5).unwrap())
            .collect();
        let unique: BTreeSet<&String> = s_keys.iter().collect();
        assert_eq!(
            unique.len(),
            s_keys.len(),
            "{name}: duplicate key in scoped"
        );
        // 1. Nothing lost: every key before is somewhere after; keyless rows stay.
        let l_keys_after: BTreeSet<String> = l_after
            .iter()
            .filter_map(|r| natural_key(t, r, v))
            .collect();
        for r in l_before {
            match natural_key(t, r, v) {
                Some(k) => assert!(
                    unique.contains(&k) || l_keys_after.contains(&k),
                    "{name}: key {k} lost"
                ),
                // 8. NULL-key rows stay in legacy, unchanged.
                None => assert!(l_after.contains(r), "{name}: NULL-key row gone: {r:?}"),
            }
        }
        // 3. Destination wins: pre-existing scoped rows byte-equal, ids included.
        for r in s_before {
            assert!(s_after.contains(r), "{name}: scoped row changed: {r:?}");
        }
        // 4. Delete after verify: every row gone from legacy has its key in scoped.
        for r in l_before.iter().filter(|r| !l_after.contains(r)) {
            let k = natural_key(t, r, v).expect("a NULL-key row was deleted");
            assert!(unique.contains(&k), "{name}: deleted unverified {k}");
        }
        // 5. Order kept, and contents equal to legacy (mapped): the new rows,
        // by scoped id, are exactly the model's rows in legacy id order.
        let old_ids: BTreeSet<i64> = s_before.iter().map(id_of).collect();
        let new_rows: Vec<Row> = s_after
            .iter()
            .filter(|r| !old_ids.contains(&id_of(r)))
            .map(without_id)
            .collect();
        assert_eq!(new_rows, expected_new, "{name}: moved rows or their order");
        assert_eq!(s_after.len(), s_before.len() + expected_new.len());
        // 8. What stays in legacy is exactly the unmovable, unproven rows.
        assert_eq!(l_after, expected_legacy, "{name}: rows left in legacy");

        let counts = report
            .tables
            .iter()
            .find(|x| x.table.as_str() == name)
            .unwrap();
        assert_eq!(counts.legacy_before, l_before.len() as u64, "{name}");
        assert_eq!(counts.inserted, expected_new.len() as u64, "{name}");
        assert_eq!(
            counts.deleted_from_legacy,
            (l_before.len() - l_after.len()) as u64,
            "{name}"
        );
        assert_eq!(counts.left_in_legacy, l_after.len() as u64, "{name}");
        anything_moved |= l_after.len() < l_before.len();
    }
    // 7. No emptiness guard: whatever the scoped DB held, movable rows moved.
    if anything_moved {
        assert_eq!(report.status, Status::Migrated);
    }
    // Unknown tables are left alone.
    assert_eq!(
        (extra_rows(&legacy), extra_rows(&scoped)).0,
        extras_before.0,
        "legacy zz_unknown changed"
    );
    if extras_before.1.is_some() {
        assert_eq!(
            extra_rows(&scoped),
            extras_before.1,
            "scoped zz_unknown changed"
        );
    }

    // 6. Idempotent: a second run finds nothing to do and changes no byte.
    let before = tree_hash(h.root());
    let again = migrate::run(&h.home, &opts, &mut Quiet).expect("second run fails");
    assert_eq!(again.status, Status::NothingToDo);
    assert!(again.tables.iter().all(|t| t.inserted == 0));
    assert_eq!(tree_hash(h.root()), before, "second run changed the home");
}

/// A legacy DB whose `queue` has a newer column that is NOT NULL without a
/// default: refused as an unknown schema, the home byte-identical.
fn check_refused(c: &Case) {
    let h = TestHome::new();
    let legacy = h.home.legacy_queue();
    {
        let conn = Connection::open(&legacy).unwrap();
        conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
        for (kind, sql) in schema_statements(c.version) {
            let sql = if kind == "table" && sql.starts_with("CREATE TABLE queue") {
                let end = sql.rfind(')').unwrap();
                format!("{}, newer_required TEXT NOT NULL)", &sql[..end])
            } else {
                sql
            };
            conn.execute_batch(&sql).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO queue (event_id, event_type, data, timestamp, newer_required) \
             VALUES ('evt-newer', 't', 'd', 1, 'n')",
        )
        .unwrap();
        conn.execute_batch("BEGIN").unwrap();
        for (i, t) in ALL.iter().enumerate().skip(1) {
            if t.exists_at(c.version) {
                insert_rows(&conn, t, c.version, &c.legacy.rows[i], true);
            }
        }
        conn.execute_batch("COMMIT").unwrap();
        if c.legacy.wal {
            set_wal(&conn);
        }
    }
    if let Some(s) = &c.scoped {
        build_scoped(&h.scoped_path(), s);
    }
    let before = tree_hash(h.root());
    let opts = RunOptions {
        scope: Some(h.scope()),
        ..RunOptions::default()
    };
    match migrate::run(&h.home, &opts, &mut Quiet) {
        Err(Error::UnknownSchema { path, detail }) => {
            assert_eq!(path, legacy);
            assert!(detail.contains("queue.newer_required"), "{detail}");
        }
        other => panic!("expected UnknownSchema, got {other:?}"),
    }
    assert_eq!(
        tree_hash(h.root()),
        before,
        "a refused run changed the home"
    );
}

/// Fails the move at one step (fault injection between statements).
struct FailAt(Step);
impl Observer for FailAt {
    fn checkpoint(&mut self, step: Step) -> Result<(), Error> {
        if step == self.0 {
            return Err(Error::Malformed {
                path: "injected".into(),
                detail: format!("{step:?}"),
            });
        }
        Ok(())
    }
}

/// An error between any two statements of a rollback-journal move leaves
/// both files byte-identical; the next run then completes the move.
fn check_fault(c: &Case, pick: prop::sample::Index) {
    let mut c = c.clone();
    c.legacy.wal = false;
    let mut scoped_spec = c.scoped.clone().unwrap_or_else(empty_side);
    scoped_spec.wal = false;
    let h = TestHome::new();
    build_legacy(&h.home.legacy_queue(), &c);
    build_scoped(&h.scoped_path(), &scoped_spec);
    // Bring the scoped schema up first so the comparison is about rows.
    let mut conn = Connection::open(h.scoped_path()).unwrap();
    schema::upgrade(&mut conn, &h.scoped_path()).unwrap();
    drop(conn);
    let steps: Vec<Step> = ALL
        .iter()
        .filter(|t| t.exists_at(c.version))
        .flat_map(|t| {
            [
                Step::Planned(t.table),
                Step::Inserted(t.table),
                Step::Deleted(t.table),
            ]
        })
        .collect();
    let step = steps[pick.index(steps.len())];
    let before = tree_hash(h.root());
    // The move goes chunk by chunk over the tables with rows: a table with
    // none has no step.
    let table = match step {
        Step::Planned(t) | Step::Inserted(t) | Step::Deleted(t) => t,
        _ => unreachable!(),
    };
    let legacy_rows = count(&h.home.legacy_queue(), table.as_str());
    let opts = RunOptions {
        scope: Some(h.scope()),
        ..RunOptions::default()
    };
    match migrate::run(&h.home, &opts, &mut FailAt(step)) {
        Err(Error::Malformed { path, .. }) => assert_eq!(path, Path::new("injected")),
        Err(e) => panic!("{step:?}: unexpected error {e}"),
        // With nothing in the table the move never takes its steps (and
        // moves the other tables' rows).
        Ok(_) => {
            assert_eq!(legacy_rows, 0, "{step:?} never reached");
            return;
        }
    }
    assert_eq!(
        tree_hash(h.root()),
        before,
        "fault at {step:?} changed the home"
    );
    migrate::run(&h.home, &opts, &mut Quiet).expect("the run after a fault fails");
}

/// With `[sync] max_queue_size = cap`, the move adds to each capped scoped
/// table at most what fills it to a tenth under the cap, and every movable
/// legacy key is still in legacy or scoped afterwards (`docs/migrate.md`,
/// "The queue cap"); the report accounts for every legacy row it covered.
fn check_cap(c: &Case, cap: u64) {
    if c.newer_column.is_some() {
        return; // refused before anything moves (`check_refused`)
    }
    let (h, legacy, scoped) = home_of(c);
    std::fs::write(h.home.config(), format!("[sync]\nmax_queue_size = {cap}\n")).unwrap();
    let v = c.version;
    let capped: Vec<&TableDef> = ALL
        .iter()
        .filter(|t| t.exists_at(v) && t.name() != "body_upload_failure_log")
        .collect();
    let count = |path: &Path, t: &TableDef| {
        if path.exists() {
            table_rows(path, t.name()).len() as u64
        } else {
            0
        }
    };
    let before: Vec<(u64, BTreeSet<String>)> = capped
        .iter()
        .map(|t| {
            let keys = table_rows(&legacy, t.name())
                .iter()
                .filter(|r| movable(t, r, v))
                .filter_map(|r| natural_key(t, r, v))
                .collect();
            (count(&scoped, t), keys)
        })
        .collect();
    let opts = RunOptions {
        scope: Some(h.scope()),
        ..RunOptions::default()
    };
    let report = migrate::run(&h.home, &opts, &mut Quiet).expect("the move fails");
    let fill = cap - cap.div_ceil(10);
    for (t, (stored, keys)) in capped.iter().zip(before) {
        let after = count(&scoped, t);
        assert!(
            after - stored <= fill.saturating_sub(stored),
            "{}: {stored} stored, {after} after, cap {cap}",
            t.name()
        );
        let mut found: BTreeSet<String> = table_rows(&legacy, t.name())
            .iter()
            .filter_map(|r| natural_key(t, r, v))
            .collect();
        if scoped.exists() {
            found.extend(
                table_rows(&scoped, t.name())
                    .iter()
                    .filter_map(|r| natural_key(t, r, 5)),
            );
        }
        assert!(keys.is_subset(&found), "{}: a key was lost", t.name());
        if let Some(r) = report.tables.iter().find(|r| r.table.as_str() == t.name()) {
            assert_eq!(
                r.legacy_before,
                r.deleted_from_legacy + r.left_in_legacy + r.held_by_cap,
                "{r:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn the_cap_guard_never_fills_past_its_mark_and_keeps_every_key(
        c in case(),
        cap in 1u64..=24,
    ) {
        check_cap(&c, cap);
    }

    #[test]
    fn a_fault_between_statements_changes_nothing(c in case(), pick in any::<prop::sample::Index>()) {
        check_fault(&c, pick);
    }

    #[test]
    fn the_move_keeps_every_invariant(c in case()) {
        check_case(&c);
    }

    #[test]
    fn a_newer_required_column_is_refused_untouched(c in case()) {
        check_refused(&c);
    }
}

// ------------------------------------------- fixed cases (shrunk failures)

fn empty_side() -> SideSpec {
    SideSpec {
        rows: [Vec::new(), Vec::new(), Vec::new()],
        wal: false,
        extra: None,
    }
}

fn qrow(event_id: Field, data: Field) -> RowSpec {
    vec![
        ("event_id", event_id),
        ("event_type", Field::Val(t("t".into()))),
        ("data", data),
        ("timestamp", Field::Val(Value::Integer(1))),
        ("retry_count", Field::Omit),
        ("coalesce_key", Field::Null),
    ]
}

#[test]
fn hostile_schema_really_drops_the_constraints() {
    for v in 1..=5 {
        let conn = Connection::open_in_memory().unwrap();
        hostile_schema(&conn, v);
        let sql: Vec<String> = conn
            .prepare("SELECT sql FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for s in &sql {
            assert!(!s.contains("UNIQUE") && !s.contains("NOT NULL"), "{s}");
        }
        assert_eq!(
            schema::fingerprint(&conn, "main", Path::new("x")).unwrap(),
            v
        );
    }
}

#[test]
fn hostile_duplicates_and_null_keys_example() {
    let v = |s: &str| Field::Val(t(s.into()));
    let c = Case {
        version: 3,
        hostile: true,
        newer_column: Some(0),
        legacy: SideSpec {
            rows: [
                vec![
                    (1, qrow(v("a"), Field::Null)),
                    (1, qrow(v("a"), v("first movable"))),
                    (1, qrow(Field::Null, v("null key"))),
                    (1, qrow(v("a"), v("dup"))),
                    (1, qrow(v("b"), Field::Null)),
                    (1, qrow(v(""), v("empty key"))),
                ],
                Vec::new(),
                Vec::new(),
            ],
            wal: true,
            extra: Some(vec![(None, 1)]),
        },
        scoped: Some(SideSpec {
            rows: [
                vec![(1, qrow(v("b"), v("scoped b")))],
                Vec::new(),
                Vec::new(),
            ],
            ..empty_side()
        }),
    };
    check_case(&c);
}

#[test]
fn empty_legacy_into_absent_scoped_creates_nothing() {
    let c = Case {
        version: 5,
        hostile: false,
        newer_column: None,
        legacy: empty_side(),
        scoped: None,
    };
    check_case(&c);
}

fn ok_qrow(event_id: &str) -> RowSpec {
    qrow(Field::Val(t(event_id.into())), Field::Val(t("d".into())))
}

/// Shrunk from `the_move_keeps_every_invariant`: with a WAL-mode legacy DB the
/// read-only inspection left `queue.db-wal`/`-shm` behind, so a second run
/// (legacy already empty) was not byte-identical.
#[test]
fn regression_wal_legacy_second_run_leaves_no_wal_files() {
    let c = Case {
        version: 1,
        hostile: false,
        newer_column: None,
        legacy: SideSpec {
            rows: [vec![(1, ok_qrow("evt-000"))], Vec::new(), Vec::new()],
            wal: true,
            extra: None,
        },
        scoped: None,
    };
    check_case(&c);
}

/// Shrunk from `a_newer_required_column_is_refused_untouched`: a refused WAL
/// legacy DB gained `-wal`/`-shm` files.
#[test]
fn regression_refused_wal_legacy_is_byte_identical() {
    let c = Case {
        version: 1,
        hostile: false,
        newer_column: None,
        legacy: SideSpec {
            wal: true,
            ..empty_side()
        },
        scoped: None,
    };
    check_refused(&c);
}

/// The same bug on the read-only paths: no scope and `--dry-run` must leave a
/// home whose DBs are in WAL mode byte-identical.
#[test]
fn regression_no_scope_and_dry_run_leave_wal_homes_byte_identical() {
    let c = Case {
        version: 5,
        hostile: false,
        newer_column: None,
        legacy: SideSpec {
            rows: [vec![(1, ok_qrow("evt-000"))], Vec::new(), Vec::new()],
            wal: true,
            extra: None,
        },
        scoped: Some(SideSpec {
            rows: [vec![(1, ok_qrow("evt-001"))], Vec::new(), Vec::new()],
            wal: true,
            extra: None,
        }),
    };
    let h = TestHome::new();
    build_legacy(&h.home.legacy_queue(), &c);
    build_scoped(&h.scoped_path(), c.scoped.as_ref().unwrap());
    let before = tree_hash(h.root());
    let r = migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap();
    assert_eq!(r.status, Status::NoScope);
    assert_eq!(tree_hash(h.root()), before, "no-scope run changed the home");
    let dry = RunOptions {
        scope: Some(h.scope()),
        moving: sk_boundary::migrate::merge::MoveOptions {
            dry_run: true,
            ..Default::default()
        },
        ..RunOptions::default()
    };
    let r = migrate::run(&h.home, &dry, &mut Quiet).unwrap();
    assert_eq!(r.status, Status::DryRun);
    assert_eq!(r.tables[0].inserted, 1);
    assert_eq!(tree_hash(h.root()), before, "dry run changed the home");
}

fn body_spec(mission_type: Field) -> RowSpec {
    let v = |s: &str| Field::Val(t(s.into()));
    vec![
        ("project_uuid", v("p-1")),
        ("mission_slug", v("001-plan")),
        ("target_branch", v("main")),
        ("mission_type", mission_type),
        ("manifest_version", v("1")),
        ("artifact_path", v("spec.md")),
        ("content_hash", v("h1")),
        ("hash_algorithm", v("")),
        ("content_body", v("")),
        ("size_bytes", Field::Val(Value::Integer(1))),
        ("retry_count", Field::Omit),
        ("next_attempt_at", Field::Val(Value::Real(-1.5))),
        ("created_at", Field::Val(Value::Real(2.5))),
        ("last_error", Field::Omit),
    ]
}

/// Shrunk from `the_move_keeps_every_invariant`: a NULL-key row left in one
/// legacy table makes the second run take the full path, and clearing the
/// other, already empty, table rewrote the legacy file: not byte-identical.
#[test]
fn regression_second_run_with_a_stuck_row_does_not_rewrite_legacy() {
    let c = Case {
        version: 2,
        hostile: true,
        newer_column: None,
        legacy: SideSpec {
            rows: [Vec::new(), vec![(1, body_spec(Field::Null))], Vec::new()],
            wal: false,
            extra: None,
        },
        scoped: None,
    };
    check_case(&c);
}
