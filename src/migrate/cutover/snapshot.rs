//! The snapshot of the legacy sources the release cuts over: every source
//! copied, then moved into one V4 queue DB by natural key; and its counts.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::db::schema::{self, tables};
use crate::error::Error;
use crate::home::{CutoverWork, Home};
use crate::migrate::merge::{self, MoveOptions};
use crate::migrate::observe::Quiet;
use crate::survey::stores;

use crate::survey::stores::SourceStamp;

use super::{CutoverOptions, CutoverReport};

/// The largest numeric `body_task_id` any project store holds, so snapshot
/// ids can start above it (3.2.7 keys body uploads by it).
pub(super) fn max_store_body_id(home: &Home) -> i64 {
    stores::gather(home)
        .stores
        .iter()
        .filter_map(|s| stores::open_ro(Path::new(&s.path)).ok())
        .filter_map(|c| {
            c.query_row(
                "SELECT max(CAST(body_task_id AS INTEGER)) FROM body_upload_tasks \
                 WHERE body_task_id GLOB '[0-9]*'",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .ok()
            .flatten()
        })
        .max()
        .unwrap_or(0)
}

pub(super) fn sq(path: &Path, busy: u64) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::sqlite(path, e, busy)
}

/// Build the snapshot in `work`: every source copied, then moved into
/// its snapshot DB by natural key (scoped sources first: their copy of a key
/// wins, as the CLI used them last). Returns (snapshot path, rows left).
pub(super) fn build_snapshot(
    work: &CutoverWork,
    sources: &[PathBuf],
    body_id_floor: i64,
    busy: u64,
) -> Result<(PathBuf, u64), Error> {
    let dir = work.path();
    crate::fsutil::create_private_dir_all(dir)?;
    let snapshot = work.snapshot();
    let mut conn = Connection::open(&snapshot).map_err(sq(&snapshot, busy))?;
    // V4: no failure log. The release quarantines every failure-log row
    // (`incompatible_row`); it is a diagnostic, never delivered work.
    schema::upgrade_to(&mut conn, &snapshot, SNAPSHOT_SCHEMA.version)?;
    conn.execute(
        "INSERT INTO sqlite_sequence(name, seq) VALUES ('body_upload_queue', ?1)",
        [body_id_floor],
    )
    .map_err(sq(&snapshot, busy))?;
    drop(conn);
    let mut ordered: Vec<&PathBuf> = sources.iter().filter(|p| !is_legacy(p)).collect();
    ordered.extend(sources.iter().filter(|p| is_legacy(p)));
    let mut left = 0;
    for (i, src) in ordered.iter().enumerate() {
        let copy = dir.join(format!("source-{i}.db"));
        let _ = std::fs::remove_file(&copy);
        crate::db::snapshot(src, &copy, busy)?;
        let opts = MoveOptions {
            busy_timeout_ms: busy,
            schema: SNAPSHOT_SCHEMA,
            ..MoveOptions::default()
        };
        let moved = merge::move_rows(&copy, &snapshot, &opts, &mut Quiet)?;
        left += moved
            .tables
            .iter()
            .filter(|t| t.table != tables::Table::BodyUploadFailureLog)
            .map(|t| t.left_in_legacy)
            .sum::<u64>();
        let _ = std::fs::remove_file(&copy);
    }
    // The release would quarantine our schema history as rows it cannot read.
    let conn = Connection::open(&snapshot).map_err(sq(&snapshot, busy))?;
    conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", schema::HISTORY_TABLE))
        .map_err(sq(&snapshot, busy))?;
    Ok((snapshot, left))
}

pub(super) const SNAPSHOT_SCHEMA: merge::SchemaTarget = merge::SchemaTarget {
    version: 4,
    reads_newer: &[],
};

pub(super) fn is_legacy(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n == crate::home::LEGACY_QUEUE_FILE)
}

/// Open the snapshot and fill the report's counts of it and of the
/// failure-log rows left in the sources.
pub(super) fn count_snapshot(
    report: &mut CutoverReport,
    snapshot: &Path,
    sources: &[PathBuf],
    busy: u64,
) -> Result<Connection, Error> {
    let snap = stores::open_ro(snapshot).map_err(sq(snapshot, busy))?;
    report.snapshot_events =
        stores::count_rows(&snap, tables::QUEUE.name()).map_err(sq(snapshot, busy))?;
    report.snapshot_body_uploads =
        stores::count_rows(&snap, tables::BODY_UPLOAD_QUEUE.name()).map_err(sq(snapshot, busy))?;
    report.failure_log_not_carried = failure_log_rows(sources, busy)?;
    Ok(snap)
}

/// Failure-log rows of the sources (a source without the table, before V4,
/// has none).
pub(super) fn failure_log_rows(paths: &[PathBuf], busy: u64) -> Result<u64, Error> {
    let table = tables::BODY_UPLOAD_FAILURE_LOG.name();
    let mut total = 0;
    for p in paths {
        let conn = stores::open_ro(p).map_err(sq(p, busy))?;
        if stores::has_table(&conn, table).map_err(sq(p, busy))? {
            total += stores::count_rows(&conn, table).map_err(sq(p, busy))?;
        }
    }
    Ok(total)
}

/// The snapshot of the sources, built once (and re-encoded, when the
/// release needs it): aside, then renamed into place (a rerun resumes with
/// the same bytes and reads what re-encoding did from its record).
pub(super) fn ensure_snapshot(
    home: &Home,
    opts: &CutoverOptions,
    id: &str,
    paths: &[PathBuf],
    stamps: &[SourceStamp],
    release_started: bool,
    report: &mut CutoverReport,
) -> Result<(), Error> {
    let busy = opts.busy_timeout_ms;
    let work = home.cutover_work(id);
    let (dir, snapshot) = (work.path(), work.snapshot());
    if snapshot.exists() {
        report.history =
            stores::read_json(&work.history_record()).and_then(|v| serde_json::from_value(v).ok());
        // A snapshot an sk-migrate without re-encoding built: still ours to
        // prepare while the release has not read it (no manifest yet).
        if report.history.is_none() && opts.canonical_history && !release_started {
            encode(home, opts, &work, &snapshot, id, report)?;
        }
    } else {
        // Built aside, renamed into place: a rerun resumes with the same bytes.
        let aside = home.cutover_building(id);
        let building = aside.path();
        let _ = std::fs::remove_dir_all(building);
        let (built, left) = build_snapshot(&aside, paths, max_store_body_id(home), busy)?;
        report.left_in_sources = left;
        if opts.canonical_history {
            encode(home, opts, &aside, &built, id, report)?;
        }
        let text = serde_json::to_string_pretty(stamps)
            .map_err(|e| Error::io(building, std::io::Error::other(e)))?;
        super::write_atomic(building, &aside.stamps(), &text)?;
        std::fs::File::open(&built)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&built, e))?;
        std::fs::rename(building, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

/// Re-encode `snapshot` (in `dir`, ours) for the release's history upload,
/// and record what was done next to it (0600).
fn encode(
    home: &Home,
    opts: &CutoverOptions,
    work: &CutoverWork,
    snapshot: &Path,
    id: &str,
    report: &mut CutoverReport,
) -> Result<(), Error> {
    let dir = work.path();
    let python = opts.python.as_deref();
    let history =
        super::canonical::reencode(python, snapshot, home.root(), id, opts.busy_timeout_ms)?;
    let text = serde_json::to_string_pretty(&history)
        .map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
    super::write_atomic(dir, &work.history_record(), &text)?;
    report.history = Some(history);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CutoverOptions {
        super::super::tests::never_run(true)
    }

    /// A snapshot left without a record (built by an sk-migrate that did
    /// not re-encode) is prepared only while the release has not read it.
    #[test]
    fn an_unrecorded_snapshot_is_re_encoded_only_before_the_release_read_it() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        build_snapshot(&home.cutover_work("sk-migrate-ab"), &[], 0, 1000).unwrap();
        let mut report = super::super::empty_report(&[]);
        let read = ensure_snapshot(&home, &opts(), "sk-migrate-ab", &[], &[], true, &mut report);
        assert!(read.is_ok() && report.history.is_none());
        let err = ensure_snapshot(
            &home,
            &opts(),
            "sk-migrate-ab",
            &[],
            &[],
            false,
            &mut report,
        )
        .unwrap_err();
        assert!(err.to_string().contains("--spec-kitty PATH"), "{err}");
    }
}
