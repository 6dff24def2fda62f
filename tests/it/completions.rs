//! Shell completions, driven through each shell's own completion machinery
//! on the files the wheel installs (`wheel/data/share/…`, or an installed
//! prefix's `share/` with `SK_COMPLETIONS_PREFIX=DIR`, as `.ci/run` does
//! after `pip install`):
//! - bash: the script sourced, `COMP_WORDS`/`COMP_CWORD` set, the function
//!   `complete -p` names called, `COMPREPLY` read;
//! - zsh: an interactive zsh in a pty, compinit over `site-functions`, the
//!   line typed and TAB pressed (`tests/shell/zsh-complete.zsh`);
//! - fish: `complete -C LINE` with `vendor_completions.d` on the path.
//!
//! A shell that is not installed skips its test, except under CI (`CI`
//! set), where it fails: `.ci/run` installs bash, zsh and fish.
//! After changing an option: `SK_UPDATE_COMPLETIONS=1 cargo test --test
//! completions`.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap_complete::Shell;
use sk_boundary::cli::{completions, doctor, migrate};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the completion files are read from: the committed wheel data, or
/// an installed prefix.
fn share() -> PathBuf {
    match std::env::var_os("SK_COMPLETIONS_PREFIX").filter(|v| !v.is_empty()) {
        Some(prefix) => PathBuf::from(prefix).join("share"),
        None => root().join("wheel/data/share"),
    }
}

fn tools() -> [clap::Command; 2] {
    [doctor::command(), migrate::command()]
}

/// Every file the wheel installs: its path under `share/` and its text.
fn files() -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for cmd in tools() {
        let name = cmd.get_name().to_string();
        for (shell, path) in [
            (Shell::Bash, format!("bash-completion/completions/{name}")),
            (Shell::Zsh, format!("zsh/site-functions/_{name}")),
            (
                Shell::Fish,
                format!("fish/vendor_completions.d/{name}.fish"),
            ),
        ] {
            files.push((path, completions::script(shell, cmd.clone())));
        }
    }
    files
}

#[test]
fn committed_completions_are_what_the_tools_print() {
    let share = root().join("wheel/data/share");
    if std::env::var_os("SK_UPDATE_COMPLETIONS").is_some_and(|v| !v.is_empty()) {
        for (path, text) in files() {
            let path = share.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        return;
    }
    let stale: Vec<String> = files()
        .into_iter()
        .filter(|(path, text)| std::fs::read(share.join(path)).ok().as_ref() != Some(text))
        .map(|(path, _)| path)
        .collect();
    assert!(
        stale.is_empty(),
        "completions out of date: {stale:?}; run `SK_UPDATE_COMPLETIONS=1 cargo test --test it completions` and commit wheel/data/share"
    );
    // `completions SHELL` (for cargo installs) prints the same files.
    for (bin, shell, path) in [
        (
            "sk-migrate",
            "bash",
            "bash-completion/completions/sk-migrate",
        ),
        ("sk-doctor", "zsh", "zsh/site-functions/_sk-doctor"),
        (
            "sk-migrate",
            "fish",
            "fish/vendor_completions.d/sk-migrate.fish",
        ),
    ] {
        let out = assert_cmd::Command::cargo_bin(bin)
            .unwrap()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            out.stdout == std::fs::read(share.join(path)).unwrap(),
            "{bin} {shell}"
        );
    }
}

/// Whether `shell` runs here; under CI a missing shell is a failure.
fn have(shell: &str) -> bool {
    let ok = Command::new(shell)
        .args(["-c", "exit 0"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "{shell} is not installed, and CI must test its completions (.ci/run installs it)"
        );
        eprintln!("completions: skipped: {shell} is not installed");
    }
    ok
}

/// What each check expects: a command line and candidates it must offer.
struct Case {
    line: String,
    want: Vec<String>,
}

/// The cases: the issue's `sk-migrate run --d`, subcommand names, `--color`
/// values, and every long option of every subcommand (globals included)
/// after `TOOL SUB --`.
fn cases() -> Vec<Case> {
    let mut cases = vec![Case {
        line: "sk-migrate run --d".into(),
        want: vec!["--dry-run".into()],
    }];
    for mut cmd in tools() {
        cmd.build();
        let tool = cmd.get_name().to_string();
        let subs: Vec<String> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| s.get_name().to_string())
            .collect();
        cases.push(Case {
            line: format!("{tool} "),
            want: subs.clone(),
        });
        // After a subcommand: fish's script (clap_complete 4.6) offers no
        // values for an option before the subcommand.
        cases.push(Case {
            line: format!("{tool} {} --color ", subs[0]),
            want: vec!["auto".into(), "always".into(), "never".into()],
        });
        for sub in cmd
            .get_subcommands()
            .filter(|s| subs.contains(&s.get_name().to_string()))
        {
            let want: Vec<String> = sub
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                .collect();
            cases.push(Case {
                line: format!("{tool} {} --", sub.get_name()),
                want,
            });
        }
    }
    cases
}

fn check(shell: &str, results: Vec<Vec<String>>) {
    let cases = cases();
    assert_eq!(results.len(), cases.len(), "{shell}: one answer per line");
    let mut missing = Vec::new();
    for (case, got) in cases.iter().zip(&results) {
        for w in &case.want {
            if !got.contains(w) {
                missing.push(format!("{:?} does not offer {w} (got {got:?})", case.line));
            }
        }
    }
    assert!(missing.is_empty(), "{shell}:\n{}", missing.join("\n"));
}

/// A driver's run: it succeeded, and each case's line offers what it wants.
fn check_output(shell: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{shell}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    check(shell, answers(&out.stdout));
}

/// Split a driver's output into per-line answers at `<<line>>` markers.
fn answers(stdout: &[u8]) -> Vec<Vec<String>> {
    let text = String::from_utf8_lossy(stdout);
    let mut out: Vec<Vec<String>> = Vec::new();
    for l in text.lines() {
        if l == "<<line>>" {
            out.push(Vec::new());
        } else if let Some(last) = out.last_mut() {
            // fish prints `candidate<TAB>description`.
            last.push(l.split('\t').next().unwrap_or("").trim_end().to_string());
        }
    }
    out
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[test]
fn bash_completes_every_subcommand_and_option() {
    if !have("bash") {
        return;
    }
    let dir = share().join("bash-completion/completions");
    let mut script = String::new();
    for tool in ["sk-doctor", "sk-migrate"] {
        script.push_str(&format!(
            "source {}\n",
            shell_quote(&dir.join(tool).display().to_string())
        ));
    }
    for case in cases() {
        // As bash does on TAB: the words so far (an empty last word after a
        // space), the index of the current one, then the function called
        // with (command, current word, previous word).
        let mut words: Vec<&str> = case.line.split_whitespace().collect();
        if case.line.ends_with(' ') {
            words.push("");
        }
        let cword = words.len() - 1;
        let quoted: Vec<String> = words.iter().map(|w| shell_quote(w)).collect();
        script.push_str(&format!(
            "echo '<<line>>'\nCOMP_WORDS=({words})\nCOMP_CWORD={cword}\nCOMP_LINE={line}\nCOMP_POINT=${{#COMP_LINE}}\nCOMPREPLY=()\nfn=$(complete -p {tool} | sed -n 's/.*-F \\([^ ]*\\).*/\\1/p')\n\"$fn\" {tool} {cur} {prev}\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
            words = quoted.join(" "),
            line = shell_quote(&case.line),
            tool = words[0],
            cur = quoted[cword],
            prev = quoted[cword.saturating_sub(1)],
        ));
    }
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &script])
        .output()
        .unwrap();
    check_output("bash", &out);
}

#[test]
fn zsh_completes_every_subcommand_and_option() {
    if !have("zsh") {
        return;
    }
    let dir = share().join("zsh/site-functions");
    let out = Command::new("zsh")
        .arg("-f")
        .arg(root().join("tests/shell/zsh-complete.zsh"))
        .arg(&dir)
        .args(cases().iter().map(|c| c.line.clone()))
        .env("TERM", "dumb")
        .output()
        .unwrap();
    check_output("zsh", &out);
}

#[test]
fn fish_completes_every_subcommand_and_option() {
    if !have("fish") {
        return;
    }
    let dir = share().join("fish/vendor_completions.d");
    let mut script = format!(
        "set -p fish_complete_path {}\n",
        shell_quote(&dir.display().to_string())
    );
    for case in cases() {
        script.push_str(&format!(
            "echo '<<line>>'\ncomplete -C {}\n",
            shell_quote(&case.line)
        ));
    }
    let home = tempfile::tempdir().unwrap();
    // fish completes a command it finds on PATH: the binaries under test.
    let bin = Path::new(env!("CARGO_BIN_EXE_sk-migrate"))
        .parent()
        .unwrap();
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    let out = Command::new("fish")
        .args(["--no-config", "-c", &script])
        // fish writes its own state under XDG dirs: a throw-away one.
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("XDG_DATA_HOME", home.path())
        .env("PATH", path)
        .output()
        .unwrap();
    check_output("fish", &out);
}

#[test]
fn the_wheel_data_dir_holds_what_each_shell_looks_for() {
    // bash-completion loads `<prefix>/share/bash-completion/completions/CMD`
    // for a CMD in `<prefix>/bin`; zsh's `_CMD` in site-functions starts
    // with #compdef; fish loads `CMD.fish` from vendor_completions.d.
    let share = share();
    for tool in ["sk-doctor", "sk-migrate"] {
        let zsh =
            std::fs::read_to_string(share.join(format!("zsh/site-functions/_{tool}"))).unwrap();
        assert!(zsh.starts_with(&format!("#compdef {tool}")), "{tool}");
        assert!(Path::new(&share.join(format!("bash-completion/completions/{tool}"))).is_file());
        assert!(
            share
                .join(format!("fish/vendor_completions.d/{tool}.fish"))
                .is_file()
        );
    }
}
