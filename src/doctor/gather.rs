//! `sk-doctor`'s effects: gather the facts (read-only): the survey of the
//! home both tools stand on ([`crate::survey::gather`]) and the doctor's own
//! (foreground identity, owner record, probe); then [`report::build`]
//! decides. Nothing here writes: retiring is [`owner::retire`], called by
//! the binary.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::db::schema::tables::Table;
use crate::doctor::identity::{self, ForegroundIdentity};
use crate::doctor::owner::{self, OwnerRead, RetirePlan};
use crate::doctor::probe;
use crate::doctor::report::{
    self, Facts, OwnerFacts, OwnerFound, QueueFacts, Report, StrandedMission,
};
use crate::error::Error;
use crate::field::Field;
use crate::home::Home;
use crate::login::{self, Env};
use crate::path_text::escaped;
use crate::release::{Profile, ReleaseView};
use crate::scope::Scope;
use crate::survey::queues::{QueueDb, UnmovableRows};
use crate::survey::{self, queues};

/// How long the doctor waits, by default, for a DB the daemon holds locked:
/// short, since a locked queue is reported as such rather than failing.
pub const DOCTOR_BUSY_TIMEOUT_MS: u64 = 200;

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
    /// `--busy-timeout`: how long to wait for a locked queue DB
    /// (`None`: [`DOCTOR_BUSY_TIMEOUT_MS`]).
    pub busy_timeout_ms: Option<u64>,
    /// The checkout whose project store the 3.2.6+ gate looks at
    /// (`preflight --project DIR`; `None`: the current directory).
    pub project: Option<PathBuf>,
    /// What discovery of the installed CLI already found (the run context
    /// did it to detect the release); `None`: discover from `spec_kitty`
    /// and `path_var`.
    pub install: Option<identity::Install>,
    /// What the steps of a fix repeat of the command line, and the values
    /// made for them (`report::Invocation`).
    pub invocation: crate::doctor::report::Invocation,
}

/// A path as the report carries it (losslessly; shown escaped).
fn display(p: &Path) -> crate::path_text::PathText {
    p.into()
}

/// Counts and version of one queue DB as the survey read it. A DB whose
/// shape is unknown or that is not a DB is reported, not fatal.
fn queue_facts(db: QueueDb, notes: &mut Vec<String>) -> Result<QueueFacts, Error> {
    let mut q = QueueFacts {
        path: display(&db.path),
        ..QueueFacts::default()
    };
    match db.read {
        Ok(None) => {}
        Ok(Some(f)) => {
            q.exists = true;
            q.schema_version = Some(f.version);
            q.events = f.rows_of(Table::Queue);
            q.body_uploads = f.rows_of(Table::BodyUploadQueue);
            q.failure_log = f.rows_of(Table::BodyUploadFailureLog);
        }
        Err(e @ (Error::UnknownSchema { .. } | Error::NotADatabase { .. })) => {
            q.exists = true;
            q.unreadable = Some(e.to_string());
        }
        Err(e @ Error::NeedsRecovery { .. }) => {
            q.exists = true;
            q.needs_recovery = Some(e.to_string());
        }
        Err(e @ Error::Io { .. }) if io_denied(&e) => {
            q.exists = true;
            notes.push(format!("{e} (its counts are unknown)"));
        }
        Err(e @ Error::Locked { .. }) => {
            q.exists = true;
            q.locked = true;
            notes.push(format!(
                "{e} (its counts are unknown; sk-doctor's --busy-timeout sets the wait)"
            ));
        }
        Err(e) => return Err(e),
    }
    Ok(q)
}

/// The home root's owner: login name (or `#uid`), uid, gid.
fn home_owner(home: &Home) -> Option<(String, u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(home.root()).ok()?;
    let name = crate::home::user_name(meta.uid()).unwrap_or_else(|| format!("#{}", meta.uid()));
    Some((name, meta.uid(), meta.gid()))
}

/// The queue DBs as the report shows them, from the survey.
struct QueueView {
    legacy: QueueFacts,
    active: QueueFacts,
    legacy_is_active: bool,
    unmovable: Vec<UnmovableRows>,
    missions: Vec<StrandedMission>,
}

/// The survey's queue DBs for the report: each read classified (shown, not
/// fatal) or its error returned; the legacy rows no move takes; the
/// missions of the legacy body uploads (read-only).
fn queue_view(
    (legacy, scoped): (QueueDb, Option<QueueDb>),
    same_file: bool,
    unmovable: Option<Result<Vec<UnmovableRows>, Error>>,
    busy: u64,
    notes: &mut Vec<String>,
) -> Result<QueueView, Error> {
    let legacy_path = legacy.path.clone();
    let legacy_version = legacy.facts().map(|f| f.version);
    let legacy = queue_facts(legacy, notes)?;
    let active = match scoped {
        Some(db) => {
            if same_file {
                let note = queues::same_file_diagnostic(&legacy_path, &db.path);
                notes.push(note.message);
            }
            queue_facts(db, notes)?
        }
        None => legacy.clone(),
    };
    let unmovable = match unmovable {
        Some(Err(e @ Error::Locked { .. })) => {
            notes.push(format!("{e} (rows no move can take are not counted)"));
            Vec::new()
        }
        Some(read) => read?,
        None => Vec::new(),
    };
    let missions = match legacy_version.map(|v| queues::missions(&legacy_path, v, busy)) {
        Some(Err(e @ Error::Locked { .. })) => {
            notes.push(format!("{e} (stranded missions are not listed)"));
            Vec::new()
        }
        Some(read) => read?
            .into_iter()
            .map(|(mission_slug, body_uploads)| StrandedMission {
                mission_slug,
                body_uploads,
            })
            .collect(),
        None => Vec::new(),
    };
    Ok(QueueView {
        legacy,
        active,
        legacy_is_active: same_file,
        unmovable,
        missions,
    })
}

fn io_denied(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied)
}

fn owner_facts(home: &Home, profile: &Profile) -> Result<OwnerFacts, Error> {
    let path = home.owner_record();
    let found = match owner::read(&path)? {
        OwnerRead::Absent => OwnerFound::Absent,
        OwnerRead::Malformed { reason, mode } => OwnerFound::Malformed { reason, mode },
        OwnerRead::Present(record, file) => {
            // The release compares the record as it reads it: its
            // interpreter path resolved (`DaemonOwnerRecord.__post_init__`).
            let canonical = owner::as_the_release_reads(&record, profile);
            OwnerFound::Present {
                pid_alive: crate::process::pid_alive(record.pid),
                executable_exists: owner::executable_exists(&canonical.executable_path),
                canonical,
                record: record.redacted(),
                mode: file.mode,
                unknown_fields: file.unknown_fields,
            }
        }
    };
    Ok(OwnerFacts {
        file_issues: match found {
            OwnerFound::Absent => Vec::new(),
            _ => owner::file_trust_issues(&path, home.root()),
        },
        path: display(&path),
        found,
    })
}

/// The foreground identity: discovery, then the scope resolution's fields,
/// then `--foreground` overrides; paths canonicalized for comparison.
fn foreground(
    home: &Home,
    opts: &DoctorOptions,
    resolution: &login::Resolution,
    notes: &mut Vec<String>,
) -> Result<ForegroundIdentity, Error> {
    let install = match &opts.install {
        Some(found) => found.clone(),
        None => identity::discover(opts.spec_kitty.as_deref(), opts.path_var.as_deref())?,
    };
    let mut fg = install
        .identity()
        .or(identity::from_resolution(home, resolution, &opts.env));
    if let Some(file) = &opts.foreground_file {
        fg = identity::read_override(file)?.apply(fg);
    }
    // Discovery's notes matter only for what is still unknown after overrides.
    let install_fields = [
        Field::PackageVersion,
        Field::ExecutablePath,
        Field::SourceCheckoutPath,
    ];
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
    let resolution = login::resolve(home, opts.scope.as_ref(), &opts.env);
    let auth_notes: Vec<String> = resolution
        .diagnostics
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut notes = Vec::new();
    let fg = foreground(home, opts, &resolution, &mut notes)?;
    let gate = identity::gate_foreground(home, &fg, &resolution, &opts.env);
    let busy = opts.busy_timeout_ms.unwrap_or(DOCTOR_BUSY_TIMEOUT_MS);
    let scope = resolution.scope.as_ref().map(|r| &r.scope);
    let scoped = scope.map(|s| home.scoped_queue(s));
    link_notes(home, scoped.as_deref(), &mut notes);
    let survey = survey::gather(home, opts.env.profile, scope, busy);
    let queues = queue_view(
        (survey.legacy, survey.scoped),
        survey.same_file,
        survey.unmovable,
        busy,
        &mut notes,
    )?;
    let owner = owner_facts(home, opts.env.profile)?;
    let (stores, ledger) = survey.stores.unzip();
    let live_daemons = opts.probe.then(probe::probe_daemon_ports);
    if let Some(stale) = stale_state(home, &owner, live_daemons.as_deref()) {
        notes.push(format!(
            "the daemon state file {} is stale: {}; spec-kitty may take it for a running daemon. Fix: sk-doctor retire",
            escaped(&stale.path),
            stale.reason
        ));
    }
    Ok(Facts {
        auth_notes,
        home: display(home.root()),
        release: opts.release.clone(),
        release_note: opts.release_note.clone(),
        profile: opts.env.profile,
        gate,
        checkout_project: (opts.env.profile.gate_on_layout)
            .then(|| {
                let dir = opts
                    .project
                    .clone()
                    .or_else(|| std::env::current_dir().ok())?;
                let env_root = std::env::var_os("SPECIFY_REPO_ROOT")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from);
                crate::survey::stores::checkout_project(&dir, env_root.as_deref())
            })
            .flatten(),
        stores,
        ledger,
        saas_enabled: opts.env.saas_enabled,
        scope_source: resolution.scope.as_ref().map(|r| r.source),
        foreground: fg,
        owner,
        active: queues.active,
        legacy: queues.legacy,
        legacy_missions: queues.missions,
        legacy_unmovable: queues.unmovable,
        legacy_is_active: queues.legacy_is_active,
        queue_limits: survey.limits,
        unusable_by_owner: home.unusable_by_owner(),
        home_owner: home_owner(home),
        live_daemons,
        notes,
        invocation: opts.invocation.clone(),
    })
}

/// Warn about a `queues/`, scoped or legacy DB, or journal that is a link
/// leading out of the home (`sk-migrate run` refuses to write through it).
fn link_notes(home: &Home, scoped: Option<&Path>, notes: &mut Vec<String>) {
    let mut paths = vec![
        home.queues_dir(),
        home.legacy_queue(),
        home.migrate_journal(),
    ];
    paths.extend(scoped.map(Path::to_path_buf));
    for p in paths {
        if let Some(target) = crate::fsutil::escapes_root(home.root(), &p) {
            notes.push(format!(
                "{} is a symbolic link leading outside the home (to {}); sk-migrate refuses to write through it",
                escaped(&p),
                escaped(&target)
            ));
        }
    }
}

/// The `sync-daemon` state file, when no daemon stands behind it. An
/// unreadable state file is not judged.
fn stale_state(
    home: &Home,
    owner: &OwnerFacts,
    live: Option<&[probe::LiveDaemon]>,
) -> Option<owner::StaleState> {
    let path = home.daemon_state();
    let text = crate::login::config::read_optional(&path).ok()??;
    let ports: Option<Vec<u16>> = live.map(|l| l.iter().map(|d| d.port).collect());
    owner::stale_state(
        &path,
        &text,
        !matches!(owner.found, OwnerFound::Absent),
        crate::process::pid_alive,
        ports.as_deref(),
    )
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
    /// No owner record, but a stale `sync-daemon` state file: remove it.
    StaleState(owner::StaleState),
    Plan(RetirePlan),
}

/// Decide what `retire` would do (reads only).
pub fn plan_retire(home: &Home) -> Result<RetireDecision, Error> {
    Ok(match owner::read(&home.owner_record())? {
        OwnerRead::Absent => {
            let empty = OwnerFacts {
                path: crate::path_text::PathText::default(),
                found: OwnerFound::Absent,
                file_issues: Vec::new(),
            };
            // Only a pid-less file needs the probe: ask just its port.
            let state = crate::login::config::read_optional(&home.daemon_state()).unwrap_or(None);
            let parsed = state.as_deref().map(owner::parse_state_file);
            let live = match parsed {
                Some(owner::DaemonState {
                    pid: None,
                    port: Some(port),
                    ..
                }) => probe::probe_ports(&[port], probe::ProbeTimeouts::default()),
                _ => Vec::new(),
            };
            match stale_state(home, &empty, Some(&live)) {
                Some(stale) => RetireDecision::StaleState(stale),
                None => RetireDecision::NothingToRetire,
            }
        }
        OwnerRead::Malformed { reason, .. } => RetireDecision::Malformed { reason },
        OwnerRead::Present(record, _) => {
            let state = crate::login::config::read_optional(&home.daemon_state()).unwrap_or(None);
            RetireDecision::Plan(owner::plan_retire(
                home,
                &record,
                crate::process::pid_alive(record.pid),
                owner::executable_exists(&record.executable_path),
                state.as_deref(),
            ))
        }
    })
}
