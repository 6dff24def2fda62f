//! The crate's shape stays within its limits (`docs/architecture.md`,
//! "Shape"): no file over 600 non-test lines, no fn over 80 lines, no import
//! cycle between modules, no import of the migrate side from sk-doctor's
//! code, no path of the home spelt outside `src/home.rs`. `scripts/shape`
//! measures; this fails when it does. Trials of the system binary:
//! `scripts/shape` is Python, so a machine without `python3` ignores them
//! with that reason (or fails them under `SK_E2E=require`).

use std::process::Command;

use crate::harness::{Need, Trial, machine_trial};

pub fn trials() -> Vec<Trial> {
    let cases: [(&str, fn()); 5] = [
        ("shape_is_within_limits", shape_is_within_limits),
        (
            "a_glob_import_outside_tests_fails_the_check",
            a_glob_import_outside_tests_fails_the_check,
        ),
        (
            "a_doctor_import_of_the_migrate_side_fails_the_check_even_in_tests",
            a_doctor_import_of_the_migrate_side_fails_the_check_even_in_tests,
        ),
        (
            "a_home_path_literal_outside_home_rs_fails_the_check",
            a_home_path_literal_outside_home_rs_fails_the_check,
        ),
        (
            "a_cycle_between_files_of_a_nested_folder_fails_the_check",
            a_cycle_between_files_of_a_nested_folder_fails_the_check,
        ),
    ];
    cases
        .into_iter()
        .map(|(name, case)| {
            machine_trial(format!("shape::{name}"), &[Need::Command("python3")], case)
        })
        .collect()
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

fn a_doctor_import_of_the_migrate_side_fails_the_check_even_in_tests() {
    let files = [
        (
            "lib.rs",
            "pub mod doctor;\npub mod migrate;\npub mod survey;\n",
        ),
        ("migrate/mod.rs", "pub fn run() {}\n"),
        ("survey/mod.rs", "pub fn gather() {}\n"),
        ("doctor/mod.rs", "pub mod report;\n"),
        (
            "doctor/report/mod.rs",
            "use crate::survey::gather;\npub fn f() { gather() }\n\
             #[cfg(test)]\nmod tests {\n    use super::super::super::migrate::run;\n}\n",
        ),
    ];
    let (ok, text) = shape_of(&files);
    assert!(!ok, "{text}");
    assert!(text.contains("forbidden imports: 1"), "{text}");
    assert!(
        text.contains("doctor/report/mod.rs:5 crate::migrate::run"),
        "{text}"
    );

    // The survey both stand on is no such import.
    let files = [
        files[0],
        files[1],
        files[2],
        files[3],
        (
            "doctor/report/mod.rs",
            "use crate::survey::gather;\npub fn f() { gather() }\n",
        ),
    ];
    let (ok, text) = shape_of(&files);
    assert!(ok, "{text}");
    assert!(text.contains("forbidden imports: 0"), "{text}");
}

fn a_home_path_literal_outside_home_rs_fails_the_check() {
    let home = "pub struct Home { root: std::path::PathBuf }\n\
                impl Home {\n\
                    pub fn projects_dir(&self) -> std::path::PathBuf { self.root.join(\"projects\") }\n\
                    pub fn layout(&self) -> std::path::PathBuf { self.projects_dir().join(\".layout-generation.json\") }\n\
                }\n\
                pub const LEGACY_QUEUE_FILE: &str = \"queue.db\";\n\
                #[cfg(test)]\nmod tests {\n    fn t() { let _ = std::path::Path::new(\"/r\").join(\"sync\"); }\n}\n";
    let files = [
        ("lib.rs", "pub mod home;\npub mod stores;\n"),
        ("home.rs", home),
        (
            "stores.rs",
            "use std::path::Path;\n\
             pub fn a(r: &Path) -> std::path::PathBuf { r.join(\"projects/.layout-generation.json\") }\n\
             pub fn b(r: &Path) -> std::path::PathBuf { r.join(\"projects\") }\n\
             pub fn c(r: &Path) -> bool { r.ends_with(\"queue.db\") }\n\
             pub fn d() -> &'static str { \"sync\" }\n\
             #[cfg(test)]\nmod tests {\n    fn t(r: &std::path::Path) { let _ = r.join(\"projects\"); }\n}\n",
        ),
    ];
    let (ok, text) = shape_of(&files);
    assert!(!ok, "{text}");
    // A path under a home name, and a home name joined; not a name used as
    // a word (`sync`, a name only home.rs's tests join), nor test code.
    assert!(
        text.contains("home path literals outside home.rs: 2"),
        "{text}"
    );
    assert!(
        text.contains("stores.rs:2 \"projects/.layout-generation.json\""),
        "{text}"
    );
    assert!(text.contains("stores.rs:3 \"projects\""), "{text}");
}
