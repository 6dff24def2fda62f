//! `sk-doctor explain`: a page for every code, from the binary; and
//! `docs/problems.md` is exactly those pages (`SK_UPDATE_DOCS=1 cargo test
//! --test it explain` rewrites it).

use std::path::Path;

use sk_boundary::doctor::explain;

fn doctor(args: &[&str]) -> std::process::Output {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("sk-doctor"))
        .env_clear()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_code_has_a_page_the_binary_prints() {
    for (code, _) in explain::codes() {
        let out = doctor(&["explain", code]);
        assert!(out.status.success(), "{code}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert_eq!(text.trim_end(), explain::page(code).unwrap().trim_end());
        assert!(!text.contains("docs/"), "{code} points into docs/: {text}");
    }
    let index = String::from_utf8(doctor(&["explain"]).stdout).unwrap();
    for (code, _) in explain::codes() {
        assert!(index.contains(code), "{code} not listed:\n{index}");
    }
    let out = doctor(&["explain", "no_such_code"]);
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}

#[test]
fn explain_json_carries_code_kind_and_page() {
    let out = doctor(&["explain", "journal_undecodable", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["codes"][0]["code"], "journal_undecodable");
    assert_eq!(v["codes"][0]["kind"], "advisory");
    assert!(
        v["codes"][0]["page"]
            .as_str()
            .unwrap()
            .contains("What it means")
    );
}

#[test]
fn problems_md_is_generated_from_the_pages() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/problems.md");
    let want = explain::document();
    if std::env::var_os("SK_UPDATE_DOCS").is_some_and(|v| !v.is_empty()) {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap();
    assert!(
        have == want,
        "docs/problems.md is not what the pages make: run `SK_UPDATE_DOCS=1 cargo test --test it explain` and commit it"
    );
}
