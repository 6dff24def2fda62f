//! Serialising `sk-migrate` runs on one home, and SQLite busy timeouts.
//!
//! Every writing run holds an exclusive `flock` on the home's root
//! directory itself for its whole length, so two runs never interleave
//! their temp files, journal lines or moves. The kernel releases it when
//! the process ends, however it ends, and no file is created for it (a
//! refused run leaves the home byte-identical). A waiting run names the
//! holder from the kernel's own table (`process::flock_holder`). Nothing here
//! signals a process.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;

use crate::db::busy_duration;

/// Interval between two attempts at a held lock.
const POLL: Duration = Duration::from_millis(5);

/// The run lock of a home; released when dropped.
#[must_use = "the lock is released when this is dropped"]
#[derive(Debug)]
pub struct HomeLock {
    _dir: File,
    path: PathBuf,
}

impl HomeLock {
    /// Lock the directory `root` exclusively, waiting up to `timeout_ms`
    /// for another run.
    pub fn acquire(root: &Path, timeout_ms: u64) -> Result<HomeLock, Error> {
        let dir = File::open(root).map_err(|e| Error::io(root, e))?;
        let started = Instant::now();
        let deadline = busy_duration(timeout_ms);
        use rustix::fs::{FlockOperation, flock};
        loop {
            match flock(dir.as_fd(), FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io(root, e.into())),
            }
            let waited = started.elapsed();
            if waited >= deadline {
                return Err(Error::RunInProgress {
                    path: root.to_path_buf(),
                    holder: crate::process::flock_holder(&dir)
                        .known()
                        .copied()
                        .flatten(),
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                });
            }
            // Waiting for another run is a safe point: nothing is held.
            crate::interrupt::check(
                "while waiting for another sk-migrate run: nothing was changed",
            )?;
            std::thread::sleep(POLL.min(deadline - waited));
        }
        Ok(HomeLock {
            _dir: dir,
            path: root.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_timeouts_beyond_an_int_are_clamped() {
        assert_eq!(
            busy_duration(u64::MAX),
            Duration::from_millis(i32::MAX as u64)
        );
        assert_eq!(busy_duration(7), Duration::from_millis(7));
    }

    #[test]
    fn a_held_lock_names_its_holder_and_a_released_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        let held = HomeLock::acquire(p, 0).unwrap();
        match HomeLock::acquire(p, 0) {
            Err(Error::RunInProgress { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()))
            }
            other => panic!("{other:?}"),
        }
        drop(held);
        let _relocked = HomeLock::acquire(p, 0).unwrap();
    }
}
