//! With an owner record written by a release's own writer (issue 10's
//! acceptance): `sk-doctor --check` exits 0 when the foreground agrees and 2
//! when the release's own `mismatched_fields` is non-empty, naming the same
//! fields, and no fix says `kill`. One trial per captured release that writes
//! an owner record (`fixtures/releases/X/facts.json` has `owner`), run from
//! `${SK_VENV_ROOT:-/tmp}/sk-X` by the harness in `tests/system/harness.rs`.
//! Identities none of the fixtures use.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::harness::{self as e2e, Trial};

pub fn trials() -> Vec<Trial> {
    e2e::captured()
        .into_iter()
        .filter(|c| c.facts["owner"].is_object())
        .map(|c| {
            let release = c.release.clone();
            e2e::release_trial(
                format!("owner_verdict::{release}::doctor_agrees_with_the_releases_own_verdict"),
                &c.release,
                move |venv| doctor_agrees(&release, venv),
            )
        })
        .collect()
}

/// Run `code` (with `args`) by the release's interpreter in the home; its stdout.
fn python(venv: &Path, home: &Path, root: &Path, code: &str, args: &[&str]) -> Vec<u8> {
    let out = Command::new(venv.join("bin/python"))
        .args(["-c", code])
        .args(args)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("SPEC_KITTY_HOME", root)
        .env("SK_PID", std::process::id().to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The release's own writer, with its own foreground identity, our pid (alive).
const WRITE: &str = r#"
import os, sys, json
from specify_cli.sync import owner
fg = owner.compute_foreground_identity(allow_network=False)
fg.update(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
rec = owner.DaemonOwnerRecord(pid=int(os.environ["SK_PID"]), port=9417, token="e2e-token-not-shown",
                              started_at="2026-01-01T00:00:00+00:00", **fg)
owner.write_owner_record(rec)
print(json.dumps(owner.mismatched_fields(rec, owner.compute_foreground_identity(allow_network=False))))
"#;

fn write_owner(venv: &Path, home: &Path, root: &Path, change: &str) -> Value {
    serde_json::from_slice(&python(venv, home, root, WRITE, &[change])).unwrap()
}

fn doctor(venv: &Path, home: &Path, root: &Path) -> (Value, i32) {
    let exe = Path::new(env!("CARGO_BIN_EXE_sk-doctor"));
    let out = Command::new(exe)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("SPEC_KITTY_HOME", root)
        .arg("--spec-kitty")
        .arg(venv.join("bin/spec-kitty"))
        .args(["--no-probe", "--check", "--json"])
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert_ne!(code, 101);
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

fn doctor_agrees(release: &str, venv: &Path) {
    {
        let dir = tempfile::tempdir().unwrap();
        // 3.2.0 keeps its home in ~/.spec-kitty whatever SPEC_KITTY_HOME says.
        let root = dir.path().join(".spec-kitty");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(
            root.join("credentials"),
            "[user]\nusername = \"Märta@Other.Example.org\"\nteam_slug = \"Blue Team\"\n[server]\nurl = \"https://Other.Example.org/\"\n",
        )
        .unwrap();
        std::fs::write(
            root.join("config.toml"),
            "[sync]\nserver_url = \"https://Other.Example.org/\"\n",
        )
        .unwrap();
        let _ = python(venv, dir.path(), &root, "import specify_cli", &[]);

        // The release's record of its own foreground: coherent for it and for us.
        assert_eq!(
            write_owner(venv, dir.path(), &root, "{}"),
            serde_json::json!([])
        );
        let (json, code) = doctor(venv, dir.path(), &root);
        assert_eq!(code, 0, "{release}: {json:#}");
        assert_eq!(json["release"]["version"], release);

        // Each change: the release's verdict is ours, field for field.
        for change in [
            r#"{"package_version": "3.1.9"}"#,
            r#"{"server_url": "https://other.example.org/"}"#,
            r#"{"auth_scope": null}"#,
            r#"{"queue_db_path": "/elsewhere/queue.db"}"#,
            r#"{"source_checkout_path": "/tmp/old-checkout", "auth_team": "red team"}"#,
        ] {
            let theirs = write_owner(venv, dir.path(), &root, change);
            let (json, code) = doctor(venv, dir.path(), &root);
            let ours: Vec<Value> = json["problems"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["code"] == "daemon_mismatch")
                .flat_map(|p| p["fields"].as_array().unwrap().clone())
                .collect();
            assert_eq!(Value::from(ours), theirs, "{release} {change}: {json:#}");
            let expected = if theirs.as_array().unwrap().is_empty() {
                0
            } else {
                2
            };
            assert_eq!(code, expected, "{release} {change}");
            let text = json.to_string();
            assert!(!text.contains("kill"), "{release} {change}");
            assert!(
                !text.contains("e2e-token-not-shown"),
                "{release}: the token leaked"
            );
        }
    }
}
