//! Support both test binaries use: the integration tests (`tests/it`) and
//! the end-to-end harness (`tests/system`). Only what both use lives here; each
//! binary's own support is its `common` (`tests/it/common`) or `harness`
//! (`tests/system/harness.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};

/// Fail on a binary that panicked (exit 101, or "panicked at" on stderr).
pub fn no_panic(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() != Some(101) && !stderr.contains("panicked at"),
        "the binary panicked: {stderr}"
    );
}

/// SHA-256 of every file under `root`, by relative path: "byte-identical" checks.
pub fn tree_hash(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    out
}

/// The home 3.2.5 wrote that 3.2.7 then took over, as captured by
/// `scripts/release_fixtures/capture_store.py`
/// (`fixtures/releases/3.2.7/cutover/home_before`): `*.sql` dumps become
/// `*.db`, other files are copied.
pub fn home_before_cutover(dst: &Path) {
    let src =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases/3.2.7/cutover/home_before");
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(&src).unwrap();
            if p.is_dir() {
                std::fs::create_dir_all(dst.join(rel)).unwrap();
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "sql") {
                let db = dst.join(rel).with_extension("db");
                std::fs::create_dir_all(db.parent().unwrap()).unwrap();
                let conn = rusqlite::Connection::open(&db).unwrap();
                conn.execute_batch(&std::fs::read_to_string(&p).unwrap())
                    .unwrap();
            } else {
                std::fs::copy(&p, dst.join(rel)).unwrap();
            }
        }
    }
}
