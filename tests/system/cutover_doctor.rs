//! sk-doctor after a 3.2.6+ cutover (issue 18 items 2 and 3), driving the
//! real releases: a home written by 3.2.5's own queue code
//! (`tests/py/cutdoc_home.py`), cut over by each project-store release's own
//! `spec-kitty sync project-store-migrate`. Then
//! * sk-doctor reports no `cutover_pending` and no `late_legacy_rows`, names
//!   the sealed history with the release's `project-store-history` commands,
//!   and names `journal_undecodable` as an advisory (the release's defect:
//!   not a problem, `--check` passes) quoting what the release's own
//!   `sync status --check --json` says (which exits 2, and leaves the
//!   store's -wal/-shm behind: why sk-doctor does not run it);
//! * a copy of the finished home at another path is not pending either;
//! * one row 3.2.5 then writes to `queue.db` is `late_legacy_rows` counting
//!   that row only, never `cutover_pending`.
//!
//! Releases walked: the captured ones of generation `project-store`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{self as e2e, Trial};
use serde_json::Value;

const PROJECT: &str = "c0d0c0d0-1111-4222-8333-0000000000c7";

fn env_cmd(exe: &Path, home: &Path) -> Command {
    let mut c = Command::new(exe);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("SPEC_KITTY_HOME", home.join(".spec-kitty"))
        .env("NO_COLOR", "1")
        .current_dir(home);
    c
}

/// 3.2.5's own queue code appends rows to `queue.db`.
fn write_legacy(home: &Path, events: u32, bodies: u32, start: u32) {
    let v = e2e::venv("3.2.5").expect(
        "the 3.2.5 venv writes the legacy home (scripts/release-fixtures --venvs-only 3.2.5)",
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/cutdoc_home.py");
    std::fs::create_dir_all(home).unwrap();
    let out = env_cmd(&v.join("bin/python"), home)
        .arg(script)
        .arg("--root")
        .arg(home.join(".spec-kitty"))
        .args(["--events", &events.to_string()])
        .args(["--bodies", &bodies.to_string()])
        .args(["--start", &start.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn doctor(home: &Path, venv: &Path) -> Value {
    let exe = Path::new(env!("CARGO_BIN_EXE_sk-doctor"));
    let out = env_cmd(exe, home)
        .arg("--spec-kitty")
        .arg(venv.join("bin/spec-kitty"))
        .args(["--no-probe", "--json"])
        .output()
        .unwrap();
    crate::shared::no_panic(&out);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn codes(doc: &Value) -> Vec<String> {
    e2e::codes_in(doc, "problems")
}

fn problem<'a>(doc: &'a Value, code: &str) -> &'a Value {
    e2e::entry(doc, "problems", code)
}

fn advisory<'a>(doc: &'a Value, code: &str) -> &'a Value {
    e2e::entry(doc, "advisories", code)
}

fn after_a_cutover(venv: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    let root = home.join(".spec-kitty");
    write_legacy(&home, 4, 2, 0);
    let queue = root.join("queue.db");
    let out = e2e::cutover(
        env_cmd(&venv.join("bin/spec-kitty"), &home),
        &queue,
        "cutdoc-1",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Carried: neither pending nor late; the sealed history named.
    let doc = doctor(&home, venv);
    let c = codes(&doc);
    assert!(!c.contains(&"cutover_pending".into()), "{doc:#}");
    assert!(!c.contains(&"late_legacy_rows".into()), "{doc:#}");
    let src = &doc["project_stores"]["legacy_sources"][0];
    assert_eq!(
        (src["carried"].as_u64(), src["late"].as_u64()),
        (Some(6), Some(0))
    );
    let store = &doc["project_stores"]["stores"][0];
    assert_eq!(store["project_uuid"], PROJECT);
    assert_eq!(store["sealed_history"], 4, "{doc:#}");
    let sealed = e2e::sealed_history_warnings(&doc);
    assert_eq!(sealed.len(), 1, "{doc:#}");
    let listing = &advisory(&doc, "sealed_history")["steps"][0]["argv"];
    assert_eq!(
        listing.as_array().unwrap()[1..],
        ["sync", "project-store-history", "--json"]
    );

    // The release's own status, read-only (no byte of the home changes),
    // fails as sk-doctor says it does.
    let checkout = home.join("repo");
    std::fs::create_dir_all(checkout.join(".kittify")).unwrap();
    std::fs::write(
        checkout.join(".kittify/config.yaml"),
        format!("project:\n  uuid: {PROJECT}\n  slug: cutdoc\n"),
    )
    .unwrap();
    let before = crate::shared::tree_hash(&root);
    let st = env_cmd(&venv.join("bin/spec-kitty"), &home)
        .current_dir(&checkout)
        .args(["sync", "status", "--check", "--json"])
        .output()
        .unwrap();
    // Measured: it leaves the store's -wal/-shm behind (opening it in WAL
    // mode), and changes no other byte: sk-doctor therefore never runs it,
    // and applies the release's decoding rule itself.
    let after = crate::shared::tree_hash(&root);
    let changed: Vec<&String> = after
        .keys()
        .chain(before.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(
        changed
            .iter()
            .all(|k| k.ends_with("sync.db-wal") || k.ends_with("sync.db-shm")),
        "the release's status changed {changed:?}"
    );
    assert_eq!(
        st.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&st.stdout)
    );
    let status: Value = serde_json::from_slice(&st.stdout).unwrap();
    let said = status["project_store_diagnostic"].as_str().unwrap();
    assert_eq!(said, sk_boundary::doctor::report::STATUS_FAILURE);
    let undecodable = advisory(&doc, "journal_undecodable");
    assert!(
        undecodable["message"].as_str().unwrap().contains(said),
        "{doc:#}"
    );
    assert!(!codes(&doc).contains(&"journal_undecodable".into()));

    // A copy of the finished home elsewhere is not pending.
    let copy = dir.path().join("copy");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&home)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());
    let doc = doctor(&copy, venv);
    let c = codes(&doc);
    assert!(!c.contains(&"cutover_pending".into()), "{doc:#}");
    assert!(!c.contains(&"late_legacy_rows".into()), "{doc:#}");

    // One row 3.2.5 writes afterwards is late, and only it counts.
    write_legacy(&home, 1, 0, 100);
    let doc = doctor(&home, venv);
    let c = codes(&doc);
    assert!(!c.contains(&"cutover_pending".into()), "{doc:#}");
    let late = problem(&doc, "late_legacy_rows");
    let msg = late["message"].as_str().unwrap();
    assert!(msg.starts_with("1 row reached"), "{msg}");
    assert!(
        msg.contains(&format!("{} (1 event, 0 body uploads)", queue.display())),
        "{msg}"
    );
    let last = late["steps"].as_array().unwrap().last().unwrap();
    assert_eq!(last["by"], "sk-migrate", "{late:#}");
    assert_eq!(last["argv"].as_array().unwrap().last().unwrap(), "run");
}

pub fn trials() -> Vec<Trial> {
    e2e::captured()
        .into_iter()
        .filter(|c| c.generation() == "project-store")
        .map(|c| {
            e2e::release_trial(
                format!(
                    "cutover_doctor::{}::sk_doctor_explains_the_cutover",
                    c.release
                ),
                &c.release,
                |v: &Path| after_a_cutover(&PathBuf::from(v)),
            )
        })
        .collect()
}
