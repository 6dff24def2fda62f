//! Comparison of the foreground with the owner record, field by field (pure; `docs/json.md`).

use serde::Serialize;

use crate::doctor::owner::{OwnerRecord, RedactedOwner};
use crate::field::Field;
use crate::home::Home;
use crate::login::{Env, Resolution, ScopeSource};
use crate::release::{GateField, GateIdentity, Profile};
use crate::scope::Scope;

use super::{AuthScope, ForegroundIdentity};

// Comparison.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    Match,
    Mismatch,
    Unknown,
    Info,
}

/// One row of the coherence table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRow {
    pub field: Field,
    pub foreground: Option<String>,
    pub daemon: Option<String>,
    pub status: FieldStatus,
    pub blocking: bool,
}

/// Compare the foreground with the daemon's owner record (pure), as the
/// release of `profile` does; see [`compare_view`].
pub fn compare(
    foreground: &ForegroundIdentity,
    owner: &OwnerRecord,
    profile: &Profile,
) -> Vec<FieldRow> {
    compare_view(foreground, &owner.redacted(), profile)
}

/// The comparison on a token-free owner view (pure), as
/// `owner.mismatched_fields` of the installed release does it:
///
/// * Every compared field: exact string equality (the releases measured
///   compare `daemon_value != fg_value`; a trailing `/`, a case difference or
///   a symlinked path is a mismatch for them, so it is one here).
/// * `auth_scope`: unknown foreground → unknown; known none vs null → match;
///   none vs a scope (either way) → mismatch.
/// * Any other unknown foreground value → `unknown`, not a mismatch.
/// * Fields the release does not block on are `info` rows, never blocking.
pub fn compare_view(
    fg: &ForegroundIdentity,
    owner: &RedactedOwner,
    profile: &Profile,
) -> Vec<FieldRow> {
    Field::ALL
        .into_iter()
        .map(|field| {
            let (f, d) = values(fg, owner, field);
            let blocking = profile.is_blocking(field);
            let status = if !blocking {
                FieldStatus::Info
            } else if field == Field::AuthScope {
                match (&fg.auth_scope, &owner.auth_scope) {
                    (AuthScope::Unknown, _) => FieldStatus::Unknown,
                    (AuthScope::NoScope, None) => FieldStatus::Match,
                    (AuthScope::Scope(f), Some(d)) if f == d => FieldStatus::Match,
                    _ => FieldStatus::Mismatch,
                }
            } else {
                match (&f, &d) {
                    (None, _) => FieldStatus::Unknown,
                    (Some(f), Some(d)) if f == d => FieldStatus::Match,
                    _ => FieldStatus::Mismatch,
                }
            };
            FieldRow {
                field,
                foreground: f,
                daemon: d,
                status,
                blocking,
            }
        })
        .collect()
}

/// The foreground's and the daemon's value of `field`.
pub(super) fn values(
    fg: &ForegroundIdentity,
    owner: &RedactedOwner,
    field: Field,
) -> (Option<String>, Option<String>) {
    match field {
        Field::PackageVersion => (
            fg.package_version.clone(),
            Some(owner.package_version.clone()),
        ),
        Field::ExecutablePath => (
            fg.executable_path.clone(),
            Some(owner.executable_path.clone()),
        ),
        Field::SourceCheckoutPath => (
            fg.source_checkout_path.clone(),
            Some(owner.source_checkout_path.clone()),
        ),
        Field::ServerUrl => (fg.server_url.clone(), Some(owner.server_url.clone())),
        Field::AuthScope => (
            fg.auth_scope.as_deref().map(str::to_string),
            owner.auth_scope.clone(),
        ),
        Field::QueueDbPath => (fg.queue_db_path.clone(), Some(owner.queue_db_path.clone())),
        Field::Pid => (None, Some(owner.pid.to_string())),
        Field::Port => (None, Some(owner.port.to_string())),
        Field::StartedAt => (None, Some(owner.started_at.clone())),
        Field::AuthPrincipal => (fg.auth_principal.clone(), owner.auth_principal.clone()),
        Field::AuthTeam => (fg.auth_team.clone(), owner.auth_team.clone()),
    }
}

/// The foreground as the release's preflight gate sees it
/// (`preflight._build_mismatches`). `None`: unknown, never a mismatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateForeground {
    pub package_version: Option<String>,
    pub executable_path: Option<String>,
    pub source_path: Option<String>,
    pub server_url: Option<String>,
    pub team_or_user: Option<String>,
    pub queue_db_path: Option<String>,
}

/// `<principal>/<team>`, or the principal alone when the team is empty.
pub fn team_or_user(principal: Option<&str>, team: Option<&str>) -> Option<String> {
    let p = principal?;
    Some(match team.filter(|t| !t.is_empty()) {
        Some(t) => format!("{p}/{t}"),
        None => p.to_string(),
    })
}

/// The gate's view of the foreground (pure): the owner view `fg`, except
/// that 3.2.4+ take a session login as written (raw case, not trimmed) for
/// `team_or_user` and for the queue path they derive (measured:
/// `preflight_view` in fixtures/releases/3.2.4+).
pub fn gate_foreground(
    home: &Home,
    fg: &ForegroundIdentity,
    resolution: &Resolution,
    env: &Env,
) -> GateForeground {
    let mut g = GateForeground {
        package_version: fg.package_version.clone(),
        executable_path: fg.executable_path.clone(),
        source_path: fg.source_checkout_path.clone(),
        server_url: fg.server_url.clone(),
        team_or_user: team_or_user(fg.auth_principal.as_deref(), fg.auth_team.as_deref()),
        queue_db_path: fg.queue_db_path.clone(),
    };
    let raw_session = env.profile.gate_identity == GateIdentity::RawSession;
    if let Some(r) = resolution
        .scope
        .as_ref()
        .filter(|r| r.source == ScopeSource::Session)
        && raw_session
    {
        let (user, team) = (r.scope.raw_user(), r.scope.raw_team());
        g.team_or_user = team_or_user(Some(user), Some(team));
        if let Some(rule) = env.profile.gate_queue_scope
            && let Some(server) = &fg.server_url
        {
            let derived = Scope::with_rule(rule, server, user, team);
            g.queue_db_path = Some(crate::path_text::text(&home.scoped_queue(&derived)));
        }
    }
    g
}

/// The gate fields that differ (pure), as the release's gate compares them:
/// exact strings, paths as `str(Path(…))` shows them (`//`, `.` and a
/// trailing `/` dropped); an unknown foreground value is not a mismatch.
pub fn gate_mismatches(
    profile: &Profile,
    g: &GateForeground,
    owner: &RedactedOwner,
) -> Vec<GateField> {
    let daemon_tu = team_or_user(owner.auth_principal.as_deref(), owner.auth_team.as_deref());
    profile
        .gate
        .iter()
        .copied()
        .filter(|field| {
            let (f, d) = match field {
                GateField::PackageVersion => (&g.package_version, Some(&owner.package_version)),
                GateField::ExecutablePath => (&g.executable_path, Some(&owner.executable_path)),
                GateField::SourcePath => (&g.source_path, Some(&owner.source_checkout_path)),
                GateField::ServerUrl => (&g.server_url, Some(&owner.server_url)),
                GateField::TeamOrUser => (&g.team_or_user, daemon_tu.as_ref()),
                GateField::QueueDbPath => (&g.queue_db_path, Some(&owner.queue_db_path)),
            };
            let is_path = matches!(
                field,
                GateField::ExecutablePath | GateField::SourcePath | GateField::QueueDbPath
            );
            match (f, d) {
                (None, _) => false,
                // `Path(record.…)` on both sides: compared as `str(Path)`.
                (Some(f), Some(d)) if is_path => !crate::doctor::owner::same_pure_path(f, d),
                (Some(f), d) => Some(f) != d,
            }
        })
        .collect()
}

/// The blocking fields that mismatch (for a `daemon_mismatch` problem).
pub fn mismatched_fields(rows: &[FieldRow]) -> Vec<Field> {
    rows.iter()
        .filter(|r| r.blocking && r.status == FieldStatus::Mismatch)
        .map(|r| r.field)
        .collect()
}
