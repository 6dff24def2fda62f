//! The dry run: the counts a real run would produce, nothing written.

use std::path::Path;

use rusqlite::Connection;

use super::MoveReport;
use super::moves::key_is_unique;
use super::sql::{IdRange, Side, divergent_where, plan_sql, plan_table, present_where, table_ref};
use crate::db::schema::tables::ALL;
use crate::db::{count, dry_run_uri};
use crate::error::Error;

/// The same plan against read-only attachments: counts, no writes.
pub(super) fn dry_run(
    legacy_path: &Path,
    scoped_path: &Path,
    legacy_version: u32,
    mut report: MoveReport,
    busy: u64,
) -> Result<MoveReport, Error> {
    let conn = Connection::open_in_memory().map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    conn.busy_timeout(crate::db::busy_duration(busy))
        .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    conn.execute("ATTACH DATABASE ?1 AS legacy", [dry_run_uri(legacy_path)])
        .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    let scoped = match report.scoped_version_before {
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
    let legacy = Side {
        schema: "legacy",
        version: legacy_version,
    };
    for t in ALL.iter().filter(|t| t.exists_at(legacy_version)) {
        let Some(counts) = report.counts_mut(t.table) else {
            continue;
        };
        let sq = |e| Error::sqlite(legacy_path, e, busy);
        let unique = key_is_unique(&conn, "legacy", t, legacy_version).map_err(sq)?;
        conn.execute_batch(&plan_sql(t, legacy, scoped, unique, IdRange::ALL))
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
                "SELECT count(*) FROM {} AS l WHERE {}",
                table_ref(legacy, t),
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
                    "SELECT count(*) FROM {} AS l WHERE {} AND {}",
                    table_ref(legacy, t),
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
        counts.left_in_legacy = counts.legacy_before.saturating_sub(present);
    }
    report.scoped_version = report.scoped_version_before;
    Ok(report)
}
