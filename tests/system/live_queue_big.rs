//! Live, at size: every queue-DB release's own writers keep every write while
//! `sk-migrate run` moves a 1M-row legacy DB into an existing scoped DB and
//! another process holds the legacy DB for a while (#19).
//!
//! **Template, once per generation and run** (db-v3, db-v4, db-v5; the
//! releases of each come from `e2e::captured()`), built by the generation's
//! newest release under `CARGO_TARGET_TMPDIR/live_queue_big/<generation>`:
//! its own `OfflineQueue` / body queue write the login and a seed of legacy
//! rows (`e2e_home.py write`); `config.toml` raises `[sync] max_queue_size`
//! to 2,000,000 (at the releases' default cap of 100,000 their own writers
//! FIFO-evict the oldest events and refuse body uploads of a queue this big,
//! which no move causes); `scripts/release_fixtures/big_home.sql` copies the
//! seed rows to 1,000,000 rows with new natural keys: 200,000 body uploads
//! and the rest events, or for db-v3 5,000 body uploads (2.1.x–3.0.x refuse
//! body uploads past a hard-coded 10,000; each release's caps are asked from
//! its own code, `live_queue_writer.py caps`); the
//! release's writer then makes the scoped DB where it writes by default (the
//! scope its pure helpers derive from the login), so the move goes into an
//! EXISTING scoped DB.
//!
//! **Trial** (generation × {default, `--busy-timeout 12000`}), on a copy of
//! the template: the writers of EVERY release of the generation start, one
//! process each with its own key prefix, each writing in a loop at a pace of
//! [`PACE_MS`], and say `ready <db>` (the DB is
//! asserted to be sk-migrate's scoped DB); a holder takes `BEGIN IMMEDIATE`
//! on legacy ("an older CLI mid-write") and says `held`; `sk-migrate run -v`
//! starts; the writers start; once sk-migrate said it waits for legacy
//! and each writer has acknowledged a write, the holder lets go and the
//! writers are told `released` (their later acks are phase `moving`). An
//! ack counts as written during the move when it was read before a
//! `try_wait` found sk-migrate still running. Once sk-migrate has exited
//! (its stdout ends), the writers are told `after` and write on, the
//! control: the same writers on the same, now moved, queue with nothing
//! else writing; once each has [`AFTER_WRITES`] acks there (or ended) the
//! test creates the stop file; every writer also stops by itself (max
//! writes / seconds). Then: sk-migrate exited 0 and said it waited for the
//! held legacy DB before it moved a row; every writer reports 0 failed
//! writes while legacy was held and during the move, acknowledged writes
//! during the move and kept writing until the stop file; every acknowledged
//! key and every key of the template is in legacy ∪ scoped. Pipes, files
//! and exit codes only; no sleeps; figures (rows moved, acks, seconds, each
//! writer's slowest write during the move beside its slowest in the
//! control) go to stderr, never into an assertion: the control shows how
//! much of a writer's wait is the releases' own contention (ten processes
//! writing back to back), not the move's. Trials run one at a time (one
//! move at a time on 2 cores).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Instant;

use rusqlite::Connection;
use serde_json::Value;

use crate::harness as e2e;

/// The raised writers' busy timeout trial; the other uses sk-migrate's default.
const RAISED_BUSY_MS: u64 = 12_000;
/// sk-migrate's `--busy-timeout` per trial: its default, and raised.
const BUSY: [Option<u64>; 2] = [None, Some(RAISED_BUSY_MS)];
/// Bounds every writer stops at even without the stop file.
const MAX_WRITES: &str = "20000";
const MAX_SECONDS: &str = "900";
/// Each writer starts a write at most every this many ms: 4 writes a second
/// each, 24 to 40 a second in all, many times what a daemon and a few CLIs
/// write. Back to back (measured), ten writers keep the queue's write lock
/// so busy that with nothing else writing they wait up to 3 s for each
/// other, and one write in about ten thousand ran out of its 5000 ms while
/// a move held the locks a seventh of the time: that measures SQLite's busy
/// handler (not fair) at saturation, not the move, and the trial could not
/// tell the two apart. Paced, the control's waits are short, so a long
/// hold by the move stands out in the figures.
const PACE_MS: &str = "250";
/// Writes each writer makes after the move (the control), before the stop file.
const AFTER_WRITES: u64 = 25;
/// The queue cap the template's `config.toml` sets (above its 1M rows + writes).
const CAP: u64 = 2_000_000;

/// One trial at a time (the harness also runs them alone): the templates
/// are built once, and one 1M-row move at a time is what a 2-core machine
/// can carry.
static SERIAL: Mutex<()> = Mutex::new(());
static TEMPLATES: Mutex<BTreeMap<String, Template>> = Mutex::new(BTreeMap::new());

#[derive(Clone)]
struct Writer {
    release: String,
    venv: PathBuf,
    sk_home: bool,
}

#[derive(Clone)]
struct Template {
    home: PathBuf,
    /// The scoped DB, relative to the home.
    scoped: PathBuf,
    /// Trials still to use it; the last one removes it (~350 MB).
    uses_left: usize,
}

/// Counts a trial's use of its generation's template, passed or failed;
/// the generation's last trial removes the template's files.
struct Used<'a>(&'a str);

impl Drop for Used<'_> {
    fn drop(&mut self) {
        let mut all = TEMPLATES.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = all.get_mut(self.0) {
            t.uses_left -= 1;
            if t.uses_left == 0 {
                let _ = std::fs::remove_dir_all(t.home.parent().unwrap_or(&t.home));
            }
        }
    }
}

pub fn trials() -> Vec<e2e::Trial> {
    let mut gens: BTreeMap<String, Vec<(String, bool)>> = BTreeMap::new();
    for c in e2e::captured() {
        if matches!(c.generation(), "db-v3" | "db-v4" | "db-v5") {
            let sk_home = c.facts["root"]["spec_kitty_home_env_honoured"]
                .as_bool()
                .unwrap_or(false);
            gens.entry(c.generation().to_string())
                .or_default()
                .push((c.release.clone(), sk_home));
        }
    }
    let mut trials = Vec::new();
    for (generation, releases) in gens {
        // The trial's venv: the first one missing (ignored / failed by the
        // harness, naming it), else the newest release's.
        let missing = releases.iter().find(|(r, _)| e2e::venv(r).is_none());
        let (gate, _) = missing.unwrap_or(releases.last().unwrap()).clone();
        for busy in BUSY {
            let label = busy.map_or("default".to_string(), |b| format!("busy_{b}"));
            let (g, rs) = (generation.clone(), releases.clone());
            trials.push(e2e::alone(e2e::release_trial(
                format!(
                    "live_queue_big::{generation}::{label}::every_write_kept_during_a_1m_row_move"
                ),
                &gate,
                move |_| {
                    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
                    let writers: Vec<Writer> = rs
                        .iter()
                        .map(|(r, h)| Writer {
                            release: r.clone(),
                            venv: e2e::venv(r).unwrap(),
                            sk_home: *h,
                        })
                        .collect();
                    let t = template(&g, &writers);
                    let _used = Used(&g);
                    every_write_kept(&g, &t, &writers, busy);
                },
            )));
        }
    }
    trials
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A release's interpreter on `script`, in the throw-away `home`.
fn py(w: &Writer, home: &Path, script: &str) -> Command {
    let mut cmd = Command::new(w.venv.join("bin/python"));
    cmd.arg(manifest().join("scripts/release_fixtures").join(script))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONNOUSERSITE", "1")
        .env("NO_COLOR", "1")
        .current_dir(home);
    if w.sk_home {
        cmd.env("SPEC_KITTY_HOME", home.join(".spec-kitty"));
    }
    cmd
}

/// How many events and body uploads the 1M-row template holds: 200,000 body
/// uploads, or half the smallest body-queue cap of the generation's releases
/// (asked from each release's own code, `live_queue_writer.py caps`) when
/// that is less (2.1.x–3.0.x refuse body uploads past a hard-coded 10,000),
/// so that no release's own cap refuses or evicts a write.
fn sizes(writers: &[Writer], home: &Path) -> (u64, u64) {
    let asked: Vec<Child> = writers
        .iter()
        .map(|w| {
            py(w, home, "live_queue_writer.py")
                .arg("caps")
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut body_cap = u64::MAX;
    for (w, child) in writers.iter().zip(asked) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{} caps: {out:?}", w.release);
        let caps: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            caps["event_cap"], CAP,
            "{} does not take the raised [sync] max_queue_size",
            w.release
        );
        body_cap = body_cap.min(caps["body_cap"].as_u64().unwrap());
    }
    let bodies = (body_cap / 2).min(200_000);
    (1_000_000 - bodies, bodies)
}

/// The generation's template home, built by its newest release on first use.
fn template(generation: &str, writers: &[Writer]) -> Template {
    let newest = &writers[writers.len() - 1];
    let mut all = TEMPLATES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(t) = all.get(generation) {
        return t.clone();
    }
    let started = Instant::now();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("live_queue_big")
        .join(generation);
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let home = dir.join("home");
    let root = home.join(".spec-kitty");
    std::fs::create_dir_all(&root).unwrap();
    let out = py(newest, &home, "e2e_home.py")
        .args(["write", "--events", "5", "--bodies", "2", "--root"])
        .arg(&root)
        .output()
        .unwrap();
    assert!(out.status.success(), "e2e_home.py write: {out:?}");
    let config = format!("[sync]\nmax_queue_size = {CAP}\n");
    std::fs::write(root.join("config.toml"), config).unwrap();
    let (events, bodies) = sizes(writers, &home);
    let sql =
        std::fs::read_to_string(manifest().join("scripts/release_fixtures/big_home.sql")).unwrap();
    let conn = Connection::open(root.join("queue.db")).unwrap();
    conn.execute(
        "CREATE TEMP TABLE want AS SELECT ?1 AS events, ?2 AS bodies",
        (
            i64::try_from(events).unwrap(),
            i64::try_from(bodies).unwrap(),
        ),
    )
    .unwrap();
    conn.execute_batch(&sql).unwrap();
    drop(conn);
    // The release's writer makes the scoped DB where it writes by default.
    let out = py(newest, &home, "live_queue_writer.py")
        .args(["write", "--db", "default", "--prefix", "template"])
        .args(["--events", "1", "--bodies", "1", "--acked"])
        .arg(dir.join("acked.txt"))
        .output()
        .unwrap();
    assert!(out.status.success(), "template writer: {out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let said: Value = serde_json::from_str(text.lines().last().unwrap_or("")).unwrap();
    assert_eq!(
        (&said["acked"], &said["failed"]),
        (&2.into(), &0.into()),
        "{said}"
    );
    let scoped = PathBuf::from(said["db"].as_str().unwrap());
    let scoped = scoped.strip_prefix(&home).unwrap().to_path_buf();
    eprintln!(
        "live_queue_big: {generation} template (1,000,000 legacy rows, by {}) built in {:.1} s",
        newest.release,
        started.elapsed().as_secs_f64()
    );
    let uses_left = BUSY.len();
    let t = Template {
        home,
        scoped,
        uses_left,
    };
    all.insert(generation.to_string(), t.clone());
    t
}

/// Copy a directory tree of plain files.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A writer's phase, as its ack lines say it.
#[derive(Clone, Copy, PartialEq)]
enum Phase {
    /// Legacy held by another process; sk-migrate waits for it.
    Held,
    Moving,
    /// sk-migrate has exited: the control.
    After,
}

/// What the reader threads hear, in the order they hear it.
enum Heard {
    Ack {
        writer: usize,
        phase: Phase,
    },
    WriterDone {
        writer: usize,
        last: String,
    },
    /// sk-migrate said it waits for the held legacy DB (before any move).
    Waiting,
    /// sk-migrate's stdout ended: it exited.
    MigrateDone,
}

/// Running processes of one trial; dropping it (also on a failed assertion)
/// creates the stop file and lets the holder go, so every process ends.
struct Trial {
    stop: PathBuf,
    holder: Option<ChildStdin>,
    writers: Vec<Child>,
    stdins: Vec<ChildStdin>,
}

impl Drop for Trial {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.stop, "stop\n");
        self.holder.take();
        self.stdins.clear();
        for w in &mut self.writers {
            let _ = w.wait();
        }
    }
}

fn every_write_kept(generation: &str, t: &Template, writers: &[Writer], busy: Option<u64>) {
    let begun = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().canonicalize().unwrap().join("home");
    copy_tree(&t.home, &home);
    let copied = begun.elapsed();
    let root = home.join(".spec-kitty");
    let (legacy, scoped) = (root.join("queue.db"), home.join(&t.scoped));
    let (tx, rx) = channel();
    let mut trial = Trial {
        stop: dir.path().join("stop"),
        holder: None,
        writers: Vec::new(),
        stdins: Vec::new(),
    };
    for (i, w) in writers.iter().enumerate() {
        start_writer(&mut trial, i, w, &home, &scoped, &tx);
    }
    let ready = begun.elapsed();
    let mut holder = py(&writers[0], &home, "live_queue_writer.py")
        .args(["hold", "--max-seconds", "600", "--db"])
        .arg(&legacy)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    trial.holder = holder.stdin.take();
    let mut held = String::new();
    // Kept open: the holder's last line still has a reader.
    let mut holder_out = BufReader::new(holder.stdout.take().unwrap());
    holder_out.read_line(&mut held).unwrap();
    assert_eq!(held.trim(), "held", "holder did not take the legacy lock");

    let started = Instant::now();
    let newest = &writers[writers.len() - 1].release;
    // `-v` prints an audit line per row while a chunk holds its locks: its
    // reader is a thread of its own that only counts them.
    let mut run = sk_migrate(&home, &root, busy, newest)
        .args(["run", "-v", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = read_migrate_stderr(run.stderr.take().unwrap(), &legacy, tx.clone());
    let stdout = run.stdout.take().unwrap();
    let done = tx.clone();
    let json = std::thread::spawn(move || {
        let text = std::io::read_to_string(stdout).unwrap();
        let _ = done.send(Heard::MigrateDone);
        text
    });
    drop(tx);
    let mut log = Log::new(writers.len());

    // The writers start; the holder lets go once each has a write acknowledged.
    for s in &mut trial.stdins {
        writeln!(s, "go").unwrap();
    }
    // The holder lets go once sk-migrate said it waits for it and every
    // writer has a write acknowledged.
    log.until(&rx, |l| {
        (l.waited && l.acks.iter().all(|a| *a > 0))
            || l.done.iter().any(Option::is_some)
            || l.migrate_done
    });
    let waited = log.waited;
    assert!(
        log.acks.iter().all(|a| *a > 0),
        "a writer ended before its first write: {:?}",
        log.done
    );
    trial.holder.take();
    assert!(holder.wait().unwrap().success(), "holder");
    for s in &mut trial.stdins {
        writeln!(s, "released").unwrap();
    }
    let released = started.elapsed();

    // Acks read before sk-migrate was seen still running were written during the move.
    let mut during = vec![0u64; writers.len()];
    while !log.migrate_done {
        let Ok(h) = rx.recv() else { break };
        log.hear(h);
        if run.try_wait().unwrap().is_none() {
            during.clone_from(&log.moving);
        }
    }
    let status = run.wait().unwrap();
    let took = started.elapsed();
    // The control: the writers on the moved queue, nothing else writing.
    for s in &mut trial.stdins {
        writeln!(s, "after").unwrap();
    }
    log.until(&rx, |l| {
        (0..l.after.len()).all(|i| l.after[i] >= AFTER_WRITES || l.done[i].is_some())
    });
    std::fs::write(&trial.stop, "stop\n").unwrap();
    let report = json.join().unwrap();
    log.until(&rx, |l| l.done.iter().all(Option::is_some));
    for w in &mut trial.writers {
        assert!(w.wait().unwrap().success(), "a writer process failed");
    }
    let (moved, other) = stderr.join().unwrap();
    eprintln!(
        "live_queue_big: {generation} busy={busy:?}: the move held its write locks at most {} ms at a time",
        serde_json::from_str::<Value>(&report)
            .map_or(Value::Null, |j| j["longest_lock_hold_ms"].clone())
    );
    eprintln!(
        "live_queue_big: {generation} busy={busy:?}: template copied in {:.1} s, writers ready at {:.1} s; sk-migrate {:.1} s (legacy held {:.1} s), {moved} rows moved; acks per writer {:?}, during the move {during:?}",
        copied.as_secs_f64(),
        ready.as_secs_f64(),
        took.as_secs_f64(),
        released.as_secs_f64(),
        log.acks
    );
    let seen = Seen {
        status: status.code(),
        report: &report,
        stderr: &other,
        waited,
        during: &during,
    };
    let mut problems = check(generation, writers, &log, &seen, &scoped);
    let checking = Instant::now();
    problems.extend(check_keys(generation, t, &legacy, &scoped, dir.path()));
    eprintln!(
        "live_queue_big: {generation} busy={busy:?}: keys checked in {:.1} s, trial {:.1} s",
        checking.elapsed().as_secs_f64(),
        begun.elapsed().as_secs_f64()
    );
    assert!(
        problems.is_empty(),
        "{generation} busy={busy:?}: {problems:#?}"
    );
}

fn start_writer(
    trial: &mut Trial,
    i: usize,
    w: &Writer,
    home: &Path,
    scoped: &Path,
    tx: &Sender<Heard>,
) {
    let dir = trial.stop.parent().unwrap().to_path_buf();
    let mut child = py(w, home, "live_queue_writer.py")
        .args(["write", "--wait-go", "--db", "default", "--prefix"])
        .arg(format!("w{i}-{}", w.release))
        .args(["--max-writes", MAX_WRITES, "--max-seconds", MAX_SECONDS])
        .args(["--pace-ms", PACE_MS])
        .arg("--until")
        .arg(&trial.stop)
        .arg("--acked")
        .arg(dir.join(format!("acked-{i}.txt")))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join(format!("writer-{i}.stderr"))).unwrap())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut ready = String::new();
    out.read_line(&mut ready).unwrap();
    assert_eq!(
        ready.trim_end().strip_prefix("ready "),
        Some(scoped.to_str().unwrap()),
        "{}: the writer did not start on the scoped DB",
        w.release
    );
    trial.stdins.push(child.stdin.take().unwrap());
    trial.writers.push(child);
    let tx = tx.clone();
    std::thread::spawn(move || {
        let mut last = String::new();
        for line in out.lines() {
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("ack ") {
                let phase = if rest.starts_with("moving ") {
                    Phase::Moving
                } else if rest.starts_with("after ") {
                    Phase::After
                } else {
                    Phase::Held
                };
                let _ = tx.send(Heard::Ack { writer: i, phase });
            } else {
                last = line;
            }
        }
        let _ = tx.send(Heard::WriterDone { writer: i, last });
    });
}

fn sk_migrate(home: &Path, root: &Path, busy: Option<u64>, release: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sk-migrate"));
    cmd.arg("--release").arg(release).arg("--home").arg(root);
    if let Some(b) = busy {
        cmd.args(["--busy-timeout", &b.to_string()]);
    }
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .current_dir(home);
    cmd
}

/// sk-migrate's stderr (`-v`): says `Waiting` when it waits for `legacy`
/// before it moved a row; returns the `moved` lines counted and the other
/// lines (the first 50).
fn read_migrate_stderr(
    stderr: std::process::ChildStderr,
    legacy: &Path,
    tx: Sender<Heard>,
) -> std::thread::JoinHandle<(u64, Vec<String>)> {
    let waiting = format!("waiting for {}", legacy.display());
    std::thread::spawn(move || {
        let (mut moved, mut other) = (0u64, Vec::new());
        let mut said = false;
        let input = BufReader::with_capacity(1 << 20, stderr);
        for line in input.lines() {
            let line = line.unwrap();
            if line.starts_with("moved ") {
                moved += 1;
                continue;
            }
            if !said && moved == 0 && line.starts_with(&waiting) {
                said = true;
                let _ = tx.send(Heard::Waiting);
            }
            if other.len() < 50 {
                other.push(line);
            }
        }
        (moved, other)
    })
}

/// Everything heard so far, per writer.
struct Log {
    acks: Vec<u64>,
    moving: Vec<u64>,
    after: Vec<u64>,
    done: Vec<Option<String>>,
    waited: bool,
    migrate_done: bool,
}

impl Log {
    fn new(n: usize) -> Log {
        Log {
            acks: vec![0; n],
            moving: vec![0; n],
            after: vec![0; n],
            done: vec![None; n],
            waited: false,
            migrate_done: false,
        }
    }

    fn hear(&mut self, h: Heard) {
        match h {
            Heard::Ack { writer, phase } => {
                self.acks[writer] += 1;
                self.moving[writer] += u64::from(phase == Phase::Moving);
                self.after[writer] += u64::from(phase == Phase::After);
            }
            Heard::WriterDone { writer, last } => self.done[writer] = Some(last),
            Heard::Waiting => self.waited = true,
            Heard::MigrateDone => self.migrate_done = true,
        }
    }

    /// Hear until `enough` says so or every reader has ended.
    fn until(&mut self, rx: &Receiver<Heard>, enough: impl Fn(&Log) -> bool) {
        while let Ok(h) = rx.recv() {
            self.hear(h);
            if enough(self) {
                return;
            }
        }
    }
}

struct Seen<'a> {
    status: Option<i32>,
    report: &'a str,
    stderr: &'a [String],
    /// sk-migrate said it waited for the held legacy DB before it moved a row.
    waited: bool,
    during: &'a [u64],
}

/// What went wrong in the run (sk-migrate's exit, every writer's summary).
fn check(
    generation: &str,
    writers: &[Writer],
    log: &Log,
    seen: &Seen<'_>,
    scoped: &Path,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut failed = Vec::new();
    for (i, w) in writers.iter().enumerate() {
        let last = log.done[i].as_deref().unwrap_or("");
        let Ok(said) = serde_json::from_str::<Value>(last) else {
            problems.push(format!("{}: no summary: {last:?}", w.release));
            continue;
        };
        let p = &said["phases"];
        failed.push(format!(
            "{}: held {} failed, moving {} failed (slowest {} ms, failed after {} ms); after {} failed (slowest {} ms)",
            w.release,
            p["held"]["failed"],
            p["moving"]["failed"],
            p["held"]["slowest_ms"]
                .as_u64()
                .max(p["moving"]["slowest_ms"].as_u64())
                .unwrap_or(0),
            p["moving"]["failed_after_ms"],
            p["after"]["failed"],
            p["after"]["slowest_ms"]
        ));
        if p["held"]["failed"] != 0 || p["moving"]["failed"] != 0 {
            problems.push(format!("{}'s own writes failed: {said}", w.release));
        }
        if said["stopped_by"] != "stop file" {
            problems.push(format!(
                "{} stopped before sk-migrate exited: {said}",
                w.release
            ));
        }
        if seen.during[i] == 0 {
            problems.push(format!(
                "{}: no write acknowledged during the move",
                w.release
            ));
        }
    }
    eprintln!(
        "live_queue_big: {generation}: writes per release, while legacy was held and during the move, beside the control: {failed:#?}"
    );
    if !seen.waited {
        problems.push(format!(
            "sk-migrate never said it waited for the held legacy DB: {:?}",
            seen.stderr
        ));
    }
    if seen.status != Some(0) {
        problems.push(format!(
            "sk-migrate run exited {:?}: {} {:?}",
            seen.status, seen.report, seen.stderr
        ));
    } else {
        let report: Value = serde_json::from_str(seen.report).unwrap();
        if report["scoped_db"].as_str() != scoped.to_str() {
            problems.push(format!(
                "sk-migrate moved into another DB than the writers': {report}"
            ));
        }
    }
    problems
}

/// Keys lost: every key of the template and every acknowledged key must be
/// in legacy ∪ scoped.
fn check_keys(
    generation: &str,
    t: &Template,
    legacy: &Path,
    scoped: &Path,
    dir: &Path,
) -> Vec<String> {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
        | rusqlite::OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_in_memory_with_flags(flags).unwrap();
    let attach = |name: &str, path: &Path| {
        let uri = format!("file:{}?mode=ro", path.display());
        conn.execute("ATTACH DATABASE ?1 AS ?2", (uri, name))
            .unwrap();
    };
    attach("tl", &t.home.join(".spec-kitty/queue.db"));
    attach("ts", &t.home.join(&t.scoped));
    attach("s", scoped);
    let mut have = vec!["s"];
    if legacy.exists() {
        attach("l", legacy);
        have.push("l");
    }
    conn.execute_batch("CREATE TEMP TABLE acked(kind TEXT, key TEXT)")
        .unwrap();
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("acked-")
        {
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let (kind, key) = line.split_once(' ').unwrap();
                conn.execute("INSERT INTO temp.acked VALUES (?1, ?2)", (kind, key))
                    .unwrap();
                n += 1;
            }
        }
    }
    let body = "project_uuid, target_branch, manifest_version, artifact_path, content_hash";
    let except = |cols: &str, table: &str| -> String {
        have.iter()
            .map(|s| format!(" EXCEPT SELECT {cols} FROM {s}.{table}"))
            .collect()
    };
    let lost = |sql: String| -> Vec<String> {
        let mut stmt = conn
            .prepare(&format!("SELECT * FROM ({sql}) LIMIT 10"))
            .unwrap();
        let rows = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
        rows.map(Result::unwrap).collect()
    };
    let template: i64 = conn
        .query_row(
            "SELECT (SELECT COUNT(*) FROM tl.queue) + (SELECT COUNT(*) FROM tl.body_upload_queue)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(template, 1_000_000, "the template's legacy rows");
    let checks = [
        (
            "template event",
            format!(
                "SELECT event_id FROM tl.queue UNION SELECT event_id FROM ts.queue{}",
                except("event_id", "queue")
            ),
        ),
        (
            "template body upload",
            format!(
                "SELECT artifact_path FROM (SELECT {body} FROM tl.body_upload_queue UNION SELECT {body} FROM ts.body_upload_queue{})",
                except(body, "body_upload_queue")
            ),
        ),
        (
            "acknowledged event",
            format!(
                "SELECT key FROM temp.acked WHERE kind = 'event'{}",
                except("event_id", "queue")
            ),
        ),
        (
            "acknowledged body upload",
            format!(
                "SELECT key FROM temp.acked WHERE kind = 'body'{}",
                except("artifact_path", "body_upload_queue")
            ),
        ),
    ];
    let mut problems = Vec::new();
    for (what, sql) in checks {
        let missing = lost(sql);
        if !missing.is_empty() {
            problems.push(format!("{what}s lost (first 10): {missing:?}"));
        }
    }
    if problems.is_empty() {
        eprintln!(
            "live_queue_big: {generation}: 1,000,000 template rows and {n} acknowledged writes all kept"
        );
    }
    problems
}
