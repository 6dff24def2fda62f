//! Every rendered view pinned (insta): sk-doctor, `sk-doctor preflight`,
//! `sk-migrate status`, `run`, `run --dry-run` and `queue-path`, driven as
//! real binaries on fixture homes, at 60, 80 and 120 columns, with and
//! without colour; and every `--json` shape. The README's sample blocks are
//! the content of named snapshots (`readme_samples_are_snapshots`).
//!
//! Homes live in `/tmp/sk-demo.XXXXXX` (six random characters, so every
//! run lays out the same widths) and are written `/tmp/sk-demo.XXXXXX` in
//! the snapshots; `elapsed_ms` and `longest_lock_hold_ms` are written 0. Update with
//! `INSTA_UPDATE=always cargo test --test it snapshots` and review the diff;
//! CI sets `INSTA_UPDATE=no`, so a stale snapshot fails there.

use std::path::{Path, PathBuf};

use serde_json::Value;

const WIDTHS: [u16; 3] = [60, 80, 120];

/// A temp dir of a fixed-length name, holding the spec-kitty home at
/// `.spec-kitty` (and standing for `$HOME`).
struct Demo {
    dir: tempfile::TempDir,
}

impl Demo {
    fn empty() -> Demo {
        let dir = tempfile::Builder::new()
            .prefix("sk-demo.")
            .rand_bytes(6)
            .tempdir_in("/tmp")
            .unwrap();
        Demo { dir }
    }

    /// `fixtures/incident/home` (see its README).
    fn incident() -> Demo {
        let d = Demo::empty();
        sk_boundary::fixture::materialise_home(&crate::common::fixture("incident/home"), &d.root())
            .unwrap();
        d
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join(".spec-kitty")
    }

    /// A binary with only the environment the snapshot depends on.
    fn cmd(&self, bin: &str, width: Option<u16>) -> crate::common::Bin {
        let mut c = crate::common::Bin::new(bin);
        c.env_clear()
            .env("HOME", self.dir.path())
            .env("SPEC_KITTY_HOME", self.root())
            .env("SK_RELEASE", "3.2.5");
        if let Some(w) = width {
            c.env("COLUMNS", w.to_string());
        }
        c
    }

    /// The random part of the dir's name written `XXXXXX`, wherever a
    /// line break fell.
    fn filter(&self, text: &str) -> String {
        let name = self.dir.path().file_name().unwrap().to_str().unwrap();
        text.replace(name, "sk-demo.XXXXXX")
    }
}

fn doctor_args() -> Vec<String> {
    vec![
        "--no-probe".into(),
        "--foreground".into(),
        crate::common::fixture("incident/foreground.json")
            .display()
            .to_string(),
    ]
}

/// What a run printed: stdout, or stderr where the view goes there.
fn text_of(out: &std::process::Output) -> String {
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    if stdout.is_empty() {
        String::from_utf8(out.stderr.clone()).unwrap()
    } else {
        stdout
    }
}

/// The timings (`elapsed_ms`, `longest_lock_hold_ms`) written 0, recursively.
fn steady(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "elapsed_ms" || k == "longest_lock_hold_ms" {
                    *x = Value::from(0);
                } else {
                    steady(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(steady),
        _ => {}
    }
}

fn json_text(d: &Demo, out: &std::process::Output) -> String {
    let mut v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    steady(&mut v);
    d.filter(&serde_json::to_string_pretty(&v).unwrap())
}

/// Pin `view` at every width, plain and coloured; `fresh` makes the home
/// for each run (a run that writes needs its own).
fn pin_widths(name: &str, fresh: impl Fn() -> Demo, view: impl Fn(&Demo, u16, bool) -> String) {
    for w in WIDTHS {
        for colour in [false, true] {
            let d = fresh();
            let text = view(&d, w, colour);
            // Colour only when asked for (some views have none to give).
            assert!(
                colour || !text.contains('\u{1b}'),
                "{name} at {w}, colour {colour}:\n{text}"
            );
            let suffix = if colour { "-colour" } else { "" };
            insta::assert_snapshot!(format!("{name}-{w}{suffix}"), d.filter(&text));
        }
    }
}

fn colour_arg(colour: bool) -> &'static str {
    if colour { "always" } else { "never" }
}

fn run(d: &Demo, bin: &str, width: Option<u16>, args: &[String]) -> std::process::Output {
    d.cmd(bin, width).args(args).output().unwrap()
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn doctor_views() {
    pin_widths("doctor", Demo::incident, |d, w, colour| {
        let mut args = doctor_args();
        args.extend(strings(&["--color", colour_arg(colour)]));
        text_of(&run(d, "sk-doctor", Some(w), &args))
    });
    // The end of the demo: rows moved, the orphan record retired; what
    // stays unknown is said, not hidden behind "Coherent".
    let retired = || {
        let d = Demo::incident();
        assert!(
            run(&d, "sk-migrate", None, &strings(&["run"]))
                .status
                .success()
        );
        let out = run(&d, "sk-doctor", None, &strings(&["retire", "--yes"]));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        d
    };
    pin_widths("doctor-after-retire", retired, |d, w, colour| {
        text_of(&run(
            d,
            "sk-doctor",
            Some(w),
            &strings(&["--no-probe", "--color", colour_arg(colour)]),
        ))
    });
    pin_widths("retire", Demo::incident, |d, w, colour| {
        let args = strings(&["retire", "--yes", "--color", colour_arg(colour)]);
        text_of(&run(d, "sk-doctor", Some(w), &args))
    });
    let d = Demo::incident();
    let mut args = doctor_args();
    args.push("--json".into());
    insta::assert_snapshot!(
        "doctor-json",
        json_text(&d, &run(&d, "sk-doctor", None, &args))
    );
}

#[test]
fn preflight_views() {
    pin_widths("preflight", Demo::incident, |d, w, colour| {
        let mut args = doctor_args();
        args.extend(strings(&["preflight", "--color", colour_arg(colour)]));
        let out = run(d, "sk-doctor", Some(w), &args);
        assert_eq!(out.status.code(), Some(2));
        text_of(&out)
    });
    let d = Demo::incident();
    let mut args = doctor_args();
    args.extend(strings(&["preflight", "--json"]));
    insta::assert_snapshot!(
        "preflight-json",
        json_text(&d, &run(&d, "sk-doctor", None, &args))
    );
}

#[test]
fn migrate_views() {
    for (name, args) in [
        ("status", &["status"][..]),
        ("dry-run", &["run", "--dry-run"][..]),
        ("run", &["run"][..]),
    ] {
        pin_widths(name, Demo::incident, |d, w, colour| {
            let mut a = strings(args);
            a.extend(strings(&["--color", colour_arg(colour)]));
            let out = run(d, "sk-migrate", Some(w), &a);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            text_of(&out)
        });
        let d = Demo::incident();
        let mut a = strings(args);
        a.push("--json".into());
        let json = json_text(&d, &run(&d, "sk-migrate", None, &a));
        insta::assert_snapshot!(format!("{name}-json"), json);
    }
    // queue-path prints one path for scripts: never folded, at any width.
    for (name, args) in [
        ("queue-path", &["queue-path"][..]),
        ("queue-path-read-only", &["queue-path", "--read-only"][..]),
    ] {
        let d = Demo::incident();
        let out = run(&d, "sk-migrate", Some(40), &strings(args));
        insta::assert_snapshot!(name, d.filter(&text_of(&out)));
        let d = Demo::incident();
        let mut a = strings(args);
        a.push("--json".into());
        let json = json_text(&d, &run(&d, "sk-migrate", None, &a));
        insta::assert_snapshot!(format!("{name}-json"), json);
    }
}

/// A home no one is logged into: no scope, the legacy queue is active.
#[test]
fn no_scope_views() {
    let fresh = || {
        let d = Demo::empty();
        crate::common::materialise(
            &d.root().join("queue.db"),
            &crate::common::fixture_sql("legacy_v5"),
        );
        d
    };
    for (name, args) in [
        ("no-scope-status", &["status"][..]),
        ("no-scope-run", &["run"][..]),
    ] {
        pin_widths(name, fresh, |d, w, colour| {
            let mut a = strings(args);
            a.extend(strings(&["--color", colour_arg(colour)]));
            String::from_utf8(run(d, "sk-migrate", Some(w), &a).stdout).unwrap()
        });
    }
}

/// The body of a stored snapshot (after insta's `---` header).
fn snapshot(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(format!("it__snapshots__{name}.snap"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body = text.splitn(3, "---\n").nth(2).unwrap_or_default();
    body.trim_end_matches('\n').to_string()
}

/// Each README block preceded by `<!-- snapshot: NAME -->` is that
/// snapshot's content, so the samples cannot drift from what the tools print.
#[test]
fn readme_samples_are_snapshots() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut seen = 0;
    for (i, part) in readme.split("<!-- snapshot: ").enumerate().skip(1) {
        let (name, rest) = part.split_once(" -->").unwrap();
        let block = rest
            .trim_start()
            .strip_prefix("```\n")
            .unwrap_or_else(|| panic!("sample {i} ({name}): no ``` block after the marker"));
        let block = block.split_once("\n```").unwrap().0;
        assert_eq!(
            block,
            snapshot(name),
            "README sample {name} differs from its snapshot"
        );
        seen += 1;
    }
    assert!(seen >= 3, "README has {seen} snapshot samples");
}

/// sk-doctor on a home 3.2.5 wrote, read under 3.2.7's rules: the project
/// stores section and the cutover its legacy sources wait for.
#[test]
fn project_store_doctor_views() {
    let fresh = || {
        let d = Demo::empty();
        crate::common::home_before_cutover(&d.root());
        d
    };
    pin_widths("doctor-project-store", fresh, |d, w, colour| {
        let mut c = d.cmd("sk-doctor", Some(w));
        c.env("SK_RELEASE", "3.2.7")
            .args(["--no-probe", "--color", colour_arg(colour)]);
        text_of(&c.output().unwrap())
    });
}

/// The cutover summary (`sk-migrate run` on 3.2.6+), rendered from a
/// report of the shape the release's cutover gives: driving it needs the
/// release installed (tests/system/cutover.rs does), the view does not.
#[test]
fn cutover_summary_views() {
    use sk_boundary::migrate::cutover::{CutoverReport, CutoverStatus, ProjectCarried};
    use sk_boundary::render::{Style, cutover};
    use sk_boundary::survey::stores::LegacySource;
    let root = "/tmp/sk-demo.XXXXXX/.spec-kitty";
    let report = |status: CutoverStatus| CutoverReport {
        release: None,
        status,
        migration_id: Some("20261201T101500Z-5c1e".into()),
        sources: vec![
            LegacySource {
                path: format!("{root}/queue.db"),
                rows: 6,
                carried: None,
                late: None,
            },
            LegacySource {
                path: format!("{root}/queues/queue-b6bcf219b87329de.db"),
                rows: 4,
                carried: None,
                late: None,
            },
        ],
        snapshot: Some(format!("{root}/sk-migrate-cutover/snapshot.db")),
        snapshot_events: 7,
        snapshot_body_uploads: 3,
        failure_log_not_carried: 1,
        left_in_sources: 0,
        history: (status == CutoverStatus::Migrated).then(|| {
            sk_boundary::survey::history::HistoryEncoding {
                release: "3.2.7".into(),
                events: 7,
                reencoded: 7,
                ..Default::default()
            }
        }),
        manifest: (status == CutoverStatus::Migrated)
            .then(|| format!("{root}/migrations/project-store/20261201T101500Z-5c1e.json")),
        phase: (status == CutoverStatus::Migrated)
            .then_some(sk_boundary::survey::layout::CutoverPhase::Complete),
        projects: vec![
            ProjectCarried {
                project_uuid: "0f6c3a52-8d1e-4b7a-9c2d-5e8f1a2b3c4d".into(),
                events: 5,
                body_uploads: 3,
            },
            ProjectCarried {
                project_uuid: "7a9b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d".into(),
                events: 2,
                body_uploads: 0,
            },
        ],
        quarantined: [("incompatible_row".to_string(), 1)].into_iter().collect(),
        backups: vec![],
        late: None,
        greenfield: None,
        elapsed_ms: 0,
    };
    for (name, status) in [
        ("migrated", CutoverStatus::Migrated),
        ("dry_run", CutoverStatus::DryRun),
    ] {
        for w in WIDTHS {
            let style = Style {
                width: Some(w),
                ..Style::plain()
            };
            let text = cutover::run_summary(&report(status), &style);
            for line in text.lines() {
                assert!(line.chars().count() <= usize::from(w), "{line:?}\n{text}");
            }
            insta::assert_snapshot!(format!("cutover-{name}-{w}"), text);
        }
    }
}
