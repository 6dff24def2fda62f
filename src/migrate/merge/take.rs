//! Taking the write locks of a move: all of them at once, or none.
//!
//! `BEGIN IMMEDIATE` on a connection with legacy attached takes the write
//! lock of each file in turn; with a busy handler it would wait for legacy
//! *while holding the scoped DB's lock*, and a release writing its own
//! queue meanwhile would time out and lose its event (measured: 3.2.5's
//! `OfflineQueue.queue_event`, 3 of 3, at `--busy-timeout 12000`). So the
//! attempt runs with no busy handler; when any file is held it is rolled
//! back at once (nothing held), and retried after a short back-off, until
//! the run's busy timeout is spent; between attempts it queues behind the
//! holder on the held file alone (`wait_behind`). Inside the transaction the run's own
//! busy timeout applies again (a commit may wait for a reader to finish).

use std::path::Path;

use rusqlite::Connection;

use super::moves::{Move, write_locked};
use crate::error::Error;
use crate::migrate::observe::Observer;

use std::time::{Duration, Instant};

use rusqlite::OpenFlags;

/// First and longest pause between two attempts at the locks.
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(20);

impl Move {
    /// Write locks on every file of the move, or none (see the module docs).
    pub(super) fn begin(
        &self,
        conn: &Connection,
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        let started = Instant::now();
        let deadline = crate::db::busy_duration(self.busy);
        let mut backoff = FIRST_BACKOFF;
        let mut told = false;
        conn.busy_timeout(Duration::ZERO)
            .map_err(|e| self.on_scoped(e))?;
        let taken = loop {
            match conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => break Ok(()),
                Err(e) if is_busy(&e) => {
                    // Nothing may stay held while we wait.
                    let _ = conn.execute_batch("ROLLBACK");
                    crate::interrupt::check(super::chunk::BETWEEN)?;
                    let waited = started.elapsed();
                    if waited >= deadline {
                        break Err(self.on_locked_pair(e).waited(waited));
                    }
                    let held = self.held_path();
                    if !told {
                        told = true;
                        observer.waiting(held);
                    }
                    // Queue behind the holder on that file alone, then try
                    // again at once: a writer that wants the file next is
                    // asleep in its busy handler by then, so a busy loop of
                    // writes cannot starve the move.
                    if !wait_behind(held, deadline - waited) {
                        std::thread::sleep(backoff.min(deadline - waited));
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
                Err(e) => break Err(self.on_locked_pair(e)),
            }
        };
        conn.busy_timeout(crate::db::busy_duration(self.busy))
            .map_err(|e| self.on_scoped(e))?;
        taken
    }

    /// The file another process holds (probed without waiting): legacy
    /// unless only the scoped DB is held.
    fn held_path(&self) -> &Path {
        if write_locked(&self.scoped_path) && !write_locked(&self.legacy_path) {
            &self.scoped_path
        } else {
            &self.legacy_path
        }
    }
}

/// Wait (at most `timeout`) for the write lock of `path` alone, on a
/// connection of its own, and let go of it at once. `false`: not taken
/// (the file is gone, or still held).
fn wait_behind(path: &Path, timeout: Duration) -> bool {
    let Ok(conn) = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE) else {
        return false;
    };
    if conn.busy_timeout(timeout).is_err() {
        return false;
    }
    let taken = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
    // Nothing was written: the rollback only lets go (and a failed one
    // leaves nothing held once the connection closes, just below).
    let _ = conn.execute_batch("ROLLBACK");
    taken
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}
