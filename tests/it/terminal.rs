//! What a person sees in a terminal: every view at 40, 60, 80 and 120
//! columns with colour on (measured without escapes, by display width) no
//! wider than the terminal, its tables aligned, no word, file name, e-mail,
//! status or timestamp split; the legend; `--color` and `NO_COLOR`; a
//! missing home said plainly; sk-migrate's numbers right-aligned.

use std::collections::BTreeSet;

use crate::common::{TestHome, fixture};
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

/// A view to check: which binary, its arguments, whether sk-doctor gets the
/// incident's `--foreground`, and whether the home first has its rows moved
/// and the orphan record retired (the end of the demo).
struct View {
    bin: &'static str,
    args: &'static [&'static str],
    doctor: bool,
    retired: bool,
}

const VIEWS: [View; 8] = [
    View {
        bin: "sk-doctor",
        args: &[],
        doctor: true,
        retired: false,
    },
    View {
        bin: "sk-doctor",
        args: &["preflight"],
        doctor: true,
        retired: false,
    },
    View {
        bin: "sk-doctor",
        args: &[],
        doctor: false,
        retired: true,
    },
    View {
        bin: "sk-migrate",
        args: &["status"],
        doctor: false,
        retired: false,
    },
    View {
        bin: "sk-migrate",
        args: &["run", "--dry-run"],
        doctor: false,
        retired: false,
    },
    View {
        bin: "sk-migrate",
        args: &["run"],
        doctor: false,
        retired: false,
    },
    View {
        bin: "sk-doctor",
        args: &["retire", "--yes"],
        doctor: false,
        retired: false,
    },
    View {
        bin: "sk-migrate",
        args: &["queue-path"],
        doctor: false,
        retired: false,
    },
];

/// Tokens of the incident's input that must never be split: file names,
/// the e-mail, statuses, timestamps, table and field names.
const TOKENS: [&str; 16] = [
    "queue-b6bcf219b87329de.db",
    "queue.db",
    "owner.json",
    "sk-migrate.journal.jsonl",
    "robert@example.com",
    "2026-05-14T09:12:44Z",
    "✓ match",
    "✗ mismatch",
    "? unknown",
    "· info",
    "body_upload_failure_log",
    "body_upload_queue",
    "source_checkout_path",
    "042-sync-boundary",
    "python3.11",
    "spec-kitty-pr-1187",
];

/// The view's text (stdout, or stderr where it goes there: a refused
/// preflight), ANSI stripped, on a fresh incident home.
fn view_text(v: &View, columns: usize) -> String {
    let dir = incident_home();
    let home = dir.path().join("home");
    let run = |bin: &str, args: &[&str], doctor: bool| {
        let mut cmd = assert_cmd::Command::cargo_bin(bin).unwrap();
        cmd.env_clear()
            .env("HOME", dir.path())
            .env("SPEC_KITTY_HOME", &home)
            .env("SK_RELEASE", "3.2.5")
            .env("COLUMNS", columns.to_string())
            .args(["--color", "always"]);
        if doctor {
            cmd.arg("--foreground")
                .arg(fixture("incident/foreground.json"));
        }
        if bin == "sk-doctor" && args != ["retire", "--yes"] {
            cmd.arg("--no-probe");
        }
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.code().is_some_and(|c| c < 3),
            "{bin} {args:?}: {out:?}"
        );
        let text = if out.stdout.is_empty() {
            out.stderr
        } else {
            out.stdout
        };
        // The temp dir's name, written the same length in every run.
        let name = dir.path().file_name().unwrap().to_str().unwrap();
        let same: String = name.chars().map(|_| 'X').collect();
        strip_ansi(&String::from_utf8(text).unwrap()).replace(name, &same)
    };
    if v.retired {
        run("sk-migrate", &["run"], false);
        run("sk-doctor", &["retire", "--yes"], false);
    }
    run(v.bin, v.args, v.doctor)
}

/// Words of a text: split at blanks and table borders.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || "│┆┌┐└┘├┤┬┴┼─╞╡╪═".contains(c))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `piece`, a word of a folded text, is a whole word of the
/// unfolded one or one of its parts cut just after a `/` or `|`.
fn whole_or_component(piece: &str, unfolded: &BTreeSet<&str>) -> bool {
    unfolded.contains(piece)
        || unfolded.iter().any(|w| {
            w.match_indices(piece).any(|(i, _)| {
                let before = &w[..i];
                let after = &w[i + piece.len()..];
                (before.is_empty() || before.ends_with(['/', '|']))
                    && (after.is_empty() || piece.ends_with(['/', '|']))
            })
        })
}

#[test]
fn every_view_fits_every_width_without_splitting_a_word() {
    for v in &VIEWS {
        // Unfolded: as wide as it takes.
        let wide = view_text(v, 1000);
        let mut unfolded: BTreeSet<&str> = words(&wide).into_iter().collect();
        // The labels of foreground and daemon sharing a column, and the
        // ` \` that continues a fix's command on the next line.
        unfolded.extend(["fg:", "daemon:", "\\"]);
        for width in [40usize, 60, 80, 120] {
            let text = view_text(v, width);
            let what = format!("{} {:?} at {width}", v.bin, v.args);
            // queue-path prints one path for scripts: never folded.
            if v.args == ["queue-path"] {
                assert_eq!(text, wide, "{what}");
                continue;
            }
            for line in text.lines() {
                assert!(line.width() <= width, "{what}: {line:?} is wider\n{text}");
            }
            let table: Vec<usize> = text
                .lines()
                .filter(|l| l.starts_with(['┌', '│', '╞', '└']))
                .map(|l| l.width())
                .collect();
            assert!(
                table.iter().all(|w| *w == table[0]),
                "{what}: ragged table\n{text}"
            );
            for w in words(&text) {
                // Stacked blocks label values with their column's header.
                let w = w
                    .strip_suffix(':')
                    .filter(|h| unfolded.contains(h))
                    .unwrap_or(w);
                assert!(
                    whole_or_component(w, &unfolded),
                    "{what}: {w:?} is split\n{text}"
                );
            }
            for token in TOKENS.iter().filter(|t| wide.contains(*t)) {
                assert!(text.contains(token), "{what}: {token:?} is split\n{text}");
            }
        }
    }
}

#[test]
fn a_legend_says_what_the_symbols_mean_and_unknown_is_not_plain_coherent() {
    let v = &VIEWS[2];
    for width in [60, 120] {
        let text = view_text(v, width);
        assert!(text.contains("? unknown"), "{text}");
        let legend = text.lines().find(|l| l.starts_with("? unknown:"));
        let legend = legend.unwrap_or_else(|| panic!("no legend for ? at {width}:\n{text}"));
        assert!(text.contains("--spec-kitty PATH"), "{legend}\n{text}");
        assert!(text.lines().any(|l| l.starts_with("-: ")), "{text}");
        assert!(text.lines().any(|l| l.starts_with("· info: ")), "{text}");
        assert!(
            !text.contains("Coherent: the sync boundary holds"),
            "{text}"
        );
        assert!(text.contains("Coherent as far as known"), "{text}");
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
