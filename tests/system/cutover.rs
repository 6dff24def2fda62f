//! `sk-migrate run` on a 3.2.6+ home, against the real project-store releases
//! (issue 11's acceptance): a home 3.2.5 wrote (legacy and scoped rows sharing
//! local ids, `fixtures/releases/<newest>/cutover/home_before`), cut over with
//! each captured `project-store` release (`fixtures/releases/X/facts.json`; no
//! release is named here) installed at `${SK_VENV_ROOT:-/tmp}/sk-X`. The
//! harness in `tests/system/harness.rs` counts a trial without its venv as
//! ignored, or fails it under `SK_E2E=require`; every captured release runs
//! unless `SK_E2E_ROTATE=1` asks for the daily rotation (`e2e::selected`).
//! sk-doctor names the cutover; the dry run changes no byte; the run leaves a
//! complete manifest, every event in `journal_entries`, every body upload in
//! `body_upload_tasks`, none quarantined as `divergent_duplicate`; sk-doctor
//! then finds nothing pending.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use rusqlite::Connection;
use serde_json::Value;

use crate::harness::{self as e2e, Trial};

pub fn trials() -> Vec<Trial> {
    e2e::selected(
        e2e::captured()
            .into_iter()
            .filter(|c| c.generation() == "project-store"),
    )
    .into_iter()
    .map(|p| {
        e2e::planned_trial(
            format!(
                "cutover::{}::the_cutover_carries_every_row_with_none_quarantined_as_duplicates",
                p.captured.release
            ),
            &p,
            |venv| carries_every_row(&venv.join("bin/spec-kitty")),
        )
    })
    .collect()
}

/// `bin` (sk-migrate or sk-doctor) in a clean environment: `HOME` the
/// temp dir, `SPEC_KITTY_HOME` the home, `--spec-kitty` the release's.
pub fn tool_command(bin: &str, home: &Path, root: &Path, sk: &Path) -> Command {
    let exe = Path::new(env!("CARGO_BIN_EXE_sk-migrate")).with_file_name(bin);
    let mut cmd = Command::new(exe);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("SPEC_KITTY_HOME", root)
        .arg("--spec-kitty")
        .arg(sk);
    cmd
}

/// [`tool_command`] with `args`, run to its end (never a panic).
pub fn tool(bin: &str, home: &Path, root: &Path, sk: &Path, args: &[&str]) -> Output {
    let out = tool_command(bin, home, root, sk)
        .args(args)
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(101),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

/// Natural keys of the sources: event ids and body-upload keys.
pub fn source_keys(root: &Path) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut events = BTreeSet::new();
    let mut bodies = BTreeSet::new();
    let mut dbs = vec![root.join("queue.db")];
    for e in std::fs::read_dir(root.join("queues")).unwrap() {
        dbs.push(e.unwrap().path());
    }
    for db in dbs {
        let c = Connection::open(&db).unwrap();
        let mut st = c.prepare("SELECT event_id FROM queue").unwrap();
        events.extend(
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .flatten(),
        );
        let mut st = c
            .prepare("SELECT project_uuid||'|'||mission_slug||'|'||target_branch||'|'||mission_type||'|'||manifest_version||'|'||artifact_path||'|'||content_hash FROM body_upload_queue")
            .unwrap();
        bodies.extend(
            st.query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .flatten(),
        );
    }
    (events, bodies)
}

fn codes(doc: &Value) -> Vec<String> {
    e2e::codes_in(doc, "problems")
}

fn carries_every_row(sk: &Path) {
    let sk = sk.to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".spec-kitty");
    crate::shared::home_before_cutover(&root);
    let (events, bodies) = source_keys(&root);
    let sources_before: Vec<_> = ["queue.db"]
        .iter()
        .map(|n| std::fs::read(root.join(n)).unwrap())
        .collect();

    // sk-doctor names the pending cutover with every source, and exits 2.
    let out = tool(
        "sk-doctor",
        dir.path(),
        &root,
        &sk,
        &["--no-probe", "--json", "--check"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(codes(&json(&out)).contains(&"cutover_pending".to_string()));

    // The dry run changes no byte of the home.
    let before = crate::shared::tree_hash(&root);
    let out = tool(
        "sk-migrate",
        dir.path(),
        &root,
        &sk,
        &["run", "--dry-run", "--json"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dry = json(&out);
    assert_eq!(dry["status"], "dry_run");
    assert!(
        dry["quarantined"].get("divergent_duplicate").is_none(),
        "{dry:#}"
    );
    assert_eq!(
        crate::shared::tree_hash(&root),
        before,
        "the dry run wrote to the home"
    );

    // The run: a complete manifest, every row carried, none a duplicate.
    let backups = dir.path().join("backups");
    let out = tool(
        "sk-migrate",
        dir.path(),
        &root,
        &sk,
        &["run", "--json", "--backup", backups.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = json(&out);
    // --backup copied both sources first; each opens as the DB it copied.
    assert_eq!(run["backups"].as_array().unwrap().len(), 2, "{run:#}");
    for b in run["backups"].as_array().unwrap() {
        let c = Connection::open(b.as_str().unwrap()).unwrap();
        let n: i64 = c
            .query_row("SELECT count(*) FROM queue", [], |r| r.get(0))
            .unwrap();
        assert!(n > 0);
    }
    assert_eq!(run["status"], "migrated");
    assert_eq!(run["phase"], "complete");
    assert!(
        run["quarantined"].get("divergent_duplicate").is_none(),
        "{run:#}"
    );
    let (stored_events, stored_bodies) = e2e::store_keys(&root);
    let stored_bodies: BTreeSet<String> = stored_bodies.iter().map(|k| k.join("|")).collect();
    assert!(
        events.is_subset(&stored_events),
        "{:?}",
        events.difference(&stored_events).collect::<Vec<_>>()
    );
    assert!(
        bodies.is_subset(&stored_bodies),
        "{:?}",
        bodies.difference(&stored_bodies).collect::<Vec<_>>()
    );
    // The sources are only read.
    assert_eq!(
        std::fs::read(root.join("queue.db")).unwrap(),
        sources_before[0]
    );

    // Nothing pending afterwards; a rerun has nothing to do.
    let out = tool(
        "sk-doctor",
        dir.path(),
        &root,
        &sk,
        &["--no-probe", "--json", "--check"],
    );
    let doc = json(&out);
    assert!(
        !codes(&doc).contains(&"cutover_pending".to_string()),
        "{doc:#}"
    );
    // What is left is the release's own: its journal cannot read the event
    // JSON its cutover stored (its `sync status --check` exits 2, and
    // nothing clears that), so sk-doctor names it as an advisory, and
    // `--check` passes: nothing is left for the user to do (issue 28).
    assert!(codes(&doc).is_empty(), "{doc:#}");
    assert!(
        doc["advisories"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["code"] == "journal_undecodable"),
        "{doc:#}"
    );
    assert_eq!(out.status.code(), Some(0), "{doc:#}");
    let out = tool("sk-migrate", dir.path(), &root, &sk, &["run", "--json"]);
    assert_eq!(json(&out)["status"], "nothing_to_do");
}
