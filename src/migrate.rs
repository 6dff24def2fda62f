//! `sk-migrate run` and `status`: scope resolution, the move, the journal.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::error::Error;
use crate::home::Home;
use crate::merge::SchemaTarget;
use crate::merge::{self, AuditLine, MoveOptions, Observer, TableCounts};
use crate::release::Generation;
use crate::schema::{self, LATEST};
use crate::scope::{self, Diagnostic, Env, Resolution, Scope};

/// Version of the JSON documents this tool prints.
pub const JSON_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Migrated,
    NothingToDo,
    NoScope,
    DryRun,
}

/// `sk-migrate run --json` (DESIGN §7).
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub schema_version: u32,
    pub status: Status,
    pub scope: Option<String>,
    pub scoped_db: Option<String>,
    pub legacy_db: String,
    pub legacy_schema_version: Option<u32>,
    pub scoped_schema_version: Option<u32>,
    pub tables: Vec<TableCounts>,
    pub journal: Option<String>,
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

/// Appends audit lines to the journal and passes them on to `inner`.
struct Journal<'a> {
    path: PathBuf,
    /// JSON-encoded (quoted) scope and run time, shared by every line.
    scope: String,
    at: String,
    /// Opened on the first line, so a run that moves nothing creates nothing.
    out: Option<BufWriter<File>>,
    inner: &'a mut dyn Observer,
}

impl Journal<'_> {
    fn written(&self) -> bool {
        self.out.is_some()
    }

    fn finish(&mut self) -> Result<(), Error> {
        match self.out.as_mut() {
            Some(out) => out.flush().map_err(|e| Error::io(&self.path, e)),
            None => Ok(()),
        }
    }
}

impl Observer for Journal<'_> {
    fn table_started(&mut self, table: &'static str, rows: u64) {
        self.inner.table_started(table, rows);
    }
    fn checkpoint(&mut self, step: merge::Step) -> Result<(), Error> {
        self.inner.checkpoint(step)
    }
    fn audit(&mut self, line: &AuditLine<'_>) -> Result<(), Error> {
        if self.out.is_none() {
            self.out = Some(BufWriter::new(crate::fsutil::open_private_append(
                &self.path,
            )?));
        }
        if let Some(out) = self.out.as_mut() {
            // Written by hand (no map, no formatter): a large move writes a line per row.
            let parts: [&[u8]; 7] = [
                b"{\"at\":",
                self.at.as_bytes(),
                b",\"scope\":",
                self.scope.as_bytes(),
                b",\"table\":\"",
                line.table.as_bytes(),
                b"\",\"key\":",
            ];
            for part in parts {
                out.write_all(part).map_err(|e| Error::io(&self.path, e))?;
            }
            out.write_all(line.key_json.as_bytes())
                .and_then(|()| out.write_all(b"}\n"))
                .map_err(|e| Error::io(&self.path, e))?;
        }
        self.inner.audit(line)
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Why `sk-migrate run` does not move queue DBs for a release of `generation`.
pub fn layout_message(generation: Generation, home: &Home) -> String {
    match generation {
        Generation::Jsonl => format!(
            "the installed spec-kitty keeps its queue in {}/<mission>.jsonl files (no queue DB); sk-migrate leaves them alone. Nothing was written",
            home.queues_dir().display()
        ),
        Generation::ProjectStore => format!(
            "the installed spec-kitty keeps queued work in per-project stores ({}/<uuid>/sync/sync.db); the queue DBs are only inputs to its cutover (spec-kitty sync project-store-migrate). Nothing was written",
            home.root().join("projects").display()
        ),
        _ => "the installed spec-kitty keeps its queue in queue DBs".to_string(),
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
    let resolution = scope::resolve(home, opts.scope.as_ref(), &opts.env);
    let legacy_path = home.legacy_queue();
    let mut report = RunReport {
        schema_version: JSON_SCHEMA_VERSION,
        status: Status::NoScope,
        scope: None,
        scoped_db: None,
        legacy_db: display(&legacy_path),
        legacy_schema_version: None,
        scoped_schema_version: None,
        tables: Vec::new(),
        journal: None,
        elapsed_ms: 0,
        diagnostics: resolution.diagnostics.clone(),
        backups: Vec::new(),
    };
    let Some(resolved) = resolution.scope else {
        // No scope: legacy is the active queue; nothing is stranded, nothing written.
        report.legacy_schema_version =
            merge::inspect(&legacy_path, opts.moving.busy_timeout_ms)?.map(|f| f.version);
        report.elapsed_ms = started.elapsed().as_millis() as u64;
        return Ok(report);
    };
    let scoped_path = home.scoped_queue(&resolved.scope);
    report.scope = Some(resolved.scope.to_string());
    report.scoped_db = Some(display(&scoped_path));
    let mut journal = Journal {
        path: home.migrate_journal(),
        scope: serde_json::Value::from(resolved.scope.to_string()).to_string(),
        at: serde_json::Value::from(now_rfc3339()).to_string(),
        out: None,
        inner: observer,
    };
    let moved = merge::move_rows(&legacy_path, &scoped_path, &moving, &mut journal);
    journal.finish()?;
    let moved = moved?;
    report.legacy_schema_version = moved.legacy_version;
    report.scoped_schema_version = moved.scoped_version;
    report.tables = moved.tables;
    report.backups = moved.backups;
    report.status = if opts.moving.dry_run {
        Status::DryRun
    } else if moved.changed {
        Status::Migrated
    } else {
        Status::NothingToDo
    };
    if journal.written() {
        report.journal = Some(display(&journal.path));
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// One DB in `sk-migrate status`.
#[derive(Debug, Clone, Serialize)]
pub struct DbStatus {
    pub path: String,
    pub exists: bool,
    pub schema_version: Option<u32>,
    pub rows: serde_json::Map<String, serde_json::Value>,
}

/// `sk-migrate status --json`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusReport {
    pub schema_version: u32,
    pub scope: Option<String>,
    pub scope_source: Option<scope::ScopeSource>,
    pub legacy: DbStatus,
    pub scoped: Option<DbStatus>,
    /// Migrations `sk-migrate run` would apply to the scoped DB.
    pub pending_migrations: Vec<String>,
    /// Legacy rows waiting to move (0 without a scope: legacy is then active).
    pub rows_waiting: u64,
    #[serde(skip)]
    pub diagnostics: Vec<Diagnostic>,
}

fn db_status(path: &Path, busy: u64) -> Result<DbStatus, Error> {
    let facts = merge::inspect(path, busy)?;
    Ok(DbStatus {
        path: display(path),
        exists: facts.is_some(),
        schema_version: facts.as_ref().map(|f| f.version),
        rows: facts
            .iter()
            .flat_map(|f| f.rows.iter())
            .map(|(t, n)| ((*t).to_string(), (*n).into()))
            .collect(),
    })
}

/// Read-only summary: versions, pending migrations, rows waiting.
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
    } = scope::resolve(home, scope, env);
    let target = env.profile.schema.unwrap_or(LATEST);
    let legacy = db_status(&home.legacy_queue(), busy)?;
    let scoped = match &resolved {
        Some(r) => Some(db_status(&home.scoped_queue(&r.scope), busy)?),
        None => None,
    };
    let from = scoped.as_ref().and_then(|s| s.schema_version).unwrap_or(0);
    let pending_migrations = if scoped.is_some() {
        schema::migrations()
            .iter()
            .filter(|m| m.version() as u32 > from && m.version() as u32 <= target)
            .map(|m| format!("V{}__{}", m.version(), m.name()))
            .collect()
    } else {
        Vec::new()
    };
    let rows_waiting = if resolved.is_some() {
        legacy.rows.values().filter_map(|v| v.as_u64()).sum()
    } else {
        0
    };
    Ok(StatusReport {
        schema_version: JSON_SCHEMA_VERSION,
        scope: resolved.as_ref().map(|r| r.scope.to_string()),
        scope_source: resolved.as_ref().map(|r| r.source),
        legacy,
        scoped,
        pending_migrations,
        rows_waiting,
        diagnostics,
    })
}
