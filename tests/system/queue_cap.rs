//! The cap guard, against the releases' own writers: a move never brings a
//! scoped table within a tenth of the release's queue cap, so the release's
//! own next write evicts or refuses nothing that was moved.
//!
//! Per release of each cap class (2.1.0: events capped by
//! `[sync] max_queue_size`, bodies by a hard-coded 10,000; 3.1.10 and 3.2.5:
//! both by the setting), in a temp home with `max_queue_size = 10`: the
//! release's own `OfflineQueue` / `OfflineBodyUploadQueue` write 8 events and
//! 8 bodies into the scoped DB and 8 of each into legacy. `sk-migrate run`
//! (its dry run first, which must agree) moves 1 of each capped table (the
//! scoped table may hold 9) and holds 7 back; the release then writes one
//! more of each, acknowledged, and every key ever written is still in legacy
//! or scoped (without the guard, 16 rows in scoped and the release's next
//! `queue_event` evicts 7 of them: measured, docs/releases.md). `status` and
//! sk-doctor say the held rows wait for room, not "run sk-migrate run"; a
//! second run moves nothing and says why; once the scoped queue is drained
//! the next run moves the rest. A home past the cap with no scoped DB is
//! moved in place with the same guard.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rusqlite::Connection;
use serde_json::Value;

use crate::harness::{self as e2e, Trial};

const CAP: u64 = 10;
/// Rows the release writes into each of legacy and scoped, per table.
const EACH: usize = 8;

pub fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for release in ["2.1.0", "3.1.10", "3.2.5"] {
        let r = release.to_string();
        trials.push(e2e::release_trial(
            format!("queue_cap::{release}::a_move_stops_a_tenth_under_the_cap_and_loses_nothing"),
            release,
            move |venv| held_rows_survive(&r, venv),
        ));
    }
    trials.push(e2e::release_trial(
        "queue_cap::3.2.5::a_home_past_the_cap_without_a_scoped_db_is_moved_in_place",
        "3.2.5",
        past_the_cap_into_new,
    ));
    trials
}

struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    python: PathBuf,
    release: String,
}

impl Home {
    fn new(release: &str, venv: &Path) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().canonicalize().unwrap();
        let h = Home {
            root: home.join(".spec-kitty"),
            home,
            _dir: dir,
            python: venv.join("bin/python"),
            release: release.to_string(),
        };
        let out = h
            .py("e2e_home.py")
            .args(["write", "--events", "0", "--bodies", "0", "--root"])
            .arg(&h.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "e2e_home.py write: {out:?}");
        std::fs::write(
            h.root.join("config.toml"),
            format!("[sync]\nmax_queue_size = {CAP}\n"),
        )
        .unwrap();
        h
    }

    fn py(&self, script: &str) -> Command {
        e2e::release_script(&self.python, &self.home, script, None)
    }

    /// The release's own writers: `events` events and `bodies` bodies into
    /// `db` (`default`: the scoped DB the release selects), all acknowledged.
    fn write(&self, db: &str, prefix: &str, events: usize, bodies: usize) -> Value {
        let out = self
            .py("live_queue_writer.py")
            .args(["write", "--db", db, "--prefix", prefix])
            .args(["--events", &events.to_string()])
            .args(["--bodies", &bodies.to_string()])
            .arg("--acked")
            .arg(self.home.join("acked.txt"))
            .output()
            .unwrap();
        assert!(out.status.success(), "writer: {out:?}");
        let last = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or_default()
            .to_string();
        let v: Value = serde_json::from_str(&last).unwrap();
        assert_eq!(v["failed"], 0, "{v}");
        assert_eq!(v["acked"], events + bodies, "{v}");
        v
    }

    fn tool(&self, bin: &str, args: &[&str]) -> Output {
        let out = Command::new(bin)
            .arg("--release")
            .arg(&self.release)
            .arg("--home")
            .arg(&self.root)
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("NO_COLOR", "1")
            .current_dir(&self.home)
            .output()
            .unwrap();
        crate::shared::no_panic(&out);
        out
    }

    fn migrate_json(&self, args: &[&str]) -> Value {
        let out = self.tool(env!("CARGO_BIN_EXE_sk-migrate"), args);
        assert_eq!(out.status.code(), Some(0), "sk-migrate {args:?}: {out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn legacy(&self) -> PathBuf {
        self.root.join("queue.db")
    }
}

/// Event ids and body paths in `db` (none when it does not exist).
fn keys(db: &Path) -> BTreeSet<String> {
    if !db.exists() {
        return BTreeSet::new();
    }
    let conn = Connection::open(db).unwrap();
    let mut out = BTreeSet::new();
    for sql in [
        "SELECT event_id FROM queue",
        "SELECT artifact_path FROM body_upload_queue",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

/// The keys `live_queue_writer.py write --prefix p` writes.
fn written(prefix: &str, events: usize, bodies: usize) -> BTreeSet<String> {
    (0..events)
        .map(|i| format!("{prefix}-evt-{i:05}"))
        .chain((0..bodies).map(|i| format!("{prefix}/body-{i:05}.md")))
        .collect()
}

fn table<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no {name} in {report}"))
}

/// `(inserted, held_by_cap, cap)` of a table of a run report.
fn counts(report: &Value, name: &str) -> (u64, u64, Option<u64>) {
    let t = table(report, name);
    (
        t["inserted"].as_u64().unwrap(),
        t["held_by_cap"].as_u64().unwrap(),
        t["cap"].as_u64(),
    )
}

fn held_rows_survive(release: &str, venv: &Path) {
    let h = Home::new(release, venv);
    let scoped = PathBuf::from(h.write("default", "s", EACH, EACH)["db"].as_str().unwrap());
    h.write(h.legacy().to_str().unwrap(), "l", EACH, EACH);
    let mut all = written("s", EACH, EACH);
    all.extend(written("l", EACH, EACH));

    let dry = h.migrate_json(&["run", "--dry-run", "--json"]);
    let run = h.migrate_json(&["run", "--json"]);
    // The scoped tables may hold CAP - CAP/10 = 9: one more row each.
    let fill = CAP - CAP.div_ceil(10);
    let moved = fill - EACH as u64;
    let held = EACH as u64 - moved;
    assert_eq!(counts(&run, "queue"), (moved, held, Some(CAP)), "{run}");
    let bodies = if release == "2.1.0" {
        // 2.1.x - 3.0.x hard-code 10,000 bodies: every body moves.
        (EACH as u64, 0, Some(10_000))
    } else {
        (moved, held, Some(CAP))
    };
    assert_eq!(counts(&run, "body_upload_queue"), bodies, "{run}");
    for name in ["queue", "body_upload_queue"] {
        assert_eq!(counts(&dry, name), counts(&run, name), "dry run: {dry}");
        let t = table(&run, name);
        assert_eq!(
            t["legacy_before"].as_u64(),
            Some(
                t["deleted_from_legacy"].as_u64().unwrap()
                    + t["left_in_legacy"].as_u64().unwrap()
                    + t["held_by_cap"].as_u64().unwrap()
            ),
            "{t}"
        );
    }
    assert_eq!(keys(&h.legacy()).union(&keys(&scoped)).count(), all.len());

    // The release's own next writes: nothing evicted, nothing refused.
    h.write("default", "n", 1, 1);
    all.extend(written("n", 1, 1));
    let found: BTreeSet<String> = keys(&h.legacy()).union(&keys(&scoped)).cloned().collect();
    assert_eq!(found, all, "keys lost to the release's cap");

    // Nothing a run does changes this until the daemon drains: said so.
    let status = h.migrate_json(&["status", "--json"]);
    let held_total = held + bodies.1;
    assert_eq!(status["rows_held_by_cap"], held_total, "{status}");
    assert_eq!(status["rows_waiting"], 0, "{status}");
    let doctor = h.tool(env!("CARGO_BIN_EXE_sk-doctor"), &["--json", "--no-probe"]);
    let doc: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let codes: Vec<&str> = doc["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["code"].as_str())
        .collect();
    assert!(codes.contains(&"legacy_rows_wait_for_room"), "{codes:?}");
    assert!(!codes.contains(&"legacy_rows"), "a futile fix: {codes:?}");
    for p in doc["problems"].as_array().unwrap() {
        assert_ne!(p["remediation"], "sk-migrate run", "a futile fix: {p}");
    }
    let again = h.tool(env!("CARGO_BIN_EXE_sk-migrate"), &["run"]);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    // Wrapped to the text width: compared word by word.
    let said = String::from_utf8_lossy(&again.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(said.contains("wait for room"), "{said}");
    // Not `spec-kitty sync now`: 3.2.0-3.2.5's refuses while legacy rows remain.
    assert!(said.contains("max_queue_size"), "{said}");

    // The daemon syncs the scoped queue (its rows acknowledged by the
    // server and removed); the next run moves what was held.
    let conn = Connection::open(&scoped).unwrap();
    conn.execute_batch("DELETE FROM queue; DELETE FROM body_upload_queue;")
        .unwrap();
    drop(conn);
    let last = h.migrate_json(&["run", "--json"]);
    assert_eq!(counts(&last, "queue").0, held, "{last}");
    assert_eq!(counts(&last, "queue").1, 0, "{last}");
    assert_eq!(keys(&h.legacy()), BTreeSet::new(), "{last}");
}

fn past_the_cap_into_new(venv: &Path) {
    let h = Home::new("3.2.5", venv);
    let over = 12;
    // Written before the cap is lowered (the release's writer would evict
    // in legacy too): a home whose user lowered `max_queue_size` since.
    let config = h.root.join("config.toml");
    std::fs::remove_file(&config).unwrap();
    h.write(h.legacy().to_str().unwrap(), "l", over, 0);
    std::fs::write(&config, format!("[sync]\nmax_queue_size = {CAP}\n")).unwrap();
    let dry = h.migrate_json(&["run", "--dry-run", "--json"]);
    let run = h.migrate_json(&["run", "--json"]);
    let fill = CAP - CAP.div_ceil(10);
    assert_eq!(
        counts(&run, "queue"),
        (fill, over as u64 - fill, Some(CAP)),
        "{run}"
    );
    assert_eq!(counts(&dry, "queue"), counts(&run, "queue"), "{dry}");
    let scoped = PathBuf::from(run["scoped_db"].as_str().unwrap());
    assert_eq!(keys(&scoped).len() as u64, fill);
    // The oldest moved first; the newest wait in legacy, whole.
    let legacy = keys(&h.legacy());
    assert_eq!(
        legacy,
        (fill as usize..over)
            .map(|i| format!("l-evt-{i:05}"))
            .collect::<BTreeSet<_>>()
    );
    h.write("default", "n", 1, 0);
    assert_eq!(keys(&scoped).len() as u64, fill + 1, "the release evicted");
}
