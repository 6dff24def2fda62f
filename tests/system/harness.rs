//! The end-to-end harness: suites that run a real spec-kitty-cli release's own
//! code from its venv, `${SK_VENV_ROOT:-/tmp}/sk-X` (made by
//! `scripts/release-fixtures --venvs-only X`).
//!
//! Such a suite is a `harness = false` test target whose `main` builds one
//! [`Trial`] per (case, release) with [`release_trial`] and hands them to
//! [`main`]. A trial whose venv is missing is
//! * **failed**, naming the path and the command that makes it, when
//!   `SK_E2E=require` (as `.ci/run` sets): the proof cannot vanish;
//! * otherwise **ignored** at run time, so cargo's closing line counts it
//!   (`N ignored`, each with its reason) instead of hiding it in a silent
//!   `return`.
//!
//! A trial that needs something else of the machine (root, a tmpfs, `man`
//! or `python3` on PATH: [`Need`]) is built with [`machine_trial`] (or
//! [`release_machine_trial`]) and treated the same way: ignored with the
//! reason, or failed under `SK_E2E=require`. No test returns early when
//! something is missing: it is a trial here instead.
//!
//! Which releases a suite walks comes from the captured fixtures
//! ([`captured`]), never from a list written in the test.
//!
//! **Rotation (opt-in).** Every captured release runs by default: measured
//! on 2 heavily loaded cores, a `drain` trial takes about 8 s, an
//! `owner_verdict` one 27 s, a `cutover` one 42 s (docs/releases.md), so all
//! 28 releases cost minutes, not the hour CI has.
//! For a slower machine, `SK_E2E_ROTATE=1` makes [`selected`] run the newest
//! captured release of each generation always and every other release on one
//! UTC day in [`ROTATION`] (its position in version order modulo
//! [`ROTATION`]), ignoring it otherwise with the day it runs next; every
//! release then still runs at least once every [`ROTATION`] days.
//! `SK_E2E_DAY=N` replays day `N`'s selection.
//!
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};

pub use libtest_mimic::{Arguments, Completion, Trial};

/// `python` (a release venv's interpreter) on `scripts/release_fixtures/
/// <script>`, in the throw-away `home` alone: a clean environment (PATH,
/// HOME, no bytecode, no user site, no colour) and, when `sk_home` names
/// one, `SPEC_KITTY_HOME` set to it.
pub fn release_script(python: &Path, home: &Path, script: &str, sk_home: Option<&Path>) -> Command {
    let mut cmd = Command::new(python);
    cmd.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts/release_fixtures")
            .join(script),
    )
    .env_clear()
    .env("PATH", std::env::var_os("PATH").unwrap_or_default())
    .env("HOME", home)
    .env("PYTHONDONTWRITEBYTECODE", "1")
    .env("PYTHONNOUSERSITE", "1")
    .env("NO_COLOR", "1")
    .current_dir(home);
    if let Some(root) = sk_home {
        cmd.env("SPEC_KITTY_HOME", root);
    }
    cmd
}

/// The release's own cutover of the legacy DB `queue`: `spec-kitty sync
/// project-store-migrate --source Q --migration-id ID --json`, run by
/// `spec_kitty` (the release's `spec-kitty` with the suite's environment
/// and directory). Its output, for the suite to judge.
pub fn cutover(mut spec_kitty: Command, queue: &Path, migration_id: &str) -> Output {
    spec_kitty
        .args(["sync", "project-store-migrate", "--source"])
        .arg(queue)
        .args(["--migration-id", migration_id, "--json"])
        .output()
        .unwrap()
}

/// sk-doctor's `--json` warnings about sealed history.
pub fn sealed_history_warnings(doc: &serde_json::Value) -> Vec<&str> {
    doc["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(serde_json::Value::as_str)
        .filter(|w| w.contains("sealed history"))
        .collect()
}

/// The codes of a report's `list` (`"problems"` or `"advisories"`).
pub fn codes_in(doc: &serde_json::Value, list: &str) -> Vec<String> {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_string())
        .collect()
}

/// The entry of a report's `list` with `code`; a failure showing the
/// report when there is none.
pub fn entry<'a>(doc: &'a serde_json::Value, list: &str, code: &str) -> &'a serde_json::Value {
    doc[list]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == code)
        .unwrap_or_else(|| panic!("no {code} in {list}: {doc:#}"))
}

/// Where the release venvs live.
pub fn venv_root() -> PathBuf {
    std::env::var_os("SK_VENV_ROOT")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from)
}

/// The venv of `release` (it may not exist).
pub fn venv_path(release: &str) -> PathBuf {
    venv_root().join(format!("sk-{release}"))
}

/// The venv of `release` when it holds the release's interpreter and entry point.
pub fn venv(release: &str) -> Option<PathBuf> {
    let v = venv_path(release);
    (v.join("bin/python").is_file() && v.join("bin/spec-kitty").is_file()).then_some(v)
}

/// `SK_E2E=require`: a missing venv fails the trial instead of ignoring it.
pub fn required() -> bool {
    std::env::var("SK_E2E").is_ok_and(|v| v.trim() == "require")
}

/// One captured release: its version and its `facts.json`.
pub struct Captured {
    pub release: String,
    pub facts: serde_json::Value,
}

impl Captured {
    /// The generation the release was measured to be (`db-v3`, …, `project-store`).
    pub fn generation(&self) -> &str {
        self.facts["generation"].as_str().unwrap_or("")
    }
}

/// Every release captured in `fixtures/releases/*/facts.json`, in version order.
pub fn captured() -> Vec<Captured> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("facts.json");
        if !path.is_file() {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let facts: serde_json::Value = serde_json::from_str(&text).unwrap();
        let release = facts["release"].as_str().unwrap().to_owned();
        out.push(Captured { release, facts });
    }
    out.sort_by_key(|c| version_key(&c.release));
    out
}

/// A sort key for the plain `N.N.N[.N]` versions the registry has in range.
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// How many days the rotation takes to run every captured release.
pub const ROTATION: u64 = 4;

/// Every captured release runs unless `SK_E2E_ROTATE=1` asks for the
/// day's rotation.
pub fn all() -> bool {
    !std::env::var("SK_E2E_ROTATE").is_ok_and(|v| v.trim() == "1")
}

/// The rotation day: `SK_E2E_DAY`, else the UTC day number.
pub fn day() -> u64 {
    if let Some(d) = std::env::var("SK_E2E_DAY")
        .ok()
        .and_then(|v| v.trim().parse().ok())
    {
        return d;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400)
}

/// A release a suite walks, and why it sits out today's run (if it does).
pub struct Planned {
    pub captured: Captured,
    pub rotated_out: Option<String>,
}

/// The rotation over `releases` (in version order): the newest of each
/// generation always, the others when their index is today's slot.
pub fn selected(releases: impl IntoIterator<Item = Captured>) -> Vec<Planned> {
    let releases: Vec<Captured> = releases.into_iter().collect();
    let newest: Vec<bool> = (0..releases.len())
        .map(|i| {
            let g = releases[i].generation();
            releases[i + 1..].iter().all(|c| c.generation() != g)
        })
        .collect();
    let (all, today) = (all(), day() % ROTATION);
    let mut slot = 0u64;
    let mut out = Vec::new();
    for (c, newest) in releases.into_iter().zip(newest) {
        let mut rotated_out = None;
        if !all && !newest {
            let mine = slot % ROTATION;
            slot += 1;
            if mine != today {
                let wait = (mine + ROTATION - today) % ROTATION;
                rotated_out = Some(format!(
                    "rotation: runs in {wait} day(s) (SK_E2E_DAY={mine}, or without SK_E2E_ROTATE, runs it now)"
                ));
            }
        }
        out.push(Planned {
            captured: c,
            rotated_out,
        });
    }
    out
}

/// [`release_trial`] for a planned release; ignored (never failed) when the
/// rotation leaves it out today.
pub fn planned_trial(
    name: impl Into<String>,
    planned: &Planned,
    body: impl FnOnce(&Path) + Send + 'static,
) -> Trial {
    match &planned.rotated_out {
        Some(why) => {
            let why = why.clone();
            Trial::ignorable_test(name, move || Ok(Completion::ignored_with(why)))
                .with_kind(ROTATED)
        }
        None => release_trial(name, &planned.captured.release, body),
    }
}

/// The kind of a trial the rotation leaves out today.
const ROTATED: &str = "rotated out";

/// A trial `name` that runs `body` with the venv of `release`; ignored (or,
/// with `SK_E2E=require`, failed) when that venv is missing.
pub fn release_trial(
    name: impl Into<String>,
    release: &str,
    body: impl FnOnce(&Path) + Send + 'static,
) -> Trial {
    let name = name.into();
    match venv(release) {
        Some(v) => Trial::test(name, move || {
            body(&v);
            Ok(())
        }),
        None if required() => {
            let path = venv_path(release);
            let wanted = release.to_owned();
            Trial::test(name, move || {
                Err(format!(
                    "SK_E2E=require: no spec-kitty-cli {wanted} venv at {} \
                     (make it with scripts/release-fixtures --venvs-only {wanted})",
                    path.display()
                )
                .into())
            })
            .with_kind(REQUIRED)
        }
        None => {
            let path = venv_path(release);
            Trial::ignorable_test(name, move || {
                Ok(Completion::ignored_with(format!(
                    "no venv at {}",
                    path.display()
                )))
            })
            .with_kind(NO_VENV)
        }
    }
}

/// What a trial needs of the machine besides a release venv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// The effective uid 0 (to give files to another uid, to mount).
    Root,
    /// A tmpfs can be mounted here (root, and a kernel and container that allow it).
    Tmpfs,
    /// A command on `PATH` that runs (`NAME --version` exits 0).
    Command(&'static str),
}

impl Need {
    /// What it is, for messages.
    fn describe(self) -> String {
        match self {
            Need::Root => "root (effective uid 0)".to_string(),
            Need::Tmpfs => "to mount a tmpfs".to_string(),
            Need::Command(name) => format!("`{name}` on PATH"),
        }
    }

    /// Does this machine have it?
    fn met(self) -> bool {
        match self {
            Need::Root => rustix::process::geteuid().is_root(),
            Need::Tmpfs => Need::Root.met() && tmpfs_mounts(),
            Need::Command(name) => Command::new(name)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
        }
    }
}

/// The first of `needs` this machine lacks.
fn lacking(needs: &[Need]) -> Option<Need> {
    needs.iter().copied().find(|n| !n.met())
}

/// Whether a 16 KiB tmpfs mounts in a temp dir (tried once per run).
fn tmpfs_mounts() -> bool {
    static MOUNTS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MOUNTS.get_or_init(|| {
        let Ok(dir) = tempfile::tempdir() else {
            return false;
        };
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            let _ = Command::new("umount").arg(dir.path()).status();
        }
        mounted
    })
}

/// A trial `name` that runs `body` when the machine has every one of
/// `needs`; else ignored with the reason, or, with `SK_E2E=require`, failed
/// (as a missing venv is).
pub fn machine_trial(
    name: impl Into<String>,
    needs: &[Need],
    body: impl FnOnce() + Send + 'static,
) -> Trial {
    let name = name.into();
    let Some(need) = lacking(needs) else {
        return Trial::test(name, move || {
            body();
            Ok(())
        });
    };
    let what = need.describe();
    if required() {
        Trial::test(name, move || {
            Err(format!("SK_E2E=require: this trial needs {what}, which this machine lacks").into())
        })
        .with_kind(REQUIRED)
    } else {
        let why = format!("needs {what}");
        Trial::ignorable_test(name, move || Ok(Completion::ignored_with(why))).with_kind(NO_NEED)
    }
}

/// [`release_trial`] for a trial that also needs `needs` of the machine.
pub fn release_machine_trial(
    name: impl Into<String>,
    release: &str,
    needs: &[Need],
    body: impl FnOnce(&Path) + Send + 'static,
) -> Trial {
    match lacking(needs) {
        None => release_trial(name, release, body),
        Some(_) => machine_trial(name, needs, || {}),
    }
}

/// The kind of a trial ignored because the machine lacks what it needs.
const NO_NEED: &str = "machine lacks";

/// The kind of a trial failed for want of its venv (or of what it needs
/// of the machine) under `SK_E2E=require`.
const REQUIRED: &str = "required";

/// The kind of a trial ignored for want of its venv.
const NO_VENV: &str = "no venv";

/// The kind of a trial that runs by itself, after the others, one at a time:
/// it measures holds and write latencies that a neighbour would distort.
const ALONE: &str = "alone";

/// `trial`, run by itself after every other trial (see [`ALONE`]). A trial
/// already ignored or failed for want of its venv keeps that kind.
pub fn alone(trial: Trial) -> Trial {
    if trial.kind().is_empty() {
        trial.with_kind(ALONE)
    } else {
        trial
    }
}

/// Run the trials as cargo's harness would (those marked [`alone`] last,
/// one at a time); prints why trials were ignored.
pub fn main(trials: Vec<Trial>) -> ExitCode {
    let args = Arguments::from_args();
    let missing = trials.iter().filter(|t| t.kind() == NO_VENV).count();
    let lacking = trials.iter().filter(|t| t.kind() == NO_NEED).count();
    let rotated = trials.iter().filter(|t| t.kind() == ROTATED).count();
    let (alone, together): (Vec<Trial>, Vec<Trial>) =
        trials.into_iter().partition(|t| t.kind() == ALONE);
    let mut failed = libtest_mimic::run(&args, together).has_failed();
    if !alone.is_empty() {
        let one_at_a_time = Arguments {
            test_threads: Some(1),
            ..args
        };
        failed |= libtest_mimic::run(&one_at_a_time, alone).has_failed();
    }
    // Said last, so it is what cargo's closing lines show.
    if rotated > 0 {
        eprintln!(
            "{rotated} end-to-end trial(s) ignored by today's rotation (day {} of {ROTATION}; \
             unset SK_E2E_ROTATE to run every release)",
            day() % ROTATION
        );
    }
    if lacking > 0 {
        eprintln!(
            "{lacking} system trial(s) ignored: this machine lacks what they need (root, a tmpfs, \
             a command on PATH; each says which); SK_E2E=require makes that a failure"
        );
    }
    if missing > 0 {
        eprintln!(
            "{missing} end-to-end trial(s) ignored: no spec-kitty release venv under {}. \
             Install them with `scripts/release-fixtures --venvs-only` (network: PyPI), \
             then run again; SK_E2E=require makes a missing venv a failure",
            venv_root().display()
        );
    }
    if failed {
        ExitCode::from(101)
    } else {
        ExitCode::SUCCESS
    }
}

/// Every event id and body-upload natural key (in `tables::BODY_UPLOAD_QUEUE`
/// key order) the project stores under `root` (a 3.2.6+ home) hold.
pub fn store_keys(
    root: &Path,
) -> (
    std::collections::BTreeSet<String>,
    std::collections::BTreeSet<Vec<String>>,
) {
    let mut events = std::collections::BTreeSet::new();
    let mut bodies = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(root.join("projects")).unwrap().flatten() {
        let db = e.path().join("sync/sync.db");
        if !db.is_file() {
            continue;
        }
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c.prepare("SELECT entry_id FROM journal_entries").unwrap();
        events.extend(
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .flatten(),
        );
        let mut st = c
            .prepare("SELECT project_uuid, content_hash, body_reference FROM body_upload_tasks")
            .unwrap();
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .unwrap();
        for row in rows.flatten() {
            let (project, hash, reference) = row;
            let v: serde_json::Value = serde_json::from_str(&reference).unwrap();
            let f = |k: &str| match &v[k] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            bodies.insert(vec![
                project,
                f("mission_slug"),
                f("target_branch"),
                f("mission_type"),
                f("manifest_version"),
                f("artifact_path"),
                hash,
            ]);
        }
    }
    (events, bodies)
}
