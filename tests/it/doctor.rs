//! `sk-doctor`: coherence, --check, orphans, malformed records, retire (issue 3).

use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use serde_json::{Value, json};
use sk_boundary::doctor::owner::OwnerRecord;

/// A change to the owner record, for table-driven cases.
type Change = Box<dyn Fn(&mut OwnerRecord)>;

fn statuses(json: &Value) -> Vec<(String, String)> {
    json["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn problem_codes(json: &Value) -> Vec<String> {
    json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn coherent_home_exits_0_with_check_and_ok_true() {
    let c = coherent();
    let (json, code) = c.json(&["--check"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["ok"], true);
    assert_eq!(json["daemon_owner"]["status"], "present");
    for (field, status) in statuses(&json) {
        assert!(status == "match" || status == "info", "{field}: {status}");
    }
}

#[test]
fn each_blocking_field_differing_alone_is_that_mismatch_only() {
    let c = coherent();
    let other_exe = c.h.dir.path().join("other-python");
    std::fs::write(&other_exe, "").unwrap();
    let cases: Vec<(&str, Change)> = vec![
        (
            "package_version",
            Box::new(|r| r.package_version = "3.0.2".into()),
        ),
        (
            "executable_path",
            Box::new(move |r| r.executable_path = other_exe.display().to_string()),
        ),
        (
            "server_url",
            Box::new(|r| r.server_url = "https://other.example.test".into()),
        ),
        ("auth_scope", Box::new(|r| r.auth_scope = None)),
        (
            "queue_db_path",
            Box::new(|r| r.queue_db_path = "/elsewhere/queue.db".into()),
        ),
    ];
    for (field, change) in cases {
        c.rewrite(change);
        let (json, code) = c.json(&["--check"]);
        assert_eq!(code, 2, "{field}");
        let mismatched: Vec<String> = statuses(&json)
            .into_iter()
            .filter(|(_, s)| s == "mismatch")
            .map(|(f, _)| f)
            .collect();
        assert_eq!(mismatched, [field], "{field}");
        assert_eq!(problem_codes(&json), ["daemon_mismatch"], "{field}");
        assert_eq!(json["problems"][0]["fields"], json!([field]));
    }
}

#[test]
fn informational_fields_differing_stay_ok() {
    let c = coherent();
    c.rewrite(|r| {
        r.port = 9444;
        r.started_at = "2026-01-01T00:00:00Z".into();
        r.auth_principal = Some("someone@else.test".into());
        r.auth_team = None;
        // Informational in every release measured (fixtures/releases).
        r.source_checkout_path = "/tmp/spec-kitty-old".into();
    });
    let (json, code) = c.json(&["--check"]);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["ok"], true);
}

#[test]
fn foreground_without_scope_vs_daemon_with_scope_is_a_mismatch() {
    let c = coherent();
    std::fs::remove_file(c.h.home.credentials()).unwrap();
    let (json, _) = c.json(&[]);
    let st = statuses(&json);
    assert!(
        st.contains(&("auth_scope".into(), "mismatch".into())),
        "{st:?}"
    );
}

#[test]
fn paths_compare_as_the_release_compares_them() {
    let c = coherent();
    let link = c.h.dir.path().join("python-link");
    std::os::unix::fs::symlink(&c.record.executable_path, &link).unwrap();
    let dir_link = c.h.dir.path().join("home-link");
    std::os::unix::fs::symlink(c.h.root(), &dir_link).unwrap();
    let scoped_via_link = dir_link
        .join("queues")
        .join(c.h.scoped_path().file_name().unwrap());
    // The release resolves the interpreter when it writes the record, its
    // own, and the record's when it reads it (`DaemonOwnerRecord.__post_init__`),
    // so a symlinked interpreter matches; every other path compares as
    // written: the same DB through a symlinked directory is a mismatch for
    // the release (`mismatched_fields` is `!=`), so it is one here.
    c.rewrite(|r| r.executable_path = link.display().to_string());
    let (json, code) = c.json(&["--check"]);
    assert_eq!(code, 0, "{json:#}");
    let canonical = std::fs::canonicalize(&link).unwrap();
    c.rewrite(|r| r.executable_path = canonical.display().to_string());
    let (json, code) = c.json(&["--check"]);
    assert_eq!(code, 0, "{json:#}");
    c.rewrite(|r| r.queue_db_path = scoped_via_link.display().to_string());
    let (json, code) = c.json(&["--check"]);
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["problems"][0]["fields"], json!(["queue_db_path"]));
    assert!(
        !json["problems"][0]["remediation"]
            .as_str()
            .unwrap()
            .contains("kill")
    );
}

#[test]
fn dead_pid_or_missing_executable_is_an_orphan() {
    let c = coherent();
    let dead = dead_pid();
    let missing = c.h.dir.path().join("gone/python3").display().to_string();
    for (what, change) in [
        (
            "dead pid",
            Box::new(move |r: &mut OwnerRecord| r.pid = dead) as Change,
        ),
        (
            "missing exe",
            Box::new({
                let m = missing.clone();
                move |r: &mut OwnerRecord| r.executable_path = m.clone()
            }),
        ),
        (
            "both",
            Box::new(move |r: &mut OwnerRecord| {
                r.pid = dead;
                r.executable_path = missing.clone();
            }),
        ),
    ] {
        c.rewrite(change);
        let (json, code) = c.json(&["--check"]);
        assert_eq!(json["daemon_owner"]["status"], "orphan", "{what}");
        assert_eq!(code, 2, "{what}");
        assert!(
            problem_codes(&json).contains(&"orphan_daemon".to_string()),
            "{what}"
        );
    }
}

#[test]
fn malformed_owner_records_never_panic_and_fail_check() {
    let c = coherent();
    let path = c.h.home.owner_record();
    let mut missing_field: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    missing_field
        .as_object_mut()
        .unwrap()
        .remove("queue_db_path");
    let mut wrong_type = missing_field.clone();
    wrong_type["queue_db_path"] = json!("/q.db");
    wrong_type["pid"] = json!(TOKEN);
    for (what, text) in [
        (
            "invalid json",
            format!("{{\"pid\": 1, \"token\": \"{TOKEN}\","),
        ),
        ("wrong types", wrong_type.to_string()),
        ("missing field", missing_field.to_string()),
        ("not an object", "[1,2,3]".to_string()),
        ("binary", "\u{0}\u{1}\u{2}garbage".to_string()),
    ] {
        std::fs::write(&path, &text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let out = c.doctor(&["--json", "--check"]).code(2);
        let o = out.get_output();
        let stdout = String::from_utf8_lossy(&o.stdout);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        assert!(
            !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
            "{what} leaks the token"
        );
        let json: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(json["daemon_owner"]["status"], "malformed", "{what}");
        assert!(
            problem_codes(&json).contains(&"owner_record_malformed".to_string()),
            "{what}"
        );
    }
}

#[test]
fn owner_record_readable_by_others_is_a_problem() {
    let c = coherent();
    std::fs::set_permissions(
        c.h.home.owner_record(),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let (json, code) = c.json(&["--check"]);
    assert_eq!(code, 2);
    assert_eq!(problem_codes(&json), ["owner_record_permissions"]);
    let fix = json["problems"][0]["remediation"].as_str().unwrap();
    assert!(fix.starts_with("chmod 600 "), "{fix}");
}

#[test]
fn legacy_rows_with_a_scope_are_stranded_per_mission() {
    let c = coherent();
    c.h.legacy("legacy_v3");
    let (json, code) = c.json(&["--check"]);
    assert_eq!(code, 2);
    let codes = problem_codes(&json);
    assert!(codes.contains(&"legacy_rows".to_string()), "{codes:?}");
    assert!(
        codes.contains(&"stranded_setup_plan".to_string()),
        "{codes:?}"
    );
    assert_eq!(
        json["queues"]["stranded_missions"],
        json!([
            {"mission_slug": "042-sync-boundary", "body_uploads": 3},
            {"mission_slug": "043-other", "body_uploads": 1}
        ])
    );
    assert_eq!(json["queues"]["legacy"]["schema_version"], 3);
    assert_eq!(json["queues"]["legacy"]["body_uploads"], 4);
    let legacy = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "legacy_rows")
        .unwrap();
    // One step, sk-migrate run, for the same spec-kitty sk-doctor followed.
    let argv = &legacy["steps"][0]["argv"];
    assert_eq!(legacy["steps"][0]["by"], "sk-migrate", "{legacy:#}");
    assert_eq!(argv[0], "sk-migrate");
    assert_eq!(argv[1], "--spec-kitty");
    assert_eq!(argv[3], "run", "{legacy:#}");
    assert_eq!(
        legacy["remediation"],
        format!("sk-migrate --spec-kitty {} run", argv[2].as_str().unwrap())
    );
}

#[test]
fn legacy_rows_without_a_scope_are_no_problem() {
    let h = TestHome::new();
    h.legacy("legacy_v5");
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--json", "--check"])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(
        json["queues"]["active"]["path"],
        json["queues"]["legacy"]["path"]
    );
    assert_eq!(json["queues"]["stranded_missions"], json!([]));
}

#[test]
fn foreground_is_discovered_from_a_fake_install_and_overridden_by_file() {
    let c = coherent();
    let (json, _) = c.json(&[]);
    assert_eq!(json["foreground"]["package_version"], "3.1.4");
    let python = std::fs::canonicalize(&c.record.executable_path).unwrap();
    assert_eq!(
        json["foreground"]["executable_path"],
        python.display().to_string()
    );
    let checkout = std::fs::canonicalize(&c.record.source_checkout_path).unwrap();
    assert_eq!(
        json["foreground"]["source_checkout_path"],
        checkout.display().to_string()
    );
    // Discovery through PATH too.
    let path = format!(
        "{}:{}",
        c.entry.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let out =
        c.h.cmd("sk-doctor")
            .env("PATH", path)
            .args(["--no-probe", "--json"])
            .assert()
            .success();
    let via_path: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(via_path["foreground"]["package_version"], "3.1.4");
    // --foreground overrides one field, the others stay discovered.
    let fg = c.h.dir.path().join("fg.json");
    std::fs::write(&fg, r#"{"package_version": "9.9.9"}"#).unwrap();
    let (json, code) = c.json(&["--check", "--foreground", fg.to_str().unwrap()]);
    assert_eq!(json["foreground"]["package_version"], "9.9.9");
    assert_eq!(
        json["foreground"]["executable_path"],
        python.display().to_string()
    );
    assert_eq!(code, 2);
}

#[test]
fn unknown_foreground_fields_are_shown_unknown_not_guessed() {
    let h = TestHome::new();
    h.login();
    let out = h
        .cmd("sk-doctor")
        .env("PATH", "/nonexistent")
        .args(["--no-probe", "--json"])
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["foreground"]["package_version"], Value::Null);
    assert_eq!(json["foreground"]["executable_path"], Value::Null);
    assert!(json["warnings"].to_string().contains("not guessed"));
}

#[test]
fn no_output_ever_contains_the_token() {
    let c = coherent();
    c.h.legacy("legacy_v5");
    std::fs::set_permissions(
        c.h.home.owner_record(),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(
        c.h.home.daemon_state(),
        format!("http://127.0.0.1:9400\n9400\n{TOKEN}\n4242\n"),
    )
    .unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec![],
        vec!["--json"],
        vec!["--check"],
        vec!["preflight"],
        vec!["preflight", "--json"],
        vec!["retire", "--dry-run"],
        vec!["retire", "--json", "--dry-run"],
    ];
    for args in runs {
        let out = c.doctor(&args);
        let o = out.get_output();
        for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(TOKEN), "{args:?} {stream} leaks the token");
            assert!(
                !text.contains("cred-SECRET"),
                "{args:?} {stream} leaks the credentials token"
            );
        }
    }
}

#[test]
fn the_home_is_byte_identical_after_every_doctor_run() {
    let c = coherent();
    c.h.legacy("legacy_v2");
    std::fs::set_permissions(
        c.h.home.owner_record(),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let before = tree_hash(c.h.root());
    for args in [
        vec![],
        vec!["--json"],
        vec!["--check"],
        vec!["preflight"],
        vec!["retire", "--dry-run"],
    ] {
        c.doctor(&args);
        assert_eq!(tree_hash(c.h.root()), before, "{args:?} changed the home");
    }
    // A home with nothing at all: nothing is created either.
    let empty = TestHome::new();
    empty
        .cmd("sk-doctor")
        .args(["--no-probe"])
        .assert()
        .success();
    assert!(tree_hash(empty.root()).is_empty());
}

#[test]
fn piped_output_has_no_ansi_escapes() {
    let c = coherent();
    c.rewrite(|r| r.package_version = "0.0.1".into());
    for env in [None, Some("1")] {
        let mut cmd = c.h.cmd("sk-doctor");
        if let Some(v) = env {
            cmd.env("NO_COLOR", v);
        }
        let out = cmd
            .args(["--no-probe", "--spec-kitty"])
            .arg(&c.entry)
            .assert()
            .success();
        let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
        assert!(!text.contains('\u{1b}'), "ANSI escape in piped output");
        assert!(text.contains("✗ mismatch"), "{text}");
    }
}

#[test]
fn retire_removes_an_orphan_and_refuses_a_live_daemon() {
    let c = coherent();
    // Live: refused, record kept.
    c.doctor(&["retire", "--yes"]).code(2);
    assert!(c.h.home.owner_record().exists());
    // Orphan, not on a terminal, no --yes: refused without hanging.
    let dead = dead_pid();
    c.rewrite(|r| r.pid = dead);
    std::fs::write(
        c.h.home.daemon_state(),
        format!("http://127.0.0.1:9400\n9400\n{TOKEN}\n{dead}\n"),
    )
    .unwrap();
    c.doctor(&["retire"]).code(2);
    assert!(c.h.home.owner_record().exists());
    // --dry-run removes nothing.
    c.doctor(&["retire", "--dry-run", "--yes"]).success();
    assert!(c.h.home.owner_record().exists());
    // --yes: the record and the state file naming the same dead pid go.
    c.doctor(&["retire", "--yes"]).success();
    assert!(!c.h.home.owner_record().exists());
    assert!(!c.h.home.daemon_state().exists());
    // Nothing left to retire: fine.
    c.doctor(&["retire", "--yes"]).success();
}

#[test]
fn json_field_names_are_exactly_the_contract() {
    let c = coherent();
    c.h.legacy("legacy_v5");
    c.rewrite(|r| r.package_version = "0".into());
    let (json, _) = c.json(&[]);
    assert_eq!(
        json["release"],
        json!({"version": "3.2.5", "source": "flag", "generation": "db-v5"})
    );
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&json),
        [
            "advisories",
            "daemon_owner",
            "fields",
            "foreground",
            "home",
            "home_exists",
            "live_orphans",
            "ok",
            "problems",
            "queues",
            "release",
            "schema_version",
            "warnings"
        ]
    );
    assert_eq!(json["schema_version"], 1);
    assert_eq!(
        keys(&json["foreground"]),
        [
            "auth_principal",
            "auth_scope",
            "auth_team",
            "executable_path",
            "package_version",
            "queue_db_path",
            "server_url",
            "source_checkout_path"
        ]
    );
    assert_eq!(
        keys(&json["daemon_owner"]),
        ["executable_exists", "path", "pid_alive", "record", "status"]
    );
    assert!(!keys(&json["daemon_owner"]["record"]).contains(&"token".to_string()));
    assert_eq!(
        keys(&json["fields"][0]),
        ["blocking", "daemon", "field", "foreground", "status"]
    );
    assert_eq!(
        keys(&json["queues"]),
        ["active", "legacy", "stranded_missions"]
    );
    assert_eq!(
        keys(&json["queues"]["active"]),
        [
            "body_uploads",
            "events",
            "exists",
            "failure_log",
            "path",
            "schema_version"
        ]
    );
    assert_eq!(
        keys(&json["queues"]["stranded_missions"][0]),
        ["body_uploads", "mission_slug"]
    );
    assert_eq!(
        keys(&json["problems"][0]),
        ["code", "fields", "message", "remediation", "steps"]
    );
    assert_eq!(
        keys(&json["problems"][0]["steps"][0]),
        ["argv", "by", "what"]
    );
}

#[test]
fn incident_fixture_shows_every_break() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    sk_boundary::fixture::materialise_home(&fixture("incident/home"), &home).unwrap();
    let out = Bin::new("sk-doctor")
        .env_clear()
        .env("SPEC_KITTY_HOME", &home)
        .env("SK_RELEASE", "3.2.5")
        .args(["--no-probe", "--json", "--check", "--foreground"])
        .arg(fixture("incident/foreground.json"))
        .assert()
        .code(2);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let codes = problem_codes(&json);
    for want in [
        "daemon_mismatch",
        "orphan_daemon",
        "legacy_rows",
        "stranded_setup_plan",
    ] {
        assert!(
            codes.contains(&want.to_string()),
            "{want} missing from {codes:?}"
        );
    }
    assert_eq!(
        json["queues"]["stranded_missions"][0]["mission_slug"],
        "042-sync-boundary"
    );
    assert_eq!(json["queues"]["stranded_missions"][0]["body_uploads"], 4);
    assert!(
        json["queues"]["active"]["events"].as_u64().unwrap() > 0,
        "scoped holds unrelated rows"
    );
}

/// A copy of a DB taken while a writer had spilled pages: its journal is hot.
fn hot_journal_copy(fixture_name: &str, into: &std::path::Path) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("q.db");
    materialise(&db, &fixture_sql(fixture_name));
    let writer = rusqlite::Connection::open(&db).unwrap();
    writer
        .execute_batch(
            "PRAGMA cache_size = 1; BEGIN; UPDATE queue SET data = data || hex(randomblob(2000));",
        )
        .unwrap();
    let mut journal = db.as_os_str().to_owned();
    journal.push("-journal");
    assert!(
        std::path::Path::new(&journal).exists(),
        "the update did not spill"
    );
    std::fs::create_dir_all(into.parent().unwrap()).unwrap();
    std::fs::copy(&db, into).unwrap();
    let mut into_journal = into.as_os_str().to_owned();
    into_journal.push("-journal");
    std::fs::copy(&journal, &into_journal).unwrap();
    writer.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_hot_journal_is_reported_and_left_for_a_writer() {
    let c = coherent();
    hot_journal_copy("legacy_v5", &c.h.home.legacy_queue());
    let before = tree_hash(c.h.root());
    let (json, _) = c.json(&[]);
    assert_eq!(
        tree_hash(c.h.root()),
        before,
        "the doctor rolled the journal back"
    );
    assert!(
        json["warnings"].to_string().contains("interrupted write"),
        "{json:#}"
    );
    // sk-migrate is a writer: it recovers the DB (the update never happened)
    // and moves the rows as they were.
    c.h.cmd("sk-migrate").arg("run").assert().success();
    let scoped = rows(&c.h.scoped_path(), "queue");
    let moved = scoped
        .iter()
        .find(|r| r["event_id"] == rusqlite::types::Value::Text("evt-0007".into()))
        .unwrap();
    assert_eq!(
        moved["data"],
        rusqlite::types::Value::Text("{\"wp\":\"WP01\",\"to\":\"doing\"}".into())
    );
    assert_eq!(count(&c.h.home.legacy_queue(), "queue"), 0);
}

#[test]
fn an_owner_record_that_is_a_fifo_is_malformed_not_a_hang() {
    let c = coherent();
    std::fs::remove_file(c.h.home.owner_record()).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(c.h.home.owner_record())
        .status()
        .unwrap();
    assert!(made.success());
    let (json, code) = c.json(&["--check"]);
    assert_eq!(json["daemon_owner"]["status"], "malformed");
    assert_eq!(code, 2);
}

#[test]
fn exit_codes_for_usage_and_runtime_errors() {
    let h = TestHome::new();
    h.cmd("sk-doctor").arg("--bogus").assert().code(64);
    h.cmd("sk-doctor")
        .args(["--no-probe", "--scope", "only|two"])
        .assert()
        .code(64);
    h.cmd("sk-doctor")
        .args(["preflight", "--bogus"])
        .assert()
        .code(64);
    // A --foreground file that cannot be read is a runtime error naming it.
    let missing = h.dir.path().join("no-such-fg.json");
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--foreground"])
        .arg(&missing)
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("no-such-fg.json"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
