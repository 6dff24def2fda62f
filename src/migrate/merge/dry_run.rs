//! The dry run: the counts a real run would produce, nothing written.

use std::path::Path;

use rusqlite::Connection;

use super::cap::{self, Files};
use super::moves::key_is_unique;
use super::sql::{IdRange, Side, divergent_where, plan_sql, plan_table, present_where, table_ref};
use super::{MoveReport, TableCounts};
use crate::db::schema::tables::{ALL, TableDef};
use crate::db::{count, dry_run_uri};
use crate::error::Error;
use crate::release::limits::QueueLimits;

/// The same plan against read-only attachments: counts, no writes.
pub(super) fn dry_run(
    legacy_path: &Path,
    scoped_path: &Path,
    legacy_version: u32,
    mut report: MoveReport,
    (busy, limits): (u64, &QueueLimits),
) -> Result<MoveReport, Error> {
    let (conn, scoped) = attach(legacy_path, scoped_path, report.scoped_version_before, busy)?;
    let legacy = Side {
        schema: "legacy",
        version: legacy_version,
    };
    for t in ALL.iter().filter(|t| t.exists_at(legacy_version)) {
        let Some(counts) = report.counts_mut(t.table) else {
            continue;
        };
        let sq = |e| Error::sqlite(legacy_path, e, busy);
        let files = Files {
            legacy: legacy_path,
            scoped: scoped_path,
            busy,
        };
        let range = capped_range(&conn, t, (legacy, scoped), limits, &files, counts)?;
        let unique = key_is_unique(&conn, "legacy", t, legacy_version).map_err(sq)?;
        conn.execute_batch(&plan_sql(t, legacy, scoped, unique, range))
            .map_err(sq)?;
        counts.inserted = count(
            &conn,
            &format!("SELECT count(*) FROM {}", plan_table(t)),
            legacy_path,
            busy,
        )?;
        let present = count(
            &conn,
            &format!(
                "SELECT count(*) FROM {} AS l WHERE {} AND {}",
                table_ref(legacy, t),
                range.sql("l"),
                present_where(t, legacy, scoped, true)
            ),
            legacy_path,
            busy,
        )?;
        counts.deleted_from_legacy = present;
        counts.divergent = match scoped.filter(|s| t.exists_at(s.version)) {
            Some(s) => count(
                &conn,
                &format!(
                    "SELECT count(*) FROM {} AS l WHERE {} AND {} AND {}",
                    table_ref(legacy, t),
                    range.sql("l"),
                    present_where(t, legacy, scoped, false),
                    divergent_where(t, legacy, s)
                ),
                legacy_path,
                busy,
            )?,
            None => 0,
        };
        counts.already_present = present.saturating_sub(counts.inserted + counts.divergent);
        // legacy_before came from another connection: a daemon may have added rows.
        counts.left_in_legacy = counts
            .legacy_before
            .saturating_sub(present + counts.held_by_cap);
    }
    report.scoped_version = report.scoped_version_before;
    Ok(report)
}

/// An in-memory connection with legacy and, when it exists, the scoped DB
/// attached read-only (as `legacy` and `scoped`).
fn attach(
    legacy_path: &Path,
    scoped_path: &Path,
    scoped_version: Option<u32>,
    busy: u64,
) -> Result<(Connection, Option<Side<'static>>), Error> {
    let conn = Connection::open_in_memory().map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    conn.busy_timeout(crate::db::busy_duration(busy))
        .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    conn.execute("ATTACH DATABASE ?1 AS legacy", [dry_run_uri(legacy_path)])
        .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    let scoped = match scoped_version {
        Some(v) => {
            conn.execute("ATTACH DATABASE ?1 AS scoped", [dry_run_uri(scoped_path)])
                .map_err(|e| Error::sqlite(scoped_path, e, busy))?;
            Some(Side {
                schema: "scoped",
                version: v,
            })
        }
        None => None,
    };
    Ok((conn, scoped))
}

/// The legacy rows of `t` a real run would cover: all of them, or those up
/// to where the cap guard stops it (its cap and the rows it holds back
/// recorded in `counts`).
fn capped_range(
    conn: &Connection,
    t: &TableDef,
    sides: (Side, Option<Side>),
    limits: &QueueLimits,
    files: &Files,
    counts: &mut TableCounts,
) -> Result<IdRange, Error> {
    let Some(limit) = limits.of(t.table) else {
        return Ok(IdRange::ALL);
    };
    let max: Option<i64> = conn
        .query_row(
            &format!("SELECT max(\"id\") FROM {}", table_ref(sides.0, t)),
            [],
            |r| r.get(0),
        )
        .map_err(|e| Error::sqlite(files.legacy, e, files.busy))?;
    let Some(max) = max else {
        return Ok(IdRange::ALL);
    };
    let cut = cap::cut(conn, t, sides, max, limit, files)?;
    counts.cap = Some(limit.cap);
    counts.held_by_cap = cut.held;
    Ok(IdRange {
        after: i64::MIN,
        // No room: a range that holds no row.
        upto: cut.upto.unwrap_or(i64::MIN),
    })
}
