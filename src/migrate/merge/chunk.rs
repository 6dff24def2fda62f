//! The move in chunks: each chunk one short transaction (or two, in WAL),
//! atomic, audited and committed on its own, so no write lock is held
//! longer than the release's writers can wait for it.
//!
//! A release's queue writers give up after their SQLite busy timeout
//! (5000 ms in every queue-DB release, measured: `timeouts.json`). A move
//! holds the write locks of both files for the whole of a transaction, so
//! a 1M-row move in one transaction makes them fail. Here the legacy rows
//! are taken in ascending local `id` (which is SQLite's rowid: every known
//! schema declares `id INTEGER PRIMARY KEY`), a chunk at a time, and the
//! chunk's size is re-fitted after every commit from the rate measured so
//! far, so each transaction takes about a quarter of the lock budget (a
//! tenth of the writers' timeout, from the release model), and after each
//! the move pauses three times as long as it held the locks.
//!
//! A small move is one chunk, as before: every table in one transaction.
//! A killed run leaves every chunk either committed (rows in scoped, gone
//! from legacy, audited) or not (rows still in legacy): the next run
//! resumes from what legacy still holds.

use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension};

use super::audit::AuditFrom;
use super::cap::{self, Files};
use super::moves::Move;
use super::sql::{IdRange, Span, table_ref};
use super::{MoveOptions, MoveReport};
use crate::db::schema::tables::TableDef;
use crate::error::Error;
use crate::interrupt;
use crate::migrate::observe::{Observer, Step};
use crate::release::limits::QueueLimits;

/// Rows in the first chunk: a home of 10k rows a table moves in one or two
/// chunks (each commit of a transaction over two files costs a dozen
/// fsyncs), and a first chunk takes well under the budget on a quiet
/// machine (about 100 ms on this project's 2-core one).
pub(super) const FIRST_CHUNK: u64 = 32_768;
/// The first chunk of a home larger than [`FIRST_CHUNK`] rows: a probe of
/// the machine's rate, short on any machine (a 32k-row first chunk held the
/// locks for about 1 s on a 1M-row home under load, measured).
const PROBE_CHUNK: u64 = 2_048;
const MIN_CHUNK: u64 = 256;
/// Keeps the plan temp table (held in memory) small: a few MiB.
const MAX_CHUNK: u64 = 131_072;

/// The shortest pause between two chunks: longer than two of the longest
/// sleeps of SQLite's busy handler (100 ms, the step every release's
/// writers reach while they wait), so a writer that queued behind a chunk
/// wakes at least twice while no lock is held. Without a pause, chunks
/// taken back to back starved writers to their 5000 ms timeout (measured:
/// `tests/system/live_queue_big.rs`).
pub const BETWEEN_CHUNKS: Duration = Duration::from_millis(250);

/// Where a signal stops the move (`crate::interrupt`): after a chunk.
pub(super) const BETWEEN: &str = "between two chunks of the move: every row moved is in the scoped DB and audited, every other row still in legacy";

/// How many times its hold a chunk's pause lasts at least.
const PAUSE_PER_HOLD: u32 = 3;

/// The pause after a chunk that held the locks for `held`: three times the
/// hold, so the move holds them at most a quarter of the time; as long
/// again when another process committed to either DB meanwhile
/// (its `PRAGMA data_version` changed), so that among busy writers the move holds
/// them at most a seventh. Ten releases' writers looping back to back on a
/// 1M-row queue already wait up to 2.5 s for each other with nothing else
/// writing (SQLite's busy handler is not fair: a writer that has waited
/// long polls every 100 ms and loses to fresh ones); with the move holding
/// the locks half the time, one write in a few thousand still ran out of
/// its 5000 ms (measured, `tests/system/live_queue_big.rs`: 1 of 6 trials in CI),
/// and at a quarter still one in about ten thousand on a loaded machine.
/// Each chunk also makes the writers queue behind it, so shorter chunks
/// more often did worse, not better (measured at an eighth of the budget).
pub fn pause_after(held: Duration) -> Duration {
    (held * PAUSE_PER_HOLD).max(BETWEEN_CHUNKS)
}

/// How many rows the next chunk takes (pure: sizes from measured times).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chunker {
    rows: u64,
    /// The longest a chunk may hold the locks.
    budget: Duration,
}

impl Chunker {
    /// For a home of `rows` rows in all: one chunk when it fits
    /// `FIRST_CHUNK`, else a short probe chunk first.
    pub fn for_home(budget: Duration, rows: u64) -> Chunker {
        Chunker {
            rows: if rows > FIRST_CHUNK {
                PROBE_CHUNK
            } else {
                FIRST_CHUNK
            },
            budget,
        }
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// A chunk of `rows` rows held the locks for `took`: aim the next at a
    /// quarter of the budget at the rate measured (the rate includes the
    /// chunk's fixed cost, so it errs short; the margin absorbs a machine
    /// busier than the last chunk saw), growing at most fourfold and never
    /// below `MIN_CHUNK` nor above `MAX_CHUNK`.
    pub fn observe(&mut self, rows: u64, took: Duration) {
        if rows == 0 {
            return;
        }
        let target = self.budget.as_secs_f64() / 4.0;
        let per_row = took.as_secs_f64().max(1e-6) / rows as f64;
        let fit = (target / per_row) as u64;
        self.rows = fit.min(rows.saturating_mul(4)).clamp(MIN_CHUNK, MAX_CHUNK);
    }
}

/// Where the move stands: the table it is in and the last id it covered;
/// `stop`, the last id it will cover there (the table's last id when the
/// move reached it, or where the cap guard stops it), and `late_after`,
/// the table's last id then (rows past it arrived during the move).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Cursor {
    table: usize,
    after: Option<i64>,
    stop: Option<i64>,
    late_after: i64,
}

impl Move {
    /// Carry out the move in chunks into the scoped DB attached as `main`.
    /// `report.atomic` ends false when any chunk committed scoped first.
    pub(super) fn move_chunks(
        &self,
        conn: &Connection,
        opts: &MoveOptions,
        report: &mut MoveReport,
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        let mut cursor = Cursor::default();
        let mut chunker = Chunker::for_home(opts.lock_budget(), self.legacy_rows(report));
        // From here the counts are what the chunks find: a table's rows
        // are left in legacy only once a chunk has seen them stay.
        for c in report.tables.iter_mut() {
            if self.tables.iter().any(|t| t.table == c.table) {
                c.left_in_legacy = 0;
                c.held_by_cap = 0;
                c.arrived_late = 0;
            }
        }
        loop {
            let tx = self.tx(conn, observer)?;
            let held = Instant::now();
            // Decided under the locks: nobody can switch a journal mode now.
            let atomic = self.journal_modes_allow_atomic(conn)?;
            report.atomic &= atomic;
            let mut spans = self.spans(conn, &mut cursor, chunker.rows(), &opts.limits, report)?;
            if spans.is_empty() {
                // Nothing written: the rollback leaves both files as they are.
                drop(tx);
                break;
            }
            self.insert_phase(conn, &mut spans, report, observer)?;
            // Audit lines and their commit marker, before anything commits.
            let audit: Vec<_> = spans.iter().map(|s| (s.table, AuditFrom::Plan)).collect();
            self.seal(conn, &audit, observer)?;
            let tx = if atomic {
                tx
            } else {
                // WAL: the two files cannot commit atomically together. Commit
                // the scoped side first; the legacy delete follows
                // (at-least-once: a crash in between leaves duplicates the
                // next run removes).
                tx.commit(self)?;
                observer.checkpoint(Step::ScopedCommitted)?;
                self.tx(conn, observer)?
            };
            self.delete_phase(conn, &spans, atomic, report, observer)?;
            tx.commit(self)?;
            observer.checkpoint(Step::Committed)?;
            let rows: u64 = spans.iter().map(|s| s.rows).sum();
            let took = held.elapsed();
            chunker.observe(rows, took);
            report.longest_lock_hold_ms = report
                .longest_lock_hold_ms
                .max(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
            observer.chunk_committed()?;
            if cursor.table >= self.tables.len() {
                break;
            }
            // A scheduling pause, not a synchronisation: see `pause_after`.
            // Ctrl-C and SIGTERM stop the move here (`crate::interrupt`).
            let before = self.data_versions(conn)?;
            interrupt::pause(pause_after(took), BETWEEN)?;
            if self.others_wrote(conn, before)? {
                interrupt::pause(pause_after(took), BETWEEN)?;
            }
        }
        // What the move covered: `legacy_before = deleted_from_legacy +
        // left_in_legacy` (rows that arrived after it reached a table's end
        // are `arrived_late`, beside them).
        for c in report.tables.iter_mut() {
            if self.tables.iter().any(|t| t.table == c.table) {
                c.legacy_before = c.deleted_from_legacy + c.left_in_legacy + c.held_by_cap;
                c.already_present = c
                    .deleted_from_legacy
                    .saturating_sub(c.inserted + c.divergent);
            }
        }
        Ok(())
    }

    /// `PRAGMA data_version` of the scoped and the legacy DB: it changes
    /// when another connection commits to that file.
    fn data_versions(&self, conn: &Connection) -> Result<(i64, i64), Error> {
        let scoped = conn
            .query_row("PRAGMA main.data_version", [], |r| r.get(0))
            .map_err(|e| self.on_scoped(e))?;
        let legacy = conn
            .query_row(
                &format!("PRAGMA {}.data_version", self.legacy_side.schema),
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.on_legacy(e))?;
        Ok((scoped, legacy))
    }

    /// Another process committed to either DB since `before` was read.
    fn others_wrote(&self, conn: &Connection, before: (i64, i64)) -> Result<bool, Error> {
        Ok(self.data_versions(conn)? != before)
    }

    /// The legacy rows of the move's tables, as first counted.
    pub(super) fn legacy_rows(&self, report: &MoveReport) -> u64 {
        report.legacy_before(self.tables.iter().map(|t| t.table))
    }

    /// The next chunk's spans, up to `budget` rows, from `cursor` on (read
    /// under the chunk's locks). Empty: every table is covered.
    fn spans(
        &self,
        conn: &Connection,
        cursor: &mut Cursor,
        budget: u64,
        limits: &QueueLimits,
        report: &mut MoveReport,
    ) -> Result<Vec<Span>, Error> {
        let mut spans = Vec::new();
        let mut left = budget;
        while left > 0 && cursor.table < self.tables.len() {
            let t = self.tables[cursor.table];
            let lt = table_ref(self.legacy_side, t);
            let (stop, late_after) = match cursor.stop {
                Some(s) => (s, cursor.late_after),
                None => {
                    let max: Option<i64> = conn
                        .query_row(&format!("SELECT max(\"id\") FROM {lt}"), [], |r| r.get(0))
                        .map_err(|e| self.on_legacy(e))?;
                    let stop = match max {
                        Some(m) => self
                            .capped_stop(conn, t, m, limits, report)?
                            .map(|s| (s, m)),
                        None => None,
                    };
                    match stop {
                        Some(s) => s,
                        None => {
                            cursor.table += 1;
                            continue;
                        }
                    }
                }
            };
            let after = cursor.after.unwrap_or(i64::MIN);
            let next: Option<i64> = conn
                .query_row(
                    &format!(
                        "SELECT \"id\" FROM {lt} WHERE \"id\" > ?1 AND \"id\" <= ?2 \
                         ORDER BY \"id\" LIMIT 1 OFFSET ?3"
                    ),
                    (after, stop, left.saturating_sub(1) as i64),
                    |r| r.get(0),
                )
                .optional()
                .map_err(|e| self.on_legacy(e))?;
            let upto = next.unwrap_or(stop);
            let range = IdRange { after, upto };
            let rows = self.count(
                conn,
                &format!("SELECT count(*) FROM {lt} AS l WHERE {}", range.sql("l")),
            )?;
            spans.push(Span {
                table: t,
                range,
                stop,
                late_after,
                rows,
                inserted: 0,
            });
            left = left.saturating_sub(rows.max(1));
            if upto == stop {
                *cursor = Cursor {
                    table: cursor.table + 1,
                    ..Cursor::default()
                };
            } else {
                cursor.after = Some(upto);
                cursor.stop = Some(stop);
                cursor.late_after = late_after;
            }
        }
        Ok(spans)
    }

    /// The last id of `t` the move covers, its last id being `max`: `max`,
    /// or less where the cap guard stops it (`None`: no room at all). The
    /// rows it holds back are counted in `report`.
    fn capped_stop(
        &self,
        conn: &Connection,
        t: &TableDef,
        max: i64,
        limits: &QueueLimits,
        report: &mut MoveReport,
    ) -> Result<Option<i64>, Error> {
        let Some(limit) = limits.of(t.table) else {
            return Ok(Some(max));
        };
        let files = Files {
            legacy: &self.legacy_path,
            scoped: &self.scoped_path,
            busy: self.busy,
        };
        let sides = (self.legacy_side, Some(self.scoped_side()));
        let cut = cap::cut(conn, t, sides, max, limit, &files)?;
        if let Some(c) = report.counts_mut(t.table) {
            c.cap = Some(limit.cap);
            c.held_by_cap = cut.held;
        }
        Ok(cut.upto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_large_home_starts_with_a_probe_chunk_a_small_one_is_one_chunk() {
        let b = Duration::from_millis(500);
        assert_eq!(Chunker::for_home(b, 30_000).rows(), FIRST_CHUNK);
        assert_eq!(Chunker::for_home(b, 3_000_000).rows(), PROBE_CHUNK);
    }

    #[test]
    fn the_move_pauses_three_times_as_long_as_it_held_the_locks() {
        assert_eq!(pause_after(Duration::from_millis(5)), BETWEEN_CHUNKS);
        assert_eq!(
            pause_after(Duration::from_millis(300)),
            Duration::from_millis(900)
        );
    }

    #[test]
    fn a_fast_chunk_grows_at_most_fourfold_and_a_slow_one_shrinks() {
        let mut c = Chunker::for_home(Duration::from_millis(500), 0);
        c.observe(8_192, Duration::from_millis(1));
        assert_eq!(c.rows(), 32_768);
        c.observe(32_768, Duration::from_millis(1_000));
        assert_eq!(c.rows(), 4_096);
        c.observe(4_096, Duration::from_secs(60));
        assert_eq!(c.rows(), MIN_CHUNK);
    }

    proptest! {
        /// At a steady rate, the next chunk is planned to take at most a
        /// quarter of the budget (unless it is the smallest chunk there is).
        #[test]
        fn the_next_chunk_fits_a_quarter_of_the_budget(
            rows in 1u64..200_000,
            micros_per_row in 1u64..50_000,
            budget_ms in 50u64..5_000,
        ) {
            let mut c = Chunker::for_home(Duration::from_millis(budget_ms), 0);
            c.observe(rows, Duration::from_micros(rows * micros_per_row));
            let planned = Duration::from_micros(c.rows() * micros_per_row);
            prop_assert!(c.rows() == MIN_CHUNK || planned <= Duration::from_millis(budget_ms) / 4 + Duration::from_micros(micros_per_row));
            prop_assert!((MIN_CHUNK..=MAX_CHUNK).contains(&c.rows()));
        }
    }
}
