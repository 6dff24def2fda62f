//! Guards that undo on drop, so no early return can forget to: a
//! transaction rolled back unless committed, a temp DB file removed.

use super::*;

/// A `BEGIN IMMEDIATE` on a move's connection (write locks on both files).
/// Dropped without [`Tx::commit`] succeeding, it sends `ROLLBACK`: a failed
/// statement leaves the transaction open, and rolling it back keeps both
/// files as they were (or, in WAL, as the scoped commit left them).
#[must_use = "dropping the transaction rolls it back"]
pub(super) struct Tx<'c> {
    conn: &'c Connection,
    open: bool,
}

impl Move {
    /// Begin the move's transaction (see [`Move::begin`]).
    pub(super) fn tx<'c>(
        &self,
        conn: &'c Connection,
        observer: &mut dyn Observer,
    ) -> Result<Tx<'c>, Error> {
        self.begin(conn, observer)?;
        Ok(Tx { conn, open: true })
    }
}

impl<'c> Tx<'c> {
    /// Guard a transaction `conn` has just begun (a deferred `BEGIN`).
    pub(super) fn adopt(conn: &'c Connection) -> Tx<'c> {
        Tx { conn, open: true }
    }

    /// `COMMIT`; when it fails the transaction is still open and is rolled
    /// back as this guard drops.
    pub(super) fn commit(mut self, mv: &Move) -> Result<(), Error> {
        mv.commit(self.conn)?;
        self.open = false;
        Ok(())
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// A temp DB file beside the scoped DB, created empty (mode 0600) and
/// removed when dropped: on every error path, and right after the link that
/// gives the DB its real name.
#[must_use = "dropping the temp file removes it"]
pub(super) struct TempDb {
    path: PathBuf,
}

impl TempDb {
    pub(super) fn create(path: PathBuf) -> Result<TempDb, Error> {
        crate::fsutil::create_private_empty(&path)?;
        Ok(TempDb { path })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
