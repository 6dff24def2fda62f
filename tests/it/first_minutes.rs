//! What a new user meets first, answered the same way by both tools
//! (`docs/cli.md`): no home at all, an unknown release, colour forced by the
//! environment, and the one form every error takes.

use crate::common::{Bin, TestHome};

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(bin: &mut Bin) -> Out {
    let out = bin.output().unwrap();
    crate::common::no_panic(&out);
    Out {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

/// A process with no spec-kitty on PATH, HOME at an empty temp dir (so no
/// `~/.spec-kitty`), no release named: a machine before spec-kitty.
fn bare(dir: &std::path::Path, bin: &str, args: &[&str]) -> Out {
    let mut b = Bin::new(bin);
    b.env_clear()
        .env("PATH", dir.join("no-bin"))
        .env("HOME", dir)
        .args(args);
    run(&mut b)
}

#[test]
fn no_spec_kitty_and_no_home_is_nothing_to_do_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join(".spec-kitty");
    for (bin, args, what) in [
        ("sk-doctor", &["--no-probe"][..], "nothing to check"),
        ("sk-migrate", &["run"][..], "nothing to move"),
        ("sk-migrate", &["run", "--dry-run"][..], "nothing to move"),
        ("sk-migrate", &["status"][..], "nothing to show"),
    ] {
        let out = bare(dir.path(), bin, args);
        assert_eq!(out.code, Some(0), "{bin} {args:?}: {}", out.stderr);
        assert_eq!(
            out.stdout,
            format!("no spec-kitty home at {}: {what}\n", home.display()),
            "{bin} {args:?}"
        );
        // Nothing follows a release's rules, so there is nothing to warn of.
        assert_eq!(out.stderr, "", "{bin} {args:?}");
    }
    assert!(!home.exists(), "a tool created the home");
}

#[test]
fn an_unknown_release_warns_on_stderr_in_both_tools() {
    let h = TestHome::new();
    let warned = |bin: &str, args: &[&str]| {
        let out = run(h.cmd(bin).env("SK_RELEASE", "9.9.9").args(args));
        assert_eq!(out.code, Some(0), "{bin} {args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with(&format!("{bin}: warning: ")) && out.stderr.contains("9.9.9"),
            "{bin} {args:?}: {}",
            out.stderr
        );
        assert!(!out.stdout.contains("9.9.9"), "{bin} {args:?}: on stdout");
    };
    warned("sk-doctor", &["--no-probe"]);
    warned("sk-migrate", &["status"]);
    // Programs get the warning in the JSON as well; stdout stays one object.
    let out = run(h
        .cmd("sk-doctor")
        .env("SK_RELEASE", "9.9.9")
        .args(["--no-probe", "--json"]));
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(json["warnings"][0].as_str().unwrap().contains("9.9.9"));
    assert!(out.stderr.starts_with("sk-doctor: warning: "));
    // A write refuses: the runtime-error family, nothing written.
    let out = run(h.cmd("sk-migrate").env("SK_RELEASE", "9.9.9").arg("run"));
    assert_eq!(out.code, Some(1));
    assert!(
        out.stderr.starts_with("sk-migrate: error: "),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn every_error_starts_with_the_tool_name() {
    let h = TestHome::new();
    for bin in ["sk-doctor", "sk-migrate"] {
        // Argument parsing (clap) …
        let out = run(h.cmd(bin).arg("--no-such-option"));
        assert_eq!(out.code, Some(64), "{bin}");
        assert!(
            out.stderr
                .starts_with(&format!("{bin}: error: unexpected argument")),
            "{bin}: {}",
            out.stderr
        );
        assert!(out.stderr.contains("Usage:"), "{bin}: {}", out.stderr);
        // … and at run time.
        let out = run(h
            .cmd(bin)
            .args(["--home", "/nonexistent/sk-home", "status"]));
        assert!(
            out.stderr.starts_with(&format!("{bin}: error: ")),
            "{bin}: {}",
            out.stderr
        );
    }
    // Help and version stay on stdout, exit 0.
    let out = run(h.cmd("sk-migrate").arg("--version"));
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with("sk-migrate "));
}

#[test]
fn force_color_and_clicolor_force_colour_a_pipe_unless_no_color() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let status = |env: &[(&str, &str)], args: &[&str]| {
        let mut b = h.cmd("sk-doctor");
        b.arg("--no-probe").args(args);
        for (k, v) in env {
            b.env(k, v);
        }
        let out = run(&mut b);
        assert_eq!(out.code, Some(0), "{env:?}: {}", out.stderr);
        out.stdout.contains('\u{1b}')
    };
    assert!(!status(&[], &[]), "a pipe is not coloured by default");
    assert!(status(&[("FORCE_COLOR", "1")], &[]));
    assert!(status(&[("CLICOLOR_FORCE", "1")], &[]));
    assert!(!status(&[("FORCE_COLOR", "")], &[]), "empty is unset");
    assert!(!status(&[("FORCE_COLOR", "1"), ("NO_COLOR", "1")], &[]));
    assert!(!status(&[("FORCE_COLOR", "1")], &["--color", "never"]));
    assert!(status(&[("NO_COLOR", "1")], &["--color", "always"]));
}

#[test]
fn the_demo_shows_its_build() {
    let demo =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/demo.sh")).unwrap();
    let build: Vec<&str> = demo
        .lines()
        .filter(|l| l.trim_start().starts_with("cargo build"))
        .collect();
    assert!(!build.is_empty(), "the demo builds the tools");
    for line in build {
        assert!(
            !line.contains("--quiet") && !line.contains(" -q"),
            "a silent build: {line}"
        );
    }
    assert!(demo.contains("== building"), "the demo says it is building");
}
