//! Who still writes a legacy queue DB: the processes holding one open,
//! found from the process table ([`crate::process::holders`]; read only,
//! nothing is signalled). For
//! `sk-migrate run` (named in its output with the remedy) and sk-doctor.
//!
//! On a 3.2.6+ home a legacy DB is only cutover input, so a process with
//! one open is an older CLI or daemon (a second checkout on 3.2.5, a stale
//! daemon, a CI job): its rows arrive late. Its release is read from the
//! venv of its executable (`<venv>/bin/python` →
//! `<venv>/lib/python*/site-packages/spec_kitty_cli-<X>.dist-info`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::home::Home;
use crate::seen::Seen;

/// A process holding a legacy queue DB of the home open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegacyWriter {
    pub pid: u32,
    /// Its executable, when the kernel tells it.
    pub executable: Option<String>,
    /// Its command line, arguments joined by spaces.
    pub command: String,
    /// The spec-kitty release of its venv, when one is found.
    pub release: Option<String>,
    /// The legacy files it holds open.
    pub paths: Vec<String>,
}

impl LegacyWriter {
    /// The process, for people: `process 4242 (/venv/bin/python, spec-kitty 3.2.5)`.
    pub fn name(&self) -> String {
        format!(
            "process {} ({}{})",
            self.pid,
            self.executable.as_deref().unwrap_or("executable unknown"),
            self.release
                .as_deref()
                .map_or_else(String::new, |r| format!(", spec-kitty {r}"))
        )
    }

    /// What to do about it, for people.
    pub fn remedy(&self) -> String {
        format!(
            "{} still writes {}: upgrade it to the installed release or stop it, then run `sk-migrate run` again to carry what it wrote",
            self.name(),
            self.paths.join(", ")
        )
    }
}

/// Is `link` (an fd target) one of `sources` or its `-wal`/`-shm` (pure)?
pub(super) fn holds(link: &Path, sources: &[PathBuf]) -> bool {
    let text = link.to_string_lossy();
    let base = text
        .strip_suffix("-wal")
        .or_else(|| text.strip_suffix("-shm"))
        .or_else(|| text.strip_suffix("-journal"))
        .unwrap_or(&text);
    sources.iter().any(|s| s.as_os_str() == base)
}

/// The spec-kitty release of the venv an executable lives in.
pub(super) fn release_of(executable: &Path) -> Option<String> {
    let venv = executable.parent()?.parent()?;
    for lib in std::fs::read_dir(venv.join("lib")).ok()?.flatten() {
        let site = lib.path().join("site-packages");
        for e in std::fs::read_dir(site).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(v) = name
                .strip_prefix("spec_kitty_cli-")
                .and_then(|n| n.strip_suffix(".dist-info"))
            {
                return Some(v.to_string());
            }
        }
    }
    None
}

/// The processes (other than this one) holding a legacy DB of `home` open
/// (the process table: [`crate::process::holders`]).
pub fn legacy_writers(home: &Home) -> Seen<Vec<LegacyWriter>> {
    let sources: Vec<PathBuf> = crate::survey::stores::discover_sources(home)
        .into_iter()
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
        .collect();
    if sources.is_empty() {
        return Seen::Known(Vec::new());
    }
    crate::process::holders(&|link: &Path| holds(link, &sources)).map(|found| {
        found
            .into_iter()
            .map(|h| LegacyWriter {
                pid: h.pid,
                release: h.executable.as_deref().and_then(release_of),
                executable: h.executable.map(|e| e.display().to_string()),
                command: h.command,
                paths: h.paths.iter().map(|p| p.display().to_string()).collect(),
            })
            .collect()
    })
}

/// Who holds each of `sources` open, for people: source path → the
/// processes ([`LegacyWriter::name`]), for the fix of `late_legacy_rows`.
pub fn by_source(writers: &[LegacyWriter], sources: &[PathBuf]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if writers.is_empty() {
        return out;
    }
    for source in sources {
        let real = std::fs::canonicalize(source).unwrap_or_else(|_| source.clone());
        let names: Vec<String> = writers
            .iter()
            .filter(|w| w.paths.iter().any(|p| Path::new(p) == real))
            .map(LegacyWriter::name)
            .collect();
        if !names.is_empty() {
            out.insert(source.display().to_string(), names.join(", "));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::test_support::while_held_open;

    #[test]
    fn a_source_its_wal_and_shm_are_held_and_nothing_else() {
        let s = vec![
            PathBuf::from("/h/queue.db"),
            PathBuf::from("/h/queues/queue-ab.db"),
        ];
        assert!(holds(Path::new("/h/queue.db"), &s));
        assert!(holds(Path::new("/h/queue.db-wal"), &s));
        assert!(holds(Path::new("/h/queues/queue-ab.db-shm"), &s));
        assert!(!holds(Path::new("/h/queue.db.bak"), &s));
        assert!(!holds(Path::new("/h/projects/p/sync/sync.db"), &s));
    }

    #[test]
    fn the_release_comes_from_the_venv_of_the_executable() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("spec_kitty_cli-3.2.5.dist-info")).unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        assert_eq!(
            release_of(&dir.path().join("bin/python3.11")).as_deref(),
            Some("3.2.5")
        );
        assert_eq!(release_of(Path::new("/nonexistent/bin/python")), None);
    }

    #[test]
    fn a_process_holding_the_legacy_db_open_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::write(home.legacy_queue(), "").unwrap();
        let (pid, found) = while_held_open(&home.legacy_queue(), || legacy_writers(&home));
        let found = found.known().cloned().unwrap_or_default();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, pid);
        assert!(
            found[0].remedy().contains("upgrade it"),
            "{}",
            found[0].remedy()
        );
    }

    #[test]
    fn the_process_holding_a_legacy_source_open_is_named_for_that_source() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::write(home.legacy_queue(), "").unwrap();
        let sources = [home.legacy_queue()];
        let look = || {
            let found = legacy_writers(&home).known().cloned().unwrap_or_default();
            by_source(&found, &sources)
        };
        assert!(look().is_empty());
        let (pid, found) = while_held_open(&home.legacy_queue(), look);
        let name = found
            .get(&home.legacy_queue().display().to_string())
            .cloned()
            .unwrap_or_default();
        assert!(name.contains(&format!("process {pid}")), "{found:?}");
    }
}
