//! Paths are bytes (`docs/json.md`, "Paths"): a home under a directory whose
//! name is not UTF-8 and holds a newline and a space works end to end
//! (`sk-migrate run`, `status`, `queue-path`, `sk-doctor`, `preflight`);
//! JSON carries its paths losslessly (`{"bytes_hex": …}`), text shows them
//! escaped, never with U+FFFD, and `queue-path` prints the path's own bytes.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use serde_json::Value;
use sk_boundary::Home;

use crate::common::*;

struct OddHome {
    dir: tempfile::TempDir,
    home: Home,
}

/// A logged-in home with the V5 legacy fixture at `<tmp>/<name>/.spec-kitty`.
fn odd_home(name: &[u8]) -> OddHome {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(OsStr::from_bytes(name)).join(".spec-kitty");
    std::fs::create_dir_all(&root).unwrap();
    let home = Home::at(&root);
    std::fs::write(
        home.credentials(),
        "[user]\nusername = \"Robert@Example.com\"\nteam_slug = \"Team-A\"\ntoken = \"cred-SECRET\"\n\n[server]\nurl = \"https://Sync.Example.test/\"\n",
    )
    .unwrap();
    materialise(&home.legacy_queue(), &fixture_sql("legacy_v5"));
    OddHome { dir, home }
}

fn run(h: &OddHome, bin: &str, args: &[&str]) -> std::process::Output {
    Bin::new(bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", h.dir.path())
        .env("SPEC_KITTY_HOME", h.home.root())
        .env("SK_RELEASE", "3.2.5")
        .args(args)
        .output()
        .unwrap()
}

/// The path a JSON value carries: a string, or `{"bytes_hex": …}`.
fn json_path(v: &Value) -> PathBuf {
    match v {
        Value::String(s) => PathBuf::from(s),
        Value::Object(o) => {
            let bytes = hex::decode(o["bytes_hex"].as_str().unwrap()).unwrap();
            PathBuf::from(OsStr::from_bytes(&bytes))
        }
        other => panic!("not a path: {other}"),
    }
}

/// Text for people: never a replacement character; stdout and stderr.
fn text(out: &std::process::Output) -> String {
    for stream in [&out.stdout, &out.stderr] {
        let s = String::from_utf8(stream.clone()).expect("text output is UTF-8");
        let bad: Vec<&str> = s.lines().filter(|l| l.contains('\u{fffd}')).collect();
        assert!(bad.is_empty(), "a replacement character in {bad:?}");
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn every_command_works(h: &OddHome, shown: &str) {
    let legacy = h.home.legacy_queue();
    let status = run(h, "sk-migrate", &["status"]);
    ok(&status);
    text(&status);
    let status = run(h, "sk-migrate", &["status", "--json"]);
    ok(&status);
    let json: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(json_path(&json["legacy"]["path"]), legacy);
    assert_eq!(json["rows_waiting"], 10);
    let scoped = json_path(&json["scoped"]["path"]);

    let doctor = run(h, "sk-doctor", &["--no-probe"]);
    ok(&doctor);
    assert!(text(&doctor).contains(shown), "{}", text(&doctor));
    let doctor = run(h, "sk-doctor", &["--no-probe", "--json"]);
    let json: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    assert_eq!(json_path(&json["home"]), h.home.root());
    assert_eq!(json_path(&json["queues"]["legacy"]["path"]), legacy);

    let moved = run(h, "sk-migrate", &["run", "--json"]);
    ok(&moved);
    let json: Value = serde_json::from_slice(&moved.stdout).unwrap();
    assert_eq!(json["status"], "migrated");
    assert_eq!(json_path(&json["legacy_db"]), legacy);
    assert_eq!(json_path(&json["scoped_db"]), scoped);
    assert_eq!(json_path(&json["journal"]), h.home.migrate_journal());
    assert_eq!(count(&scoped, "queue"), 4);
    assert_eq!(count(&legacy, "queue"), 0);

    // For `db=$(sk-migrate queue-path)`: the path's own bytes.
    let path = run(h, "sk-migrate", &["queue-path"]);
    ok(&path);
    let mut want = scoped.as_os_str().as_bytes().to_vec();
    want.push(b'\n');
    assert_eq!(path.stdout, want);

    let again = run(h, "sk-migrate", &["run"]);
    ok(&again);
    assert!(text(&again).contains("nothing to do") || text(&again).contains("Nothing"));
    let preflight = run(h, "sk-doctor", &["preflight"]);
    ok(&preflight);
    text(&preflight);
}

#[test]
fn a_home_whose_path_is_not_utf8_works_end_to_end_and_json_keeps_its_bytes() {
    let h = odd_home(b"h\xffome\nx y");
    assert!(h.home.root().to_str().is_none());
    every_command_works(&h, r#"h\xFFome\nx y"#);
}

#[test]
fn a_home_with_a_newline_and_spaces_is_shown_escaped_and_carried_as_a_string() {
    let h = odd_home(b"my home\nline two");
    every_command_works(&h, r#"my home\nline two"#);
    let json: Value =
        serde_json::from_slice(&run(&h, "sk-migrate", &["status", "--json"]).stdout).unwrap();
    assert_eq!(
        json["legacy"]["path"],
        h.home.legacy_queue().to_str().unwrap(),
        "a UTF-8 path stays a JSON string"
    );
}
