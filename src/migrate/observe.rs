//! What the caller sees of a move while it runs: the [`Observer`] (our
//! "sink") with its [`Step`]s and [`AuditLine`]s. Progress printing, fault
//! injection and the audit journal are observers.

use crate::db::schema::tables::Table;
use crate::error::Error;

/// One migrated row: its table and natural key, never its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLine<'a> {
    pub table: Table,
    /// The natural key as a JSON object (V5 column names): `{"event_id":"..."}`.
    pub key_json: &'a str,
}

/// A legacy row whose natural key is stored with another payload: kept
/// whole (every legacy column, typed as in audit keys) before it is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DivergentLine<'a> {
    pub table: Table,
    pub key_json: &'a str,
    /// Every legacy column of the row, `id` included, as a JSON object.
    pub row_json: &'a str,
}

/// Points between the move's statements, for progress and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SchemaUpgraded,
    Planned(Table),
    Inserted(Table),
    Deleted(Table),
    ScopedCommitted,
    Committed,
}

/// What the caller sees of a move while it runs. Every method has a no-op default.
pub trait Observer {
    /// A table is about to move `rows` rows (legacy rows before the move).
    fn table_started(&mut self, _table: Table, _rows: u64) {}
    /// After each statement; an error here aborts the move (fault injection).
    fn checkpoint(&mut self, _step: Step) -> Result<(), Error> {
        Ok(())
    }
    /// Once per migrated row, in legacy order, once the rows are inserted
    /// and before they commit (before the link, in the new-DB fast path):
    /// an error here aborts the move and changes nothing. The lines are
    /// true once the transaction carrying the marker [`Observer::seal_audit`]
    /// returned commits; [`Observer::audit_void`] says they never will.
    fn audit(&mut self, _line: &AuditLine<'_>) -> Result<(), Error> {
        Ok(())
    }
    /// After the last [`Observer::audit`] line, before the commit: make the
    /// lines durable and name a marker the move writes into the scoped DB's
    /// `sqlite_sequence` in the same transaction as the rows (see `journal`).
    fn seal_audit(&mut self) -> Result<Option<String>, Error> {
        Ok(None)
    }
    /// The lines audited so far will never commit (the new-DB fast path
    /// lost its link to a DB a daemon created; the general path follows).
    fn audit_void(&mut self) {}
    /// A divergent duplicate, before the transaction deleting it commits:
    /// an error here aborts the move's chunk and deletes nothing.
    fn divergent(&mut self, _line: &DivergentLine<'_>) -> Result<(), Error> {
        Ok(())
    }
    /// After the chunk's last [`Observer::divergent`] line, before its
    /// delete commits: make the lines durable.
    fn seal_divergent(&mut self) -> Result<(), Error> {
        Ok(())
    }
    /// A chunk committed: its audit lines are true. An error stops the
    /// move here (what is left stays in legacy for the next run).
    fn chunk_committed(&mut self) -> Result<(), Error> {
        Ok(())
    }
    /// Another process holds `path`'s write lock: the move holds no lock
    /// and retries until its busy timeout is spent (said once per wait).
    fn waiting(&mut self, _path: &std::path::Path) {}
    /// Does this observer look at the lines themselves? When it does not,
    /// a journal promotes them as bytes, without parsing each one.
    fn wants_audit_lines(&self) -> bool {
        true
    }
}

/// An observer that sees nothing.
pub struct Quiet;
impl Observer for Quiet {
    fn wants_audit_lines(&self) -> bool {
        false
    }
}
