//! After the release ran: every snapshot key accounted for; and the dry run, which asks the release for its preview.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::Connection;

use crate::db::schema::tables::{self, Table};
use crate::error::Error;
use crate::home::{CutoverWork, Home};

use super::release::run_release;
use super::snapshot::{build_snapshot, count_snapshot, max_store_body_id};
use super::verify::{open_stores, unaccounted};
use super::{
    CutoverOptions, CutoverReport, CutoverStatus, ProjectCarried, quarantine_counts, scratch,
    scratch_home, unverified,
};

/// Every natural key of the snapshot is in a project store or quarantined.
pub(super) fn verify(
    home: &Home,
    snap: &Connection,
    snap_path: &Path,
    manifest: &serde_json::Value,
    id: &str,
    busy: u64,
) -> Result<(), Error> {
    if manifest["phase"] != "complete" {
        return Err(Error::CutoverUnverified {
            migration_id: id.to_string(),
            detail: format!("the manifest's phase is {}", manifest["phase"]),
        });
    }
    let quarantined = quarantined_keys(manifest, id)?;
    let stores = open_stores(home, busy)?;
    let missing = unaccounted(snap, snap_path, &stores, &quarantined, busy)?;
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

/// The (table, row id) of every quarantine record of a complete manifest
/// (the release writes both for each). A record of a table that is no
/// queue table holds none of the snapshot's keys and is left out.
fn quarantined_keys(
    manifest: &serde_json::Value,
    id: &str,
) -> Result<BTreeSet<(Table, String)>, Error> {
    let list = manifest["quarantine"]
        .as_array()
        .ok_or_else(|| unverified(id, "the manifest has no quarantine list".to_string()))?;
    let keys: Vec<Option<(Table, String)>> = list
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let table = q["table"].as_str().ok_or_else(|| {
                unverified(
                    id,
                    format!("quarantine entry {i} of the manifest has no table"),
                )
            })?;
            let row_id = match &q["row_id"] {
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Null => {
                    return Err(unverified(
                        id,
                        format!("quarantine entry {i} of the manifest has no row_id"),
                    ));
                }
                other => other.to_string(),
            };
            Ok(Table::from_name(table).map(|t| (t, row_id)))
        })
        .collect::<Result<_, Error>>()?;
    Ok(keys.into_iter().flatten().collect())
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
        &CutoverWork::at(scratch.path().join("snapshot")),
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
    report.phase = preview["phase"]
        .as_str()
        .map(crate::survey::layout::CutoverPhase::from_name);
    report.quarantined = quarantine_counts(&preview, id, "the release's preview")?;
    report.projects = preview_projects(&preview, id)?;
    report.status = CutoverStatus::DryRun;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Rows per project of the release's preview (`partitions`: project uuid →
/// list of rows, each naming its table; the release always writes it).
fn preview_projects(preview: &serde_json::Value, id: &str) -> Result<Vec<ProjectCarried>, Error> {
    let what = "the release's preview";
    let partitions = preview["partitions"]
        .as_object()
        .ok_or_else(|| unverified(id, format!("{what} has no partitions")))?;
    partitions
        .iter()
        .map(|(uuid, rows)| {
            let rows = rows.as_array().ok_or_else(|| {
                unverified(id, format!("partition {uuid} of {what} is not a list"))
            })?;
            let n = |t: &str| rows.iter().filter(|r| r["table"] == t).count() as u64;
            Ok(ProjectCarried {
                project_uuid: uuid.clone(),
                events: n(tables::QUEUE.name()),
                body_uploads: n(tables::BODY_UPLOAD_QUEUE.name()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_preview_counts_rows_per_project_and_quarantine_by_reason() {
        let preview = json!({
            "phase": "planned",
            "partitions": {"p1": [{"table": "queue"}, {"table": "body_upload_queue"}, {"table": "queue"}]},
            "quarantine": [{"reason": "incompatible_row"}, {"reason": "incompatible_row"}],
        });
        let projects = preview_projects(&preview, "id").unwrap();
        assert_eq!(
            projects,
            vec![ProjectCarried {
                project_uuid: "p1".into(),
                events: 2,
                body_uploads: 1
            }]
        );
        let counts = quarantine_counts(&preview, "id", "the preview").unwrap();
        assert_eq!(counts.get("incompatible_row"), Some(&2));
    }

    #[test]
    fn a_document_without_what_the_release_writes_is_unverified_not_zero() {
        for doc in [
            json!({"quarantine": []}),
            json!({"partitions": {"p1": 3}, "quarantine": []}),
        ] {
            let err = preview_projects(&doc, "sk-migrate-1").unwrap_err();
            assert!(matches!(err, Error::CutoverUnverified { .. }), "{err}");
            assert!(err.to_string().contains("sk-migrate-1"), "{err}");
        }
        for doc in [json!({}), json!({"quarantine": [{"table": "queue"}]})] {
            let err = quarantine_counts(&doc, "id", "the manifest").unwrap_err();
            assert!(matches!(err, Error::CutoverUnverified { .. }), "{err}");
        }
        let no_table = json!({"phase": "complete", "quarantine": [{"row_id": "1"}]});
        let err = quarantined_keys(&no_table, "id").unwrap_err();
        assert!(err.to_string().contains("has no table"), "{err}");
        let ok = json!({"quarantine": [{"table": "queue", "row_id": "7"}]});
        let keys = quarantined_keys(&ok, "id").unwrap();
        assert!(keys.contains(&(Table::Queue, "7".to_string())));
    }
}
