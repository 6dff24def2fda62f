//! Serialising `sk-migrate` runs on one home, and SQLite busy timeouts.
//!
//! Every writing run holds `<root>/sk-migrate.lock` (an `flock`, released
//! by the kernel when the process ends, however it ends) for its whole
//! length, so two runs never interleave their temp files, journal lines or
//! moves. The holder writes its pid into the file, so a waiting run can say
//! who holds it. Nothing here signals a process.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::Error;

/// SQLite takes its busy timeout as a C `int` of milliseconds (and rusqlite
/// panics beyond it): longer timeouts are clamped to about 24.8 days.
pub const MAX_BUSY_TIMEOUT_MS: u64 = i32::MAX as u64;

/// A busy timeout SQLite accepts, whatever `ms` a library caller passes.
pub fn busy_duration(ms: u64) -> Duration {
    Duration::from_millis(ms.min(MAX_BUSY_TIMEOUT_MS))
}

/// Interval between two attempts at a held lock.
const POLL: Duration = Duration::from_millis(5);

/// The run lock of a home; released when dropped.
#[must_use = "the lock is released when this is dropped"]
#[derive(Debug)]
pub struct HomeLock {
    file: File,
    path: PathBuf,
}

impl HomeLock {
    /// Take `path` exclusively, waiting up to `timeout_ms` for another run.
    pub fn acquire(path: &Path, timeout_ms: u64) -> Result<HomeLock, Error> {
        crate::fsutil::create_private_empty(path)?;
        let file = crate::fsutil::open_private_rw(path)?.ok_or_else(|| {
            Error::io(path, std::io::Error::from(std::io::ErrorKind::NotFound))
        })?;
        let started = Instant::now();
        let deadline = busy_duration(timeout_ms);
        use rustix::fs::{FlockOperation, flock};
        loop {
            match flock(file.as_fd(), FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => break,
                Err(rustix::io::Errno::WOULDBLOCK) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(Error::io(path, e.into())),
            }
            let waited = started.elapsed();
            if waited >= deadline {
                return Err(Error::RunInProgress {
                    path: path.to_path_buf(),
                    holder: holder_pid(&file),
                    waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                });
            }
            std::thread::sleep(POLL.min(deadline - waited));
        }
        let mut lock = HomeLock {
            file,
            path: path.to_path_buf(),
        };
        lock.write_pid()?;
        Ok(lock)
    }

    fn write_pid(&mut self) -> Result<(), Error> {
        let pid = std::process::id();
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(drop))
            .and_then(|()| writeln!(self.file, "{pid}"))
            .map_err(|e| Error::io(&self.path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for HomeLock {
    fn drop(&mut self) {
        // The pid would name a finished run: clear it (the flock goes with the fd).
        let _ = self.file.set_len(0);
    }
}

/// The pid a lock holder wrote, when it reads as one.
fn holder_pid(file: &File) -> Option<u32> {
    let mut text = String::new();
    let mut f = file;
    f.seek(SeekFrom::Start(0)).ok()?;
    f.take(64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_timeouts_beyond_an_int_are_clamped() {
        assert_eq!(busy_duration(u64::MAX), Duration::from_millis(i32::MAX as u64));
        assert_eq!(busy_duration(7), Duration::from_millis(7));
    }

    #[test]
    fn a_held_lock_names_its_holder_and_a_released_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sk-migrate.lock");
        let held = HomeLock::acquire(&p, 0).unwrap();
        match HomeLock::acquire(&p, 0) {
            Err(Error::RunInProgress { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()))
            }
            other => panic!("{other:?}"),
        }
        drop(held);
        HomeLock::acquire(&p, 0).unwrap();
    }
}
