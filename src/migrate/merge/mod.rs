//! The legacy -> scoped move (`docs/migrate.md`): set-based SQL over both files.
//!
//! In chunks of legacy rows (`chunk`: each transaction short enough for a
//! release's writers to wait for it), per table: plan (the legacy rows whose
//! natural key the scoped DB lacks, one per key, in legacy order) into a
//! temp table; `INSERT OR IGNORE` them; count what is now provably in the
//! scoped DB; keep whole the rows whose key is stored with another payload
//! (divergent); delete exactly what is provably stored from legacy. Rows
//! never pass through Rust, except audit keys and divergent evidence.
//!
//! Three shapes of the same move:
//! * rollback journal on both files: one transaction over both (`ATTACH`);
//! * WAL on either: scoped commits first, legacy second (at-least-once);
//! * no scoped DB yet (`move_into_new`): the DB is built aside, made
//!   durable and linked into place, then legacy is emptied — also scoped
//!   first, legacy second.
//!
//! Files: `sql` writes the SQL text (pure, no connection); [`plan`] picks
//! the shape of a move from what was found (pure); `into_new` and
//! `into_existing` carry it out; `moves` holds the statements over the
//! attached pair; `audit` streams the moved keys; `guard` rolls back
//! and removes temp files on every early return.

use std::path::PathBuf;

use serde::Serialize;

use crate::release::limits::QueueLimits;

use crate::db::schema::LATEST;
use crate::db::schema::tables::Table;

mod audit;
mod cap;
pub mod chunk;
mod dry_run;
mod guard;
mod into_existing;
mod into_new;
mod moves;
pub mod plan;
mod sql;
mod take;

pub use into_existing::move_rows;

/// Per-table outcome, as `sk-migrate run --json` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    pub table: Table,
    pub legacy_before: u64,
    pub inserted: u64,
    /// Key already in scoped with the same payload: the legacy copy is deleted.
    pub already_present: u64,
    /// Key already in scoped with another payload: the stored row wins; the
    /// legacy row is kept whole in the divergent-evidence file, then deleted.
    pub divergent: u64,
    pub deleted_from_legacy: u64,
    /// Rows that stay in legacy because they cannot move (a NULL natural
    /// key or required column, or a key the scoped table refuses).
    pub left_in_legacy: u64,
    /// Rows that stay in legacy because moving them would bring the scoped
    /// table within a tenth of the release's cap (`cap`): past it the
    /// release's own next write evicts queued events or refuses a body.
    /// They move once the daemon has drained the scoped queue.
    pub held_by_cap: u64,
    /// The release's cap on the scoped table (`[sync] max_queue_size`, or
    /// the hard-coded body cap), when the move was given one.
    pub cap: Option<u64>,
    /// Rows a writer added to legacy while the move ran (after its plan):
    /// left for the next run. `legacy_before = deleted_from_legacy +
    /// left_in_legacy + held_by_cap` holds, `arrived_late` beside them.
    pub arrived_late: u64,
}

/// The scoped DB's shape the installed release reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaTarget {
    /// An older scoped DB is upgraded to this version, never beyond.
    pub version: u32,
    /// Newer versions the release still opens as they are; a scoped DB of a
    /// newer version not listed is refused (the release could not read it).
    pub reads_newer: &'static [u32],
}

impl SchemaTarget {
    /// The latest shape (V5), as 3.2.0–3.2.5 keep it.
    pub const LATEST: SchemaTarget = SchemaTarget {
        version: LATEST,
        reads_newer: &[],
    };

    /// Can the release open a scoped DB at `version` (after our upgrade)?
    pub fn accepts(&self, version: u32) -> bool {
        version <= self.version || self.reads_newer.contains(&version)
    }
}

/// How to move.
#[derive(Debug, Clone)]
pub struct MoveOptions {
    pub dry_run: bool,
    pub busy_timeout_ms: u64,
    pub backup_dir: Option<PathBuf>,
    /// The shape the scoped DB must have for the installed release.
    pub schema: SchemaTarget,
    /// The longest the move may hold a write lock at a time: a tenth of
    /// the release's writers' busy timeout (see `chunk`); `migrate::run`
    /// keeps a shorter one a caller asks for, never a longer one.
    pub lock_budget_ms: u64,
    /// How full the move may make each scoped table (none: no limit).
    pub limits: QueueLimits,
}

impl MoveOptions {
    /// The longest a chunk may hold the locks.
    pub fn lock_budget(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.lock_budget_ms.max(1))
    }
}

impl Default for MoveOptions {
    fn default() -> MoveOptions {
        MoveOptions {
            dry_run: false,
            busy_timeout_ms: DEFAULT_BUSY_TIMEOUT_MS,
            backup_dir: None,
            schema: SchemaTarget::LATEST,
            lock_budget_ms: DEFAULT_LOCK_BUDGET_MS,
            limits: QueueLimits::default(),
        }
    }
}

/// How long to wait for a daemon holding a write lock.
pub const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5_000;

/// A tenth of the 5000 ms every queue-DB release's writers wait.
pub const DEFAULT_LOCK_BUDGET_MS: u64 = 500;

/// What a move found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveReport {
    pub legacy_version: Option<u32>,
    pub scoped_version_before: Option<u32>,
    pub scoped_version: Option<u32>,
    /// One transaction over both files (rollback journal on both, scoped DB
    /// existing); otherwise scoped committed first, legacy second.
    pub atomic: bool,
    pub tables: Vec<TableCounts>,
    /// Anything written: rows moved or deleted, or the scoped schema upgraded.
    pub changed: bool,
    pub backups: Vec<PathBuf>,
    /// The longest any chunk held the write locks (ms): what a release's
    /// writer may have waited on this move at worst.
    pub longest_lock_hold_ms: u64,
}

impl TableCounts {
    /// `table` with every count 0.
    pub fn new(table: Table) -> TableCounts {
        TableCounts {
            table,
            legacy_before: 0,
            inserted: 0,
            already_present: 0,
            divergent: 0,
            deleted_from_legacy: 0,
            left_in_legacy: 0,
            held_by_cap: 0,
            cap: None,
            arrived_late: 0,
        }
    }
}

impl MoveReport {
    /// The counts of `table`, when the report has them.
    pub fn counts(&self, table: Table) -> Option<&TableCounts> {
        self.tables.iter().find(|c| c.table == table)
    }

    /// The counts of `table` to update, when the report has them.
    pub(crate) fn counts_mut(&mut self, table: Table) -> Option<&mut TableCounts> {
        self.tables.iter_mut().find(|c| c.table == table)
    }

    /// The legacy rows the report started from in `tables` (the one lookup
    /// progress and the chunker's first guess share).
    pub(crate) fn legacy_before(&self, tables: impl IntoIterator<Item = Table>) -> u64 {
        tables
            .into_iter()
            .filter_map(|t| self.counts(t))
            .map(|c| c.legacy_before)
            .sum()
    }
}

#[cfg(test)]
mod tests;
