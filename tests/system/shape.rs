//! The crate's shape stays within its limits (`docs/architecture.md`,
//! "Shape"): no file over 600 non-test lines, no fn over 80 lines, no import
//! cycle between modules. `scripts/shape` measures; this fails when it does.
//! Trials of the system binary: `scripts/shape` is Python, so a machine
//! without `python3` ignores them with that reason (or fails them under
//! `SK_E2E=require`).

use std::process::Command;

use crate::harness::{Need, Trial, machine_trial};

pub fn trials() -> Vec<Trial> {
    vec![
        machine_trial(
            "shape::shape_is_within_limits",
            &[Need::Command("python3")],
            shape_is_within_limits,
        ),
        machine_trial(
            "shape::a_glob_import_outside_tests_fails_the_check",
            &[Need::Command("python3")],
            a_glob_import_outside_tests_fails_the_check,
        ),
        machine_trial(
            "shape::a_cycle_between_files_of_a_nested_folder_fails_the_check",
            &[Need::Command("python3")],
            a_cycle_between_files_of_a_nested_folder_fails_the_check,
        ),
    ]
}

fn shape_is_within_limits() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/scripts/shape"))
        .arg("--check")
        .arg(format!("{root}/src"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "scripts/shape --check failed:\n{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("module cycles: 0"), "{text}");
}

/// Writes `files` (path under src, text) into a temp `src/` and runs
/// `scripts/shape --check` on it: (exit success, stdout).
fn shape_of(files: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in files {
        let p = dir.path().join("src").join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("python3")
        .arg(format!("{root}/scripts/shape"))
        .arg("--check")
        .arg(dir.path().join("src"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn a_glob_import_outside_tests_fails_the_check() {
    let files = [
        ("lib.rs", "pub mod a;\n"),
        ("a/mod.rs", "mod b;\npub use b::*;\n"),
        (
            "a/b.rs",
            "pub fn f() {}\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        ),
    ];
    let (ok, text) = shape_of(&files);
    assert!(!ok, "{text}");
    assert!(text.contains("glob imports: 1"), "{text}");
    assert!(text.contains("a/mod.rs:2 pub use b::*;"), "{text}");

    // Named, it passes; the test module's `use super::*` is allowed.
    let files = [files[0], ("a/mod.rs", "mod b;\npub use b::f;\n"), files[2]];
    let (ok, text) = shape_of(&files);
    assert!(ok, "{text}");
    assert!(text.contains("glob imports: 0"), "{text}");
}

fn a_cycle_between_files_of_a_nested_folder_fails_the_check() {
    let files = [
        ("lib.rs", "pub mod a;\n"),
        ("a/mod.rs", "mod m;\n"),
        ("a/m/mod.rs", "mod x;\nmod y;\n"),
        ("a/m/x.rs", "use super::y::g;\npub fn f() { g() }\n"),
        (
            "a/m/y.rs",
            "use crate::a::m::{x::{f}};\npub fn g() {}\nfn h() { f() }\n",
        ),
    ];
    let (ok, text) = shape_of(&files);
    assert!(!ok, "{text}");
    assert!(text.contains("a/m/: x <-> y"), "{text}");
}
