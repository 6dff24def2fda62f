//! Every fix works (issue 28): for every problem code sk-doctor reports, a
//! trial builds the state with the releases' own code where one leaves it
//! (their writers, daemon, login, cutover, run from the venvs), reads the
//! problem's `steps` from `sk-doctor --json`, runs exactly their `argv`
//! (`sk-migrate` and `sk-doctor` mapped to the built binaries, `spec-kitty`
//! to the release venv's entry point; a path given with `--spec-kitty` is
//! that entry point already), and sees the problem gone. A step by the user
//! with no argv is an action the trial performs, and says so on stderr.
//!
//! Also the verdict after a quiet 3.2.6+ cutover (nothing left for the
//! user to do: `sk-doctor --check` and `preflight` pass, as the release's
//! own preflight does) and the release facts behind `journal_undecodable`
//! being an advisory (no command of the release makes its own `sync
//! status --check` pass again).
//!
//! Trials are one per code, on the release that leaves the state (3.2.5
//! for queue-DB states, 3.2.7 for the project store, 3.0.3 → 3.2.5 for a
//! table the installed release lacks), so the suite stays small; the
//! project-store verdicts walk every captured 3.2.6+ release.

mod owner;
mod queues;
mod stores;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::Trial;

pub fn trials() -> Vec<Trial> {
    let mut t = Vec::new();
    t.extend(owner::trials());
    t.extend(queues::trials());
    t.extend(stores::trials());
    let names: Vec<String> = t.iter().map(|t| t.name().to_string()).collect();
    t.push(Trial::test(
        "fixes_clear::every_problem_code_has_its_trial",
        move || {
            let missing: Vec<&str> = sk_boundary::doctor::report::ProblemCode::ALL
                .iter()
                .map(|c| c.as_str())
                .filter(|c| !names.iter().any(|n| n.ends_with(&format!("::{c}"))))
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("no fixes_clear trial for {missing:?}").into())
            }
        },
    ));
    t
}

/// The project the writers' events name (`tests/py/cutdoc_home.py`).
pub const PROJECT: &str = "c0d0c0d0-1111-4222-8333-0000000000c7";

/// A throw-away home and the release sk-doctor is told is installed.
pub struct Case {
    _dir: tempfile::TempDir,
    /// `$HOME`; the spec-kitty home is `root`.
    pub home: PathBuf,
    pub root: PathBuf,
    /// The installed release's venv (`sk-doctor --spec-kitty`).
    pub venv: PathBuf,
    /// Where commands run.
    pub cwd: PathBuf,
    /// Put first on `PATH` (a release the user installed).
    pub path_front: Option<PathBuf>,
    /// More environment for every command.
    pub env: Vec<(String, OsString)>,
}

impl Case {
    pub fn new(venv: &Path) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().canonicalize().unwrap().join("h");
        let root = home.join(".spec-kitty");
        std::fs::create_dir_all(&root).unwrap();
        Case {
            _dir: dir,
            cwd: home.clone(),
            home,
            root,
            venv: venv.to_path_buf(),
            path_front: None,
            env: Vec::new(),
        }
    }

    /// `exe` in the case's environment alone.
    pub fn cmd(&self, exe: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut path = OsString::new();
        if let Some(front) = &self.path_front {
            path.push(front);
            path.push(":");
        }
        path.push(std::env::var_os("PATH").unwrap_or_default());
        let mut c = Command::new(exe);
        c.env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("SPEC_KITTY_HOME", &self.root)
            .env("NO_COLOR", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(&self.cwd);
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// `code` run by `venv`'s interpreter (the release's own code), which
    /// must succeed; its stdout.
    pub fn python(&self, venv: &Path, code: &str, args: &[&str]) -> String {
        let out = self
            .cmd(venv.join("bin/python"))
            .args(["-c", code])
            .args(args)
            .output()
            .unwrap();
        ok(&out, "the release's own code");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// 3.2.5's own queue code appends `events` and `bodies` to the legacy
    /// `queue.db`, with a login in `credentials` (`tests/py/cutdoc_home.py`).
    pub fn write_legacy(&self, events: u32, bodies: u32, start: u32) {
        let v = crate::harness::venv("3.2.5").expect(
            "the 3.2.5 venv writes the legacy home (scripts/release-fixtures --venvs-only 3.2.5)",
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/cutdoc_home.py");
        let out = self
            .cmd(v.join("bin/python"))
            .arg(script)
            .arg("--root")
            .arg(&self.root)
            .args(["--events", &events.to_string()])
            .args(["--bodies", &bodies.to_string()])
            .args(["--start", &start.to_string()])
            .output()
            .unwrap();
        ok(&out, "3.2.5 writes the legacy queue");
    }

    /// A checkout of [`PROJECT`] under the home.
    pub fn checkout(&self) -> PathBuf {
        let repo = self.home.join("repo");
        std::fs::create_dir_all(repo.join(".kittify")).unwrap();
        std::fs::write(
            repo.join(".kittify/config.yaml"),
            format!("project:\n  uuid: {PROJECT}\n  slug: fixes\n"),
        )
        .unwrap();
        repo
    }

    /// `sk-migrate --spec-kitty <venv> run`, which must succeed.
    pub fn sk_migrate_run(&self) {
        let run = self
            .cmd(env!("CARGO_BIN_EXE_sk-migrate"))
            .arg("--spec-kitty")
            .arg(self.venv.join("bin/spec-kitty"))
            .arg("run")
            .output()
            .unwrap();
        ok(&run, "sk-migrate run");
    }

    /// `sk-doctor --spec-kitty <venv> --no-probe --json ARGS`.
    pub fn doctor(&self, args: &[&str]) -> Value {
        let out = self
            .cmd(env!("CARGO_BIN_EXE_sk-doctor"))
            .arg("--spec-kitty")
            .arg(self.venv.join("bin/spec-kitty"))
            .args(["--no-probe", "--json"])
            .args(args)
            .output()
            .unwrap();
        crate::shared::no_panic(&out);
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
    }

    /// Run one step's argv as a user would paste it.
    fn run(&self, argv: &[String]) -> Output {
        let mut rest = argv;
        let mut env = Vec::new();
        if rest.first().is_some_and(|p| p == "env") {
            rest = &rest[1..];
            while let Some((k, v)) = rest.first().and_then(|a| a.split_once('=')) {
                env.push((k.to_string(), v.to_string()));
                rest = &rest[1..];
            }
        }
        if rest.first().is_some_and(|p| p == "sudo") && rustix::process::geteuid().is_root() {
            eprintln!("fixes_clear: already root, so `sudo` is left out of {argv:?}");
            rest = &rest[1..];
        }
        let program: PathBuf = match rest[0].as_str() {
            "sk-migrate" => env!("CARGO_BIN_EXE_sk-migrate").into(),
            "sk-doctor" => env!("CARGO_BIN_EXE_sk-doctor").into(),
            "spec-kitty" => self.venv.join("bin/spec-kitty"),
            other => other.into(),
        };
        let mut c = self.cmd(program);
        c.args(&rest[1..])
            .envs(env)
            .stdin(std::process::Stdio::null());
        c.output().unwrap()
    }

    /// Follow `problem`'s steps verbatim; `user` performs a step the user
    /// does without a command (given its words).
    pub fn follow(&mut self, problem: &Value, user: &mut dyn FnMut(&mut Case, &str)) {
        let steps = problem["steps"].as_array().unwrap();
        assert!(!steps.is_empty(), "a problem without a fix: {problem:#}");
        for step in steps {
            let what = step["what"].as_str().unwrap();
            match step["argv"].as_array() {
                None => {
                    assert_eq!(step["by"], "user", "only a user's step has no argv: {step}");
                    eprintln!("fixes_clear: the user's step, performed by the test: {what}");
                    user(self, what);
                }
                Some(argv) => {
                    let argv: Vec<String> = argv
                        .iter()
                        .map(|a| a.as_str().unwrap().to_string())
                        .collect();
                    let out = self.run(&argv);
                    ok(&out, &format!("step {argv:?} of {}", problem["code"]));
                }
            }
        }
    }
}

/// The codes of a report's (or preflight's) problems.
pub fn codes(doc: &Value) -> Vec<String> {
    crate::harness::codes_in(doc, "problems")
}

pub fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The proof for `code`: sk-doctor (with `args`) reports it; its steps,
/// followed verbatim, clear it.
pub fn clears(case: &mut Case, code: &str, args: &[&str], user: &mut dyn FnMut(&mut Case, &str)) {
    let doc = case.doctor(args);
    let p = crate::harness::entry(&doc, "problems", code).clone();
    for step in p["steps"].as_array().unwrap() {
        let text = step.to_string();
        for placeholder in ["<you>", "<key>", "<action_id>", "<id>", "<uid>"] {
            assert!(!text.contains(placeholder), "{placeholder} in {step}");
        }
    }
    case.follow(&p, user);
    let after = case.doctor(args);
    assert!(
        !codes(&after).contains(&code.to_string()),
        "{code} is still there after its steps {:#}:\n{after:#}",
        p["steps"]
    );
}

/// No step by the user without a command is expected.
pub fn no_user_step(_: &mut Case, what: &str) {
    panic!("an unexpected step without a command: {what}");
}

/// A trial with the venv of `release`.
pub fn on(release: &str, name: &str, body: fn(&Path)) -> Trial {
    crate::harness::release_trial(format!("fixes_clear::{release}::{name}"), release, body)
}
