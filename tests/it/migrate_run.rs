//! `sk-migrate run` against the V1..V5 legacy fixtures (issue: foundation).

use std::collections::BTreeMap;

use crate::common::*;
use rusqlite::types::Value;
use sk_boundary::Error;
use sk_boundary::db::schema;
use sk_boundary::db::schema::tables::{ALL, Table};
use sk_boundary::migrate::merge::MoveOptions;
use sk_boundary::migrate::observe::{Observer, Quiet, Step};
use sk_boundary::migrate::{self, RunOptions, Status};

type Row = BTreeMap<String, Value>;

/// A legacy row as the scoped DB must hold it: V5 names, no id, absent columns NULL.
fn as_v5(table: &str, row: &Row) -> Row {
    let mut out = Row::new();
    for (k, v) in row {
        let k = match (table, k.as_str()) {
            ("body_upload_queue", "feature_slug") => "mission_slug",
            ("body_upload_queue", "mission_key") => "mission_type",
            (_, "id") => continue,
            (_, k) => k,
        };
        out.insert(k.to_string(), v.clone());
    }
    if table == "queue" {
        out.entry("coalesce_key".into()).or_insert(Value::Null);
    }
    out
}

fn key_of(table: &str, row: &Row) -> Vec<Value> {
    let t = ALL.iter().find(|t| t.name() == table).unwrap();
    t.key.iter().map(|k| row[*k].clone()).collect()
}

fn without_id(row: &Row) -> Row {
    let mut r = row.clone();
    r.remove("id");
    r
}

fn run_lib(h: &TestHome) -> migrate::RunReport {
    migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap()
}

#[test]
fn every_version_moves_the_union_by_natural_key_destination_wins_order_kept() {
    for v in 1..=5 {
        let h = TestHome::new();
        h.login()
            .legacy(&format!("legacy_v{v}"))
            .scoped("scoped_v5");
        let legacy = h.home.legacy_queue();
        let scoped = h.scoped_path();
        let legacy_before: BTreeMap<&str, Vec<Row>> = ALL
            .iter()
            .filter(|t| t.exists_at(v))
            .map(|t| (t.name(), rows(&legacy, t.name())))
            .collect();
        let scoped_before: BTreeMap<&str, Vec<Row>> = ALL
            .iter()
            .map(|t| (t.name(), rows(&scoped, t.name())))
            .collect();

        let report = run_lib(&h);
        assert_eq!(report.status, Status::Migrated, "V{v}");
        assert_eq!(report.legacy_schema_version, Some(v));
        assert_eq!(report.scoped_schema_version, Some(5));

        for t in ALL {
            let after = rows(&scoped, t.name());
            let before_scoped = &scoped_before[t.name()];
            // Destination wins: every pre-existing scoped row is unchanged, id included.
            for r in before_scoped {
                assert!(
                    after.contains(r),
                    "V{v} {}: scoped row changed: {r:?}",
                    t.name()
                );
            }
            let Some(legacy_rows) = legacy_before.get(t.name()) else {
                assert_eq!(&after, before_scoped);
                continue;
            };
            assert_eq!(
                count(&legacy, t.name()),
                0,
                "V{v} {}: legacy not emptied",
                t.name()
            );
            // Exactly the union by natural key, each key once.
            let mut keys: Vec<Vec<Value>> = after.iter().map(|r| key_of(t.name(), r)).collect();
            let n = keys.len();
            keys.sort_by_key(|k| format!("{k:?}"));
            keys.dedup();
            assert_eq!(keys.len(), n, "V{v} {}: duplicate natural key", t.name());
            let mut union: Vec<Vec<Value>> = before_scoped
                .iter()
                .map(|r| key_of(t.name(), r))
                .chain(
                    legacy_rows
                        .iter()
                        .map(|r| key_of(t.name(), &as_v5(t.name(), r))),
                )
                .collect();
            union.sort_by_key(|k| format!("{k:?}"));
            union.dedup();
            assert_eq!(keys, union, "V{v} {}", t.name());
            // Moved rows: contents equal to legacy (mapped), in legacy id order.
            let pre_keys: Vec<Vec<Value>> =
                before_scoped.iter().map(|r| key_of(t.name(), r)).collect();
            let mut last_id = i64::MIN;
            for lr in legacy_rows {
                let want = as_v5(t.name(), lr);
                let k = key_of(t.name(), &want);
                if pre_keys.contains(&k) {
                    continue;
                }
                let got = after.iter().find(|r| key_of(t.name(), r) == k).unwrap();
                assert_eq!(without_id(got), want, "V{v} {}", t.name());
                let Value::Integer(id) = got["id"] else {
                    panic!()
                };
                assert!(id > last_id, "V{v} {}: legacy order lost", t.name());
                last_id = id;
            }
        }
    }
}

#[test]
fn counts_in_the_report_add_up() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let r = run_lib(&h);
    let q = r.tables.iter().find(|t| t.table == Table::Queue).unwrap();
    // The shared key's payloads differ: a divergent duplicate.
    assert_eq!(
        (q.legacy_before, q.inserted, q.already_present, q.divergent),
        (4, 3, 0, 1)
    );
    assert_eq!((q.deleted_from_legacy, q.left_in_legacy), (4, 0));
    let b = r
        .tables
        .iter()
        .find(|t| t.table == Table::BodyUploadQueue)
        .unwrap();
    assert_eq!(
        (b.legacy_before, b.inserted, b.already_present, b.divergent),
        (4, 3, 0, 1)
    );
    let f = r
        .tables
        .iter()
        .find(|t| t.table == Table::BodyUploadFailureLog)
        .unwrap();
    assert_eq!(
        (f.legacy_before, f.inserted, f.deleted_from_legacy),
        (2, 2, 2)
    );
}

#[test]
fn unrelated_rows_in_scoped_do_not_stop_the_move() {
    // The original bug: any row in the scoped DB made the old migration skip.
    let h = TestHome::new();
    h.login().legacy("legacy_v2");
    materialise(
        &h.scoped_path(),
        &(fixture_sql("scoped_v5")
            .lines()
            .filter(|l| !l.contains("shared"))
            .collect::<Vec<_>>()
            .join("\n")),
    );
    let before = count(&h.scoped_path(), "queue");
    assert!(before > 0);
    let r = run_lib(&h);
    assert_eq!(r.status, Status::Migrated);
    assert_eq!(count(&h.scoped_path(), "queue"), before + 4);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
    assert_eq!(count(&h.home.legacy_queue(), "body_upload_queue"), 0);
}

#[test]
fn into_a_new_scoped_db_creates_it_at_v5() {
    let h = TestHome::new();
    h.login().legacy("legacy_v3");
    let r = run_lib(&h);
    assert_eq!(r.status, Status::Migrated);
    assert_eq!(count(&h.scoped_path(), "queue"), 4);
    assert_eq!(count(&h.scoped_path(), "body_upload_queue"), 4);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
}

#[test]
fn second_run_is_nothing_to_do_and_byte_identical() {
    for v in [1, 5] {
        let h = TestHome::new();
        h.login()
            .legacy(&format!("legacy_v{v}"))
            .scoped("scoped_v5");
        assert_eq!(run_lib(&h).status, Status::Migrated);
        let before = tree_hash(h.root());
        let r = run_lib(&h);
        assert_eq!(r.status, Status::NothingToDo);
        assert_eq!(
            tree_hash(h.root()),
            before,
            "V{v}: second run changed the home"
        );
        assert!(r.journal.is_none());
    }
}

#[test]
fn legacy_db_is_never_altered_in_schema() {
    let h = TestHome::new();
    h.login().legacy("legacy_v2").scoped("scoped_v5");
    let schema_sql = |p: &std::path::Path| -> Vec<String> {
        let c = rusqlite::Connection::open(p).unwrap();
        let mut s = c
            .prepare("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
            .unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    let before = schema_sql(&h.home.legacy_queue());
    run_lib(&h);
    assert_eq!(schema_sql(&h.home.legacy_queue()), before);
}

#[test]
fn no_scope_exits_0_with_no_scope_and_writes_nothing() {
    let h = TestHome::new();
    h.legacy("legacy_v5");
    let before = tree_hash(h.root());
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["status"], "no_scope");
    assert_eq!(json["scope"], serde_json::Value::Null);
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn dry_run_writes_nothing_and_reports_the_real_counts() {
    let h = TestHome::new();
    h.login().legacy("legacy_v4").scoped("scoped_v5");
    let before = tree_hash(h.root());
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--dry-run", "--json"])
        .assert()
        .success();
    let dry: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(dry["status"], "dry_run");
    assert_eq!(tree_hash(h.root()), before, "dry run changed the home");
    let real = run_lib(&h);
    let real = serde_json::to_value(&real).unwrap();
    assert_eq!(dry["tables"], real["tables"]);
}

#[test]
fn dry_run_without_scoped_db_counts_everything_as_inserted() {
    let h = TestHome::new();
    h.login().legacy("legacy_v1");
    let before = tree_hash(h.root());
    let opts = RunOptions {
        moving: MoveOptions {
            dry_run: true,
            ..MoveOptions::default()
        },
        ..RunOptions::default()
    };
    let r = migrate::run(&h.home, &opts, &mut Quiet).unwrap();
    assert_eq!(r.tables[0].inserted, 4);
    assert_eq!(r.tables[0].deleted_from_legacy, 4);
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn json_has_exactly_the_contract_fields() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "elapsed_ms",
            "journal",
            "legacy_db",
            "legacy_schema_version",
            "longest_lock_hold_ms",
            "release",
            "schema_version",
            "scope",
            "scoped_db",
            "scoped_schema_version",
            "status",
            "tables"
        ]
    );
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["status"], "migrated");
    assert_eq!(
        json["release"],
        serde_json::json!({"version": "3.2.5", "source": "flag", "generation": "db-v5"})
    );
    let mut tkeys: Vec<&str> = json["tables"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    tkeys.sort();
    assert_eq!(
        tkeys,
        [
            "already_present",
            "arrived_late",
            "cap",
            "deleted_from_legacy",
            "divergent",
            "held_by_cap",
            "inserted",
            "left_in_legacy",
            "legacy_before",
            "table"
        ]
    );
}

#[test]
fn legacy_that_is_not_a_database_exits_1_names_the_file_and_is_untouched() {
    let h = TestHome::new();
    h.login();
    std::fs::write(h.home.legacy_queue(), b"this is not sqlite, just text\n").unwrap();
    let before = tree_hash(h.root());
    let out = h.cmd("sk-migrate").arg("run").assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains(&h.home.legacy_queue().display().to_string()),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn unknown_schema_exits_1_and_is_untouched() {
    let h = TestHome::new();
    h.login();
    materialise(
        &h.home.legacy_queue(),
        "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT, event_type TEXT, data TEXT, \
         timestamp INTEGER, retry_count INTEGER, shard TEXT NOT NULL);\
         INSERT INTO queue VALUES (1, 'e', 't', 'd', 1, 0, 's');",
    );
    let before = tree_hash(h.root());
    let out = h.cmd("sk-migrate").arg("run").assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("queue.shard"), "{err}");
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn locked_legacy_waits_then_exits_1_and_loses_nothing() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let holder = rusqlite::Connection::open(h.home.legacy_queue()).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--busy-timeout", "50"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("locked"), "{err}");
    assert!(
        err.contains(&h.home.legacy_queue().display().to_string()),
        "{err}"
    );
    holder.execute_batch("ROLLBACK").unwrap();
    drop(holder);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 4);
    // Once the lock is gone, the move completes.
    assert_eq!(run_lib(&h).status, Status::Migrated);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
}

#[test]
fn scoped_locked_during_the_move_exits_1_and_loses_nothing() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    // Upgrade first so the lock bites at BEGIN IMMEDIATE, not at the upgrade.
    run_lib(&h);
    std::fs::remove_file(h.home.legacy_queue()).unwrap();
    h.legacy("legacy_v4");
    let holder = rusqlite::Connection::open(h.scoped_path()).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let opts = RunOptions {
        moving: MoveOptions {
            busy_timeout_ms: 20,
            ..MoveOptions::default()
        },
        ..RunOptions::default()
    };
    let err = migrate::run(&h.home, &opts, &mut Quiet).unwrap_err();
    assert!(matches!(err, Error::Locked { .. }), "{err}");
    holder.execute_batch("ROLLBACK").unwrap();
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 4);
}

/// Fails the move at one step, to show a failure between statements changes nothing.
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

#[test]
fn a_fault_between_statements_leaves_both_dbs_unchanged() {
    for step in [
        Step::Planned(Table::Queue),
        Step::Inserted(Table::BodyUploadQueue),
        Step::Deleted(Table::Queue),
        Step::Deleted(Table::BodyUploadFailureLog),
    ] {
        let h = TestHome::new();
        h.login().legacy("legacy_v5").scoped("scoped_v5");
        // Bring the scoped schema up first so the comparison is about rows.
        let mut c = rusqlite::Connection::open(h.scoped_path()).unwrap();
        schema::upgrade(&mut c, &h.scoped_path()).unwrap();
        drop(c);
        let before = tree_hash(h.root());
        let err = migrate::run(&h.home, &RunOptions::default(), &mut FailAt(step));
        assert!(err.is_err());
        assert_eq!(tree_hash(h.root()), before, "{step:?}");
    }
}

#[test]
fn null_keys_and_unreadable_rows_stay_in_legacy_and_are_reported() {
    let h = TestHome::new();
    h.login();
    // A hostile legacy table: no constraints, so NULL keys and payloads exist.
    materialise(
        &h.home.legacy_queue(),
        "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER);
         INSERT INTO queue VALUES (1, NULL, 't', 'd', 1, 0);
         INSERT INTO queue VALUES (2, 'ok', 't', 'd', 2, 0);
         INSERT INTO queue VALUES (3, 'no-data', 't', NULL, 3, 0);
         INSERT INTO queue VALUES (4, 'ok', 't', 'dup', 4, 0);",
    );
    let r = run_lib(&h);
    let q = &r.tables[0];
    assert_eq!(
        (
            q.legacy_before,
            q.inserted,
            q.deleted_from_legacy,
            q.left_in_legacy
        ),
        (4, 1, 2, 2)
    );
    let left: Vec<Option<String>> = {
        let c = rusqlite::Connection::open(h.home.legacy_queue()).unwrap();
        let mut s = c.prepare("SELECT event_id FROM queue ORDER BY id").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(left, vec![None, Some("no-data".to_string())]);
    let out = h.cmd("sk-migrate").arg("run").assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(text.contains("2 row(s) stay in legacy"), "{text}");
}

#[test]
fn wal_mode_moves_with_scoped_first_commits() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    for p in [h.home.legacy_queue(), h.scoped_path()] {
        let c = rusqlite::Connection::open(&p).unwrap();
        let mode: String = c
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
    }
    let r = run_lib(&h);
    assert_eq!(r.status, Status::Migrated);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
    assert_eq!(count(&h.scoped_path(), "queue"), 5);
    assert_eq!(run_lib(&h).status, Status::NothingToDo);
}

#[test]
fn wal_crash_between_commits_is_completed_by_the_next_run() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let c = rusqlite::Connection::open(h.home.legacy_queue()).unwrap();
    let _: String = c
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    drop(c);
    assert!(
        migrate::run(
            &h.home,
            &RunOptions::default(),
            &mut FailAt(Step::ScopedCommitted)
        )
        .is_err()
    );
    // At-least-once: rows are in scoped and still in legacy; nothing lost.
    assert_eq!(count(&h.scoped_path(), "queue"), 5);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 4);
    let r = run_lib(&h);
    assert_eq!(r.tables[0].inserted, 0);
    // Three copies of what the first run inserted, and the shared key
    // whose payloads differ.
    assert_eq!(r.tables[0].already_present, 3);
    assert_eq!(r.tables[0].divergent, 1);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
    assert_eq!(count(&h.scoped_path(), "queue"), 5);
}

#[test]
fn journal_has_one_line_per_moved_row_with_keys_never_payload() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let out = h.cmd("sk-migrate").args(["run", "-v"]).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    let journal = std::fs::read_to_string(h.home.migrate_journal()).unwrap();
    let lines: Vec<serde_json::Value> = journal
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3 + 3 + 2);
    assert_eq!(lines[0]["table"], "queue");
    assert_eq!(lines[0]["key"]["event_id"], "evt-0003");
    for payload in ["ünïcødé", "# Plan", "WP01"] {
        assert!(
            !journal.contains(payload),
            "journal leaks payload {payload}"
        );
        assert!(!stderr.contains(payload), "stderr leaks payload {payload}");
    }
    assert!(stderr.contains("evt-0007"), "{stderr}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(h.home.migrate_journal())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn backup_copies_both_dbs_before_the_move() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let bak = h.dir.path().join("bak");
    h.cmd("sk-migrate")
        .args(["run", "--backup"])
        .arg(&bak)
        .assert()
        .success();
    let mut names: Vec<String> = std::fs::read_dir(&bak)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    let legacy_copy = bak.join(names.iter().find(|n| n.starts_with("legacy")).unwrap());
    assert_eq!(count(&legacy_copy, "queue"), 4);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&legacy_copy)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn scoped_db_at_an_older_version_is_upgraded_and_history_recorded() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    materialise(&h.scoped_path(), &fixture_sql("legacy_v2"));
    let r = run_lib(&h);
    assert_eq!(r.scoped_schema_version, Some(5));
    let c = rusqlite::Connection::open(h.scoped_path()).unwrap();
    assert_eq!(
        schema::history_version(&c, &h.scoped_path()).unwrap(),
        Some(5)
    );
    // evt-shared etc.: scoped at V2 had legacy_v2's 4 events; legacy_v5 has the same keys.
    assert_eq!(count(&h.scoped_path(), "queue"), 4);
    assert_eq!(count(&h.scoped_path(), "body_upload_failure_log"), 2);
}

#[test]
fn explicit_scope_wins_and_bad_scope_is_a_usage_error() {
    let h = TestHome::new();
    h.login().legacy("legacy_v1");
    h.cmd("sk-migrate")
        .args(["run", "--scope", "only|two"])
        .assert()
        .code(64);
    h.cmd("sk-migrate")
        .args(["run", "--bogus"])
        .assert()
        .code(64);
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--json", "--scope", "https://Other.test|Me@x.io|T"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["scope"], "https://other.test|me@x.io|t");
}

#[test]
fn status_reports_versions_pending_and_waiting_rows() {
    let h = TestHome::new();
    h.login().legacy("legacy_v3");
    let out = h
        .cmd("sk-migrate")
        .args(["status", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["legacy"]["schema_version"], 3);
    assert_eq!(json["scoped"]["exists"], false);
    assert_eq!(json["pending_migrations"].as_array().unwrap().len(), 5);
    assert_eq!(json["rows_waiting"], 8);
    assert_eq!(json["scope_source"], "credentials");
}

#[test]
fn completions_and_help_work() {
    let h = TestHome::new();
    let out = h
        .cmd("sk-migrate")
        .args(["completions", "bash"])
        .assert()
        .success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("sk-migrate"));
    let out = h.cmd("sk-migrate").arg("--help").assert().success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("Examples:"));
}

/// Plays a daemon that creates the scoped DB while the move builds its own.
struct DaemonCreatesScoped {
    scoped: std::path::PathBuf,
    done: bool,
}
impl Observer for DaemonCreatesScoped {
    fn checkpoint(&mut self, step: Step) -> Result<(), Error> {
        if step == Step::Inserted(Table::Queue) && !self.done {
            self.done = true;
            materialise(&self.scoped, &fixture_sql("scoped_v5"));
        }
        Ok(())
    }
}

#[test]
fn new_scoped_db_fast_path_never_replaces_a_db_a_daemon_created_meanwhile() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let mut daemon = DaemonCreatesScoped {
        scoped: h.scoped_path(),
        done: false,
    };
    let r = migrate::run(&h.home, &RunOptions::default(), &mut daemon).unwrap();
    assert!(daemon.done);
    assert_eq!(r.status, Status::Migrated);
    // The daemon's rows survived (destination wins on the shared key) and
    // the legacy rows moved in beside them, each key once.
    let events = rows(&h.scoped_path(), "queue");
    let shared = events
        .iter()
        .find(|r| r["event_id"] == Value::Text("evt-shared".into()))
        .unwrap();
    assert_eq!(shared["data"], Value::Text("{\"scoped\":\"copy\"}".into()));
    assert_eq!(events.len(), 5);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
    // No temp file is left beside it.
    let leftovers: Vec<_> = std::fs::read_dir(h.home.queues_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_fault_while_building_a_new_scoped_db_leaves_no_file_behind() {
    for step in [
        Step::SchemaUpgraded,
        Step::Planned(Table::BodyUploadQueue),
        Step::Inserted(Table::BodyUploadFailureLog),
    ] {
        let h = TestHome::new();
        h.login().legacy("legacy_v5");
        let before = tree_hash(h.root());
        assert!(migrate::run(&h.home, &RunOptions::default(), &mut FailAt(step)).is_err());
        assert_eq!(tree_hash(h.root()), before, "{step:?}");
        assert!(!h.scoped_path().exists());
    }
}

#[test]
fn temp_files_of_killed_runs_are_cleaned_up() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    std::fs::create_dir_all(h.home.queues_dir()).unwrap();
    let name = h
        .scoped_path()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    let stale = h
        .home
        .queues_dir()
        .join(format!("{name}.sk-migrate-99999.tmp"));
    std::fs::write(&stale, b"half-built copy").unwrap();
    // A live run's temp file (this process is alive) is never touched.
    let live = h
        .home
        .queues_dir()
        .join(format!("{name}.sk-migrate-{}-1.tmp", std::process::id()));
    std::fs::write(&live, b"being built").unwrap();
    assert_eq!(run_lib(&h).status, Status::Migrated);
    assert!(!stale.exists());
    assert!(live.exists());
    assert_eq!(count(&h.scoped_path(), "queue"), 4);
}

/// Plays a daemon that tries to drain the new scoped DB the moment it appears.
struct DaemonDrains {
    scoped: std::path::PathBuf,
    refused: Option<bool>,
}
impl Observer for DaemonDrains {
    fn checkpoint(&mut self, step: Step) -> Result<(), Error> {
        if step == Step::ScopedCommitted {
            let c = rusqlite::Connection::open(&self.scoped).unwrap();
            // No waiting: the point is whether the lock is there right now.
            c.busy_timeout(std::time::Duration::ZERO).unwrap();
            let drained = c.execute("DELETE FROM queue", []);
            self.refused = Some(drained.is_err());
        }
        Ok(())
    }
}

#[test]
fn a_new_scoped_db_is_locked_from_its_link_until_its_rows_are_audited() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let mut daemon = DaemonDrains {
        scoped: h.scoped_path(),
        refused: None,
    };
    migrate::run(&h.home, &RunOptions::default(), &mut daemon).unwrap();
    assert_eq!(
        daemon.refused,
        Some(true),
        "a daemon could write before the audit"
    );
    let journal = std::fs::read_to_string(h.home.migrate_journal()).unwrap();
    assert_eq!(
        journal
            .lines()
            .filter(|l| l.contains("\"table\":\"queue\""))
            .count(),
        4
    );
    assert_eq!(count(&h.scoped_path(), "queue"), 4);
}

// ---- review findings: hostile shapes that could make the move lose rows

#[test]
fn a_legacy_column_named_rowid_is_refused_untouched() {
    let h = TestHome::new();
    h.login();
    materialise(
        &h.home.legacy_queue(),
        "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER, rowid INTEGER);
         INSERT INTO queue (event_id, event_type, data, timestamp, retry_count, rowid) VALUES ('a', 't', 'd', 1, 0, 7);
         INSERT INTO queue (event_id, event_type, data, timestamp, retry_count, rowid) VALUES (NULL, 't', '{\"precious\":1}', 2, 0, 7);",
    );
    let before = tree_hash(h.root());
    let out = h.cmd("sk-migrate").arg("run").assert().code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("rowid"));
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn a_nocase_scoped_key_does_not_make_another_key_present() {
    let h = TestHome::new();
    h.login().legacy("legacy_v1");
    let scoped_sql = fixture_sql("scoped_v5")
        .replace(
            "event_id TEXT UNIQUE NOT NULL",
            "event_id TEXT COLLATE NOCASE UNIQUE NOT NULL",
        )
        .replace("'evt-shared'", "'EVT-0003'");
    materialise(&h.scoped_path(), &scoped_sql);
    let r = run_lib(&h);
    // evt-0003 differs from EVT-0003 byte for byte: it must not count as
    // present and be deleted unmoved. (The NOCASE UNIQUE index refuses it,
    // so it stays in legacy, reported, rather than being lost.)
    let keys: Vec<String> = {
        let c = rusqlite::Connection::open(h.scoped_path()).unwrap();
        let mut s = c.prepare("SELECT event_id FROM queue").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let legacy_left: Vec<String> = {
        let c = rusqlite::Connection::open(h.home.legacy_queue()).unwrap();
        let mut s = c.prepare("SELECT event_id FROM queue").unwrap();
        s.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert!(
        keys.contains(&"evt-0003".to_string()) || legacy_left.contains(&"evt-0003".to_string()),
        "evt-0003 lost: scoped {keys:?}, legacy {legacy_left:?}, report {:?}",
        r.tables[0]
    );
}

#[test]
fn a_numeric_legacy_key_is_refused_untouched() {
    let h = TestHome::new();
    h.login().scoped("scoped_v5");
    materialise(
        &h.home.legacy_queue(),
        "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id INTEGER UNIQUE, event_type TEXT, data TEXT, timestamp INTEGER, retry_count INTEGER);
         INSERT INTO queue VALUES (1, '1', 't', 'd', 1, 0);",
    );
    let before = tree_hash(h.root());
    h.cmd("sk-migrate").arg("run").assert().code(1);
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn a_scoped_db_with_a_trigger_is_refused_untouched() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    materialise(
        &h.scoped_path(),
        &(fixture_sql("scoped_v5")
            + "CREATE TRIGGER eat AFTER INSERT ON queue BEGIN DELETE FROM queue WHERE id = new.id; END;"),
    );
    let before = tree_hash(h.root());
    let out = h.cmd("sk-migrate").arg("run").assert().code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("trigger eat"));
    assert_eq!(tree_hash(h.root()), before);
}
