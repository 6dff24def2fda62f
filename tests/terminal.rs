//! What a person sees in a terminal: sk-doctor's table aligned at any width
//! with colour on (measured without escapes, by display width), `--color`
//! and `NO_COLOR`, a missing home said plainly, sk-migrate's numbers
//! right-aligned.

mod common;

use common::{TestHome, fixture};
use serde_json::Value;
use unicode_width::UnicodeWidthStr;

/// The text without ANSI CSI sequences (`ESC [ … final byte`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if ('@'..='~').contains(&c) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn incident_home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    sk_boundary::fixture::materialise_home(&fixture("incident/home"), &dir.path().join("home"))
        .unwrap();
    dir
}

fn doctor(home: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> String {
    let mut cmd = assert_cmd::Command::cargo_bin("sk-doctor").unwrap();
    cmd.env_clear()
        .env("HOME", home.parent().unwrap())
        .arg("--home")
        .arg(home)
        .args(["--no-probe", "--foreground"])
        .arg(fixture("incident/foreground.json"))
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.assert().success();
    String::from_utf8(out.get_output().stdout.clone()).unwrap()
}

const STATUSES: [&str; 4] = ["✓ match", "✗ mismatch", "? unknown", "· info"];

#[test]
fn doctor_table_is_aligned_at_every_width_with_colour() {
    let dir = incident_home();
    let home = dir.path().join("home");
    for width in [60usize, 80, 120] {
        let raw = doctor(
            &home,
            &[("COLUMNS", &width.to_string())],
            &["--color", "always"],
        );
        assert!(raw.contains('\u{1b}'), "--color always prints no colour");
        let text = strip_ansi(&raw);
        let table: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(['┌', '│', '╞', '└']))
            .collect();
        assert!(table.len() > 12, "no table at {width}:\n{text}");
        let widths: Vec<usize> = table.iter().map(|l| l.width()).collect();
        assert!(
            widths.iter().all(|w| *w == widths[0]),
            "ragged table at {width}: {widths:?}\n{text}"
        );
        assert!(widths[0] <= width, "{} > {width}:\n{text}", widths[0]);
        let mut seen = 0;
        for line in table.iter().filter(|l| l.starts_with('│')).skip(1) {
            let status = line
                .trim_end_matches('│')
                .rsplit('┆')
                .next()
                .unwrap()
                .trim();
            assert!(
                status.is_empty() || STATUSES.contains(&status),
                "status split at {width}: {status:?}\n{text}"
            );
            seen += usize::from(!status.is_empty());
        }
        assert_eq!(seen, 11, "one status per field at {width}:\n{text}");
        assert!(text.contains("queues/queue-"), "relative path:\n{text}");
    }
}

#[test]
fn no_color_and_color_never_print_no_escapes() {
    let dir = incident_home();
    let home = dir.path().join("home");
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Env, &[&str]); 3] = [
        (&[("NO_COLOR", "1")], &[]),
        (&[("NO_COLOR", "1")], &["--color", "auto"]),
        (&[], &["--color", "never"]),
    ];
    for (env, args) in cases {
        let text = doctor(&home, env, args);
        assert!(!text.contains('\u{1b}'), "{env:?} {args:?}:\n{text}");
        assert!(text.contains("✗ mismatch"), "{text}");
    }
    // An explicit `always` is obeyed even with NO_COLOR.
    let text = doctor(&home, &[("NO_COLOR", "1")], &["--color", "always"]);
    assert!(text.contains('\u{1b}'));
}

#[test]
fn a_missing_home_is_nothing_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-home");
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("sk-doctor")
            .unwrap()
            .env_clear()
            .env("SPEC_KITTY_HOME", &missing)
            .args(["--no-probe", "--check"])
            .args(args)
            .assert()
            .code(0)
            .get_output()
            .stdout
            .clone()
    };
    let text = String::from_utf8(run(&[])).unwrap();
    assert_eq!(
        text,
        format!(
            "no spec-kitty home at {}: nothing to check\n",
            missing.display()
        )
    );
    let json: Value = serde_json::from_slice(&run(&["--json"])).unwrap();
    assert_eq!(json["home_exists"], false);
    assert_eq!(json["ok"], true);
    assert_eq!(json["problems"], serde_json::json!([]));
    assert!(!missing.exists(), "the doctor created the home");
    let h = TestHome::new();
    let out = h.cmd("sk-doctor").args(["--no-probe", "--json"]).assert();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["home_exists"], true);
}

#[test]
fn migrate_numbers_are_right_aligned() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--dry-run", "--color", "never"])
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let row = text
        .lines()
        .find(|l| l.contains("│ queue "))
        .unwrap_or_else(|| panic!("no queue row:\n{text}"));
    for cell in row.trim_matches('│').split('┆').skip(1) {
        assert!(
            cell.starts_with("  ") && cell.ends_with(|c: char| c.is_ascii_digit() || c == ' '),
            "not right-aligned: {cell:?}\n{text}"
        );
        assert!(cell.trim_end().len() == cell.len() - 1, "{cell:?}\n{text}");
    }
}
