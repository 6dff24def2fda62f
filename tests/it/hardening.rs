//! Issue 12: the audit trail after crashes and full disks, symbolic links,
//! special files, concurrent runs, busy DBs, stale state files, owner record
//! trust, counts under writers, partial backups, a missing --home.
//! Synchronisation is by locks held in the test and observer hooks only.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common::*;
use crate::shared::{journal_keys, legacy_rows};
use rusqlite::Connection;
use sk_boundary::Error;
use sk_boundary::db::schema::tables::Table;
use sk_boundary::migrate::journal::Journal;
use sk_boundary::migrate::merge::{self, MoveOptions};
use sk_boundary::migrate::observe::{Observer, Quiet, Step};
use sk_boundary::migrate::{self, RunOptions};

/// Audit lines waiting in the pending file (after its header).
fn pending_lines(h: &TestHome) -> u64 {
    let text = std::fs::read_to_string(h.home.migrate_journal_pending()).unwrap();
    text.lines().skip(1).count() as u64
}

/// Every path under `root` with its content hash, links as their target
/// (never followed): a byte-identical check that survives dangling links.
fn snapshot(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                stack.push(p.clone());
                "dir".to_string()
            } else {
                format!("{:?}", std::fs::read(&p).unwrap())
            };
            out.push((p, what));
        }
    }
    out.sort();
    out
}

fn run_ok(h: &TestHome) -> migrate::RunReport {
    migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap()
}

fn moved(r: &migrate::RunReport) -> u64 {
    r.tables.iter().map(|t| t.inserted).sum()
}

/// Cut off right after a chunk committed, before its audit lines were
/// promoted (as a kill there would).
struct CutAfterCommit;
impl Observer for CutAfterCommit {
    fn chunk_committed(&mut self) -> Result<(), sk_boundary::Error> {
        Err(sk_boundary::Error::Malformed {
            path: "injected".into(),
            detail: "cut after the commit".into(),
        })
    }
}

/// A run cut off after its audit was sealed: `fail` (a step before the
/// commit), or else right after the commit. The pending file stays, as a
/// kill would leave it.
fn cut_run(h: &TestHome, fail: Option<Step>) {
    let mut inner = FailAt(fail.unwrap_or(Step::SchemaUpgraded));
    let mut cut = CutAfterCommit;
    let inner: &mut dyn Observer = if fail.is_some() { &mut inner } else { &mut cut };
    let scope = h.scope().to_string();
    let mut journal = Journal::new(&h.home, &scope, &h.scoped_path(), inner);
    let r = merge::move_rows(
        &h.home.legacy_queue(),
        &h.scoped_path(),
        &MoveOptions::default(),
        &mut journal,
    );
    assert!(r.is_err());
    assert!(h.home.migrate_journal_pending().exists());
}

#[test]
fn lines_of_a_run_cut_after_its_commit_are_recovered_once() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    cut_run(&h, None);
    assert!(journal_keys(&h).is_empty());
    let n = pending_lines(&h);
    assert!(n > 0);
    let r = run_ok(&h);
    assert_eq!(r.audit_recovered, n);
    assert_eq!(journal_keys(&h).len() as u64, n);
    assert!(!h.home.migrate_journal_pending().exists());
}

#[test]
fn lines_of_a_run_cut_before_its_commit_are_dropped_and_the_rows_audited_once() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    cut_run(&h, Some(Step::Deleted(Table::Queue)));
    let r = run_ok(&h);
    assert_eq!(r.audit_recovered, 0);
    assert!(moved(&r) > 0);
    assert_eq!(journal_keys(&h).len() as u64, moved(&r));
}

#[test]
fn a_promotion_cut_short_is_redone_without_duplicates_or_glued_lines() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    cut_run(&h, None);
    let n = pending_lines(&h);
    // What a kill half-way through appending to the journal leaves.
    let pending = std::fs::read_to_string(h.home.migrate_journal_pending()).unwrap();
    let first = pending.lines().nth(1).unwrap();
    std::fs::write(
        h.home.migrate_journal(),
        format!("{first}\n{}", &first[..20]),
    )
    .unwrap();
    let r = run_ok(&h);
    assert_eq!(r.audit_recovered, n);
    assert_eq!(journal_keys(&h).len() as u64, n);
}

#[test]
fn a_torn_last_line_is_moved_aside_as_evidence_not_glued_to() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    std::fs::write(
        h.home.migrate_journal(),
        "{\"at\":\"2026-01-01T00:00:00Z\",\"sco",
    )
    .unwrap();
    let r = run_ok(&h);
    assert_eq!(journal_keys(&h).len() as u64, moved(&r));
    let torn = std::fs::read_to_string(h.home.migrate_journal_torn()).unwrap();
    assert_eq!(torn, "{\"at\":\"2026-01-01T00:00:00Z\",\"sco\n");
}

#[test]
fn an_error_after_the_commit_still_writes_the_audit() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let twin = TestHome::new();
    twin.login().legacy("legacy_v5").scoped("scoped_v5");
    let expected = moved(&run_ok(&twin));
    assert!(
        migrate::run(
            &h.home,
            &RunOptions::default(),
            &mut FailAt(Step::Committed)
        )
        .is_err()
    );
    assert_eq!(legacy_rows(&h), legacy_rows(&twin), "the rows moved");
    assert_eq!(journal_keys(&h).len() as u64, expected);
    assert!(!h.home.migrate_journal_pending().exists());
}

#[test]
fn nothing_is_written_through_a_link_leading_out_of_the_home() {
    for what in ["journal", "queues", "scoped"] {
        let h = TestHome::new();
        h.login().legacy("legacy_v5");
        let outside = h.dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let link = match what {
            "journal" => {
                let l = h.home.migrate_journal();
                std::os::unix::fs::symlink(outside.join("j.jsonl"), &l).unwrap();
                l
            }
            "queues" => {
                std::os::unix::fs::symlink(&outside, h.home.queues_dir()).unwrap();
                h.home.queues_dir()
            }
            _ => {
                std::fs::create_dir_all(h.home.queues_dir()).unwrap();
                std::os::unix::fs::symlink(outside.join("q.db"), h.scoped_path()).unwrap();
                h.scoped_path()
            }
        };
        let before = snapshot(h.root());
        let out = h.cmd("sk-migrate").arg("run").assert().code(1);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(
            err.contains(&link.display().to_string()) && err.contains("link"),
            "{what}: {err}"
        );
        assert_eq!(snapshot(h.root()), before, "{what}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0, "{what}");
        let out = h.cmd("sk-doctor").args(["--no-probe", "--json"]).assert();
        let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        let warned = json["warnings"].to_string();
        assert!(warned.contains("symbolic link"), "{what}: {warned}");
    }
}

fn mkfifo(p: &Path) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    rustix::fs::mkfifoat(rustix::fs::CWD, p, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
}

#[test]
fn fifos_and_devices_are_refused_by_name_never_waited_on() {
    let h = TestHome::new();
    h.legacy("legacy_v5");
    mkfifo(&h.home.config());
    mkfifo(&h.home.credentials());
    mkfifo(&h.home.daemon_state());
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(json["warnings"].to_string().contains("FIFO"), "{json}");
    h.cmd("sk-migrate").arg("status").assert().success();
    let fg = h.dir.path().join("fg.json");
    mkfifo(&fg);
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--foreground"])
        .arg(&fg)
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("fg.json") && err.contains("FIFO"), "{err}");
    std::fs::remove_file(h.home.config()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", h.home.config()).unwrap();
    h.cmd("sk-migrate").arg("status").assert().success();
    let h2 = TestHome::new();
    mkfifo(&h2.home.session_json());
    h2.cmd("sk-doctor")
        .env("SPEC_KITTY_ENABLE_SAAS_SYNC", "1")
        .args(["--no-probe"])
        .assert()
        .success();
}

#[test]
fn twenty_concurrent_pairs_of_runs_lose_nothing_and_audit_each_key_once() {
    for round in 0..20 {
        let h = TestHome::new();
        h.login().legacy("legacy_v5");
        let total = legacy_rows(&h);
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_sk-migrate"))
                .env_clear()
                .env("SPEC_KITTY_HOME", h.root())
                .env("SK_RELEASE", "3.2.5")
                .arg("run")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().unwrap();
            no_panic(&out);
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert_eq!(legacy_rows(&h), 0, "round {round}");
        assert_eq!(journal_keys(&h).len() as u64, total, "round {round}");
    }
}

#[test]
fn a_second_run_waits_then_names_the_holder() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let held = sk_boundary::migrate::lock::HomeLock::acquire(h.root(), 0).unwrap();
    let before = tree_hash(h.root());
    let out = h
        .cmd("sk-migrate")
        .args(["--busy-timeout", "30", "run"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert_eq!(tree_hash(h.root()), before);
    drop(held);
    h.cmd("sk-migrate").arg("run").assert().success();
}

#[test]
fn option_ranges_are_usage_errors_and_closed_stdout_never_panics() {
    let h = TestHome::new();
    for bin in ["sk-migrate", "sk-doctor"] {
        let sub = if bin == "sk-migrate" {
            "status"
        } else {
            "preflight"
        };
        h.cmd(bin)
            .args(["--busy-timeout", "2147483648", sub])
            .assert()
            .code(64);
        h.cmd(bin)
            .args(["--busy-timeout", "-1", sub])
            .assert()
            .code(64);
        for redirect in [">&-", "| true"] {
            let exe = Path::new(env!("CARGO_BIN_EXE_sk-migrate")).with_file_name(bin);
            let script = format!(
                "trap '' PIPE; '{}' completions bash {redirect}; echo \"rc=$?\" >&2",
                exe.display()
            );
            let out = Command::new("sh").arg("-c").arg(&script).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !err.contains("rc=101") && !err.contains("panicked"),
                "{bin} {redirect}: {err}"
            );
        }
    }
}

#[test]
fn sk_doctor_reports_a_locked_queue_instead_of_failing() {
    let c = coherent();
    c.h.legacy("legacy_v5");
    let lock = Connection::open(c.h.home.legacy_queue()).unwrap();
    lock.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let (json, code) = c.json(&["--busy-timeout", "20"]);
    assert_eq!(code, 0);
    assert_eq!(json["queues"]["legacy"]["locked"], true);
    let legacy = c.h.home.legacy_queue().display().to_string();
    assert!(json["warnings"].to_string().contains(&legacy), "{json}");
    lock.execute_batch("ROLLBACK").unwrap();
}

#[test]
fn a_lock_message_names_the_locked_db_and_the_time_waited() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    run_ok(&h);
    Connection::open(h.home.legacy_queue())
        .unwrap()
        .execute(
            "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES ('x', 't', 'd', 1)",
            [],
        )
        .unwrap();
    let lock = Connection::open(h.scoped_path()).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let out = h
        .cmd("sk-migrate")
        .args(["--busy-timeout", "40", "run"])
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains(&h.scoped_path().display().to_string()),
        "{err}"
    );
    let waited: u64 = err
        .split("stayed locked for ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(waited >= 40, "{err}");
}

#[test]
fn a_stale_state_file_is_reported_and_retired_without_signals() {
    let h = TestHome::new();
    let pid = dead_pid();
    std::fs::write(
        h.home.daemon_state(),
        format!("http://localhost:9449\n9449\ntok\n{pid}\n"),
    )
    .unwrap();
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert!(json["warnings"].to_string().contains("stale"), "{json}");
    assert!(!json.to_string().contains("tok\\n"));
    h.cmd("sk-doctor")
        .args(["retire", "--yes"])
        .assert()
        .success();
    assert!(!h.home.daemon_state().exists());
}

#[test]
fn an_owner_record_others_could_write_is_flagged_and_versions_are_never_echoed() {
    let c = coherent();
    c.rewrite(|r| r.package_version = "sk_live_SECRET".into());
    use std::os::unix::fs::PermissionsExt;
    let dir = c.h.home.owner_record().parent().unwrap().to_path_buf();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = c.doctor(&["--json"]);
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(!text.contains("sk_live_SECRET"), "{text}");
    assert!(text.contains("<not a version>"));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let perms: Vec<String> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["code"] == "owner_record_permissions")
        .map(|p| p["message"].to_string())
        .collect();
    assert!(
        perms
            .iter()
            .any(|m| m.contains("writable by group or others")),
        "{perms:?}"
    );
}

/// Adds a legacy row between the scoped commit and the legacy delete (WAL).
struct LateWriter(PathBuf);
impl Observer for LateWriter {
    fn checkpoint(&mut self, step: Step) -> Result<(), Error> {
        if step == Step::ScopedCommitted {
            let c = Connection::open(&self.0).unwrap();
            c.execute(
                "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES ('late-1', 't', 'd', 9)",
                [],
            )
            .unwrap();
        }
        Ok(())
    }
}

#[test]
fn rows_arriving_during_a_run_are_reported_as_late_and_counts_add_up() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let c = Connection::open(h.home.legacy_queue()).unwrap();
    let _: String = c
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .unwrap();
    drop(c);
    let mut w = LateWriter(h.home.legacy_queue());
    let r = migrate::run(&h.home, &RunOptions::default(), &mut w).unwrap();
    let q = r.tables.iter().find(|t| t.table == Table::Queue).unwrap();
    assert_eq!((q.arrived_late, q.left_in_legacy), (1, 0), "{q:?}");
    for t in &r.tables {
        assert_eq!(
            t.legacy_before,
            t.deleted_from_legacy + t.left_in_legacy,
            "{t:?}"
        );
    }
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 1);
}

#[test]
fn an_explicit_home_that_does_not_exist_is_an_error() {
    let h = TestHome::new();
    let missing = h.dir.path().join("nope");
    for (bin, sub) in [("sk-migrate", "run"), ("sk-doctor", "--no-probe")] {
        let out = h
            .cmd(bin)
            .arg("--home")
            .arg(&missing)
            .arg(sub)
            .assert()
            .code(1);
        let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
        assert!(
            err.contains("does not exist") && err.contains("nope"),
            "{bin}: {err}"
        );
    }
    assert!(!missing.exists());
}

/// The installed CLI's files are read the same way: a FIFO planted as its
/// `METADATA` or `direct_url.json` is refused, never waited on, and the
/// version falls back to the dist-info name.
#[test]
fn fifos_in_the_installed_cli_are_never_waited_on() {
    let h = TestHome::new();
    let (entry, _, _) = fake_install(h.dir.path());
    let dist = h
        .dir
        .path()
        .join("venv/lib/python3.11/site-packages/spec_kitty_cli-3.1.4.dist-info");
    mkfifo(&dist.join("METADATA"));
    mkfifo(&dist.join("direct_url.json"));
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--json", "--spec-kitty"])
        .arg(&entry)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["foreground"]["package_version"], "3.1.4");
}
