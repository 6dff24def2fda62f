//! `sk-migrate run` on 3.2.6+ releases: carry every queued row across the
//! release's own copy-only cutover, with none quarantined as a duplicate.
//!
//! 3.2.7 identifies a body upload by its local `id`, so two sources sharing
//! ids quarantine both copies (`divergent_duplicate`). So the sources are
//! first consolidated into one private snapshot DB with the move engine
//! (copies of each source are moved into it by natural key; the originals
//! are only read and stay byte-identical), with body ids placed above every
//! id a project store already holds. The installed release's own
//! `spec-kitty sync project-store-migrate` then runs on that snapshot with a
//! stable migration id (same sources → same id, so a rerun resumes), and
//! every natural key of the snapshot is verified to be in a project store
//! or listed in the manifest's quarantine. A `failed` id is never reused.
//!
//! On a release whose history upload takes a sealed row only as its own
//! canonical JSON of the event (the profile's
//! `cutover_history_canonical_json`, 3.2.6–3.2.7), the snapshot's events
//! are re-encoded with that release's `_canonical_event_json`, in its
//! interpreter, before it reads the snapshot (`canonical.rs`): so the
//! release can deliver the history it seals (measured by delivery,
//! `tests/system/cutover_delivery.rs`).
//!
//! Layout: `<root>/sk-migrate-cutover/<id>/snapshot.db` (3.2.7 refuses a
//! source under `projects/`), `history.json` (what re-encoding did, for
//! sk-doctor) and, once the
//! cutover is complete and verified, `sources.json` (path, size, mtime and
//! SHA-256 of every original source), which is how sk-doctor knows those
//! sources were carried.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::home::{CutoverWork, Home};
use crate::survey::layout::CutoverPhase;
use crate::survey::stores::{self, Carried, LegacySource, SourceStamp};

mod verify;
use verify::per_project;

mod preview;
use preview::{dry_run, verify};

mod scratch;

mod canonical;

mod child;

mod snapshot;
use snapshot::{count_snapshot, ensure_snapshot};

mod release;
use release::{refuse_failed, release_migrate, tail_of};

pub mod late;

mod greenfield;
pub use greenfield::Greenfield;

/// How to run the cutover.
#[derive(Debug, Clone)]
pub struct CutoverOptions {
    pub dry_run: bool,
    pub busy_timeout_ms: u64,
    /// The installed release's `spec-kitty` entry point.
    pub spec_kitty: PathBuf,
    /// Copy every source here first (`--backup DIR`).
    pub backup_dir: Option<PathBuf>,
    /// The installed release's interpreter (its `#!` line), which runs its
    /// own writers for late rows.
    pub python: Option<PathBuf>,
    /// Re-encode the snapshot's events with the release's own
    /// `_canonical_event_json` before its cutover reads them (the profile's
    /// `cutover_history_canonical_json`).
    pub canonical_history: bool,
    /// What a root run may execute though another user can change it
    /// (`--trust-venv`; `crate::trust`).
    pub trusted: crate::trust::Trusted,
}

/// Rows a project store received from the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectCarried {
    pub project_uuid: String,
    pub events: u64,
    pub body_uploads: u64,
}

/// What a cutover run did (`status` in `docs/json.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CutoverStatus {
    /// The release's cutover carried the legacy sources.
    Migrated,
    /// No legacy source holds rows that no complete cutover carried.
    NothingToDo,
    /// The release's own preview; nothing was written.
    DryRun,
    /// Late legacy rows were carried through the release's own writers.
    CarriedLate,
    /// No legacy rows: the layout was switched to `project_only` through
    /// the release's own layout authority, as its first live write would.
    LayoutPublished,
}

/// `sk-migrate run --json` on a project-store release.
#[derive(Debug, Clone, Serialize)]
pub struct CutoverReport {
    /// `{version, source, generation}` of the release whose rules applied
    /// (set by the command line; absent for library callers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<crate::release::ReleaseView>,

    pub status: CutoverStatus,
    pub migration_id: Option<String>,
    pub sources: Vec<LegacySource>,
    pub snapshot: Option<String>,
    /// Rows the snapshot holds: events and body uploads.
    pub snapshot_events: u64,
    pub snapshot_body_uploads: u64,
    /// Failure-log rows of the sources: diagnostics the release never
    /// delivers (its cutover quarantines each as `incompatible_row`), so
    /// they are not carried; they stay in the sources.
    pub failure_log_not_carried: u64,
    /// Rows of the sources that no snapshot holds (a NULL natural key).
    pub left_in_sources: u64,
    /// What re-encoding the snapshot's events for the release's history
    /// upload did (absent when the release needs none).
    pub history: Option<crate::survey::history::HistoryEncoding>,
    pub manifest: Option<String>,
    pub phase: Option<CutoverPhase>,
    pub projects: Vec<ProjectCarried>,
    pub quarantined: BTreeMap<String, u64>,
    pub backups: Vec<String>,
    /// Late rows carried through the release's own writers (and the
    /// processes still writing a legacy DB); absent when not looked at.
    pub late: Option<late::LateReport>,
    /// The layout switched with no legacy rows (absent when not asked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub greenfield: Option<Greenfield>,
    pub elapsed_ms: u64,
}

fn stamp(path: &Path) -> Result<SourceStamp, Error> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    Ok(SourceStamp {
        path: path.display().to_string(),
        size: meta.len(),
        mtime_ns,
        sha256: stores::file_sha256(path)?,
    })
}

/// The stable migration id of a set of sources (pure).
pub fn migration_id(stamps: &[SourceStamp]) -> String {
    let mut h = Sha256::new();
    for s in stamps {
        h.update(s.path.as_bytes());
        h.update([0]);
        h.update(s.sha256.as_bytes());
        h.update([0]);
    }
    format!("sk-migrate-{}", &hex::encode(h.finalize())[..16])
}

/// The cutover cannot be verified: `what` lacks a part the release always
/// writes.
fn unverified(id: &str, detail: String) -> Error {
    Error::CutoverUnverified {
        migration_id: id.to_string(),
        detail,
    }
}

/// Quarantine counts by reason of a manifest or preview document (`what`):
/// the release always writes `quarantine`, a list of records with a reason.
fn quarantine_counts(
    doc: &serde_json::Value,
    id: &str,
    what: &str,
) -> Result<BTreeMap<String, u64>, Error> {
    let list = doc["quarantine"]
        .as_array()
        .ok_or_else(|| unverified(id, format!("{what} has no quarantine list")))?;
    let mut out = BTreeMap::new();
    for (i, q) in list.iter().enumerate() {
        let reason = q["reason"].as_str().ok_or_else(|| {
            unverified(id, format!("quarantine entry {i} of {what} has no reason"))
        })?;
        *out.entry(reason.to_string()).or_insert(0) += 1;
    }
    Ok(out)
}

/// A copy of the home's configuration and stores in `scratch`, for the
/// release's preview (any spec-kitty run writes caches into its home).
fn scratch_home(home: &Home, scratch: &Path) -> Result<PathBuf, Error> {
    let copy = Home::at(Home::default_root(scratch));
    crate::fsutil::create_private_dir_all(copy.root())?;
    for file in [Home::config, Home::credentials, Home::active_queue_scope] {
        let src = file(home);
        if src.is_file() {
            std::fs::copy(&src, file(&copy)).map_err(|e| Error::io(&src, e))?;
        }
    }
    for dir in [Home::auth_dir, Home::projects_dir] {
        copy_tree(&dir(home), &dir(&copy))?;
    }
    Ok(copy.root().to_path_buf())
}

fn copy_tree(src: &Path, dst: &Path) -> Result<(), Error> {
    let Ok(entries) = std::fs::read_dir(src) else {
        return Ok(());
    };
    crate::fsutil::create_private_dir_all(dst)?;
    for e in entries.flatten() {
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).map_err(|err| Error::io(&p, err))?;
        if meta.is_dir() {
            if e.file_name() != ".sk-migrate" {
                copy_tree(&p, &dst.join(e.file_name()))?;
            }
        } else if meta.is_file() {
            std::fs::copy(&p, dst.join(e.file_name())).map_err(|err| Error::io(&p, err))?;
        }
    }
    Ok(())
}

/// Carry every row of the home's legacy sources across the release's
/// cutover (or, with `dry_run`, show what its preview would carry); then,
/// and on a home already `project_only`, carry the late rows through the
/// release's own writers.
pub fn run(home: &Home, opts: &CutoverOptions) -> Result<CutoverReport, Error> {
    let started = Instant::now();
    // Before anything is created: a root run on a user's home refuses.
    home.require_owned_by_caller()?;
    child::require_trusted(opts)?;
    let busy = opts.busy_timeout_ms;
    let facts = stores::gather(home);
    if facts.layout_mode == crate::survey::layout::LayoutMode::ProjectOnly {
        return late_only(home, opts, started);
    }
    let pending: Vec<LegacySource> = stores::pending_sources(&facts)
        .into_iter()
        .cloned()
        .collect();
    let mut report = empty_report(&pending);
    let resume = in_flight(home, &facts);
    if pending.is_empty() && resume.is_none() {
        if facts.layout_mode == crate::survey::layout::LayoutMode::Legacy && !opts.dry_run {
            publish_greenfield(home, opts, &facts, &mut report)?;
        }
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok(report);
    }
    let paths: Vec<PathBuf> = stores::discover_sources(home);
    let (id, stamps) = match resume {
        Some(id) => {
            let stamps =
                read_stamps(&home.cutover_work(&id)).map_or_else(|| stamps_of(&paths), Ok)?;
            (id, stamps)
        }
        None => {
            let stamps = stamps_of(&paths)?;
            (migration_id(&stamps), stamps)
        }
    };
    report.migration_id = Some(id.clone());
    let manifest_path = home.migration(&id).manifest();
    let manifest = stores::read_json(&manifest_path);
    refuse_failed(manifest.as_ref(), &id, &manifest_path)?;
    if opts.dry_run {
        return dry_run(home, opts, &paths, &id, report, started);
    }
    // One run at a time on a home, as for the move: a second one waits,
    // then names the holder (its snapshot build would race this one's).
    let _lock = crate::migrate::lock::HomeLock::acquire(home.root(), busy)?;
    scratch::sweep(home)?;
    backup_sources(opts, &paths, &mut report)?;
    let work = home.cutover_work(&id);
    let snapshot = work.snapshot();
    let release_read = manifest.is_some();
    ensure_snapshot(home, opts, &id, &paths, &stamps, release_read, &mut report)?;
    report.snapshot = Some(snapshot.display().to_string());
    let snap = count_snapshot(&mut report, &snapshot, &paths, busy)?;
    if manifest.as_ref().is_none_or(|m| m["phase"] != "complete") {
        release_migrate(opts, &snapshot, &id, home, &manifest_path)?;
    }
    let manifest = read_manifest(&manifest_path)?;
    report.manifest = Some(manifest_path.display().to_string());
    report.phase = manifest["phase"].as_str().map(CutoverPhase::from_name);
    verify(home, &snap, &snapshot, &manifest, &id, busy)?;
    report.quarantined = quarantine_counts(&manifest, &id, "the manifest")?;
    report.projects = per_project(home, &snap, &snapshot, busy)?;
    write_carried(
        &work,
        &Carried {
            migration_id: id,
            sources: stamps,
        },
    )?;
    // Rows written while the release cut over are late already.
    report.late = Some(late::carry(home, opts.python.as_deref(), busy)?);
    report.status = CutoverStatus::Migrated;
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// No legacy rows and layout `legacy`: the release's gate refuses until
/// its first live write; switch the layout as that write would. Without a
/// project to ask as, or the release's interpreter, nothing is done.
fn publish_greenfield(
    home: &Home,
    opts: &CutoverOptions,
    facts: &stores::StoreFacts,
    report: &mut CutoverReport,
) -> Result<(), Error> {
    let (Some(python), Some(project)) = (opts.python.as_deref(), greenfield::project(facts)) else {
        return Ok(());
    };
    let _lock = crate::migrate::lock::HomeLock::acquire(home.root(), opts.busy_timeout_ms)?;
    let answer = greenfield::publish(home, python, &project)?;
    if answer.after == crate::survey::layout::LayoutMode::ProjectOnly.as_str() {
        report.status = CutoverStatus::LayoutPublished;
    }
    report.greenfield = Some(answer);
    Ok(())
}

/// The manifest after the release ran. None at all: its phase is unknown
/// (`verify` says so); one that is not JSON is an error naming it.
fn read_manifest(path: &Path) -> Result<serde_json::Value, Error> {
    match crate::fsutil::read_text(path)? {
        Some(text) => serde_json::from_str(&text).map_err(|e| Error::Malformed {
            path: path.to_path_buf(),
            detail: format!("the release's cutover manifest is not JSON ({e})"),
        }),
        None => Ok(serde_json::Value::Null),
    }
}

fn stamps_of(paths: &[PathBuf]) -> Result<Vec<SourceStamp>, Error> {
    paths.iter().map(|p| stamp(p)).collect()
}

/// The stamps of the sources a snapshot was built from.
fn read_stamps(work: &CutoverWork) -> Option<Vec<SourceStamp>> {
    stores::read_json(&work.stamps()).and_then(|v| serde_json::from_value(v).ok())
}

/// A cutover of ours left mid-way (killed, or the child interrupted): the
/// layout's owning migration, else an unfinished manifest of ours, whose
/// snapshot is still there. Resumed with the same id, whatever the
/// sources hold now (rows added since are carried as late rows).
fn in_flight(home: &Home, facts: &stores::StoreFacts) -> Option<String> {
    let has_snapshot = |id: &str| home.cutover_work(id).snapshot().is_file();
    let owner = stores::read_json(&home.layout_record())
        .filter(|v| v["mode"] == crate::survey::layout::LayoutMode::CutoverPending.as_str())
        .and_then(|v| v["migration_id"].as_str().map(str::to_string));
    pick_in_flight(owner.as_deref(), &facts.cutovers, &has_snapshot)
}

/// The choice of [`in_flight`] (pure over its inputs).
pub(super) fn pick_in_flight(
    layout_owner: Option<&str>,
    cutovers: &[stores::Cutover],
    has_snapshot: &dyn Fn(&str) -> bool,
) -> Option<String> {
    let ours = |id: &str| id.starts_with("sk-migrate-") && has_snapshot(id);
    if let Some(id) = layout_owner.filter(|id| ours(id)) {
        return Some(id.to_string());
    }
    cutovers
        .iter()
        .filter(|c| !matches!(c.phase, CutoverPhase::Complete | CutoverPhase::Failed))
        .find(|c| ours(&c.migration_id))
        .map(|c| c.migration_id.clone())
}

/// A `project_only` home: the release takes no new migration id, so only
/// late rows are carried, through its writers (the dry run counts them).
fn late_only(home: &Home, opts: &CutoverOptions, started: Instant) -> Result<CutoverReport, Error> {
    let busy = opts.busy_timeout_ms;
    let mut report = empty_report(&[]);
    if opts.dry_run {
        let rows = late::late_rows(home, busy);
        report.late = Some(late::LateReport {
            found: rows.len() as u64,
            // TODO(issue 29, phase 2): where the process table cannot be read
            // (or this platform cannot tell) the list is empty, not "unknown".
            writers: crate::survey::writers::legacy_writers(home).known_or_default(&mut Vec::new()),
            ..late::LateReport::default()
        });
        report.status = CutoverStatus::DryRun;
    } else {
        let _lock = crate::migrate::lock::HomeLock::acquire(home.root(), busy)?;
        scratch::sweep(home)?;
        let carried = late::carry(home, opts.python.as_deref(), busy)?;
        if carried.found > 0 {
            report.status = CutoverStatus::CarriedLate;
        }
        report.late = Some(carried);
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The report before anything is done.
fn empty_report(pending: &[LegacySource]) -> CutoverReport {
    CutoverReport {
        release: None,
        status: CutoverStatus::NothingToDo,
        migration_id: None,
        sources: pending.to_vec(),
        snapshot: None,
        snapshot_events: 0,
        snapshot_body_uploads: 0,
        failure_log_not_carried: 0,
        left_in_sources: 0,
        history: None,
        manifest: None,
        phase: None,
        projects: Vec::new(),
        quarantined: BTreeMap::new(),
        backups: Vec::new(),
        late: None,
        greenfield: None,
        elapsed_ms: 0,
    }
}

/// `--backup DIR`: every source copied before the release runs.
fn backup_sources(
    opts: &CutoverOptions,
    paths: &[PathBuf],
    report: &mut CutoverReport,
) -> Result<(), Error> {
    let busy = opts.busy_timeout_ms;
    if let Some(dir) = &opts.backup_dir {
        crate::fsutil::create_private_dir_all(dir)?;
        for (i, p) in paths.iter().enumerate() {
            let target = dir.join(format!(
                "cutover-source-{i}-{}",
                p.file_name().map_or_else(
                    || crate::home::LEGACY_QUEUE_FILE.into(),
                    |n| n.to_string_lossy().into_owned(),
                )
            ));
            crate::db::snapshot(p, &target, busy)?;
            report.backups.push(target.display().to_string());
        }
    }
    Ok(())
}

fn write_carried(work: &CutoverWork, carried: &Carried) -> Result<(), Error> {
    let path = work.carried_record();
    let text = serde_json::to_string_pretty(carried)
        .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    write_atomic(work.path(), &path, &text)
}

/// Write `text` to `path` (0600) through a partial file renamed into place.
pub(super) fn write_atomic(dir: &Path, path: &Path, text: &str) -> Result<(), Error> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.partial"));
    let _ = std::fs::remove_file(&tmp);
    {
        use std::io::Write;
        let mut f = crate::fsutil::create_private_new(&tmp)?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::snapshot::{build_snapshot, failure_log_rows};
    use super::*;
    use crate::db::schema;
    use rusqlite::Connection;

    fn home_with_source() -> (tempfile::TempDir, Home) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let conn = Connection::open(home.legacy_queue()).unwrap();
        let mut c = conn;
        schema::upgrade(&mut c, &home.legacy_queue()).unwrap();
        c.execute_batch(
            "DROP TABLE refinery_schema_history;
             INSERT INTO queue (event_id, event_type, data, timestamp) VALUES ('e1', 't', '{}', 1);",
        )
        .unwrap();
        (dir, home)
    }

    /// Options whose release is never run (every test path stops before
    /// it is called).
    pub(super) fn never_run(canonical_history: bool) -> CutoverOptions {
        CutoverOptions {
            dry_run: false,
            busy_timeout_ms: 1000,
            spec_kitty: PathBuf::from("/nonexistent/spec-kitty"),
            backup_dir: None,
            python: None,
            canonical_history,
            trusted: crate::trust::Trusted::Everything,
        }
    }

    fn opts() -> CutoverOptions {
        never_run(false)
    }

    #[test]
    fn the_migration_id_is_stable_and_names_its_sources() {
        let (_d, home) = home_with_source();
        let a = stamp(&home.legacy_queue()).unwrap();
        let id = migration_id(std::slice::from_ref(&a));
        assert_eq!(id, migration_id(std::slice::from_ref(&a)));
        assert!(id.starts_with("sk-migrate-") && id.len() == "sk-migrate-".len() + 16);
        let other = SourceStamp {
            sha256: "0".repeat(64),
            ..a
        };
        assert_ne!(id, migration_id(&[other]));
    }

    #[test]
    fn a_source_that_cannot_be_read_is_an_error_not_zero_failure_rows() {
        let (d, home) = home_with_source();
        assert_eq!(failure_log_rows(&[home.legacy_queue()], 0).unwrap(), 0);
        let garbage = d.path().join("garbage.db");
        std::fs::write(
            &garbage,
            b"not a database, and long enough to be read as one",
        )
        .unwrap();
        let err = failure_log_rows(&[home.legacy_queue(), garbage.clone()], 0).unwrap_err();
        assert!(err.to_string().contains("garbage.db"), "{err}");
    }

    #[test]
    fn a_failed_migration_id_is_never_reused() {
        let (_d, home) = home_with_source();
        let id = migration_id(&[stamp(&home.legacy_queue()).unwrap()]);
        let dir = home.migration(&id).path().to_path_buf();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("manifest.json"),
            r#"{"phase": "failed", "failure": "MigrationError: exact destination verification failed for project=p table=body_upload_tasks"}"#,
        )
        .unwrap();
        let before = std::fs::read(home.legacy_queue()).unwrap();
        let err = run(&home, &opts()).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::CutoverFailed { .. }), "{text}");
        assert!(
            text.contains(&id) && text.contains("body_upload_tasks"),
            "{text}"
        );
        assert!(
            text.contains("never resumes a failed migration id"),
            "{text}"
        );
        assert_eq!(std::fs::read(home.legacy_queue()).unwrap(), before);
        assert!(!home.cutover_work_dir().exists());
    }

    #[test]
    fn nothing_pending_is_nothing_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(&Home::at(dir.path()), &opts()).unwrap();
        assert_eq!(r.status, CutoverStatus::NothingToDo);
        assert!(r.migration_id.is_none());
    }

    #[test]
    fn the_snapshot_holds_each_key_once_with_body_ids_above_the_floor() {
        let (_d, home) = home_with_source();
        let scoped = home.queues_dir().join("queue-ab.db");
        std::fs::create_dir_all(home.queues_dir()).unwrap();
        crate::db::snapshot(&home.legacy_queue(), &scoped, 1000).unwrap();
        let c = Connection::open(&scoped).unwrap();
        c.execute_batch(
            "INSERT INTO queue (event_id, event_type, data, timestamp) VALUES ('e2', 't', '{}', 2);
             INSERT INTO body_upload_queue (project_uuid, mission_slug, target_branch, mission_type,
               manifest_version, artifact_path, content_hash, content_body, size_bytes, created_at)
             VALUES ('p', 'm', 'main', 'x', '1', 'a.md', 'h', 'b', 1, 1.0);",
        )
        .unwrap();
        let work = tempfile::tempdir().unwrap();
        let (snap, left) = build_snapshot(
            &CutoverWork::at(work.path()),
            &[home.legacy_queue(), scoped],
            41,
            1000,
        )
        .unwrap();
        assert_eq!(left, 0);
        let s = Connection::open(&snap).unwrap();
        assert_eq!(
            stores::count_rows(&s, "queue").unwrap(),
            2,
            "e1 is in both sources: once"
        );
        let id: i64 = s
            .query_row("SELECT id FROM body_upload_queue", [], |r| r.get(0))
            .unwrap();
        assert_eq!(id, 42);
        let history: i64 = s
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = ?1",
                [schema::HISTORY_TABLE],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(history, 0);
    }
}
