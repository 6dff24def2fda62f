//! `sk-doctor`'s effects: gather the facts (read-only), then
//! [`report::build`] decides. Nothing here writes: retiring is [`owner::retire`], called by the binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::home::Home;
use crate::identity::{self, ForegroundIdentity};
use crate::merge;
use crate::owner::{self, OwnerRead, RetirePlan};
use crate::probe;
use crate::release::ReleaseView;
use crate::report::{self, Facts, OwnerFacts, OwnerFound, QueueFacts, Report, StrandedMission};
use crate::schema::tables::BODY_UPLOAD_QUEUE;
use crate::scope::{self, Env, Scope};

/// How long the doctor waits for a DB the daemon holds locked.
pub const DOCTOR_BUSY_TIMEOUT_MS: u64 = 2_000;

#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    pub scope: Option<Scope>,
    /// The environment and the installed release's profile.
    pub env: Env,
    /// The detected release, as the report shows it.
    pub release: ReleaseView,
    /// Why no release profile applies, if none does.
    pub release_note: Option<String>,
    /// `--foreground FILE`: overrides discovery field by field.
    pub foreground_file: Option<PathBuf>,
    /// `--spec-kitty PATH`: the entry point to inspect instead of `PATH`'s.
    pub spec_kitty: Option<PathBuf>,
    /// The `PATH` to search for `spec-kitty`.
    pub path_var: Option<OsString>,
    /// Probe loopback ports 9400–9449 for daemons.
    pub probe: bool,
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

/// Counts and version of one queue DB, read-only. A DB whose shape is
/// unknown or that is not a DB is reported, not fatal.
fn queue_facts(path: &Path) -> Result<QueueFacts, Error> {
    let mut q = QueueFacts {
        path: display(path),
        ..QueueFacts::default()
    };
    match merge::inspect(path, DOCTOR_BUSY_TIMEOUT_MS) {
        Ok(None) => {}
        Ok(Some(f)) => {
            q.exists = true;
            q.schema_version = Some(f.version);
            let n = |t: &str| f.rows.iter().find(|r| r.0 == t).map_or(0, |r| r.1);
            q.events = n("queue");
            q.body_uploads = n("body_upload_queue");
            q.failure_log = n("body_upload_failure_log");
        }
        Err(e @ (Error::UnknownSchema { .. } | Error::NotADatabase { .. })) => {
            q.exists = true;
            q.unreadable = Some(e.to_string());
        }
        Err(e @ Error::NeedsRecovery { .. }) => {
            q.exists = true;
            q.needs_recovery = Some(e.to_string());
        }
        Err(e) => return Err(e),
    }
    Ok(q)
}

/// Legacy body uploads per mission slug (V2–V3 `feature_slug` mapped).
fn mission_counts(path: &Path, version: Option<u32>) -> Result<Vec<StrandedMission>, Error> {
    let Some(slug) = version.and_then(|v| BODY_UPLOAD_QUEUE.column_at("mission_slug", v)) else {
        return Ok(Vec::new());
    };
    let busy = DOCTOR_BUSY_TIMEOUT_MS;
    let conn = merge::open_read_only(path, busy)?;
    let sq = |e| Error::sqlite(path, e, busy);
    // Grouped by (project, slug) so SQLite streams the namespace index in
    // order instead of sorting; the few groups are folded per slug here.
    let mut stmt = conn
        .prepare(&format!(
            "SELECT coalesce(CAST(\"{slug}\" AS TEXT), '(none)'), count(*) FROM body_upload_queue \
             GROUP BY project_uuid, \"{slug}\""
        ))
        .map_err(sq)?;
    let mut per_slug: std::collections::BTreeMap<String, u64> = Default::default();
    let mut rows = stmt.query([]).map_err(sq)?;
    while let Some(row) = rows.next().map_err(sq)? {
        let slug: String = row.get(0).map_err(sq)?;
        let n: i64 = row.get(1).map_err(sq)?;
        *per_slug.entry(slug).or_default() += n.max(0) as u64;
    }
    Ok(per_slug
        .into_iter()
        .map(|(mission_slug, body_uploads)| StrandedMission {
            mission_slug,
            body_uploads,
        })
        .collect())
}

fn owner_facts(home: &Home) -> Result<OwnerFacts, Error> {
    let path = home.owner_record();
    let found = match owner::read(&path)? {
        OwnerRead::Absent => OwnerFound::Absent,
        OwnerRead::Malformed { reason, mode } => OwnerFound::Malformed { reason, mode },
        OwnerRead::Present(record, file) => OwnerFound::Present {
            // The release compares the record's values as written.
            canonical: record.redacted(),
            pid_alive: owner::pid_alive(record.pid),
            executable_exists: owner::executable_exists(&record.executable_path),
            record: record.redacted(),
            mode: file.mode,
            unknown_fields: file.unknown_fields,
        },
    };
    Ok(OwnerFacts {
        path: display(&path),
        found,
    })
}

/// The foreground identity: discovery, then the scope resolution's fields,
/// then `--foreground` overrides; paths canonicalized for comparison.
fn foreground(
    home: &Home,
    opts: &DoctorOptions,
    resolution: &scope::Resolution,
    notes: &mut Vec<String>,
) -> Result<ForegroundIdentity, Error> {
    let install = identity::discover(opts.spec_kitty.as_deref(), opts.path_var.as_deref())?;
    let mut fg = install
        .identity()
        .or(identity::from_resolution(home, resolution, &opts.env));
    if let Some(file) = &opts.foreground_file {
        fg = identity::read_override(file)?.apply(fg);
    }
    // Discovery's notes matter only for what is still unknown after overrides.
    let install_fields = ["package_version", "executable_path", "source_checkout_path"];
    if fg
        .unknown_fields()
        .iter()
        .any(|f| install_fields.contains(f))
    {
        notes.extend(install.notes.iter().cloned());
    }
    Ok(fg.canonicalized())
}

/// Gather every fact the report needs. Reads only.
pub fn gather(home: &Home, opts: &DoctorOptions) -> Result<Facts, Error> {
    let resolution = scope::resolve(home, opts.scope.as_ref(), &opts.env);
    let auth_notes: Vec<String> = resolution
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut notes = Vec::new();
    let fg = foreground(home, opts, &resolution, &mut notes)?;
    let legacy = queue_facts(&home.legacy_queue())?;
    let active = match &resolution.scope {
        Some(r) => queue_facts(&home.scoped_queue(&r.scope))?,
        None => legacy.clone(),
    };
    let legacy_missions = if legacy.exists && legacy.unreadable.is_none() {
        mission_counts(&home.legacy_queue(), legacy.schema_version)?
    } else {
        Vec::new()
    };
    Ok(Facts {
        auth_notes,
        home: display(home.root()),
        release: opts.release.clone(),
        release_note: opts.release_note.clone(),
        profile: opts.env.profile,
        stores: (opts.env.profile.generation == crate::release::Generation::ProjectStore)
            .then(|| crate::store::gather(home)),
        saas_enabled: opts.env.saas_enabled,
        scope_source: resolution.scope.as_ref().map(|r| r.source),
        foreground: fg,
        owner: owner_facts(home)?,
        active,
        legacy,
        legacy_missions,
        live_daemons: opts.probe.then(probe::probe_daemon_ports),
        notes,
    })
}

/// Gather and build the report.
pub fn diagnose(home: &Home, opts: &DoctorOptions) -> Result<Report, Error> {
    Ok(report::build(gather(home, opts)?))
}

/// What `sk-doctor retire` found to do.
#[derive(Debug, Clone)]
pub enum RetireDecision {
    /// No owner record: nothing to retire.
    NothingToRetire,
    /// The record is malformed: its pid cannot be trusted; not removed.
    Malformed {
        reason: String,
    },
    Plan(RetirePlan),
}

/// Decide what `retire` would do (reads only).
pub fn plan_retire(home: &Home) -> Result<RetireDecision, Error> {
    Ok(match owner::read(&home.owner_record())? {
        OwnerRead::Absent => RetireDecision::NothingToRetire,
        OwnerRead::Malformed { reason, .. } => RetireDecision::Malformed { reason },
        OwnerRead::Present(record, _) => {
            let state = crate::config::read_optional(&home.daemon_state()).unwrap_or(None);
            RetireDecision::Plan(owner::plan_retire(
                home,
                &record,
                owner::pid_alive(record.pid),
                owner::executable_exists(&record.executable_path),
                state.as_deref(),
            ))
        }
    })
}
