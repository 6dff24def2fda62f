//! sk-doctor on a 3.2.6+ home: a home 3.2.5 wrote (legacy and scoped rows),
//! taken over by 3.2.7 (fixtures/releases/3.2.7/cutover/home_before, written
//! by 3.2.5's own queue code). The legacy DBs are only cutover inputs there.

use std::path::Path;

use serde_json::Value;

fn doctor(root: &Path, args: &[&str]) -> (Value, i32) {
    let out = assert_cmd::Command::cargo_bin("sk-doctor")
        .unwrap()
        .env_clear()
        .env("HOME", root.parent().unwrap())
        .env("SPEC_KITTY_HOME", root)
        .args(["--release", "3.2.7", "--no-probe", "--json"])
        .args(args)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    assert_ne!(code, 101, "{}", String::from_utf8_lossy(&out.stderr));
    (serde_json::from_slice(&out.stdout).unwrap(), code)
}

#[test]
fn a_pending_cutover_is_named_with_every_source_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".spec-kitty");
    crate::common::home_before_cutover(&root);
    let before = crate::common::tree_hash(&root);
    let (json, code) = doctor(&root, &["--check"]);
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(json["release"]["generation"], "project-store");
    let codes: Vec<&str> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"cutover_pending"), "{codes:?}");
    // The legacy DBs are cutover inputs, not queues, for 3.2.7.
    assert!(!codes.contains(&"legacy_rows"), "{codes:?}");
    assert!(!codes.contains(&"stranded_setup_plan"), "{codes:?}");
    let pending = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["code"] == "cutover_pending")
        .unwrap();
    let said = pending["message"].as_str().unwrap();
    for src in json["project_stores"]["legacy_sources"].as_array().unwrap() {
        let path = src["path"].as_str().unwrap();
        assert!(said.contains(path), "{said}");
    }
    assert_eq!(pending["steps"][0]["by"], "sk-migrate", "{pending:#}");
    assert_eq!(pending["remediation"], "sk-migrate --release 3.2.7 run");
    assert_eq!(
        json["project_stores"]["legacy_sources"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(json["project_stores"]["layout_mode"], "legacy");
    assert_eq!(
        crate::common::tree_hash(&root),
        before,
        "sk-doctor wrote to the home"
    );
}

#[test]
fn sk_migrate_never_writes_queue_dbs_for_a_project_store_release() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".spec-kitty");
    crate::common::home_before_cutover(&root);
    let before = crate::common::tree_hash(&root);
    let out = assert_cmd::Command::cargo_bin("sk-migrate")
        .unwrap()
        .env_clear()
        .env("HOME", dir.path())
        .env("SPEC_KITTY_HOME", &root)
        .args(["--release", "3.2.7", "run"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("project-store-migrate"), "{err}");
    assert_eq!(crate::common::tree_hash(&root), before);
}

/// 3.2.7's gate: the checkout must name a project, and the machine's layout
/// must be `project_only`; the release's own reasons (fixtures/releases/3.2.7/gate.json).
#[test]
fn preflight_gates_on_the_checkouts_project_and_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".spec-kitty");
    std::fs::create_dir_all(&root).unwrap();
    let checkout = dir.path().join("repo");
    std::fs::create_dir_all(checkout.join(".kittify")).unwrap();
    let gate: Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases/3.2.7/gate.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let reason = |name: &str| -> String {
        gate["layout"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let preflight = |project: &Path| {
        doctor(
            &root,
            &["preflight", "--project", project.to_str().unwrap()],
        )
    };
    // No project identity in the checkout.
    let (json, code) = preflight(&checkout);
    assert_eq!(code, 2);
    assert_eq!(json["problems"][0]["code"], "project_unknown");
    assert_eq!(
        json["problems"][0]["message"],
        reason("no_project_identity")
    );
    // A project, layout legacy (no layout record).
    std::fs::write(
        checkout.join(".kittify/config.yaml"),
        "project:\n  uuid: 11111111-2222-4333-8444-555555555555\n",
    )
    .unwrap();
    let (json, code) = preflight(&checkout.join("."));
    assert_eq!(code, 2);
    assert_eq!(json["problems"][0]["code"], "cutover_pending");
    assert_eq!(json["problems"][0]["message"], reason("legacy_fresh_root"));
    // project_only: the gate lets it through.
    std::fs::create_dir_all(root.join("projects")).unwrap();
    std::fs::write(
        root.join("projects/.layout-generation.json"),
        r#"{"generation": 3, "migration_id": null, "mode": "project_only", "updated_at": "2026-01-01T00:00:00+00:00"}"#,
    )
    .unwrap();
    let (json, code) = preflight(&checkout);
    assert_eq!(code, 0, "{json:#}");
}
