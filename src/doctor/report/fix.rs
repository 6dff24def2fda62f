//! A fix as commands (`steps` in `docs/json.md`): who runs each step, its
//! exact argv with every value sk-doctor knows filled in, and what it does
//! in plain words. `remediation`, the one-line text older consumers read,
//! is built from the same steps. Pure.

use serde::Serialize;

/// Who runs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum By {
    #[serde(rename = "sk-migrate")]
    SkMigrate,
    #[serde(rename = "sk-doctor")]
    SkDoctor,
    #[serde(rename = "spec-kitty")]
    SpecKitty,
    /// The user, by hand: `argv` is a command to paste (e.g. `chmod`), or
    /// absent when the step is an action no command does for them.
    #[serde(rename = "user")]
    User,
}

/// One step of a fix: `{"by", "argv", "what"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub by: By,
    /// The program first; `None` when no command does the step.
    pub argv: Option<Vec<String>>,
    pub what: String,
}

fn owned(first: &str, args: &[&str]) -> Vec<String> {
    std::iter::once(first)
        .chain(args.iter().copied())
        .map(str::to_string)
        .collect()
}

impl Step {
    /// `sk-migrate ARGS` (the global options the user gave are added by
    /// [`Invocation::complete`]).
    pub fn sk_migrate(args: &[&str], what: impl Into<String>) -> Step {
        Step {
            by: By::SkMigrate,
            argv: Some(owned("sk-migrate", args)),
            what: what.into(),
        }
    }

    /// `sk-doctor ARGS` (global options added as for sk-migrate).
    pub fn sk_doctor(args: &[&str], what: impl Into<String>) -> Step {
        Step {
            by: By::SkDoctor,
            argv: Some(owned("sk-doctor", args)),
            what: what.into(),
        }
    }

    /// `spec-kitty ARGS`, the installed release's own command.
    pub fn spec_kitty<S: AsRef<str>>(args: &[S], what: impl Into<String>) -> Step {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        Step {
            by: By::SpecKitty,
            argv: Some(owned("spec-kitty", &args)),
            what: what.into(),
        }
    }

    /// A command the user runs by hand (`chmod`, `mv`, ...).
    pub fn user_command(argv: Vec<String>, what: impl Into<String>) -> Step {
        Step {
            by: By::User,
            argv: Some(argv),
            what: what.into(),
        }
    }

    /// An action no command does for the user.
    pub fn user(what: impl Into<String>) -> Step {
        Step {
            by: By::User,
            argv: None,
            what: what.into(),
        }
    }

    /// The release's own remediation text (`spec-kitty a b && spec-kitty
    /// c`, the release model's data) as steps.
    pub fn from_release(commands: &str, what: &str) -> Vec<Step> {
        commands
            .split("&&")
            .filter_map(|c| {
                let words: Vec<&str> = c.split_whitespace().collect();
                match words.split_first() {
                    Some((&"spec-kitty", args)) => Some(Step::spec_kitty(args, what)),
                    Some(_) => Some(Step::user_command(
                        words.iter().map(|w| w.to_string()).collect(),
                        what,
                    )),
                    None => None,
                }
            })
            .collect()
    }

    /// The step as a command a user can paste, when it has one.
    pub fn command(&self) -> Option<String> {
        self.argv
            .as_ref()
            .map(|a| a.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" "))
    }
}

/// `word` as a POSIX shell reads it back: as is when it holds only
/// characters no shell treats specially, else in single quotes.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// What the user gave sk-doctor that a step must repeat to act on the same
/// home and release, and the values it made for the steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Invocation {
    /// `--home DIR`, as given.
    pub home: Option<String>,
    /// `--release X.Y.Z`.
    pub release: Option<String>,
    /// `--spec-kitty PATH`: also the program of every spec-kitty step.
    pub spec_kitty: Option<String>,
    /// The home as `$SPEC_KITTY_HOME` names it for spec-kitty, when
    /// `--home` names another: a spec-kitty step is then run under `env
    /// SPEC_KITTY_HOME=…` so it acts on the same home.
    pub spec_kitty_home: Option<String>,
    /// A fresh idempotency key for the release's history confirmation.
    pub idempotency_key: String,
}

impl Invocation {
    /// The global options for an sk-migrate or sk-doctor step.
    fn globals(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (flag, v) in [
            ("--home", &self.home),
            ("--release", &self.release),
            ("--spec-kitty", &self.spec_kitty),
        ] {
            if let Some(v) = v {
                out.extend([flag.to_string(), v.clone()]);
            }
        }
        out
    }

    /// `step` with the options and program that make it act on this home
    /// and release. A step whose text says the release changes first
    /// (`release_changes`) keeps only `--home`.
    fn complete_one(&self, step: &mut Step, release_changes: bool) {
        let Some(argv) = &mut step.argv else {
            return;
        };
        match step.by {
            By::SkMigrate | By::SkDoctor => {
                let mut g = self.globals();
                if release_changes {
                    g.truncate(if self.home.is_some() { 2 } else { 0 });
                }
                argv.splice(1..1, g);
            }
            By::SpecKitty => {
                if let (Some(p), false) = (&self.spec_kitty, release_changes) {
                    argv[0] = p.clone();
                }
                if let Some(h) = &self.spec_kitty_home {
                    argv.splice(0..0, ["env".to_string(), format!("SPEC_KITTY_HOME={h}")]);
                }
            }
            By::User => {}
        }
    }

    /// Every step of `steps` completed (the options, the program); after
    /// a step by the user that installs another release, later steps no
    /// longer name this one.
    pub fn complete(&self, steps: &mut [Step]) {
        let mut release_changes = false;
        for s in steps {
            self.complete_one(s, release_changes);
            release_changes |= s.by == By::User && s.what.starts_with(INSTALL);
        }
    }
}

/// How the `what` of a step that installs another release begins.
pub const INSTALL: &str = "install spec-kitty";

/// The one-line text of a fix (`remediation`): each step's command, or its
/// words when it has none, joined by `; then `.
pub fn remediation(steps: &[Step]) -> String {
    steps
        .iter()
        .map(|s| s.command().unwrap_or_else(|| s.what.clone()))
        .collect::<Vec<_>>()
        .join("; then ")
}

/// The release's history action id for a confirmation with `key` in
/// `project` (3.2.6-3.2.7 `history_disclosure.confirm_history_disclosure`:
/// `"history-" + sha256(project_uuid + "\0" + key)`, stable for the key).
pub fn history_action_id(project: &str, key: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{project}\0{key}").as_bytes());
    format!("history-{}", hex::encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_a_shell_would_split_are_quoted() {
        assert_eq!(quote("/h/queue.db"), "/h/queue.db");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("cut.doc@example.test"), "cut.doc@example.test");
    }

    #[test]
    fn global_options_follow_the_program_and_a_release_change_drops_them() {
        let inv = Invocation {
            home: Some("/h".into()),
            release: Some("3.0.3".into()),
            spec_kitty: Some("/v/bin/spec-kitty".into()),
            ..Invocation::default()
        };
        let mut steps = vec![
            Step::sk_migrate(&["run"], "move"),
            Step::spec_kitty(&["sync", "now"], "drain"),
            Step::user(format!("{INSTALL} 3.2.0 or later")),
            Step::sk_migrate(&["run"], "move"),
        ];
        inv.complete(&mut steps);
        let argv = |i: usize| steps[i].argv.clone().unwrap();
        assert_eq!(
            argv(0),
            [
                "sk-migrate",
                "--home",
                "/h",
                "--release",
                "3.0.3",
                "--spec-kitty",
                "/v/bin/spec-kitty",
                "run"
            ]
        );
        assert_eq!(argv(1), ["/v/bin/spec-kitty", "sync", "now"]);
        assert_eq!(argv(3), ["sk-migrate", "--home", "/h", "run"]);
        assert_eq!(
            remediation(&steps),
            "sk-migrate --home /h --release 3.0.3 --spec-kitty /v/bin/spec-kitty run; then \
             /v/bin/spec-kitty sync now; then install spec-kitty 3.2.0 or later; then \
             sk-migrate --home /h run"
        );
    }

    #[test]
    fn another_home_reaches_spec_kitty_through_its_variable() {
        let inv = Invocation {
            spec_kitty_home: Some("/h".into()),
            ..Invocation::default()
        };
        let mut steps = vec![Step::spec_kitty(&["auth", "login"], "log in")];
        inv.complete(&mut steps);
        assert_eq!(
            steps[0].argv.clone().unwrap(),
            ["env", "SPEC_KITTY_HOME=/h", "spec-kitty", "auth", "login"]
        );
    }

    #[test]
    fn the_release_commands_become_steps() {
        let s = Step::from_release(
            "spec-kitty auth logout && spec-kitty auth login",
            "log in again",
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].argv.clone().unwrap(), ["spec-kitty", "auth", "login"]);
        assert_eq!(s[0].by, By::SpecKitty);
    }

    /// Measured on 3.2.7: `--idempotency-key k1` in project c0d0…c7
    /// confirmed as this action id.
    #[test]
    fn the_history_action_id_is_the_releases() {
        assert_eq!(
            history_action_id("c0d0c0d0-1111-4222-8333-0000000000c7", "k1"),
            "history-b69fafd860b62cdfd8d6305c87c503811cfcd4042dcf6ca0ad6975f9afb876d1"
        );
    }
}
