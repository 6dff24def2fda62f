//! 3.2.6+ project stores: rows waiting for the cutover, a home with none
//! whose layout is still `legacy`, rows that arrive after the cutover, a
//! preflight outside a checkout; then the verdict on a quiet home after
//! `sk-migrate run`, and the release facts that make `journal_undecodable`
//! an advisory.

use std::path::Path;

use serde_json::Value;

use super::{Case, PROJECT, clears, codes, no_user_step, ok, on};
use crate::harness::{self as e2e, Trial};

pub fn trials() -> Vec<Trial> {
    let mut t = vec![
        on("3.2.7", "cutover_pending", cutover_pending),
        on("3.2.7", "cutover_pending_with_no_legacy_rows", greenfield),
        on("3.2.7", "late_legacy_rows", late_legacy_rows),
        on("3.2.7", "project_unknown", project_unknown),
    ];
    let planned = e2e::selected(
        e2e::captured()
            .into_iter()
            .filter(|c| c.generation() == "project-store"),
    );
    for p in &planned {
        let r = &p.captured.release;
        t.push(e2e::planned_trial(
            format!(
                "fixes_clear::{r}::a_quiet_home_after_sk_migrate_run_passes_check_and_preflight"
            ),
            p,
            quiet_home,
        ));
        t.push(e2e::planned_trial(
            format!("fixes_clear::{r}::journal_undecodable_no_release_command_clears_it"),
            p,
            nothing_clears_the_journal,
        ));
    }
    t
}

/// The loopback fake of the hosted side, logging in the case's temp dir.
pub struct Fake;

impl Fake {
    pub fn start(c: &Case) -> crate::cutover_delivery::Fake {
        crate::cutover_delivery::Fake::start(&c.venv.join("bin/python"), c.home.parent().unwrap())
    }
}

fn cutover_pending(venv: &Path) {
    let mut c = Case::new(venv);
    c.write_legacy(3, 2, 0);
    clears(&mut c, "cutover_pending", &[], &mut no_user_step);
}

/// The release's own verdict: `run_preflight` in the checkout.
fn release_preflight(c: &Case) -> String {
    c.python(
        &c.venv,
        "from pathlib import Path\nfrom specify_cli.sync.preflight import run_preflight\n\
         r = run_preflight(repo_root=Path('.'), require_auth=False)\n\
         print(r.ok, r.project_store_diagnostic)\n",
        &[],
    )
}

/// A fresh home in a checkout: no legacy rows, layout `legacy`; the
/// release's gate refuses until its first live write. The fix's
/// `sk-migrate run` switches the layout through the release's own code,
/// and the release's own preflight then agrees.
fn greenfield(venv: &Path) {
    let mut c = Case::new(venv);
    c.cwd = c.checkout();
    assert!(release_preflight(&c).starts_with("False layout is legacy"));
    clears(&mut c, "cutover_pending", &["preflight"], &mut no_user_step);
    assert_eq!(release_preflight(&c).trim(), "True None");
}

/// Cut over by `sk-migrate run`; then 3.2.5 (still installed somewhere)
/// writes one more row to `queue.db`.
fn late_legacy_rows(venv: &Path) {
    let mut c = Case::new(venv);
    c.write_legacy(2, 1, 0);
    c.sk_migrate_run();
    c.write_legacy(1, 0, 100);
    clears(&mut c, "late_legacy_rows", &[], &mut |_, what| {
        // The writer was the trial's own 3.2.5 process, which has exited.
        assert!(what.starts_with("stop or upgrade"), "{what}");
    });
}

/// `preflight` run from the home, not from the checkout.
fn project_unknown(venv: &Path) {
    let mut c = Case::new(venv);
    let checkout = c.checkout();
    clears(&mut c, "project_unknown", &["preflight"], &mut |c, what| {
        assert!(
            what.contains("from your spec-kitty project checkout"),
            "{what}"
        );
        c.cwd = checkout.clone();
    });
}

fn advisory_codes(doc: &Value) -> Vec<String> {
    e2e::codes_in(doc, "advisories")
}

/// A quiet 3.2.5 home (rows queued, nothing running) under a 3.2.6+
/// release: after `sk-migrate run` nothing is left for the user to do, so
/// `sk-doctor --check` and `sk-doctor preflight` (in the checkout) pass, as
/// the release's own preflight does; what the release cannot read itself
/// is an advisory (its `sync status --check` exits 2).
fn quiet_home(venv: &Path) {
    let mut c = Case::new(venv);
    c.write_legacy(4, 2, 0);
    c.cwd = c.checkout();
    c.sk_migrate_run();
    let check = c
        .cmd(env!("CARGO_BIN_EXE_sk-doctor"))
        .arg("--spec-kitty")
        .arg(venv.join("bin/spec-kitty"))
        .args(["--no-probe", "--check"])
        .output()
        .unwrap();
    ok(&check, "sk-doctor --check");
    let doc = c.doctor(&[]);
    assert!(codes(&doc).is_empty(), "{doc:#}");
    let advisories = advisory_codes(&doc);
    assert!(
        advisories.contains(&"journal_undecodable".into()),
        "{doc:#}"
    );
    assert!(advisories.contains(&"sealed_history".into()), "{doc:#}");
    let preflight = c.doctor(&["preflight"]);
    assert_eq!(preflight["ok"], true, "{preflight:#}");
    assert_eq!(release_preflight(&c).trim(), "True None");
    let status = c
        .cmd(venv.join("bin/spec-kitty"))
        .args(["sync", "status", "--check", "--json"])
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(2), "{status:?}");
}

/// After the release's own cutover, every command the release offers that
/// could rewrite or remove the journal's rows fails on the same decoding
/// (3.2.6-3.2.7: `sync archive`, `gc`, `purge`), and its status with it:
/// the release's defect, so an advisory with no fix. (Delivering the
/// sealed history leaves it too: `cutover_delivery.rs`.)
fn nothing_clears_the_journal(venv: &Path) {
    let mut c = Case::new(venv);
    c.write_legacy(3, 0, 0);
    c.cwd = c.checkout();
    let cut = e2e::cutover(
        c.cmd(venv.join("bin/spec-kitty")),
        &c.root.join("queue.db"),
        "fixes-1",
    );
    ok(&cut, "the release's cutover");
    let store = c.root.join("projects").join(PROJECT).join("sync/sync.db");
    let rows = |db: &Path| -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(db).unwrap();
        let mut st = conn
            .prepare("SELECT entry_id, payload_json FROM journal_entries ORDER BY entry_id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let before = rows(&store);
    assert_eq!(before.len(), 3);
    for args in [
        vec!["sync", "archive"],
        vec!["sync", "gc"],
        vec!["sync", "purge", "--project", PROJECT],
        vec!["sync", "purge", "--project", PROJECT, "--apply"],
        vec!["sync", "status", "--check", "--json"],
    ] {
        let out = c
            .cmd(venv.join("bin/spec-kitty"))
            .args(&args)
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!out.status.success(), "{args:?} succeeded: {said}");
        assert!(
            said.contains("unsupported encoding") || said.contains("census is unreadable"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(
        rows(&store),
        before,
        "a release command changed the journal"
    );
    let doc = c.doctor(&[]);
    assert!(advisory_codes(&doc).contains(&"journal_undecodable".into()));
    assert!(!codes(&doc).contains(&"journal_undecodable".into()));
}
