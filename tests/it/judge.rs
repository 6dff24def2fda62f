//! Issue 19, items 4–6 on temp homes: foreign homes (a root run on a
//! user's home), full paths in every `--json` however the home was spelled,
//! and no futile fix (rows a release cannot take; one file under two names).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::Value;

use crate::common::*;
use crate::shared::{codes, json, problem};

/// `bin args` in `dir` with `SPEC_KITTY_HOME=home` (as `TestHome::cmd` runs it otherwise).
fn in_dir(h: &TestHome, bin: &str, home: &str, args: &[&str], dir: &Path) -> std::process::Output {
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin(bin))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", h.dir.path())
        .env("SPEC_KITTY_HOME", home)
        .env("SK_RELEASE", "3.2.5")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    no_panic(&out);
    out
}

// ---------------------------------------------------------------------------
// Full paths in JSON

fn assert_full_paths(what: &str, v: &Value) {
    match v {
        // Every path, alone or inside a message, is a full one.
        Value::String(s) => {
            for word in s.split_whitespace().filter(|w| w.contains(".spec-kitty")) {
                let word = word.trim_start_matches(['(', '"', '\'']);
                assert!(
                    word.starts_with('/') && !word.contains("/./") && !word.contains("/../"),
                    "{what}: {word} is not a full path (in {s})"
                );
            }
        }
        Value::Array(a) => a.iter().for_each(|x| assert_full_paths(what, x)),
        Value::Object(o) => o.values().for_each(|x| assert_full_paths(what, x)),
        _ => {}
    }
}

#[test]
fn every_json_path_is_full_however_the_home_is_spelled() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let base = h.dir.path();
    std::fs::create_dir_all(base.join("x")).unwrap();
    let spellings: [(&str, Vec<&str>); 3] = [
        (".spec-kitty", vec![]),
        ("", vec!["--home", "./x/../.spec-kitty"]),
        ("./.spec-kitty/", vec![]),
    ];
    for (env, flag) in spellings {
        let mut seen_home = false;
        for (bin, args) in [
            ("sk-doctor", vec!["--no-probe", "--json"]),
            ("sk-migrate", vec!["status", "--json"]),
            ("sk-migrate", vec!["queue-path", "--json"]),
            ("sk-migrate", vec!["run", "--dry-run", "--json"]),
        ] {
            let mut all = flag.clone();
            all.extend(&args);
            let out = in_dir(&h, bin, env, &all, base);
            let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
                panic!("{bin} {args:?}: {}", String::from_utf8_lossy(&out.stderr))
            });
            let what = format!("{bin} {args:?} SPEC_KITTY_HOME={env} {flag:?}");
            assert_full_paths(&what, &v);
            if let Some(home) = v["home"].as_str() {
                assert_eq!(Path::new(home), h.root(), "{what}");
                seen_home = true;
            }
        }
        assert!(seen_home);
    }
}

/// `SPEC_KITTY_HOME=skh` (relative) and a real run: the scoped DB and the
/// journal are named by full paths.
#[test]
fn a_relative_home_runs_with_full_paths() {
    let dir = tempfile::tempdir().unwrap();
    let h = TestHome::new();
    let root = dir.path().join("skh");
    std::fs::create_dir_all(&root).unwrap();
    let home = sk_boundary::home::Home::at(&root);
    std::fs::write(
        home.credentials(),
        "[user]\nusername = \"Robert@Example.com\"\nteam_slug = \"Team-A\"\n\n[server]\nurl = \"https://Sync.Example.test/\"\n",
    )
    .unwrap();
    materialise(&home.legacy_queue(), &fixture_sql("legacy_v5"));
    let out = in_dir(&h, "sk-migrate", "skh", &["run", "--json"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["status"], "migrated", "{v:#}");
    for key in ["scoped_db", "legacy_db", "journal"] {
        let p = v[key].as_str().unwrap();
        assert!(p.starts_with(root.to_str().unwrap()), "{key}: {p}");
    }
}

// ---------------------------------------------------------------------------
// No futile fix

/// 3.0.3 keeps V3 queue DBs: a V5 legacy DB's failure-log rows have no
/// table to go to. `run` moves the rest and then has nothing to do; status
/// and doctor stop saying `sk-migrate run` and name the release that reads
/// them.
#[test]
fn rows_the_release_cannot_take_are_not_a_reason_to_run() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let run = |h: &TestHome| {
        let out = h
            .cmd("sk-migrate")
            .env("SK_RELEASE", "3.0.3")
            .args(["run", "--json"])
            .assert()
            .success();
        json(&out)
    };
    run(&h);
    let again = run(&h);
    assert_eq!(again["status"], "nothing_to_do", "{again:#}");
    assert!(count(&h.home.legacy_queue(), "body_upload_failure_log") > 0);

    let status = h
        .cmd("sk-migrate")
        .env("SK_RELEASE", "3.0.3")
        .args(["status", "--json"])
        .assert()
        .success();
    let status = json(&status);
    assert_eq!(status["rows_waiting"], 0, "{status:#}");
    let stuck = &status["rows_unmovable"][0];
    assert_eq!(stuck["table"], "body_upload_failure_log", "{status:#}");
    assert_eq!(stuck["reason"], "table_missing");
    let text = h
        .cmd("sk-migrate")
        .env("SK_RELEASE", "3.0.3")
        .arg("status")
        .assert()
        .success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    assert!(!text.contains("run `sk-migrate run`"), "{text}");

    let doctor = h
        .cmd("sk-doctor")
        .env("SK_RELEASE", "3.0.3")
        .args(["--no-probe", "--json"])
        .assert()
        .success();
    let doctor = json(&doctor);
    assert!(
        !codes(&doctor).contains(&"legacy_rows".to_string()),
        "{doctor:#}"
    );
    let p = problem(&doctor, "unmovable_legacy_rows");
    let fix = p["remediation"].as_str().unwrap();
    assert!(fix.contains("3.2.0 or later"), "{fix}");
    assert!(
        !doctor
            .to_string()
            .contains("\"remediation\":\"sk-migrate run\""),
        "{doctor:#}"
    );
}

/// A legacy row with a NULL natural key: no run moves it, none ever will.
#[test]
fn rows_without_a_key_are_reported_as_stuck_for_good() {
    let h = TestHome::new();
    h.login();
    let sql =
        fixture_sql("legacy_v5").replace("event_id TEXT UNIQUE NOT NULL", "event_id TEXT UNIQUE");
    materialise(&h.home.legacy_queue(), &sql);
    let conn = rusqlite::Connection::open(h.home.legacy_queue()).unwrap();
    conn.execute(
        "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES (NULL, 'X', '{}', 1)",
        [],
    )
    .unwrap();
    drop(conn);
    h.cmd("sk-migrate").arg("run").assert().success();
    let again = json(
        &h.cmd("sk-migrate")
            .args(["run", "--json"])
            .assert()
            .success(),
    );
    assert_eq!(again["status"], "nothing_to_do", "{again:#}");
    let status = json(
        &h.cmd("sk-migrate")
            .args(["status", "--json"])
            .assert()
            .success(),
    );
    assert_eq!(status["rows_waiting"], 0, "{status:#}");
    assert_eq!(
        status["rows_unmovable"][0]["reason"], "null_key",
        "{status:#}"
    );
    assert_eq!(status["rows_unmovable"][0]["rows"], 1);
    let doctor = json(
        &h.cmd("sk-doctor")
            .args(["--no-probe", "--json"])
            .assert()
            .success(),
    );
    assert!(
        !codes(&doctor).contains(&"legacy_rows".to_string()),
        "{doctor:#}"
    );
    // Nothing clears them, so they are an advisory, not a problem.
    assert!(
        !codes(&doctor).contains(&"unmovable_legacy_rows".to_string()),
        "{doctor:#}"
    );
    let keyless = doctor["advisories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["code"] == "keyless_legacy_rows")
        .unwrap_or_else(|| panic!("{doctor:#}"));
    let said = keyless["message"].as_str().unwrap();
    assert!(
        said.contains("no release and no move can take them"),
        "{said}"
    );
}

/// The scoped DB hard-linked to `queue.db`: one file, recognised by device
/// and inode. Nothing is stranded, run has nothing to do (no lock wait).
#[test]
fn one_file_under_two_names_is_recognised() {
    let h = TestHome::new();
    h.login().scoped("scoped_v5");
    std::fs::hard_link(h.scoped_path(), h.home.legacy_queue()).unwrap();
    assert_eq!(
        std::fs::metadata(h.scoped_path()).unwrap().ino(),
        std::fs::metadata(h.home.legacy_queue()).unwrap().ino()
    );
    let before = tree_hash(h.dir.path());
    let doctor = json(
        &h.cmd("sk-doctor")
            .args(["--no-probe", "--json"])
            .assert()
            .success(),
    );
    let codes = codes(&doctor);
    assert!(
        !codes.contains(&"stranded_setup_plan".to_string())
            && !codes.contains(&"legacy_rows".to_string()),
        "{doctor:#}"
    );
    assert!(
        doctor["warnings"].to_string().contains("same file"),
        "{doctor:#}"
    );
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--json", "--busy-timeout", "100"])
        .assert()
        .success();
    let run = json(&out);
    assert_eq!(run["status"], "nothing_to_do", "{run:#}");
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(!err.contains("locked"), "{err}");
    let status = json(
        &h.cmd("sk-migrate")
            .args(["status", "--json"])
            .assert()
            .success(),
    );
    assert_eq!(status["rows_waiting"], 0);
    assert_eq!(status["same_file"], true);
    assert_eq!(tree_hash(h.dir.path()), before, "nothing was written");
}
