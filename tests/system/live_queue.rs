//! Live: a queue-DB release's own writers keep every write while
//! `sk-migrate run` waits for a legacy DB another process holds.
//!
//! Per captured queue-DB release X (generations db-v3, db-v4, db-v5), at the
//! default and at a raised `--busy-timeout`: in a temp home, X's own
//! `OfflineQueue` writes a login and legacy rows (`e2e_home.py write`), a first
//! `sk-migrate run` creates the scoped DB, X writes the legacy rows again (so a
//! move is due). Then another process takes `BEGIN IMMEDIATE` on legacy
//! (`live_queue_writer.py hold`, "an older CLI mid-write") and says so on a pipe;
//! `sk-migrate -v run` starts and says on stderr that it is waiting; X's own
//! `queue_event` / body-queue `enqueue` then write into the scoped DB in a
//! bounded loop in a separate process, recording every acknowledged write. The
//! holder lets go once the writer has acknowledged its first writes (said on
//! its stdout), well within the busy timeout; the writer carries on meanwhile. 0 failed writes; every
//! acknowledged key is in legacy ∪ scoped afterwards; sk-migrate exits 0.
//! Synchronised on pipes and exit codes only, never on sleeps.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use rusqlite::{Connection, OpenFlags};
use serde_json::Value;

use crate::harness::{self as e2e, Trial};

const EVENTS: usize = 40;
const BODIES: usize = 10;
/// Acknowledged writes made while legacy is held and sk-migrate waits.
const HELD_FOR: usize = 4;

pub fn trials() -> Vec<Trial> {
    let mut trials = Vec::new();
    for c in e2e::captured() {
        if !matches!(c.generation(), "db-v3" | "db-v4" | "db-v5") {
            continue;
        }
        for busy in [None, Some(12_000u64)] {
            let release = c.release.clone();
            let sk_home = c.facts["root"]["spec_kitty_home_env_honoured"]
                .as_bool()
                .unwrap_or(false);
            let label = busy.map_or("default".to_string(), |b| format!("busy_{b}"));
            trials.push(e2e::release_trial(
                format!(
                    "live_queue::{release}::{label}::writers_keep_every_write_while_legacy_is_held"
                ),
                &c.release,
                move |venv| writers_keep_every_write(&release, venv, sk_home, busy),
            ));
        }
    }
    trials
}

struct Home {
    _dir: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    python: PathBuf,
    sk_home: bool,
    release: String,
}

impl Home {
    fn py(&self, script: &str) -> Command {
        let sk_home = self.sk_home.then_some(self.root.as_path());
        e2e::release_script(&self.python, &self.home, script, sk_home)
    }

    fn sk_migrate(&self, busy: Option<u64>) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sk-migrate"));
        cmd.arg("--release")
            .arg(&self.release)
            .arg("--home")
            .arg(&self.root);
        if let Some(b) = busy {
            cmd.args(["--busy-timeout", &b.to_string()]);
        }
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .current_dir(&self.home);
        cmd
    }

    fn write_legacy(&self) {
        let out = self
            .py("e2e_home.py")
            .args(["write", "--events", "5", "--bodies", "2", "--root"])
            .arg(&self.root)
            .output()
            .unwrap();
        assert!(out.status.success(), "e2e_home.py write: {out:?}");
    }
}

fn writers_keep_every_write(release: &str, venv: &Path, sk_home: bool, busy: Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().canonicalize().unwrap();
    let h = Home {
        root: home.join(".spec-kitty"),
        home,
        _dir: dir,
        python: venv.join("bin/python"),
        sk_home,
        release: release.to_string(),
    };
    h.write_legacy();
    let first = h.sk_migrate(busy).args(["run", "--json"]).output().unwrap();
    assert_eq!(first.status.code(), Some(0), "first run: {first:?}");
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    let scoped = PathBuf::from(report["scoped_db"].as_str().unwrap());
    let legacy = h.root.join("queue.db");
    // A move is due again: the same rows, written by the release into legacy.
    h.write_legacy();

    let acked = h.home.join("acked.txt");
    let mut writer = h
        .py("live_queue_writer.py")
        .args(["write", "--wait-go", "--prefix", "live"])
        .args([
            "--events",
            &EVENTS.to_string(),
            "--bodies",
            &BODIES.to_string(),
        ])
        .arg("--db")
        .arg(&scoped)
        .arg("--acked")
        .arg(&acked)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out_lines = BufReader::new(writer.stdout.take().unwrap()).lines();
    let ready = out_lines.next().unwrap().unwrap();
    assert_eq!(ready, "ready", "the writer did not start");

    let mut holder = h
        .py("live_queue_writer.py")
        .args(["hold", "--max-seconds", "120", "--db"])
        .arg(&legacy)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _holder_out = wait_for_held(&mut holder);

    let mut run = h
        .sk_migrate(busy)
        .args(["run", "-v", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(run.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut lines = stderr.lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let waiting = line.starts_with("waiting for ");
        seen.push(line);
        if waiting {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.starts_with("waiting for ")),
        "sk-migrate never said it was waiting for legacy: {seen:?}"
    );

    // The holder lets go once the release has acknowledged HELD_FOR writes
    // made while sk-migrate waited (or the writer ended without them).
    writeln!(writer.stdin.take().unwrap(), "go").unwrap();
    let mut said = Vec::new();
    for line in out_lines.by_ref() {
        let line = line.unwrap();
        let ack = line.starts_with("ack ");
        said.push(line);
        if !ack || said.len() >= HELD_FOR {
            break;
        }
    }
    drop(holder.stdin.take());
    said.extend(out_lines.map(Result::unwrap));
    assert!(writer.wait().unwrap().success(), "writer: {said:?}");
    assert!(holder.wait().unwrap().success());
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let out = run.wait_with_output().unwrap();
    let w: Value = serde_json::from_str(said.last().unwrap()).unwrap();
    assert_eq!(
        w["failed"], 0,
        "{release}: the release's own writes failed: {w}"
    );
    assert_eq!(w["acked"], (EVENTS + BODIES) as u64, "{w}");
    assert_eq!(
        out.status.code(),
        Some(0),
        "sk-migrate run: {out:?} {seen:?} {rest:?}"
    );

    let mut have = keys(&scoped);
    have.extend(keys(&legacy));
    let text = std::fs::read_to_string(&acked).unwrap();
    let lost: Vec<&str> = text.lines().filter(|l| !have.contains(*l)).collect();
    assert!(
        lost.is_empty(),
        "{release}: acknowledged writes lost: {lost:?}"
    );
}

/// Wait for the holder's `held` line; its stdout stays open (returned) so
/// its last line still has a reader.
fn wait_for_held(child: &mut Child) -> BufReader<std::process::ChildStdout> {
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "held", "holder did not take the lock");
    out
}

/// `event <id>` and `body <artifact_path>` of every row in a queue DB.
fn keys(db: &Path) -> BTreeSet<String> {
    let conn = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut out = BTreeSet::new();
    let mut stmt = conn.prepare("SELECT event_id FROM queue").unwrap();
    for id in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        out.insert(format!("event {}", id.unwrap()));
    }
    let mut stmt = conn
        .prepare("SELECT artifact_path FROM body_upload_queue")
        .unwrap();
    for p in stmt.query_map([], |r| r.get::<_, String>(0)).unwrap() {
        out.insert(format!("body {}", p.unwrap()));
    }
    out
}
