//! A full disk, for real (root: a 16 KiB tmpfs mounted over a file the run
//! writes): a full disk under the journal says the rows moved and their
//! audit is incomplete (exit 3), then the next run recovers every line; under
//! the pending audit nothing changes; a failed backup leaves no partial
//! file. Trials of the system binary: each needs root and a tmpfs, so a
//! machine without them ignores them with that reason (or fails them under
//! `SK_E2E=require`) instead of passing them unrun.

use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::Connection;
use sk_boundary::migrate::observe::Quiet;
use sk_boundary::migrate::{self, RunOptions};

use crate::harness::{Need, Trial, machine_trial};
use crate::shared::{TestHome, fixture_sql, journal_keys, legacy_rows, materialise};

pub fn trials() -> Vec<Trial> {
    let cases: [(&str, fn()); 3] = [
        (
            "a_full_disk_under_the_journal_says_rows_moved_audit_incomplete_then_recovers",
            a_full_disk_under_the_journal_says_rows_moved_audit_incomplete_then_recovers,
        ),
        (
            "a_full_disk_under_the_pending_audit_changes_nothing",
            a_full_disk_under_the_pending_audit_changes_nothing,
        ),
        (
            "a_failed_backup_leaves_no_partial_file",
            a_failed_backup_leaves_no_partial_file,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, case)| {
            machine_trial(
                format!("full_disk::{name}"),
                &[Need::Root, Need::Tmpfs],
                case,
            )
        })
        .collect()
}

/// A legacy V5 queue with `n` events and `n` body uploads.
fn big_legacy(h: &TestHome, n: u32) {
    let sql = fixture_sql("legacy_v5");
    materialise(&h.home.legacy_queue(), &sql);
    let c = Connection::open(h.home.legacy_queue()).unwrap();
    c.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO queue (event_id, event_type, data, timestamp) SELECT 'big-' || i, 't', 'd', i FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO body_upload_queue (project_uuid, mission_slug, target_branch, mission_type,
             manifest_version, artifact_path, content_hash, content_body, size_bytes, created_at)
         SELECT 'p', 'm', 'main', 'software-dev', '1', 'big/' || i, 'h' || i, 'b', 1, i FROM n;"
    ))
    .unwrap();
}

/// A small tmpfs bind-mounted over `file` (root only): writes there hit ENOSPC.
struct FullDisk {
    mounts: Vec<PathBuf>,
}

impl FullDisk {
    fn over(file: &Path, dir: &Path) -> FullDisk {
        let fs = dir.join("tiny");
        std::fs::create_dir_all(&fs).unwrap();
        let ok = |c: &mut Command| c.status().is_ok_and(|s| s.success());
        assert!(ok(Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(&fs)));
        let mut guard = FullDisk {
            mounts: vec![fs.clone()],
        };
        let inner = fs.join("file");
        std::fs::write(&inner, "").unwrap();
        std::fs::write(file, "").unwrap();
        assert!(ok(Command::new("mount")
            .arg("--bind")
            .arg(&inner)
            .arg(file)));
        guard.mounts.insert(0, file.to_path_buf());
        guard
    }
}

impl Drop for FullDisk {
    fn drop(&mut self) {
        for m in &self.mounts {
            let _ = Command::new("umount").arg(m).status();
        }
    }
}

fn a_full_disk_under_the_journal_says_rows_moved_audit_incomplete_then_recovers() {
    let h = TestHome::new();
    h.login();
    big_legacy(&h, 2000);
    let before = legacy_rows(&h);
    let full = FullDisk::over(&h.home.migrate_journal(), h.dir.path());
    let out = h.cmd("sk-migrate").args(["--json", "run"]).assert().code(3);
    let o = out.get_output();
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["status"], "migrated");
    assert!(
        json["audit_incomplete"]
            .as_str()
            .unwrap()
            .contains("pending")
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("audit"));
    drop(full);
    assert_eq!(legacy_rows(&h), 0);
    let r = migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap();
    assert_eq!(r.audit_recovered, before);
    assert_eq!(journal_keys(&h).len() as u64, before);
}

fn a_full_disk_under_the_pending_audit_changes_nothing() {
    let h = TestHome::new();
    h.login();
    big_legacy(&h, 2000);
    let _full = FullDisk::over(&h.home.migrate_journal_pending(), h.dir.path());
    std::fs::remove_file(h.home.migrate_journal_pending()).ok();
    let before = legacy_rows(&h);
    let out = h.cmd("sk-migrate").arg("run").assert().code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("pending"), "{err}");
    assert_eq!(legacy_rows(&h), before);
    assert!(!h.scoped_path().exists());
}

fn a_failed_backup_leaves_no_partial_file() {
    let h = TestHome::new();
    h.login();
    big_legacy(&h, 2000);
    let dir = h.dir.path().join("bak");
    std::fs::create_dir_all(&dir).unwrap();
    assert!(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(&dir)
            .status()
            .unwrap()
            .success()
    );
    let out = h
        .cmd("sk-migrate")
        .arg("run")
        .arg("--backup")
        .arg(&dir)
        .output()
        .unwrap();
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    let _ = Command::new("umount").arg(&dir).status();
    assert_eq!(out.status.code(), Some(1));
    assert!(left.is_empty(), "{left:?}");
    assert!(!h.scoped_path().exists());
}
