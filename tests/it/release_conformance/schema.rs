//! The queue DB a release creates (its DDL) against our migrations and our
//! fingerprints, its body-queue column names, and what it did with a DB of
//! each schema version (the `schema` probe).

use rusqlite::Connection;
use serde_json::{Value, json};
use sk_boundary::db::schema::tables::{ALL, BODY_UPLOAD_QUEUE};
use sk_boundary::db::schema::{read_shape, version_of};
use sk_boundary::release::Profile;

use super::facts::{Facts, Node};
use crate::common::release_ddl::{apply, from_migrations, structure};

fn statements(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// `ddl.legacy` / `ddl.scoped` (and the `.sql` files beside facts.json):
/// the same statements; the DB they make fingerprints as the profile's
/// schema version and has exactly the structure our migrations V1..=V<n>
/// build.
pub fn check_ddl(f: &Facts, p: &Profile) {
    let v = p.schema.unwrap();
    let ddl = f.root().child("ddl");
    let legacy = statements(ddl.at("legacy"));
    assert_eq!(
        statements(ddl.at("scoped")),
        legacy,
        "legacy and scoped DDL"
    );
    for kind in ["legacy", "scoped"] {
        let file = std::fs::read_to_string(f.dir.join(format!("ddl-{kind}.sql"))).unwrap();
        let want = format!(
            "-- spec-kitty-cli {}: sqlite_master of a fresh {kind} queue DB created by OfflineQueue + \
             OfflineBodyUploadQueue\n-- (SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name)\n{}",
            f.release,
            legacy.iter().map(|s| format!("{s};\n")).collect::<String>()
        );
        assert_eq!(file, want, "ddl-{kind}.sql is facts' ddl.{kind}");
    }
    let release = Connection::open_in_memory().unwrap();
    apply(&release, &legacy);
    let shape = read_shape(&release, "main").unwrap();
    assert_eq!(
        version_of(&shape),
        Ok(v),
        "our fingerprint of the release's DB"
    );
    assert_eq!(
        structure(&release),
        structure(&from_migrations(v)),
        "the release's DDL vs our migrations V1..=V{v}"
    );
    // Every table the release makes is one our table model has at V<n>.
    for t in ALL {
        assert_eq!(shape.contains_key(&t.table), t.exists_at(v), "{}", t.name());
        if let Some(cols) = shape.get(&t.table) {
            let names: Vec<&str> = cols.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(names, t.columns_at(v), "columns of {} at V{v}", t.name());
        }
    }
    let cols = f.root().child("body_queue_columns");
    for c in ["mission_slug", "mission_type"] {
        assert_eq!(
            cols.at(c),
            BODY_UPLOAD_QUEUE.column_at(c, v).unwrap(),
            "body_upload_queue.{c} at V{v}"
        );
    }
}

/// The message a release's body-queue insert fails with on a DB at `v`:
/// the first column of its own schema the DB lacks.
fn body_upload_result(release_v: u32, v: u32) -> String {
    let have = BODY_UPLOAD_QUEUE.columns_at(v);
    match BODY_UPLOAD_QUEUE
        .columns_at(release_v)
        .into_iter()
        .find(|c| !have.contains(c))
    {
        Some(c) => format!("error: table body_upload_queue has no column named {c}"),
        None => "ok".to_string(),
    }
}

fn verdict(events: &str, body: &str) -> String {
    let errs: Vec<&str> = [events, body]
        .into_iter()
        .filter(|x| *x != "ok")
        .map(|x| x.trim_start_matches("error: "))
        .collect();
    if errs.is_empty() {
        "ok".to_string()
    } else {
        format!("error: {}", errs.join("; "))
    }
}

/// Does `fixtures/sql/legacy_v<v>.sql` hold a queue row whose data is not
/// JSON? (Then the release's drain raises json's error for the whole queue.)
fn fixture_has_non_json_event(v: u32) -> bool {
    let sql = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("fixtures/sql/legacy_v{v}.sql")),
    )
    .unwrap();
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch(&sql).unwrap();
    let data: Vec<String> = conn
        .prepare("SELECT data FROM queue")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let bad: Vec<&String> = data
        .iter()
        .filter(|d| serde_json::from_str::<Value>(d).is_err())
        .collect();
    // The one bad row is '' on purpose: json's message then is fixed.
    assert!(bad.iter().all(|d| d.is_empty()), "{bad:?}");
    !bad.is_empty()
}

/// A DB of each schema version (our fixtures, rows deleted or kept) opened by
/// the release's queues: which halves worked, and what it left.
pub fn check_schema_probe(f: &Facts, p: &Profile) {
    let own = p.schema.unwrap();
    let sch = f.root().child("schema");
    for v in 3..=5u32 {
        let body = body_upload_result(own, v);
        let opens = verdict("ok", &body);
        assert_eq!(sch.at(&format!("opens_v{v}")), opens.as_str(), "opens_v{v}");
        let ours = v == own || p.reads_schemas.contains(&v);
        assert_eq!(ours, opens == "ok", "profile reads_schemas vs V{v}");
        let mut tables: Vec<&str> = ALL
            .iter()
            .filter(|t| t.exists_at(v) || t.exists_at(own))
            .map(|t| t.name())
            .collect();
        tables.sort();
        let after = |d: &Node, events: &str| {
            assert_eq!(d.at("events"), events, "{}", d.path());
            assert_eq!(d.at("body_uploads"), body.as_str(), "{}", d.path());
            assert_eq!(d.at("after_tables"), &json!(tables), "{}", d.path());
            let cols = BODY_UPLOAD_QUEUE.columns_at(v);
            assert_eq!(d.at("after_body_columns"), &json!(cols), "{}", d.path());
        };
        after(&sch.child(&format!("detail_v{v}")), "ok");
        let rows = sch.child(&format!("with_fixture_rows_v{v}"));
        let events = if fixture_has_non_json_event(v) {
            "error: Expecting value: line 1 column 1 (char 0)"
        } else {
            "ok"
        };
        after(&rows, events);
        assert_eq!(
            rows.at("verdict"),
            verdict(events, &body).as_str(),
            "{}",
            rows.path()
        );
    }
}
