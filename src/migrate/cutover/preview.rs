//! After the release ran: every snapshot key accounted for; and the dry run, which asks the release for its preview.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::Connection;

use crate::db::store;
use crate::error::Error;
use crate::home::Home;

use super::release::run_release;
use super::verify::unaccounted;
use super::{
    CutoverOptions, CutoverReport, CutoverStatus, ProjectCarried, build_snapshot, count_snapshot,
    max_store_body_id, quarantine_counts, scratch, scratch_home,
};

/// Every natural key of the snapshot is in a project store or quarantined.
pub(super) fn verify(
    home: &Home,
    snap: &Connection,
    manifest: &serde_json::Value,
    id: &str,
) -> Result<(), Error> {
    if manifest["phase"] != "complete" {
        return Err(Error::CutoverUnverified {
            migration_id: id.to_string(),
            detail: format!("the manifest's phase is {}", manifest["phase"]),
        });
    }
    let quarantined: BTreeSet<(String, String)> = manifest["quarantine"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|q| {
            (
                q["table"].as_str().unwrap_or_default().to_string(),
                match &q["row_id"] {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                },
            )
        })
        .collect();
    let stores: Vec<Connection> = store::gather(home)
        .stores
        .iter()
        .filter_map(|s| store::open_ro(Path::new(&s.path)).ok())
        .collect();
    let (missing, _) =
        unaccounted(snap, &stores, &quarantined).map_err(|e| Error::CutoverUnverified {
            migration_id: id.to_string(),
            detail: e.to_string(),
        })?;
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::CutoverUnverified {
            migration_id: id.to_string(),
            detail: format!(
                "{} row(s) are in no project store and not quarantined: {}",
                missing.len(),
                missing
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        })
    }
}

/// The release's read-only preview, on a snapshot and a scratch copy of
/// the home in a private directory inside it (`scratch`), removed on every
/// exit path; the home's own files are not touched.
pub(super) fn dry_run(
    home: &Home,
    opts: &CutoverOptions,
    paths: &[PathBuf],
    id: &str,
    mut report: CutoverReport,
    started: Instant,
) -> Result<CutoverReport, Error> {
    // The run lock: the sweep must not remove a live run's scratch.
    let _lock = crate::migrate::lock::HomeLock::acquire(home.root(), opts.busy_timeout_ms)?;
    scratch::sweep(home)?;
    let scratch = scratch::Scratch::create(home)?;
    let root = scratch_home(home, scratch.path())?;
    let (snapshot, left) = build_snapshot(
        &scratch.path().join("snapshot"),
        paths,
        max_store_body_id(home),
        opts.busy_timeout_ms,
    )?;
    report.left_in_sources = left;
    let _snap = count_snapshot(&mut report, &snapshot, paths, opts.busy_timeout_ms)?;
    let r = run_release(
        opts,
        "project-store-preview",
        &snapshot,
        id,
        &root,
        Some(scratch.path()),
    )?;
    let preview = r.json;
    if !r.status.success() {
        return Err(Error::CutoverRefused {
            migration_id: id.to_string(),
            phase: "preview".to_string(),
            reason: r.tail,
        });
    }
    report.phase = preview["phase"].as_str().map(str::to_string);
    report.quarantined = quarantine_counts(&preview);
    report.projects = preview["partitions"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(uuid, rows)| {
            let rows = rows.as_array().map(Vec::as_slice).unwrap_or_default();
            let n = |t: &str| rows.iter().filter(|r| r["table"] == t).count() as u64;
            ProjectCarried {
                project_uuid: uuid.clone(),
                events: n("queue"),
                body_uploads: n("body_upload_queue"),
            }
        })
        .collect();
    report.status = CutoverStatus::DryRun;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}
