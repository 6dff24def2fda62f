//! Ctrl-C and SIGTERM during a move (`docs/cli.md`, "Interruptions"): the
//! run stops at its next safe point, says "interrupted; run again to
//! resume", exits 130 or 143, loses no row and leaves every moved row
//! audited; the next run completes. The signal is sent when the run says
//! the move is under way (its first `-v` audit line, or the new scoped
//! DB's temp file), never after a sleep.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::common::*;
use rusqlite::Connection;

/// Rows in legacy: half events, half body uploads.
const ROWS: u32 = 100_000;

/// A logged-in home whose legacy DB (V5) holds [`ROWS`] rows, each key
/// once (the fixture's own rows, some sharing a key, removed).
fn big_home() -> TestHome {
    let h = crate::chunked_move::big_home(ROWS / 2);
    Connection::open(h.home.legacy_queue())
        .unwrap()
        .execute_batch(
            "DELETE FROM queue WHERE event_id NOT LIKE 'big-%';
             DELETE FROM body_upload_queue WHERE artifact_path NOT LIKE 'big/%';
             DELETE FROM body_upload_failure_log;",
        )
        .unwrap();
    h
}

/// Every natural key of a queue DB (events by id, body uploads by their
/// seven key columns); none when it does not exist.
fn keys(path: &Path) -> BTreeSet<String> {
    if !path.exists() {
        return BTreeSet::new();
    }
    let c = Connection::open(path).unwrap();
    let mut out = BTreeSet::new();
    for sql in [
        "SELECT 'e:' || event_id FROM queue",
        "SELECT 'b:' || project_uuid || '|' || mission_slug || '|' || target_branch || '|' || \
         mission_type || '|' || manifest_version || '|' || artifact_path || '|' || content_hash \
         FROM body_upload_queue",
    ] {
        let mut s = c.prepare(sql).unwrap();
        out.extend(
            s.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .flatten(),
        );
    }
    out
}

/// Every key the home holds, in legacy or scoped.
fn every_key(h: &TestHome) -> BTreeSet<String> {
    let mut all = keys(&h.home.legacy_queue());
    all.extend(keys(&h.scoped_path()));
    all
}

/// The audit journal's lines, each once.
fn audited(h: &TestHome) -> u64 {
    let text = std::fs::read_to_string(h.home.migrate_journal()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let unique: BTreeSet<&str> = lines.iter().copied().collect();
    assert_eq!(unique.len(), lines.len(), "an audit line twice");
    lines.len() as u64
}

fn sk_migrate(h: &TestHome, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sk-migrate"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", h.dir.path())
        .env("SPEC_KITTY_HOME", h.root())
        .env("SK_RELEASE", "3.2.5")
        .args(args);
    c
}

/// Run `sk-migrate run -v`, send `signal` once `under_way` holds (checked
/// on each stderr line, and on the files before each), then wait: (exit
/// code, stderr, ms from the signal to the exit).
fn interrupted_run(
    h: &TestHome,
    signal: rustix::process::Signal,
    under_way: impl Fn(&str) -> bool,
) -> (i32, String, u128) {
    let mut child = sk_migrate(h, &["run", "-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut stderr = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let go = under_way(&line);
        stderr.push_str(&line);
        stderr.push('\n');
        if go {
            break;
        }
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, signal).unwrap();
    let sent = Instant::now();
    // Read on to the end: a full pipe would hold the run at its next line.
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let status = child.wait().unwrap();
    let took = sent.elapsed().as_millis();
    for l in rest {
        if !l.starts_with("moved ") {
            stderr.push_str(&l);
            stderr.push('\n');
        }
    }
    (status.code().unwrap_or(-1), stderr, took)
}

#[test]
fn ctrl_c_during_a_100k_row_move_stops_at_a_chunk_loses_nothing_and_a_rerun_completes() {
    let h = big_home();
    h.scoped("scoped_v5");
    let before = every_key(&h);
    let scoped_before = keys(&h.scoped_path()).len() as u64;
    let (code, stderr, took) = interrupted_run(&h, rustix::process::Signal::INT, |l| {
        l.starts_with("moved ")
    });
    // A figure, not a threshold (the benchmark is where speed is judged).
    eprintln!("SIGINT to exit: {took} ms");
    assert_eq!(code, 130, "{stderr}");
    assert!(
        stderr.contains("sk-migrate: interrupted; run again to resume (SIGINT between two chunks"),
        "{stderr}"
    );
    let left = keys(&h.home.legacy_queue()).len() as u64;
    assert!(left > 0, "the move ran to its end instead of stopping");
    assert_eq!(every_key(&h), before, "a key was lost");
    let moved = keys(&h.scoped_path()).len() as u64 - scoped_before;
    assert_eq!(audited(&h), moved, "every moved row audited, no other");

    let out = sk_migrate(&h, &["run"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(every_key(&h), before);
    assert_eq!(
        keys(&h.scoped_path()).len() as u64,
        before.len() as u64,
        "every key in the scoped DB"
    );
    assert_eq!(audited(&h), before.len() as u64 - scoped_before);
}

#[test]
fn sigterm_while_the_new_scoped_db_is_built_aside_changes_nothing_then_a_rerun_completes() {
    let h = big_home();
    let before = tree_hash(h.root());
    let keys_before = every_key(&h);
    let queues = h.home.queues_dir();
    // `-v` says nothing while the new DB is built; its temp file does.
    let building = || {
        std::fs::read_dir(&queues)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
    };
    let mut child = sk_migrate(&h, &["run"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Waiting on a file: the run is under way once its temp DB exists
    // (looked for every millisecond).
    while !building() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended first");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(143), "{stderr}");
    assert!(
        stderr.contains("interrupted; run again to resume (SIGTERM"),
        "{stderr}"
    );
    assert_eq!(every_key(&h), keys_before, "a key was lost");
    if !h.scoped_path().exists() {
        // Stopped while building: the temp file is gone, the home as it was.
        assert_eq!(tree_hash(h.root()), before);
    }
    let out = sk_migrate(&h, &["run"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(keys(&h.scoped_path()), keys_before);
    assert_eq!(audited(&h), keys_before.len() as u64);
}
