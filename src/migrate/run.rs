//! `sk-migrate run` and `status`: scope resolution, the move, the journal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::db::schema::tables::Table;
use crate::db::schema::{self, LATEST};
use crate::error::Error;
use crate::home::Home;
use crate::login::{self, Diagnostic, Env, Resolution};
use crate::migrate::journal::{self, Journal};
use crate::migrate::lock::HomeLock;
use crate::migrate::merge::SchemaTarget;
use crate::migrate::merge::{self, MoveOptions, TableCounts};
use crate::migrate::observe::Observer;
use crate::path_text::PathText;
use crate::release::Generation;
use crate::scope::Scope;
use crate::survey::queues::QueueDb;
use crate::survey::{self, Survey, queues};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Migrated,
    NothingToDo,
    NoScope,
    DryRun,
}

/// `sk-migrate run --json` (`docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    /// `{version, source, generation}` of the release whose rules applied
    /// (set by the command line; absent for library callers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<crate::release::ReleaseView>,

    pub status: Status,
    pub scope: Option<String>,
    pub scoped_db: Option<PathText>,
    pub legacy_db: PathText,
    pub legacy_schema_version: Option<u32>,
    pub scoped_schema_version: Option<u32>,
    pub tables: Vec<TableCounts>,
    pub journal: Option<PathText>,
    /// Audit lines of an interrupted earlier run written to the journal now.
    #[serde(skip_serializing_if = "is_zero")]
    pub audit_recovered: u64,
    /// Rows moved but their audit lines could not all reach the journal:
    /// why, and where they wait (the next run writes them). Exit code 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit_incomplete: Option<String>,
    /// Where this run kept divergent duplicates (`tables[].divergent`):
    /// legacy rows whose key was stored with another payload, whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub divergent_evidence: Option<PathText>,
    /// The longest the move held the write locks at a time (ms; 0 when it
    /// took none): the longest a release's writer waited on it.
    pub longest_lock_hold_ms: u64,
    pub elapsed_ms: u64,
    /// Not part of the JSON: diagnostics met while resolving the scope.
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
    #[serde(skip)]
    pub backups: Vec<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub scope: Option<Scope>,
    /// The environment and the installed release's profile.
    pub env: Env,
    pub moving: MoveOptions,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A path as the report carries it (losslessly; shown escaped).
fn display(p: &Path) -> PathText {
    p.into()
}

/// Why `sk-migrate run` does not move queue DBs for a release of `generation`.
pub fn layout_message(generation: Generation, home: &Home) -> String {
    match generation {
        Generation::Jsonl => format!(
            "the installed spec-kitty keeps its queue in {}/<mission>.jsonl files (no queue DB); sk-migrate leaves them alone. Nothing was written",
            crate::path_text::escaped(&home.queues_dir())
        ),
        Generation::ProjectStore => format!(
            "the installed spec-kitty keeps queued work in per-project stores ({}/<uuid>/sync/sync.db); the queue DBs are only inputs to its cutover (spec-kitty sync project-store-migrate). Nothing was written",
            crate::path_text::escaped(&home.projects_dir())
        ),
        _ => "the installed spec-kitty keeps its queue in queue DBs".to_string(),
    }
}

impl RunReport {
    /// The report before anything is found: no scope, nothing moved.
    fn before(legacy_path: &Path, diagnostics: Vec<Diagnostic>) -> RunReport {
        RunReport {
            release: None,
            status: Status::NoScope,
            scope: None,
            scoped_db: None,
            legacy_db: display(legacy_path),
            legacy_schema_version: None,
            scoped_schema_version: None,
            tables: Vec::new(),
            journal: None,
            audit_recovered: 0,
            audit_incomplete: None,
            divergent_evidence: None,
            longest_lock_hold_ms: 0,
            elapsed_ms: 0,
            diagnostics,
            backups: Vec::new(),
        }
    }
}

/// Resolve the scope and move the legacy queue into it.
pub fn run(
    home: &Home,
    opts: &RunOptions,
    observer: &mut dyn Observer,
) -> Result<RunReport, Error> {
    let started = Instant::now();
    let profile = opts.env.profile;
    // Before anything is created: a root run on a user's home refuses.
    home.require_owned_by_caller()?;
    let Some(version) = profile.schema else {
        return Err(Error::ReleaseLayout {
            message: layout_message(profile.generation, home),
        });
    };
    let mut moving = opts.moving.clone();
    moving.schema = SchemaTarget {
        version,
        reads_newer: profile.reads_schemas,
    };
    moving.lock_budget_ms = moving.lock_budget_ms.min(profile.lock_budget_ms());
    // The cap guard: the release's caps, at `[sync] max_queue_size` as it reads it.
    moving.limits = crate::survey::queue_limits(home, profile);
    let opts = &RunOptions {
        moving,
        ..opts.clone()
    };
    let resolution = login::resolve(home, opts.scope.as_ref(), &opts.env);
    let legacy_path = home.legacy_queue();
    let mut report = RunReport::before(&legacy_path, resolution.diagnostics.clone());
    let Some(resolved) = resolution.scope else {
        // No scope: legacy is the active queue; nothing is stranded, nothing written.
        report.legacy_schema_version =
            crate::db::inspect(&legacy_path, opts.moving.busy_timeout_ms)?.map(|f| f.version);
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok(report);
    };
    let scoped_path = home.scoped_queue(&resolved.scope);
    report.scope = Some(resolved.scope.to_string());
    report.scoped_db = Some(display(&scoped_path));
    // One file under two names: moving would delete rows from the DB they
    // were just "moved" into, and locking one name waits on the other.
    if crate::fsutil::same_file(&legacy_path, &scoped_path) {
        return Ok(one_file(report, &legacy_path, &scoped_path, started));
    }
    let moved = if opts.moving.dry_run {
        merge::move_rows(&legacy_path, &scoped_path, &opts.moving, observer)?
    } else {
        let (moved, journal) = move_audited(home, opts, &resolved.scope, observer, &mut report)?;
        report.journal = journal;
        moved
    };
    report.legacy_schema_version = moved.legacy_version;
    report.scoped_schema_version = moved.scoped_version;
    report.tables = moved.tables;
    report.backups = moved.backups;
    report.longest_lock_hold_ms = moved.longest_lock_hold_ms;
    report.status = if opts.moving.dry_run {
        Status::DryRun
    } else if moved.changed {
        Status::Migrated
    } else {
        Status::NothingToDo
    };
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The report of a run whose legacy and scoped DB are one file: nothing to do.
fn one_file(mut report: RunReport, legacy: &Path, scoped: &Path, started: Instant) -> RunReport {
    report.status = Status::NothingToDo;
    report
        .diagnostics
        .push(crate::survey::queues::same_file_diagnostic(legacy, scoped));
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    report
}

/// Refuse to write through a link that leads out of the home: `queues/`,
/// the scoped and legacy DBs (the journal files are never followed at all).
fn check_links(home: &Home, scoped: &Path) -> Result<(), Error> {
    for path in [home.queues_dir(), scoped.to_path_buf(), home.legacy_queue()] {
        crate::fsutil::check_inside(home.root(), &path)?;
    }
    Ok(())
}

/// The real move, under the run lock, with its audit trail (see `journal`).
/// Returns the move and the journal's path when this run wrote to it.
fn move_audited(
    home: &Home,
    opts: &RunOptions,
    scope: &Scope,
    observer: &mut dyn Observer,
    report: &mut RunReport,
) -> Result<(merge::MoveReport, Option<PathText>), Error> {
    let busy = opts.moving.busy_timeout_ms;
    let scoped_path = home.scoped_queue(scope);
    check_links(home, &scoped_path)?;
    if !home.root().is_dir() {
        // No home, so no legacy queue: nothing to move, nothing to lock.
        let moved = merge::move_rows(&home.legacy_queue(), &scoped_path, &opts.moving, observer)?;
        return Ok((moved, None));
    }
    let _lock = HomeLock::acquire(home.root(), busy)?;
    let recovered = journal::recover(home, busy, observer)?;
    report.audit_recovered = recovered.lines;
    let mut journal = Journal::new(home, &scope.to_string(), &scoped_path, observer);
    let moved = merge::move_rows(
        &home.legacy_queue(),
        &scoped_path,
        &opts.moving,
        &mut journal,
    );
    let moved = match moved {
        Ok(m) => m,
        Err(e) => {
            // Lines whose rows committed anyway (WAL: scoped before legacy)
            // are written; the others dropped. Failing that, the next run does it.
            let _ = journal.settle(busy);
            return Err(e);
        }
    };
    let wrote = journal.written() || recovered.lines > 0;
    report.divergent_evidence = journal.evidence().map(display);
    if let Err(e) = journal.promote() {
        report.audit_incomplete = Some(format!(
            "the rows moved, but their audit lines could not be appended to the journal ({e}); \
             they are kept in {} and the next `sk-migrate run` writes them",
            crate::path_text::escaped(journal.pending_path())
        ));
    }
    Ok((moved, wrote.then(|| display(journal.path()))))
}

/// One DB in `sk-migrate status`.
#[derive(Debug, Clone, Serialize)]
pub struct DbStatus {
    pub path: PathText,
    pub exists: bool,
    pub schema_version: Option<u32>,
    /// Rows per table the DB has (none when it does not exist).
    #[serde(serialize_with = "rows_by_name")]
    pub rows: BTreeMap<Table, u64>,
}

/// `rows` as a JSON object keyed by table name, in name order (the order a
/// `serde_json::Map` gave these keys: `docs/json.md`).
fn rows_by_name<S: serde::Serializer>(
    rows: &BTreeMap<Table, u64>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(
        rows.iter()
            .map(|(t, n)| (t.as_str(), *n))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// `sk-migrate status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    /// `{version, source, generation}` of the release whose rules applied
    /// (set by the command line; absent for library callers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<crate::release::ReleaseView>,

    pub scope: Option<String>,
    pub scope_source: Option<login::ScopeSource>,
    pub legacy: DbStatus,
    pub scoped: Option<DbStatus>,
    /// Migrations `sk-migrate run` would apply to the scoped DB.
    pub pending_migrations: Vec<schema::MigrationId>,
    /// Legacy rows waiting to move (0 without a scope: legacy is then
    /// active; 0 when the legacy and scoped DB are one file), not counting
    /// `rows_unmovable`.
    pub rows_waiting: u64,
    /// Legacy rows no `sk-migrate run` moves under this release: a table
    /// its scoped DB lacks, or a NULL key (`docs/json.md`).
    pub rows_unmovable: Vec<queues::UnmovableRows>,
    /// Legacy rows a run would hold back (not in `rows_waiting`): the
    /// scoped table is within a tenth of the release's cap
    /// (`[sync] max_queue_size`); they move once the daemon has drained it.
    pub rows_held_by_cap: u64,
    /// The legacy and scoped DB are one file (same device and inode: a hard
    /// link, a bind mount): nothing is stranded and nothing can move.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub same_file: bool,
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

/// One DB of the survey, for `status`: a failed read fails the command.
fn db_status(db: QueueDb) -> Result<DbStatus, Error> {
    let facts = db.read?;
    Ok(DbStatus {
        path: display(&db.path),
        exists: facts.is_some(),
        schema_version: facts.as_ref().map(|f| f.version),
        rows: facts.iter().flat_map(|f| f.rows.iter()).copied().collect(),
    })
}

/// Read-only summary of the survey: versions, pending migrations, rows
/// waiting.
pub fn status(
    home: &Home,
    scope: Option<&Scope>,
    env: &Env,
    busy: u64,
) -> Result<StatusReport, Error> {
    let Resolution {
        scope: resolved,
        diagnostics,
        ..
    } = login::resolve(home, scope, env);
    let target = env.profile.schema.unwrap_or(LATEST);
    let Survey {
        legacy,
        scoped,
        same_file,
        unmovable,
        limits,
        ..
    } = survey::gather(home, env.profile, resolved.as_ref().map(|r| &r.scope), busy);
    let legacy_facts = legacy.facts().cloned();
    let legacy = db_status(legacy)?;
    let scoped = scoped.map(db_status).transpose()?;
    let from = scoped.as_ref().and_then(|s| s.schema_version).unwrap_or(0);
    let pending_migrations = if scoped.is_some() {
        schema::MigrationId::pending(from, target)
    } else {
        Vec::new()
    };
    let (mut rows_waiting, rows_unmovable) = match (unmovable, &legacy_facts) {
        (Some(read), Some(facts)) => {
            let unmovable = read?;
            (queues::movable_rows(facts, &unmovable), unmovable)
        }
        // 3.2.6+: every legacy row waits for the cutover, as before.
        _ if resolved.is_some() && env.profile.schema.is_none() && !same_file => {
            (legacy.rows.values().sum(), Vec::new())
        }
        _ => (0, Vec::new()),
    };
    let rows_held_by_cap = match &scoped {
        Some(s) if rows_waiting > 0 => held_by_cap(&legacy, s, &rows_unmovable, &limits),
        _ => 0,
    };
    rows_waiting -= rows_held_by_cap;
    Ok(StatusReport {
        release: None,
        scope: resolved.as_ref().map(|r| r.scope.to_string()),
        scope_source: resolved.as_ref().map(|r| r.source),
        legacy,
        scoped,
        pending_migrations,
        rows_waiting,
        rows_unmovable,
        rows_held_by_cap,
        same_file,
        diagnostics,
    })
}

/// The waiting legacy rows a run would hold back under `limits`.
fn held_by_cap(
    legacy: &DbStatus,
    scoped: &DbStatus,
    unmovable: &[queues::UnmovableRows],
    limits: &crate::release::limits::QueueLimits,
) -> u64 {
    legacy
        .rows
        .iter()
        .map(|(t, n)| {
            let stuck: u64 = unmovable
                .iter()
                .filter(|u| u.table == *t)
                .map(|u| u.rows)
                .sum();
            let stored = scoped.rows.get(t).copied().unwrap_or(0);
            limits.split(*t, n.saturating_sub(stuck), stored).1
        })
        .sum()
}
