//! A 3.2.6+ home with no legacy rows whose layout is still `legacy`: the
//! release's gate refuses hosted work ("layout is legacy; run `spec-kitty
//! sync project-store-migrate`"), a command that needs a source there is
//! none of, and only the release's first live write would switch it. So
//! `sk-migrate run` switches it, through the release's own layout authority
//! (`scripts/greenfield_layout.py`, in its interpreter), exactly as that
//! first write does (`resolve_layout_for_write` → `_publish_greenfield`;
//! 3.2.6–3.2.7), with the release's escape hatch set so that it never runs
//! its automatic cutover instead.

use std::path::Path;
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::home::Home;

/// The script, run by the release's interpreter.
const SCRIPT: &str = include_str!("../../../scripts/greenfield_layout.py");

/// What the release's authority answered.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Greenfield {
    pub before: String,
    pub after: String,
    pub legacy_data: bool,
}

/// The project the layout authority is asked through (the record is the
/// machine's): a store's, else the checkout's of the current directory.
pub(super) fn project(facts: &crate::survey::stores::StoreFacts) -> Option<String> {
    facts
        .stores
        .first()
        .map(|s| s.project_uuid.clone())
        .or_else(|| {
            let dir = std::env::current_dir().ok()?;
            let env_root = std::env::var_os("SPECIFY_REPO_ROOT")
                .filter(|v| !v.is_empty())
                .map(std::path::PathBuf::from);
            crate::survey::stores::checkout_project(&dir, env_root.as_deref())
        })
}

/// Publish `project_only` on `home` through the release's own authority,
/// asked as `project`'s.
pub(super) fn publish(home: &Home, python: &Path, project: &str) -> Result<Greenfield, Error> {
    let entry = |detail: String| Error::EntryPoint {
        path: python.to_path_buf(),
        detail,
    };
    let out = Command::new(python)
        .args(["-I", "-c", SCRIPT, project])
        .env("SPEC_KITTY_HOME", home.root())
        .env("SPEC_KITTY_NO_AUTO_CUTOVER", "1")
        .output()
        .map_err(|e| entry(format!("cannot run the release's interpreter: {e}")))?;
    if !out.status.success() {
        return Err(entry(format!(
            "the release's layout authority exited with {} (nothing else was changed): {}",
            out.status,
            super::tail_of(&String::from_utf8_lossy(&out.stderr))
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| {
        entry(format!(
            "the layout authority's answer is not its JSON ({e})"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_asks_the_release_and_never_cuts_over() {
        assert!(SCRIPT.contains("resolve_layout_for_write()"));
        assert!(SCRIPT.contains("if before == \"legacy\" and not legacy_data:"));
        for w in ["INSERT", "UPDATE", "DELETE", "sqlite3"] {
            assert!(!SCRIPT.contains(w), "{w}");
        }
    }
}
