//! End to end against the real releases: what `sk-migrate run` moves, the
//! release itself drains — and it can still enqueue in that DB afterwards.
//!
//! One trial per captured release of a queue-DB generation (`db-v3`, `db-v4`,
//! `db-v5` in `fixtures/releases/X/facts.json`; no release is named here), run
//! from `${SK_VENV_ROOT:-/tmp}/sk-X` by the harness in `tests/system/harness.rs`:
//! a missing venv is counted as ignored, or fails under `SK_E2E=require`.
//! Every captured release runs (about 8 s each on 2 loaded cores);
//! `SK_E2E_ROTATE=1` runs a daily rotation instead (`e2e::selected`,
//! docs/releases.md, "End-to-end suites").
//!
//! Per release X: in a temp home, X's own `OfflineQueue` /
//! `OfflineBodyUploadQueue` write a login and a legacy `queue.db`
//! (`scripts/release_fixtures/e2e_home.py write`); `sk-migrate --release X
//! --home <root> run --json` moves it; then X's default queues (X picks the
//! file) drain it (`e2e_home.py drain`). Every natural key read from the legacy
//! DB before the move must come back from X's drain, out of the very file
//! sk-migrate wrote, and a new event + body upload must enqueue and drain
//! there. No network: the venvs are already installed.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::harness::{self as e2e, Trial};

const EVENTS: usize = 25;
/// A server URL set in the environment, unlike the login's (none of the
/// fixtures use it).
const SAAS_URL: &str = "https://Env-Only.Example.net/";
const BODIES: usize = 7;

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The committed facts of `release` (root rule, generation), measured on its code.
fn facts(release: &str) -> Value {
    let path = manifest()
        .join("fixtures/releases")
        .join(release)
        .join("facts.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn path_var() -> OsString {
    std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/bin:/bin"))
}

fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One temp home laid out the way `release` finds its root.
struct E2eHome {
    _dir: tempfile::TempDir,
    /// The fake `$HOME`.
    home: PathBuf,
    /// The spec-kitty root: `$HOME/.spec-kitty` (and `$SPEC_KITTY_HOME` when honoured).
    root: PathBuf,
    release: String,
    python: PathBuf,
    sk_home_honoured: bool,
}

impl E2eHome {
    fn new(release: &str, python: PathBuf) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().canonicalize().unwrap();
        let root = home.join(".spec-kitty");
        let sk_home_honoured = facts(release)["root"]["spec_kitty_home_env_honoured"]
            .as_bool()
            .unwrap();
        E2eHome {
            _dir: dir,
            home,
            root,
            release: release.to_string(),
            python,
            sk_home_honoured,
        }
    }

    /// `e2e_home.py <mode>` with the release's interpreter; its JSON answer.
    fn helper(&self, mode: &str) -> Value {
        let mut cmd = Command::new(&self.python);
        cmd.arg(manifest().join("scripts/release_fixtures/e2e_home.py"))
            .arg(mode)
            .arg("--root")
            .arg(&self.root)
            .args([
                "--events",
                &EVENTS.to_string(),
                "--bodies",
                &BODIES.to_string(),
            ])
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", &self.home)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONNOUSERSITE", "1")
            .env("NO_COLOR", "1")
            // The release's target authority reads it (3.2.4+); the queue it
            // writes must not follow it, nor must sk-migrate's.
            .env("SPEC_KITTY_SAAS_URL", SAAS_URL)
            .current_dir(&self.home);
        if self.sk_home_honoured {
            cmd.env("SPEC_KITTY_HOME", &self.root);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}: e2e_home.py {mode} failed: {}",
            self.release,
            show(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: e2e_home.py {mode}: not JSON ({e}): {}",
                self.release,
                show(&out)
            )
        })
    }

    fn migrate(&self) -> Value {
        let out = Command::new(env!("CARGO_BIN_EXE_sk-migrate"))
            .arg("--release")
            .arg(&self.release)
            .arg("--home")
            .arg(&self.root)
            .args(["run", "--json"])
            .env_clear()
            .env("PATH", path_var())
            .env("HOME", &self.home)
            .env("SPEC_KITTY_SAAS_URL", SAAS_URL)
            .current_dir(&self.home)
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: sk-migrate run: {}",
            self.release,
            show(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: sk-migrate run --json: not JSON ({e}): {}",
                self.release,
                show(&out)
            )
        })
    }
}

/// Natural keys of a queue DB as found on disk, whatever its schema version:
/// `queue.event_id`, and the body-upload key in V5 order (V3 calls the slug and
/// type columns `feature_slug` / `mission_key`).
#[derive(Debug, Default, PartialEq, Eq)]
struct Keys {
    events: BTreeSet<String>,
    bodies: BTreeSet<Vec<String>>,
}

fn columns(conn: &Connection, table: &str) -> Vec<String> {
    let mut stmt = conn
        .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn open_ro(db: &Path) -> Connection {
    Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}

fn keys(db: &Path) -> Keys {
    let conn = open_ro(db);
    let events = {
        let mut stmt = conn.prepare("SELECT event_id FROM queue").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    let cols = columns(&conn, "body_upload_queue");
    let pick = |v5: &'static str, v3: &'static str| {
        if cols.iter().any(|c| c == v5) { v5 } else { v3 }
    };
    let sql = format!(
        "SELECT project_uuid, {}, target_branch, {}, manifest_version, artifact_path, content_hash \
         FROM body_upload_queue",
        pick("mission_slug", "feature_slug"),
        pick("mission_type", "mission_key"),
    );
    let bodies = {
        let mut stmt = conn.prepare(&sql).unwrap();
        stmt.query_map([], |r| (0..7).map(|i| r.get::<_, String>(i)).collect())
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    Keys { events, bodies }
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn body_keys(v: &Value) -> BTreeSet<Vec<String>> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, got {v}"))
        .iter()
        .map(|k| {
            k.as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

fn same_file(a: &str, b: &Path) -> bool {
    Path::new(a).canonicalize().ok() == b.canonicalize().ok()
}

fn drains_what_sk_migrate_moved(release: &str, venv: &Path) {
    let python = venv.join("bin/python");
    let facts = facts(release);
    let generation = facts["generation"].as_str().unwrap();
    let h = E2eHome::new(release, python);

    // 1. The release writes a login and a legacy queue.db.
    let written = h.helper("write");
    let legacy = h.root.join("queue.db");
    assert_eq!(
        written["spec_kitty_dir"].as_str(),
        h.root.to_str(),
        "{release}: root"
    );
    let moved = keys(&legacy);
    assert_eq!(moved.events.len(), EVENTS, "{release}: legacy events");
    assert_eq!(moved.bodies.len(), BODIES, "{release}: legacy body uploads");
    assert_eq!(moved.events, strings(&written["event_ids"]), "{release}");
    assert_eq!(moved.bodies, body_keys(&written["body_keys"]), "{release}");
    assert!(
        !h.root.join("queues").exists(),
        "{release}: writing the legacy DB created a scoped queue"
    );

    // 2. sk-migrate follows the release's rules.
    let report = h.migrate();
    assert_eq!(report["status"], "migrated", "{release}: {report:#}");
    let scoped = PathBuf::from(report["scoped_db"].as_str().unwrap());
    let release_scoped = written["release_scoped_db"].as_str().unwrap_or_else(|| {
        panic!("{release}: the release resolved no scope from the login: {written:#}")
    });
    assert!(
        same_file(release_scoped, &scoped),
        "{release}: sk-migrate wrote {} but the release's scope_db_path() is {release_scoped}",
        scoped.display()
    );
    assert_eq!(report["scope"], written["scope"], "{release}: scope");
    let version = generation
        .trim_start_matches("db-v")
        .parse::<u64>()
        .unwrap();
    assert_eq!(
        report["scoped_schema_version"].as_u64(),
        Some(version),
        "{release} ({generation}): scoped DB schema version after the move: {report:#}"
    );
    assert_eq!(
        keys(&legacy),
        Keys::default(),
        "{release}: legacy rows left after the move"
    );
    assert_eq!(keys(&scoped), moved, "{release}: scoped DB after the move");
    let v3_shape = |when: &str| {
        let cols = columns(&open_ro(&scoped), "body_upload_queue");
        assert!(
            cols.iter().any(|c| c == "feature_slug") && cols.iter().any(|c| c == "mission_key"),
            "{release} ({when}): the V3 body_upload_queue lost feature_slug/mission_key: {cols:?}"
        );
        assert!(
            !cols
                .iter()
                .any(|c| c == "mission_slug" || c == "mission_type"),
            "{release} ({when}): the V3 body_upload_queue was renamed: {cols:?}"
        );
    };
    if generation == "db-v3" {
        v3_shape("after sk-migrate");
    }

    // 3. The release drains it from the file it picks itself, and enqueues anew.
    let drained = h.helper("drain");
    for (what, field) in [("events", "events_db"), ("body uploads", "bodies_db")] {
        let chosen = drained[field].as_str().unwrap_or_else(|| {
            panic!("{release}: the release's default {what} queue failed: {drained:#}")
        });
        assert!(
            same_file(chosen, &scoped),
            "{release}: the release reads {what} from {chosen}, sk-migrate wrote {}",
            scoped.display()
        );
    }
    let got_events = strings(&drained["drained_event_ids"]);
    let got_bodies = body_keys(&drained["drained_body_keys"]);
    let lost_events: Vec<_> = moved.events.difference(&got_events).collect();
    let lost_bodies: Vec<_> = moved.bodies.difference(&got_bodies).collect();
    assert!(
        lost_events.is_empty() && lost_bodies.is_empty(),
        "{release}: moved but not drained by the release: events {lost_events:?}, bodies {lost_bodies:?}\n{drained:#}"
    );
    assert_eq!(got_events, moved.events, "{release}: drained events");
    assert_eq!(got_bodies, moved.bodies, "{release}: drained body uploads");
    assert_eq!(drained["events_left"], 0, "{release}: {drained:#}");
    assert_eq!(drained["bodies_left"], 0, "{release}: {drained:#}");
    let new = &drained["new"];
    for field in [
        "event_queued",
        "event_drained_back",
        "body_queued",
        "body_drained_back",
    ] {
        assert_eq!(new[field], true, "{release}: new work, {field}: {new:#}");
    }
    for field in ["event_db", "body_db"] {
        assert!(
            same_file(new[field].as_str().unwrap(), &scoped),
            "{release}: new work went to {} instead of {}",
            new[field],
            scoped.display()
        );
    }
    assert_eq!(
        keys(&legacy),
        Keys::default(),
        "{release}: legacy DB after the drain"
    );
    if generation == "db-v3" {
        v3_shape("after the release drained and enqueued");
    }
}

pub fn trials() -> Vec<Trial> {
    e2e::selected(
        e2e::captured()
            .into_iter()
            .filter(|c| c.generation().starts_with("db-v")),
    )
    .into_iter()
    .map(|p| {
        let release = p.captured.release.clone();
        e2e::planned_trial(
            format!("drain::{release}::drains_what_sk_migrate_moved"),
            &p,
            move |venv| drains_what_sk_migrate_moved(&release, venv),
        )
    })
    .collect()
}
