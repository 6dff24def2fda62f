//! The dry run's scratch copy of the home: a private (0700) directory inside
//! the home (`<root>/sk-migrate-cutover/.dry-run-<pid>`), never in `$TMPDIR`.
//! It holds copies of `auth/`, `credentials` and a snapshot, so it must not
//! leave the home: it is removed when the run ends however it returns
//! (`Drop`), and what a killed run left is swept by the next run, which
//! holds the home's run lock (so no live run owns what it sweeps).

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::home::Home;

const PREFIX: &str = ".dry-run-";

/// A scratch directory removed when dropped.
#[derive(Debug)]
pub(super) struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Create this process's scratch directory (0700) inside `home`.
    pub(super) fn create(home: &Home) -> Result<Scratch, Error> {
        let parent = home.cutover_work_dir();
        crate::fsutil::create_private_dir_all(&parent)?;
        let dir = parent.join(format!("{PREFIX}{}", std::process::id()));
        remove_tree(&dir)?;
        crate::fsutil::create_private_dir_all(&dir)?;
        Ok(Scratch { dir })
    }

    pub(super) fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort on the way out; the next run sweeps what is left.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn remove_tree(dir: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(dir, e)),
    }
}

/// Is `name` a leftover of a killed run: a dry-run scratch directory or a
/// snapshot being built (pure)?
pub(super) fn is_leftover(name: &str) -> bool {
    name.starts_with(PREFIX) || (name.starts_with('.') && name.ends_with(".building"))
}

/// Remove what killed runs left under the work root. Call with the home's
/// run lock held.
pub(super) fn sweep(home: &Home) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    let root = home.cutover_work_dir();
    for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let is_dir = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir());
        if is_dir && is_leftover(&name) {
            remove_tree(&path)?;
            removed.push(path);
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn leftovers_are_dry_run_and_building_dirs_only() {
        assert!(is_leftover(".dry-run-42"));
        assert!(is_leftover(".sk-migrate-0123.building"));
        assert!(!is_leftover("sk-migrate-0123"));
        assert!(!is_leftover("late"));
    }

    #[test]
    fn the_scratch_is_private_inside_the_home_and_gone_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let s = Scratch::create(&home).unwrap();
        let p = s.path().to_path_buf();
        assert!(p.starts_with(home.root()));
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::write(p.join("credentials"), "x").unwrap();
        drop(s);
        assert!(!p.exists());
    }

    #[test]
    fn the_next_run_sweeps_what_a_killed_run_left() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let root = home.cutover_work_dir();
        let kept = root.join("sk-migrate-00");
        for d in [
            root.join(".dry-run-1/auth"),
            root.join(".x.building"),
            kept.clone(),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        let removed = sweep(&home).unwrap();
        assert_eq!(removed.len(), 2);
        assert!(kept.exists());
        assert!(!root.join(".dry-run-1").exists());
    }
}
