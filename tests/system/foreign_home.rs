//! Homes that belong to another user, for real (root gives a home to uid
//! 4242): a root run on it refuses before writing anything, naming its
//! owner and how to run as them; sk-doctor names what a root run left that
//! the owner cannot use, and an owner record another uid owns (it holds
//! the daemon's token) as untrusted. Trials of the system binary: they need root, so a
//! machine without it ignores them with that reason (or fails them under
//! `SK_E2E=require`) instead of passing them unrun.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::harness::{Need, Trial, machine_trial};
use crate::shared::{TestHome, codes, json, problem, tree_hash};

pub fn trials() -> Vec<Trial> {
    let cases: [(&str, fn()); 3] = [
        (
            "a_run_on_another_users_home_refuses_having_written_nothing",
            a_run_on_another_users_home_refuses_having_written_nothing,
        ),
        (
            "doctor_names_files_the_homes_owner_cannot_use",
            doctor_names_files_the_homes_owner_cannot_use,
        ),
        (
            "an_owner_record_another_uid_owns_is_flagged_naming_it",
            an_owner_record_another_uid_owns_is_flagged_naming_it,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, case)| machine_trial(format!("foreign_home::{name}"), &[Need::Root], case))
        .collect()
}

/// Give `path` and everything under it to `uid`:`gid`.
/// Links are changed themselves, never followed: nothing outside `path`
/// changes owner.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if std::fs::symlink_metadata(path).unwrap().is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            chown_tree(&e.unwrap().path(), uid, gid);
        }
    }
}

/// A run by another uid (root here) on a home its user owns refuses before
/// writing anything, naming the owner and how to run as them.
fn a_run_on_another_users_home_refuses_having_written_nothing() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    chown_tree(h.dir.path(), 4242, 4243);
    let before = tree_hash(h.dir.path());
    for args in [&["run"][..], &["run", "--dry-run"], &["run", "--json"]] {
        let out = h.cmd("sk-migrate").args(args).assert().failure();
        let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
        assert!(err.contains("uid 4242") && err.contains("sudo -u"), "{err}");
        assert!(err.contains("Nothing was written"), "{err}");
    }
    assert_eq!(tree_hash(h.dir.path()), before, "a refused run wrote");
    assert!(!h.scoped_path().exists() && !h.home.queues_dir().exists());
    // Its owner's own run is not refused (the same home, owned by us again).
    chown_tree(h.dir.path(), 0, 0);
    h.cmd("sk-migrate").arg("run").assert().success();
}

/// What a root run left behind (a root-owned `queues/` and scoped DB):
/// sk-doctor names the files the home's owner cannot use instead of saying
/// coherent with the active queue absent.
fn doctor_names_files_the_homes_owner_cannot_use() {
    let h = TestHome::new();
    h.login().scoped("scoped_v5");
    chown_tree(h.dir.path(), 4242, 4243);
    let clean = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--json"])
        .assert()
        .success();
    assert!(!codes(&json(&clean)).contains(&"unusable_by_owner".to_string()));
    // As a root run leaves them: queues/ and the DB root's, owner-only.
    std::os::unix::fs::chown(h.home.queues_dir(), Some(0), Some(0)).unwrap();
    std::os::unix::fs::chown(h.scoped_path(), Some(0), Some(0)).unwrap();
    std::fs::set_permissions(h.home.queues_dir(), PermissionsExt::from_mode(0o700)).unwrap();
    std::fs::set_permissions(h.scoped_path(), PermissionsExt::from_mode(0o600)).unwrap();
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--json", "--check"])
        .assert()
        .code(2);
    let report = json(&out);
    let p = problem(&report, "unusable_by_owner");
    let message = p["message"].as_str().unwrap();
    assert!(message.contains("uid 4242"), "{message}");
    assert!(
        message.contains(&h.home.queues_dir().display().to_string()),
        "{message}"
    );
    let fix = p["remediation"].as_str().unwrap();
    assert!(fix.contains("chown -R 4242:4243"), "{fix}");
    assert_eq!(report["ok"], false);
    let text = h.cmd("sk-doctor").arg("--no-probe").assert().code(0);
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    assert!(
        text.contains("unusable_by_owner") || text.contains("cannot use"),
        "{text}"
    );
}

/// The owner record (it holds the daemon's token) owned by uid 12345: its
/// `owner_record_permissions` problem names that uid.
fn an_owner_record_another_uid_owns_is_flagged_naming_it() {
    use sk_boundary::doctor::owner::{self, OwnerRecord, Secret};
    let h = TestHome::new();
    h.login().scoped("scoped_v5");
    let record = OwnerRecord {
        pid: std::process::id() as i64,
        port: 9400,
        token: Secret::new("tok-PLANTED-f0re1gn"),
        package_version: "3.2.5".into(),
        executable_path: "/nonexistent/bin/python3".into(),
        source_checkout_path: "/nonexistent/src".into(),
        server_url: "https://sync.example.test".into(),
        auth_principal: None,
        auth_team: None,
        auth_scope: None,
        queue_db_path: h.scoped_path().display().to_string(),
        started_at: "2026-11-20T08:00:00Z".into(),
    };
    owner::write(&h.home.owner_record(), &record).unwrap();
    std::os::unix::fs::chown(h.home.owner_record(), Some(12345), None).unwrap();
    let out = h
        .cmd("sk-doctor")
        .args(["--no-probe", "--json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let message = problem(&report, "owner_record_permissions")["message"].to_string();
    assert!(message.contains("uid 12345"), "{message}");
    assert!(
        !report.to_string().contains("tok-PLANTED"),
        "the token leaked"
    );
}
