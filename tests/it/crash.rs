//! kill -9 crash safety of `sk-migrate run` (`docs/migrate.md`, invariants 1, 2, 4).
//!
//! A large home (20k rows per legacy table, a scoped DB with unrelated and
//! shared keys or none) is moved by the real binary in a child process,
//! which is SIGKILLed at a randomised point: right after spawn, once the
//! scoped DB exists, or once a rollback journal shows a write transaction
//! in progress, each plus a random delay (the experiment's input, not
//! synchronisation). After each kill: no natural key is lost or invented,
//! the scoped DB holds each key once, legacy lost a prefix of its rows by
//! id (the move goes in chunks, table after table), and in rollback-journal
//! mode each chunk is all-or-nothing. A rerun then completes the move.
//!
//! 11 trials by default (6 rollback journal, 5 WAL). `CRASH_SEED=<n>` replays
//! a run (the seed is printed); `CRASH_TRIALS` (per mode) and
//! `CRASH_ROWS` make it longer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use rusqlite::{Connection, OptionalExtension};
use sk_boundary::db::schema;
use sk_boundary::db::schema::tables::ALL;

const SCOPE: &str = "https://sync.example.test|robert@example.com|team-a";

/// xorshift64*: enough randomness for kill points, replayable by seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn v5_schema(conn: &Connection) {
    for m in schema::migrations() {
        conn.execute_batch(m.sql().unwrap()).unwrap();
    }
}

/// Set-based fill: `n` rows per table, keys `<prefix>-<i>` for i in `from..from+n`.
fn fill(conn: &Connection, prefix: &str, from: u64, n: u64, payload: &str) {
    let nums = format!(
        "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {})",
        from + n - 1
    );
    conn.execute_batch(&format!(
        "BEGIN;
         INSERT INTO queue (event_id, event_type, data, timestamp, retry_count, coalesce_key)
           {nums} SELECT '{prefix}-' || i, 'mission_updated', '{payload}-' || i,
                  (i * 7919) % 100003, i % 3, CASE WHEN i % 5 = 0 THEN NULL ELSE 'c' || (i % 50) END FROM n;
         INSERT INTO body_upload_queue (project_uuid, mission_slug, target_branch, mission_type,
             manifest_version, artifact_path, content_hash, content_body, size_bytes, created_at)
           {nums} SELECT 'p-' || (i % 7), 'm-' || (i % 100), 'main', 'software-dev', '1',
                  'a/{prefix}-' || i || '.md', 'h' || i, '{payload} body ' || i, i, i * 1.5 FROM n;
         INSERT INTO body_upload_failure_log (project_uuid, mission_slug, target_branch,
             mission_type, manifest_version, artifact_path, content_hash, size_bytes,
             failure_reason, first_failed_at, last_failed_at)
           {nums} SELECT 'p-' || (i % 7), 'm-' || (i % 100), 'main', 'research', '1',
                  'a/{prefix}-' || i || '.md', 'h' || i, i, 'timeout', i * 1.0, i * 2.0 FROM n;
         COMMIT;"
    ))
    .unwrap();
}

/// The natural keys of every queue table in the DB at `path` (V5 names),
/// as one string per key; also the row count, to see duplicates.
fn keys(path: &Path) -> Vec<(BTreeSet<String>, usize)> {
    let conn = Connection::open(path).unwrap();
    ALL.iter()
        .map(|t| {
            let exists: Option<i64> = conn
                .query_row(
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                    [t.name()],
                    |r| r.get(0),
                )
                .optional()
                .unwrap();
            if exists.is_none() {
                return (BTreeSet::new(), 0);
            }
            let expr = t.key.join(" || char(31) || ");
            let mut stmt = conn
                .prepare(&format!("SELECT {expr} FROM {}", t.name()))
                .unwrap();
            let all: Vec<String> = stmt
                .query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let n = all.len();
            (all.into_iter().collect(), n)
        })
        .collect()
}

/// Each table's natural keys (as [`keys`] renders them) in `id` order.
fn ordered_keys(path: &Path) -> Vec<Vec<String>> {
    let conn = Connection::open(path).unwrap();
    ALL.iter()
        .map(|t| {
            let expr = t.key.join(" || char(31) || ");
            let mut stmt = conn
                .prepare(&format!("SELECT {expr} FROM {} ORDER BY id", t.name()))
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        })
        .collect()
}

struct Template {
    _dir: tempfile::TempDir,
    legacy: PathBuf,
    scoped: PathBuf,
    legacy_keys: Vec<(BTreeSet<String>, usize)>,
    /// Each table's legacy keys in `id` order (the order chunks take them).
    legacy_order: Vec<Vec<String>>,
    scoped_keys: Vec<(BTreeSet<String>, usize)>,
}

fn template(rows: u64) -> Template {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("legacy.db");
    let scoped = dir.path().join("scoped.db");
    let l = Connection::open(&legacy).unwrap();
    l.execute_batch("PRAGMA synchronous = OFF").unwrap();
    v5_schema(&l);
    fill(&l, "evt", 1, rows, "legacy");
    let s = Connection::open(&scoped).unwrap();
    s.execute_batch("PRAGMA synchronous = OFF").unwrap();
    v5_schema(&s);
    // Shared keys (other payloads; destination wins) and unrelated keys.
    fill(&s, "evt", 1, rows / 20, "scoped");
    fill(&s, "unrelated", 1, rows / 10, "scoped");
    drop((l, s));
    let legacy_keys = keys(&legacy);
    let legacy_order = ordered_keys(&legacy);
    let scoped_keys = keys(&scoped);
    Template {
        _dir: dir,
        legacy,
        scoped,
        legacy_keys,
        legacy_order,
        scoped_keys,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Trigger {
    Spawned,
    ScopedExists,
    ScopedJournal,
    LegacyJournal,
}

fn journal(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push("-journal");
    PathBuf::from(s)
}

fn sk_migrate(root: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_sk-migrate"));
    c.env_clear()
        .env("SPEC_KITTY_HOME", root)
        .env("SK_RELEASE", "3.2.5")
        .args(["run", "--scope", SCOPE])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

struct Home {
    h: TestHome,
    legacy: PathBuf,
    scoped: PathBuf,
}

fn home_from(t: &Template, with_scoped: bool, wal: bool) -> Home {
    let h = TestHome::new();
    let legacy = h.home.legacy_queue();
    let scoped = h
        .home
        .scoped_queue(&sk_boundary::Scope::parse(SCOPE).unwrap());
    std::fs::copy(&t.legacy, &legacy).unwrap();
    if with_scoped {
        std::fs::create_dir_all(scoped.parent().unwrap()).unwrap();
        std::fs::copy(&t.scoped, &scoped).unwrap();
    }
    if wal {
        for p in [&legacy, &scoped].into_iter().filter(|p| p.exists()) {
            let c = Connection::open(p).unwrap();
            let m: String = c
                .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
                .unwrap();
            assert_eq!(m, "wal");
        }
    }
    Home { h, legacy, scoped }
}

fn union(t: &Template, with_scoped: bool) -> Vec<BTreeSet<String>> {
    (0..ALL.len())
        .map(|i| {
            let mut u = t.legacy_keys[i].0.clone();
            if with_scoped {
                u.extend(t.scoped_keys[i].0.iter().cloned());
            }
            u
        })
        .collect()
}

/// What a kill left: "untouched", "moved" or "scoped-only" (scoped
/// changed, legacy not yet). Panics when a key is lost, invented or doubled,
/// or when the kill split a chunk.
fn check_after_kill(t: &Template, home: &Home, with_scoped: bool, wal: bool) -> &'static str {
    let want = union(t, with_scoped);
    let l = keys(&home.legacy);
    let s = if home.scoped.exists() {
        keys(&home.scoped)
    } else {
        vec![(BTreeSet::new(), 0); ALL.len()]
    };
    let (mut legacy_changed, mut scoped_changed) = (false, false);
    // Every table before this one is completely moved.
    let mut earlier_done = true;
    for (i, table) in ALL.iter().enumerate() {
        let name = table.name();
        let (lk, ln) = &l[i];
        let (sk, sn) = &s[i];
        // 2. Nothing duplicated (UNIQUE enforces it; keep the check honest).
        assert_eq!(sk.len(), *sn, "{name}: duplicate key in scoped");
        assert_eq!(lk.len(), *ln, "{name}: duplicate key in legacy");
        // 1. Nothing lost, nothing invented.
        let got: BTreeSet<String> = lk.union(sk).cloned().collect();
        assert_eq!(got.len(), want[i].len(), "{name}: key set changed");
        assert!(got == want[i], "{name}: key set changed");
        // Chunks take legacy rows in id order, table after table: what left
        // legacy is a prefix of its rows by id, and a table is touched only
        // once every earlier one has moved.
        let order = &t.legacy_order[i];
        let gone = order.iter().take_while(|k| !lk.contains(*k)).count();
        assert_eq!(
            lk.len(),
            order.len() - gone,
            "{name}: legacy lost rows out of id order"
        );
        if gone > 0 {
            assert!(
                earlier_done,
                "{name}: moved before an earlier table finished"
            );
        }
        earlier_done &= gone == order.len();
        // 4. Delete after verify: nothing left legacy that scoped lacks.
        assert!(
            order[..gone].iter().all(|k| sk.contains(k)),
            "{name}: deleted before it was in scoped"
        );
        let scoped_before: &BTreeSet<String> = if with_scoped {
            &t.scoped_keys[i].0
        } else {
            &BTreeSet::new()
        };
        if !wal && with_scoped {
            // Each chunk is one transaction over both files: a key the
            // chunk inserted is gone from legacy in the same commit.
            assert!(
                lk.iter()
                    .all(|k| !sk.contains(k) || scoped_before.contains(k)),
                "{name}: rollback-journal mode: scoped committed without legacy"
            );
        }
        legacy_changed |= gone > 0;
        scoped_changed |= sk != scoped_before;
    }
    match (legacy_changed, scoped_changed) {
        (false, false) => "untouched",
        (false, true) => "scoped-only",
        (true, _) => "moved",
    }
}

fn check_complete(t: &Template, home: &Home, with_scoped: bool) {
    let want = union(t, with_scoped);
    let l = keys(&home.legacy);
    let s = keys(&home.scoped);
    for (i, table) in ALL.iter().enumerate() {
        assert_eq!(l[i].1, 0, "{}: legacy not empty after rerun", table.name());
        assert_eq!(s[i].1, want[i].len(), "{}: scoped count", table.name());
        assert!(s[i].0 == want[i], "{}: scoped keys", table.name());
    }
}

/// Wait (bounded by the child's exit) until `trigger` holds.
fn wait_for(trigger: Trigger, home: &Home, child: &mut std::process::Child) {
    let cond = || match trigger {
        Trigger::Spawned => true,
        Trigger::ScopedExists => home.scoped.exists(),
        Trigger::ScopedJournal => journal(&home.scoped).exists(),
        Trigger::LegacyJournal => journal(&home.legacy).exists(),
    };
    while !cond() {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::yield_now();
    }
}

fn trials(wal: bool, count: u64, seed: u64, t: &Template, full_run: Duration) {
    let mut rng = Rng(seed | 1);
    let mut killed_alive = 0;
    let mut outcomes = Vec::new();
    for trial in 0..count {
        let with_scoped = trial % 3 != 2;
        let home = home_from(t, with_scoped, wal);
        let triggers: &[Trigger] = if wal {
            &[Trigger::Spawned, Trigger::ScopedExists]
        } else {
            &[
                Trigger::Spawned,
                Trigger::ScopedExists,
                Trigger::ScopedJournal,
                Trigger::LegacyJournal,
            ]
        };
        // The first trial kills at once: at least one kill hits a live child.
        let (trigger, delay) = if trial == 0 {
            (Trigger::Spawned, Duration::ZERO)
        } else {
            let trig = triggers[rng.below(triggers.len() as u64) as usize];
            let micros = rng.below(full_run.as_micros() as u64 + 1);
            (trig, Duration::from_micros(micros))
        };
        let mut child = sk_migrate(home.h.root()).spawn().unwrap();
        wait_for(trigger, &home, &mut child);
        if !delay.is_zero() {
            std::thread::sleep(delay); // the kill point: experiment input
        }
        let alive = child.try_wait().unwrap().is_none();
        child.kill().unwrap(); // SIGKILL on unix
        child.wait().unwrap();
        killed_alive += u32::from(alive);

        // Half the trials look first (any SQLite client recovers the hot
        // journal on open); half let sk-migrate itself meet the crash debris.
        let state = if trial % 2 == 0 {
            Some(check_after_kill(t, &home, with_scoped, wal))
        } else {
            None
        };
        let status = sk_migrate(home.h.root()).status().unwrap();
        assert!(status.success(), "rerun failed: {status}");
        if trial % 2 == 1 {
            // After the rerun the same key invariants hold, fully moved.
            assert_eq!(check_after_kill(t, &home, with_scoped, wal), "moved");
        }
        check_complete(t, &home, with_scoped);
        outcomes.push(format!(
            "{trigger:?}+{}ms alive={alive} -> {}",
            delay.as_millis(),
            state.unwrap_or("(rerun first)")
        ));
    }
    eprintln!(
        "crash trials (wal={wal}, seed={seed}, full run {} ms):\n  {}",
        full_run.as_millis(),
        outcomes.join("\n  ")
    );
    assert!(killed_alive > 0, "no kill hit a running sk-migrate");
}

fn calibrate(t: &Template, wal: bool) -> Duration {
    let home = home_from(t, true, wal);
    let start = Instant::now();
    let status = sk_migrate(home.h.root()).status().unwrap();
    let took = start.elapsed();
    assert!(status.success());
    check_complete(t, &home, true);
    took
}

fn seed() -> u64 {
    env_u64("CRASH_SEED").unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    })
}

#[test]
fn sigkill_in_rollback_journal_mode_loses_nothing_and_each_chunk_is_all_or_nothing() {
    let t = template(env_u64("CRASH_ROWS").unwrap_or(20_000));
    let full = calibrate(&t, false);
    trials(
        false,
        env_u64("CRASH_TRIALS").unwrap_or(6),
        seed(),
        &t,
        full,
    );
}

#[test]
fn sigkill_in_wal_mode_loses_nothing_and_a_rerun_completes() {
    let t = template(env_u64("CRASH_ROWS").unwrap_or(20_000));
    let full = calibrate(&t, true);
    trials(true, env_u64("CRASH_TRIALS").unwrap_or(5), seed(), &t, full);
}
