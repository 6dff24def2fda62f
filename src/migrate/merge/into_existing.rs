//! Gather the facts, plan, and carry the plan out; the general path into an
//! existing scoped DB (or one created in place).

use std::path::Path;

use super::dry_run::dry_run;
use super::moves::{Move, open_scoped};
use super::{MoveOptions, MoveReport, TableCounts};
use crate::db::schema::tables::ALL;
use crate::db::{DbFacts, backup, inspect, open_read_only, recover, schema};
use crate::error::Error;
use crate::migrate::observe::{Observer, Step};

use super::into_new::move_into_new;
use super::plan::{self, Plan};

/// Move every movable legacy row into the scoped DB. See the module docs.
pub fn move_rows(
    legacy_path: &Path,
    scoped_path: &Path,
    opts: &MoveOptions,
    observer: &mut dyn Observer,
) -> Result<MoveReport, Error> {
    let busy = opts.busy_timeout_ms;
    if !opts.dry_run {
        for path in [legacy_path, scoped_path] {
            if path.exists() {
                recover(path, busy)?;
            }
        }
    }
    // Legacy first, read-only: a file that is not a DB or has an unknown
    // schema is refused before anything is created or changed.
    let legacy = inspect(legacy_path, busy)?;
    let scoped_before = inspect(scoped_path, busy)?;
    if let Some(f) = &scoped_before
        && !opts.schema.accepts(f.version)
    {
        return Err(Error::SchemaTooNew {
            path: scoped_path.to_path_buf(),
            version: f.version,
            release_version: opts.schema.version,
        });
    }
    let mut report = initial_report(legacy.as_ref(), scoped_before.as_ref());
    let scoped_exists = scoped_before.is_some();
    let planned = plan::plan(
        legacy.as_ref(),
        scoped_before.as_ref(),
        opts.dry_run,
        &opts.limits,
    );
    if !matches!(planned, Plan::Nothing | Plan::DryRun { .. }) {
        flush(legacy_path, scoped_path)?;
    }
    match planned {
        Plan::Nothing => Ok(report),
        Plan::DryRun { legacy_version } => dry_run(
            legacy_path,
            scoped_path,
            legacy_version,
            report,
            (busy, &opts.limits),
        ),
        Plan::IntoNew => {
            backups(legacy_path, scoped_path, scoped_exists, opts, &mut report)?;
            // A daemon may create the scoped DB meanwhile: then move into it as it is.
            match move_into_new(legacy_path, scoped_path, report.clone(), observer, opts)? {
                Some(done) => Ok(done),
                None => into_existing(
                    legacy_path,
                    scoped_path,
                    (false, true),
                    report,
                    opts,
                    observer,
                ),
            }
        }
        Plan::IntoExisting { rows } => {
            backups(legacy_path, scoped_path, scoped_exists, opts, &mut report)?;
            let existing = (true, rows);
            into_existing(legacy_path, scoped_path, existing, report, opts, observer)
        }
        Plan::CreateInPlace => {
            backups(legacy_path, scoped_path, scoped_exists, opts, &mut report)?;
            let created = (false, true);
            into_existing(legacy_path, scoped_path, created, report, opts, observer)
        }
    }
}

/// A DB just copied or restored (a home copied, a backup put back) has its
/// pages in the page cache, not on disk: the first commit's fsync would
/// write them all while the chunk holds the locks (measured: 592 ms of a
/// 711 ms hold on a copied 1M-row home). Flushed before a move takes any
/// lock; a run that writes nothing flushes nothing.
fn flush(legacy_path: &Path, scoped_path: &Path) -> Result<(), Error> {
    crate::fsutil::sync_file(legacy_path)?;
    crate::fsutil::sync_file(scoped_path)
}

/// The report before anything is done: versions found, every legacy row
/// counted as left in legacy.
fn initial_report(legacy: Option<&DbFacts>, scoped_before: Option<&DbFacts>) -> MoveReport {
    let mut report = MoveReport {
        legacy_version: legacy.map(|f| f.version),
        scoped_version_before: scoped_before.map(|f| f.version),
        scoped_version: scoped_before.map(|f| f.version),
        atomic: true,
        ..MoveReport::default()
    };
    report.tables = ALL
        .iter()
        .map(|t| {
            let before = legacy.map_or(0, |f| f.rows_of(t.table));
            TableCounts {
                legacy_before: before,
                left_in_legacy: before,
                ..TableCounts::new(t.table)
            }
        })
        .collect();
    report
}

/// `--backup DIR`: both DBs copied (the scoped one when it exists) before
/// anything is written.
fn backups(
    legacy_path: &Path,
    scoped_path: &Path,
    scoped_exists: bool,
    opts: &MoveOptions,
    report: &mut MoveReport,
) -> Result<(), Error> {
    let busy = opts.busy_timeout_ms;
    if let Some(dir) = &opts.backup_dir {
        let lconn = open_read_only(legacy_path, busy)?;
        report
            .backups
            .push(backup(&lconn, "main", dir, "legacy-queue", busy)?);
        if scoped_exists {
            let sconn = open_read_only(scoped_path, busy)?;
            report
                .backups
                .push(backup(&sconn, "main", dir, "scoped-queue", busy)?);
        }
    }
    Ok(())
}

/// Upgrade the scoped DB in place (creating it if needed), then, when
/// `rows`, move in chunks (`chunk`): each under one transaction over both
/// files (rollback journal on both) or scoped first, legacy second (WAL).
/// `(existed, rows)`.
pub(super) fn into_existing(
    legacy_path: &Path,
    scoped_path: &Path,
    (existed, rows): (bool, bool),
    mut report: MoveReport,
    opts: &MoveOptions,
    observer: &mut dyn Observer,
) -> Result<MoveReport, Error> {
    let busy = opts.busy_timeout_ms;
    let mut conn = open_scoped(scoped_path, busy)?;
    let upgrade = schema::upgrade_to(&mut conn, scoped_path, opts.schema.version)?;
    report.scoped_version = Some(upgrade.to);
    report.changed = upgrade.changed() || !existed;
    observer.checkpoint(Step::SchemaUpgraded)?;
    if !rows {
        return Ok(report);
    }
    let mv = Move::attach(&conn, legacy_path, scoped_path, upgrade.to, busy)?;
    // A failed statement leaves the chunk's transaction open: its guard
    // rolls it back as it drops, so both files stay as the last committed
    // chunk left them.
    mv.move_chunks(&conn, opts, &mut report, observer)?;
    mv.mark_changed(&mut report);
    Ok(report)
}
