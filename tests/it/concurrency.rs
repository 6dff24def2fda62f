//! The move while another writer (the sync daemon, an older CLI) appends to
//! both DBs (`docs/migrate.md`: `BEGIN IMMEDIATE` with a busy timeout; invariants 1,
//! 2, 3). A writer thread with its own connections inserts small
//! transactions into legacy and scoped while the main thread runs
//! `migrate::run` again and again; then: nothing lost, every row the writer
//! put in legacy was moved or is still there, no key twice in scoped, and
//! the writer's own scoped rows are unchanged (destination wins).
//! Synchronisation is by barrier and channel only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::common::*;
use rusqlite::Connection;
use sk_boundary::Error;
use sk_boundary::db::schema;
use sk_boundary::db::schema::tables::Table;
use sk_boundary::migrate::observe::{Observer, Step};
use sk_boundary::migrate::{self, RunOptions};

/// Writer transactions per DB.
const WRITES: usize = 300;
/// Rows per legacy table before the writer starts.
const INITIAL: u64 = 2_000;

fn v5(path: &Path, wal: bool) -> Connection {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA synchronous = OFF").unwrap();
    for m in schema::migrations() {
        conn.execute_batch(m.sql().unwrap()).unwrap();
    }
    if wal {
        let m: String = conn
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(m, "wal");
    }
    conn
}

fn fill_legacy(conn: &Connection) {
    conn.execute_batch(&format!(
        "BEGIN;
         INSERT INTO queue (event_id, event_type, data, timestamp)
           WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {INITIAL})
           SELECT 'evt-' || i, 't', 'd' || i, i FROM n;
         INSERT INTO body_upload_queue (project_uuid, mission_slug, target_branch, mission_type,
             manifest_version, artifact_path, content_hash, content_body, size_bytes, created_at)
           WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {INITIAL})
           SELECT 'p', 'm', 'main', 'software-dev', '1', 'a' || i, 'h' || i, 'b', 1, i FROM n;
         COMMIT;"
    ))
    .unwrap();
}

/// `event_id -> data` of the queue table.
fn queue_rows(path: &Path) -> BTreeMap<String, String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn.prepare("SELECT event_id, data FROM queue").unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let n = rows.len();
    let map: BTreeMap<String, String> = rows.into_iter().collect();
    assert_eq!(map.len(), n, "duplicate event_id in {}", path.display());
    map
}

fn artifact_paths(path: &Path) -> Vec<String> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT artifact_path FROM body_upload_queue")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// Tells the writer each time a move is inside its write transaction.
struct InTransaction(mpsc::Sender<()>);
impl Observer for InTransaction {
    fn checkpoint(&mut self, step: Step) -> Result<(), Error> {
        if step == Step::Inserted(Table::Queue) {
            let _ = self.0.send(());
        }
        Ok(())
    }
}

fn begin_immediate(conn: &Connection) {
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
}

/// What the writer wrote: legacy event ids, legacy artifact paths, scoped
/// event ids with their data.
struct Written {
    legacy_events: Vec<String>,
    legacy_bodies: Vec<String>,
    scoped_events: BTreeMap<String, String>,
}

fn writer(
    legacy: &Path,
    scoped: &Path,
    started: &Barrier,
    in_move: &mpsc::Receiver<()>,
) -> Written {
    let l = Connection::open(legacy).unwrap();
    let s = Connection::open(scoped).unwrap();
    for c in [&l, &s] {
        c.busy_timeout(Duration::from_secs(30)).unwrap();
    }
    let mut w = Written {
        legacy_events: Vec::new(),
        legacy_bodies: Vec::new(),
        scoped_events: BTreeMap::new(),
    };
    for i in 0..WRITES {
        if i == WRITES / 2 {
            // Once: write while a move holds its locks. Forget earlier
            // signals, make sure the next move has work, wait for it to be
            // inside its transaction, then write (busy timeout: we wait).
            while in_move.try_recv().is_ok() {}
            l.execute(
                "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES (?1, 't', 'w', 0)",
                [format!("w-before-wait-{i}")],
            )
            .unwrap();
            w.legacy_events.push(format!("w-before-wait-{i}"));
            let _ = in_move.recv();
        }
        begin_immediate(&l);
        for j in 0..2 {
            let id = format!("w-legacy-{i}-{j}");
            l.execute(
                "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES (?1, 't', 'w', ?2)",
                (&id, -(i as i64)),
            )
            .unwrap();
            w.legacy_events.push(id);
        }
        let path = format!("w-{i}.md");
        l.execute(
            "INSERT INTO body_upload_queue (project_uuid, mission_slug, target_branch, mission_type, \
             manifest_version, artifact_path, content_hash, content_body, size_bytes, created_at) \
             VALUES ('p', 'm', 'main', 'software-dev', '1', ?1, 'h', 'b', 1, 0)",
            [&path],
        )
        .unwrap();
        w.legacy_bodies.push(path);
        if i % 10 == 9 {
            // A key the writer already put in scoped: scoped's copy must win.
            let id = format!("w-scoped-{}", i - 1);
            l.execute(
                "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES (?1, 't', 'legacy copy', 0)",
                [&id],
            )
            .unwrap();
            w.legacy_events.push(id);
        }
        l.execute_batch("COMMIT").unwrap();

        begin_immediate(&s);
        let id = format!("w-scoped-{i}");
        let data = format!("scoped {i}");
        s.execute(
            "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES (?1, 't', ?2, 0)",
            (&id, &data),
        )
        .unwrap();
        s.execute_batch("COMMIT").unwrap();
        w.scoped_events.insert(id, data);
        if i == 0 {
            started.wait();
        }
    }
    w
}

fn move_while_writing(wal: bool) {
    let h = TestHome::new();
    let legacy = h.home.legacy_queue();
    let scoped = h.scoped_path();
    fill_legacy(&v5(&legacy, wal));
    drop(v5(&scoped, wal));
    let initial = queue_rows(&legacy);
    let initial_bodies = artifact_paths(&legacy);

    let started = Arc::new(Barrier::new(2));
    let done = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let handle = {
        let (legacy, scoped) = (legacy.clone(), scoped.clone());
        let (started, done) = (started.clone(), done.clone());
        std::thread::spawn(move || {
            let w = writer(&legacy, &scoped, &started, &rx);
            done.store(true, Ordering::SeqCst);
            w
        })
    };
    started.wait();
    let opts = RunOptions {
        scope: Some(h.scope()),
        ..RunOptions::default()
    };
    let mut observer = InTransaction(tx);
    let (mut runs, mut moved) = (0, 0);
    while !done.load(Ordering::SeqCst) {
        let r =
            migrate::run(&h.home, &opts, &mut observer).expect("a move next to a writer failed");
        runs += 1;
        moved += r.tables.iter().map(|t| t.inserted).sum::<u64>();
        // Nothing lost at any moment between moves.
        let l = queue_rows(&legacy);
        let s = queue_rows(&scoped);
        for k in initial.keys() {
            assert!(l.contains_key(k) || s.contains_key(k), "{k} lost");
        }
    }
    let written = handle.join().unwrap();
    assert!(runs > 0);
    eprintln!("wal={wal}: {runs} moves ran next to the writer, inserting {moved} rows");

    // Between the writer's last commit and the end: what is where now.
    let l = queue_rows(&legacy);
    let s = queue_rows(&scoped);
    for k in initial.keys().chain(&written.legacy_events) {
        assert!(l.contains_key(k) || s.contains_key(k), "{k} lost");
    }
    // The final move takes the rest.
    migrate::run(&h.home, &opts, &mut observer).unwrap();
    let l = queue_rows(&legacy);
    let s = queue_rows(&scoped);
    assert!(l.is_empty(), "legacy not empty: {} rows", l.len());
    for k in initial.keys().chain(&written.legacy_events) {
        assert!(s.contains_key(k), "{k} not moved");
    }
    for (k, data) in &written.scoped_events {
        assert_eq!(s.get(k), Some(data), "{k}: scoped row changed");
    }
    assert_eq!(
        s.len(),
        initial.len()
            + written
                .legacy_events
                .iter()
                .filter(|k| !k.starts_with("w-scoped"))
                .count()
            + written.scoped_events.len()
    );
    let bodies: BTreeSet<String> = artifact_paths(&scoped).into_iter().collect();
    assert_eq!(
        bodies.len(),
        initial_bodies.len() + written.legacy_bodies.len()
    );
    for p in initial_bodies.iter().chain(&written.legacy_bodies) {
        assert!(bodies.contains(p), "body {p} lost");
    }
    assert!(artifact_paths(&legacy).is_empty());
}

#[test]
fn a_writer_appending_to_both_dbs_loses_nothing_rollback_journal() {
    move_while_writing(false);
}

#[test]
fn a_writer_appending_to_both_dbs_loses_nothing_wal() {
    move_while_writing(true);
}

/// Reports, once, that the move is waiting for a held file.
struct TellsWaiting(mpsc::Sender<std::path::PathBuf>);
impl Observer for TellsWaiting {
    fn waiting(&mut self, path: &Path) {
        let _ = self.0.send(path.to_path_buf());
    }
}

/// Lock discipline (`docs/migrate.md`): while another process holds legacy's
/// write lock and the move waits for it, the move holds no lock on the
/// scoped DB — a writer with *no* busy timeout at all gets its write lock
/// there at once — and once legacy is released the move completes.
fn waits_holding_nothing(wal: bool) {
    let dir = tempfile::tempdir().unwrap();
    let legacy = dir.path().join("queue.db");
    let scoped = dir.path().join("queues/queue-x.db");
    fill_legacy(&v5(&legacy, wal));
    drop(v5(&scoped, wal));
    let holder = Connection::open(&legacy).unwrap();
    begin_immediate(&holder);
    let (tx, rx) = mpsc::channel();
    let (l, s) = (legacy.clone(), scoped.clone());
    let mover = std::thread::spawn(move || {
        let opts = migrate::merge::MoveOptions {
            busy_timeout_ms: 60_000,
            ..Default::default()
        };
        migrate::merge::move_rows(&l, &s, &opts, &mut TellsWaiting(tx))
    });
    let waited_for = rx.recv().unwrap();
    assert_eq!(waited_for, legacy, "the move should name the held file");
    // The scoped DB is free: a writer that will not wait at all gets in.
    let other = Connection::open(&scoped).unwrap();
    other.busy_timeout(Duration::ZERO).unwrap();
    other
        .execute_batch(
            "BEGIN IMMEDIATE; INSERT INTO queue (event_id, event_type, data, timestamp) \
             VALUES ('writer-during-wait', 't', 'd', 1); COMMIT;",
        )
        .unwrap();
    holder.execute_batch("COMMIT").unwrap();
    let report = mover.join().unwrap().unwrap();
    let q = report
        .tables
        .iter()
        .find(|t| t.table == Table::Queue)
        .unwrap();
    assert_eq!(q.inserted, INITIAL);
    assert_eq!(q.deleted_from_legacy, INITIAL);
    let rows = queue_rows(&scoped);
    assert!(rows.contains_key("writer-during-wait"));
    assert_eq!(rows.len() as u64, INITIAL + 1);
}

#[test]
fn a_move_waiting_for_legacy_holds_no_lock_on_scoped_rollback_journal() {
    waits_holding_nothing(false);
}

#[test]
fn a_move_waiting_for_legacy_holds_no_lock_on_scoped_wal() {
    waits_holding_nothing(true);
}

/// The writers' patience in the release model is the one measured by
/// running each queue-DB release's own writers
/// (`scripts/release_fixtures/capture_timeouts.py`).
#[test]
fn the_writers_busy_timeout_in_the_release_model_is_the_one_measured() {
    use sk_boundary::release::{Version, profile_for};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("timeouts.json");
        if !path.is_file() {
            continue;
        }
        let facts: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let release = facts["release"].as_str().unwrap();
        let profile = profile_for(&Version::parse(release).unwrap()).unwrap();
        assert!(profile.has_queue_dbs(), "{release}");
        assert_eq!(
            Some(profile.writers_busy_timeout_ms),
            facts["shortest_busy_timeout_ms"].as_u64(),
            "{release}: {}",
            path.display()
        );
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} releases measured");
}
