//! Every repository path the README and `docs/*.md` name exists: a
//! backticked path under a top-level directory (`src/migrate/journal.rs`,
//! `tests/it/crash.rs`, `scripts/demo.sh`, …), a backticked module path
//! (`migrate/merge/plan.rs`, relative to `src/`), and every relative link.
//! A file that moves without its docs following fails here.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The documents whose paths are checked.
fn documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md"), root().join("CHANGELOG.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

/// The `code spans` of a Markdown text (single backticks, fenced blocks
/// skipped).
fn code_spans(text: &str) -> Vec<String> {
    let mut spans = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut parts = line.split('`');
        parts.next();
        while let (Some(inside), Some(_)) = (parts.next(), parts.next()) {
            spans.push(inside.to_string());
        }
    }
    spans
}

/// The targets of `[text](target)` links that point into the repository.
fn link_targets(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(i, _)| {
            let rest = &text[i + 2..];
            let end = rest.find(')')?;
            let target = rest[..end].split('#').next()?.trim();
            (!target.is_empty() && !target.contains("://") && !target.starts_with("mailto:"))
                .then(|| target.to_string())
        })
        .collect()
}

const TOP_LEVEL: &[&str] = &[
    "src/",
    "tests/",
    "scripts/",
    "docs/",
    "fixtures/",
    "benches/",
    "examples/",
    "migrations/",
    "man/",
    "wheel/",
    ".ci/",
];

/// A literal path (no placeholder, glob or variable in it).
fn literal(s: &str) -> bool {
    !s.contains(['<', '*', '{', '$', ' ', '|'])
}

/// Every file under `dir`, recursively.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[test]
fn every_path_the_docs_name_exists() {
    let mut sources = Vec::new();
    walk(&root().join("src"), &mut sources);
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        let name = doc.strip_prefix(root()).unwrap().display().to_string();
        for span in code_spans(&text).iter().filter(|s| literal(s)) {
            let span = span.trim_end_matches([',', '.', ':']);
            if TOP_LEVEL.iter().any(|t| span.starts_with(t)) {
                checked += 1;
                if !root().join(span).exists() {
                    missing.push(format!("{name}: `{span}`"));
                }
            } else if span.ends_with(".rs") && span.contains('/') {
                // A module path: relative to src/, at any depth.
                checked += 1;
                let suffix = format!("/{span}");
                if !sources
                    .iter()
                    .any(|p| p.to_string_lossy().ends_with(&suffix))
                {
                    missing.push(format!("{name}: `{span}` (under src/)"));
                }
            }
        }
        for target in link_targets(&text).iter().filter(|s| literal(s)) {
            checked += 1;
            let base = doc.parent().unwrap();
            if !base.join(target).exists() {
                missing.push(format!("{name}: link ({target})"));
            }
        }
    }
    assert!(
        checked > 20,
        "only {checked} paths found: is the scan broken?"
    );
    assert!(missing.is_empty(), "stale paths: {missing:#?}");
}

#[test]
fn the_scan_finds_spans_and_links() {
    let text =
        "see `src/a.rs` and `b`, [x](docs/c.md#y) and [w](https://e.x)\n```\n`src/no.rs`\n```\n";
    assert_eq!(code_spans(text), ["src/a.rs", "b"]);
    assert_eq!(link_targets(text), ["docs/c.md"]);
    assert!(!literal("migrations/V<n>__<name>.sql"));
}

#[test]
fn no_empty_file_is_tracked_at_the_root() {
    // A stray empty file (once `B`) is an accident, not content.
    for entry in std::fs::read_dir(root()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let len = std::fs::metadata(&path).unwrap().len();
            assert!(len > 0, "empty file at the root: {}", path.display());
        }
    }
}
