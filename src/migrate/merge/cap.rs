//! The cap guard: how far into a legacy table a move may go before the
//! scoped table would come within a tenth of the release's cap.
//!
//! Every queue-DB release caps its queues (`release::QueueCaps`, driven:
//! `fixtures/releases/X/caps.json`): at the cap its `queue_event` evicts the
//! oldest events and its `enqueue` refuses new bodies. Two queues each under
//! the cap can make one over it, and then the release's own next write loses
//! a moved event. So the move adds at most `fill_to - stored` rows to a
//! table, in legacy order; the rest stay in legacy, whole and counted
//! (`held_by_cap`), until the daemon has drained the scoped queue.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension};

use super::sql::{Side, nth_addition_sql, table_ref};
use crate::db::count;
use crate::db::schema::tables::TableDef;
use crate::error::Error;
use crate::release::limits::Limit;

/// How far the move covers one legacy table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cut {
    /// The last legacy `id` the move covers; `None`: no room, none.
    pub(super) upto: Option<i64>,
    /// Legacy rows (with `id <= max`) past `upto`: they stay in legacy.
    pub(super) held: u64,
}

/// The two files a cut reads, for errors that name the right one.
pub(super) struct Files<'a> {
    pub(super) legacy: &'a Path,
    pub(super) scoped: &'a Path,
    pub(super) busy: u64,
}

/// Where the move of `t`'s legacy rows with `id <= max` must stop under
/// `limit` (read under the chunk's locks, or on a read-only snapshot).
/// Rows already stored or unmovable add nothing, so only the rows that
/// would add one count against the room.
pub(super) fn cut(
    conn: &Connection,
    t: &TableDef,
    (legacy, scoped): (Side, Option<Side>),
    max: i64,
    limit: Limit,
    files: &Files,
) -> Result<Cut, Error> {
    let scoped = scoped.filter(|s| t.exists_at(s.version));
    let stored = match scoped {
        Some(s) => count(
            conn,
            &format!("SELECT count(*) FROM {}", table_ref(s, t)),
            files.scoped,
            files.busy,
        )?,
        None => 0,
    };
    let room = limit.fill_to.saturating_sub(stored);
    let lt = table_ref(legacy, t);
    let legacy_count = |cond: String| {
        count(
            conn,
            &format!("SELECT count(*) FROM {lt} WHERE {cond}"),
            files.legacy,
            files.busy,
        )
    };
    let rows = legacy_count(format!("\"id\" <= {max}"))?;
    if rows <= room {
        // Even if every row added one, the table stays under its limit.
        return Ok(Cut {
            upto: Some(max),
            held: 0,
        });
    }
    if room == 0 {
        return Ok(Cut {
            upto: None,
            held: rows,
        });
    }
    let nth: Option<i64> = conn
        .query_row(
            &nth_addition_sql(t, legacy, scoped),
            (max, i64::try_from(room - 1).unwrap_or(i64::MAX)),
            |r| r.get(0),
        )
        .optional()
        .map_err(|e| Error::sqlite(files.legacy, e, files.busy))?;
    let Some(upto) = nth else {
        // Fewer additions than room: everything fits.
        return Ok(Cut {
            upto: Some(max),
            held: 0,
        });
    };
    Ok(Cut {
        upto: Some(upto),
        held: legacy_count(format!("\"id\" > {upto} AND \"id\" <= {max}"))?,
    })
}
