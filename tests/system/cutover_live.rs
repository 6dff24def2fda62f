//! `sk-migrate run` on a live 3.2.6+ machine (issue 18), against the real
//! releases: a home written by 3.2.5's own code, taken over by each
//! captured project-store release, with 3.2.5's writer running in a
//! separate process while the cutover runs and again after it. After at
//! most two further runs every acknowledged row is in a project store, no
//! manifest is unfinished or failed, and no run exits non-zero. A dry run
//! killed part way leaves no file outside the home, and the next run
//! leaves nothing of it. A killed spec-kitty child is "interrupted", and
//! the next run resumes.
//!
//! The writer (`scripts/release_fixtures/live_writer.py`, 3.2.5's
//! `OfflineQueue` / `OfflineBodyUploadQueue`) prints a line per
//! acknowledged row; the test waits on those lines and on exit codes,
//! never on time.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::harness::{self as e2e, Trial};
use serde_json::Value;

/// The release that writes the legacy homes (the last queue-DB release).
const WRITER_RELEASE: &str = "3.2.5";

struct Live {
    _dir: tempfile::TempDir,
    home: PathBuf,
    root: PathBuf,
    tmp: PathBuf,
    venv: PathBuf,
    writer: PathBuf,
}

impl Live {
    fn new(venv: &Path) -> Option<Live> {
        let writer = e2e::venv(WRITER_RELEASE)?;
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let root = home.join(".spec-kitty");
        let tmp = dir.path().join("tmp");
        for d in [&root, &tmp] {
            std::fs::create_dir_all(d).unwrap();
        }
        Some(Live {
            _dir: dir,
            home,
            root,
            tmp,
            venv: venv.to_path_buf(),
            writer,
        })
    }

    /// Start 3.2.5's writer; its stdout yields a line per acknowledged row.
    fn writer(&self, tag: &str, events: u32, bodies: u32) -> Child {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release_fixtures/live_writer.py");
        Command::new(self.writer.join("bin/python"))
            .arg(script)
            .args(["--root"])
            .arg(&self.root)
            .args(["--tag", tag, "--events", &events.to_string()])
            .args(["--bodies", &bodies.to_string()])
            .env("HOME", &self.home)
            .env("SPEC_KITTY_HOME", &self.root)
            .env("TMPDIR", &self.tmp)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    fn sk_migrate(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sk-migrate"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            .env("SPEC_KITTY_HOME", &self.root)
            .env("TMPDIR", &self.tmp)
            .arg("--spec-kitty")
            .arg(self.venv.join("bin/spec-kitty"))
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.sk_migrate(args).output().unwrap();
        assert_ne!(out.status.code(), Some(101), "{}", text(&out));
        out
    }
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Acknowledged rows, read from a writer's lines.
#[derive(Default)]
struct Acked {
    events: BTreeSet<String>,
    bodies: BTreeSet<Vec<String>>,
}

impl Acked {
    fn take(&mut self, line: &str) {
        let v: Value = serde_json::from_str(line).unwrap();
        if let Some(e) = v["event_id"].as_str() {
            self.events.insert(e.to_string());
        }
        if let Some(k) = v["body_key"].as_array() {
            self.bodies
                .insert(k.iter().map(|s| s.as_str().unwrap().to_string()).collect());
        }
    }

    /// Read the writer to its end and wait for it.
    fn finish(&mut self, mut child: Child, lines: impl Iterator<Item = String>) {
        for l in lines {
            self.take(&l);
        }
        assert!(child.wait().unwrap().success());
    }
}

fn manifests(root: &Path) -> Vec<(String, String)> {
    std::fs::read_dir(root.join("projects/.migration"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let text = std::fs::read_to_string(e.path().join("manifest.json")).ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            Some((
                e.file_name().to_string_lossy().into_owned(),
                v["phase"].as_str().unwrap_or("").to_string(),
            ))
        })
        .collect()
}

/// A writer running while `sk-migrate run` cuts over, another after it:
/// at most two further runs carry every acknowledged row; no run fails.
fn concurrent_and_late(venv: &Path) {
    let Some(live) = Live::new(venv) else {
        panic!("no {WRITER_RELEASE} venv to write the legacy home");
    };
    let mut acked = Acked::default();
    // The home as 3.2.5 left it.
    let mut w = live.writer("before", 37, 5);
    let out = w.stdout.take().unwrap();
    acked.finish(w, BufReader::new(out).lines().map(Result::unwrap));
    // 3.2.5 keeps writing while sk-migrate cuts over: its first line says it runs.
    let mut w = live.writer("during", 400, 40);
    let mut lines = BufReader::new(w.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap);
    acked.take(&lines.next().unwrap());
    let during = live.run(&["--json", "run"]);
    assert!(during.status.success(), "{}", text(&during));
    acked.finish(w, lines);
    // And again after the cutover is complete.
    let mut w = live.writer("after", 23, 3);
    let out = w.stdout.take().unwrap();
    acked.finish(w, BufReader::new(out).lines().map(Result::unwrap));
    for _ in 0..2 {
        let out = live.run(&["--json", "run"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let (events, bodies) = e2e::store_keys(&live.root);
    let lost: Vec<&String> = acked.events.difference(&events).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events in no project store, e.g. {:?}",
        lost.len(),
        acked.events.len(),
        &lost[..lost.len().min(3)]
    );
    let lost: Vec<&Vec<String>> = acked.bodies.difference(&bodies).collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged body uploads in no project store, e.g. {:?}",
        lost.len(),
        acked.bodies.len(),
        &lost[..lost.len().min(2)]
    );
    assert!(acked.events.len() > 400 && acked.bodies.len() > 40);
    let m = manifests(&live.root);
    assert!(!m.is_empty());
    assert!(m.iter().all(|(_, phase)| phase == "complete"), "{m:?}");
    // The same state gets the same answer: one more run has nothing to do.
    let again = live.run(&["--json", "run"]);
    assert!(again.status.success(), "{}", text(&again));
    let v: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["status"], "nothing_to_do", "{v}");
}

/// The home as 3.2.5 left it: `events` events and `bodies` body uploads.
fn written(live: &Live, tag: &str, events: u32, bodies: u32) -> Acked {
    let mut acked = Acked::default();
    let mut w = live.writer(tag, events, bodies);
    let out = w.stdout.take().unwrap();
    acked.finish(w, BufReader::new(out).lines().map(Result::unwrap));
    acked
}

/// Kill a process group this test started (its leader is our child).
fn kill_group(leader: u32) {
    let st = Command::new("kill")
        .args(["-KILL", "--", &format!("-{leader}")])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Files under `dir`, relative.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// A pseudo-random number from the clock and the pid (no crate needed):
/// where in the run the kill lands.
fn random_below(n: u64) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    (t ^ u64::from(std::process::id()).rotate_left(17)) % n.max(1)
}

/// A dry run killed at a random point leaves no file outside the home, and
/// the next run leaves nothing of it.
fn killed_dry_run(venv: &Path) {
    let live = Live::new(venv).expect("a 3.2.5 venv writes the home");
    written(&live, "dry", 29, 4);
    let work = live.root.join("sk-migrate-cutover");
    let outside_before = files(&live.home)
        .into_iter()
        .filter(|f| !f.starts_with(".spec-kitty/"))
        .collect::<Vec<_>>();
    for _ in 0..3 {
        use std::os::unix::process::CommandExt;
        let mut child = live
            .sk_migrate(&["run", "--dry-run"])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let scratch = work.join(format!(".dry-run-{}", child.id()));
        // Kill once the scratch exists, after a random number of looks at it.
        let wanted = random_below(2000);
        let mut seen = 0;
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if scratch.exists() {
                seen += 1;
                if seen > wanted {
                    kill_group(child.id());
                    break;
                }
            }
            std::thread::yield_now();
        }
        child.wait().unwrap();
        assert_eq!(files(&live.tmp), Vec::<String>::new(), "a file in $TMPDIR");
        let outside = files(&live.home)
            .into_iter()
            .filter(|f| !f.starts_with(".spec-kitty/"))
            .collect::<Vec<_>>();
        assert_eq!(
            outside, outside_before,
            "a file outside the spec-kitty home"
        );
    }
    let out = live.run(&["run", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let left: Vec<String> = std::fs::read_dir(&work)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".dry-run-"))
        .collect();
    assert!(left.is_empty(), "left by killed dry runs: {left:?}");
    assert_eq!(files(&live.tmp), Vec::<String>::new());
}

/// The pid of a child of `parent` whose command line contains `needle`.
fn child_of(parent: u32, needle: &str) -> Option<u32> {
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if ppid == Some(parent) && String::from_utf8_lossy(&cmdline).contains(needle) {
            return Some(pid);
        }
    }
    None
}

/// The spec-kitty child killed mid-cutover: "interrupted; run again to
/// resume", never "failed"; the next run resumes and carries every row.
fn killed_child(venv: &Path) {
    let live = Live::new(venv).expect("a 3.2.5 venv writes the home");
    let acked = written(&live, "kill", 31, 3);
    let mut run = live
        .sk_migrate(&["run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut killed = false;
    while run.try_wait().unwrap().is_none() {
        if let Some(pid) = child_of(run.id(), "project-store-migrate") {
            // A process of this test's own child: ours to kill.
            let st = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status()
                .unwrap();
            killed = st.success();
            break;
        }
        std::thread::yield_now();
    }
    let out = run.wait_with_output().unwrap();
    assert!(
        killed,
        "the spec-kitty child was never seen: {}",
        text(&out)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        err.contains("interrupted") && err.contains("run again to resume"),
        "{err}"
    );
    assert!(!err.contains("failed ("), "{err}");
    let again = live.run(&["--json", "run"]);
    assert!(again.status.success(), "{}", text(&again));
    let (events, bodies) = e2e::store_keys(&live.root);
    assert!(acked.events.is_subset(&events));
    assert!(acked.bodies.is_subset(&bodies));
    assert!(manifests(&live.root).iter().all(|(_, p)| p == "complete"));
}

/// `queue-path` and `status` name the project store, never a queue DB,
/// and no pending V1–V5 migration.
fn names_no_queue_db(venv: &Path) {
    let live = Live::new(venv).expect("a 3.2.5 venv writes the home");
    written(&live, "qp", 3, 1);
    let repo = live.home.join("repo");
    std::fs::create_dir_all(repo.join(".kittify")).unwrap();
    std::fs::write(
        repo.join(".kittify/config.yaml"),
        "project:\n  uuid: c07e0000-5b2a-4c3d-9e4f-00000000c1a1\n",
    )
    .unwrap();
    for args in [
        &["queue-path"][..],
        &["queue-path", "--read-only"],
        &["--json", "queue-path"],
        &["status"],
        &["--json", "status"],
    ] {
        let out = live.sk_migrate(args).current_dir(&repo).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let all = text(&out);
        assert!(!all.contains("queues/queue-"), "{args:?}: {all}");
        assert!(
            !all.contains("V1") && !all.contains("V5"),
            "{args:?}: {all}"
        );
        assert!(
            all.contains("projects/c07e0000-5b2a-4c3d-9e4f-00000000c1a1/sync/sync.db"),
            "{args:?}: {all}"
        );
    }
}

/// One scenario, run with a release's venv.
type Case = fn(&Path);

pub fn trials() -> Vec<Trial> {
    let mut trials: Vec<Trial> = Vec::new();
    for c in e2e::captured()
        .into_iter()
        .filter(|c| c.generation() == "project-store")
    {
        let r = c.release.clone();
        let cases: [(&str, Case); 4] = [
            (
                "concurrent_and_late_writers_are_all_carried",
                concurrent_and_late,
            ),
            (
                "a_killed_dry_run_leaves_nothing_outside_the_home",
                killed_dry_run,
            ),
            ("a_killed_child_is_interrupted_and_resumed", killed_child),
            ("queue_path_and_status_name_no_queue_db", names_no_queue_db),
        ];
        for (name, case) in cases {
            trials.push(e2e::release_trial(
                format!("cutover_live::{r}::{name}"),
                &r,
                case,
            ));
        }
    }
    trials
}
