//! The doctor's report (`docs/json.md`): facts gathered at the edges go in, the
//! coherence rows, problems and warnings come out. Pure.

use serde::Serialize;

use crate::doctor::identity::{FieldRow, FieldStatus, ForegroundIdentity, GateForeground};
use crate::doctor::owner::RedactedOwner;
use crate::doctor::probe::LiveDaemon;
use crate::field::Field;
use crate::login::ScopeSource;
use crate::release::{GateField, Profile, ReleaseView};
use crate::survey::stores::StoreFacts;

mod build;
pub use build::{Preflight, auth_required_problem, build, preflight, release_unknown_warning};
mod stores;
pub use stores::{HISTORY_REFUSAL, STATUS_FAILURE};

mod queue;

mod fix;
pub use fix::{By, INSTALL, Invocation, Step, history_action_id, quote, remediation};

/// What the owner record file held.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerStatus {
    Absent,
    Present,
    Orphan,
    Malformed,
}

/// The owner record as found (gathered by `doctor::gather`).
#[derive(Debug, Clone)]
pub struct OwnerFacts {
    pub path: crate::path_text::PathText,
    pub found: OwnerFound,
    /// Another user owns the record, or others can write a directory
    /// holding it (`owner::file_trust_issues`): `owner_record_permissions`.
    pub file_issues: Vec<crate::doctor::owner::TrustIssue>,
}

// Built once per run: boxing would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum OwnerFound {
    Absent,
    Malformed {
        reason: String,
        mode: Option<u32>,
    },
    Present {
        /// As recorded (for output).
        record: RedactedOwner,
        /// Paths canonicalized (for comparison).
        canonical: RedactedOwner,
        mode: u32,
        unknown_fields: Vec<String>,
        pid_alive: bool,
        executable_exists: bool,
    },
}

/// One queue DB as the doctor sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueFacts {
    pub path: crate::path_text::PathText,
    pub exists: bool,
    pub schema_version: Option<u32>,
    pub events: u64,
    pub body_uploads: u64,
    pub failure_log: u64,
    /// Why the DB could not be read (unknown schema, not a DB); not in JSON.
    #[serde(skip)]
    pub unreadable: Option<String>,
    /// The DB holds an interrupted write a reader may not recover; not in JSON.
    #[serde(skip)]
    pub needs_recovery: Option<String>,
    /// Another process held the DB locked past sk-doctor's --busy-timeout:
    /// its counts are unknown (a warning says so). In JSON only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

impl QueueFacts {
    pub fn rows(&self) -> u64 {
        self.events + self.body_uploads + self.failure_log
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StrandedMission {
    pub mission_slug: String,
    pub body_uploads: u64,
}

/// Everything the report is built from.
#[derive(Debug, Clone)]
pub struct Facts {
    pub home: crate::path_text::PathText,
    /// The installed release, as detected.
    pub release: ReleaseView,
    /// Why no release profile applies (the report then uses the default
    /// profile and says so); `None` when one does.
    pub release_note: Option<String>,
    /// The rules every verdict follows.
    pub profile: &'static Profile,
    /// Project stores, legacy sources and cutovers (3.2.6+ releases only).
    pub stores: Option<StoreFacts>,
    /// Every legacy row classified by natural key (3.2.6+; `None`: not
    /// classified, and the path-based rules apply).
    pub ledger: Option<crate::survey::carried::Ledger>,
    /// The foreground as the release's preflight gate sees it.
    pub gate: GateForeground,
    /// The project uuid of the checkout (3.2.6+ gate), if one resolves.
    pub checkout_project: Option<String>,
    pub saas_enabled: bool,
    pub scope_source: Option<ScopeSource>,
    /// Canonicalized foreground identity.
    pub foreground: ForegroundIdentity,
    pub owner: OwnerFacts,
    pub active: QueueFacts,
    pub legacy: QueueFacts,
    /// Legacy body uploads per mission slug (V2–V3 `feature_slug` mapped).
    pub legacy_missions: Vec<StrandedMission>,
    /// Legacy rows no move takes under this release (`unmovable_legacy_rows`).
    pub legacy_unmovable: Vec<crate::survey::queues::UnmovableRows>,
    /// The legacy and the active scoped DB are one file (device and inode).
    pub legacy_is_active: bool,
    /// How full a move may make each scoped table (the release's caps at
    /// `[sync] max_queue_size`): legacy rows past it wait for room.
    pub queue_limits: crate::release::limits::QueueLimits,
    /// Files of the home its owner cannot use (`unusable_by_owner`), and
    /// the owner as `name (uid N, gid G)`.
    pub unusable_by_owner: Vec<crate::home::Unusable>,
    pub home_owner: Option<(String, u32, u32)>,
    /// `None` when the probe was turned off.
    pub live_daemons: Option<Vec<LiveDaemon>>,
    /// What foreground discovery could not find, as text.
    pub notes: Vec<String>,
    /// The scope resolution's diagnostics: why no login resolved.
    pub auth_notes: Vec<String>,
    /// What the steps of a fix repeat of the user's options, and the
    /// values sk-doctor made for them.
    pub invocation: Invocation,
}

#[derive(Debug, Clone, Serialize)]
pub struct DaemonOwner {
    pub status: OwnerStatus,
    pub path: crate::path_text::PathText,
    pub record: Option<RedactedOwner>,
    pub pid_alive: Option<bool>,
    pub executable_exists: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Queues {
    pub active: QueueFacts,
    pub legacy: QueueFacts,
    pub stranded_missions: Vec<StrandedMission>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveOrphan {
    pub port: u16,
    pub pid: Option<i64>,
    pub package_version: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    DaemonMismatch,
    OrphanDaemon,
    OwnerRecordMalformed,
    OwnerRecordPermissions,
    LegacyRows,
    LegacyRowsWaitForRoom,
    UnmovableLegacyRows,
    UnusableByOwner,
    StrandedSetupPlan,
    CutoverPending,
    LateLegacyRows,
    ProjectUnknown,
    AuthRequired,
    UnknownSchema,
}

impl ProblemCode {
    /// Every code, in the order of `docs/problems.md`.
    pub const ALL: [ProblemCode; 14] = [
        ProblemCode::DaemonMismatch,
        ProblemCode::OrphanDaemon,
        ProblemCode::OwnerRecordMalformed,
        ProblemCode::OwnerRecordPermissions,
        ProblemCode::LegacyRows,
        ProblemCode::LegacyRowsWaitForRoom,
        ProblemCode::UnmovableLegacyRows,
        ProblemCode::UnusableByOwner,
        ProblemCode::StrandedSetupPlan,
        ProblemCode::AuthRequired,
        ProblemCode::UnknownSchema,
        ProblemCode::CutoverPending,
        ProblemCode::LateLegacyRows,
        ProblemCode::ProjectUnknown,
    ];

    /// The code as JSON and output name it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemCode::DaemonMismatch => "daemon_mismatch",
            ProblemCode::OrphanDaemon => "orphan_daemon",
            ProblemCode::OwnerRecordMalformed => "owner_record_malformed",
            ProblemCode::OwnerRecordPermissions => "owner_record_permissions",
            ProblemCode::LegacyRows => "legacy_rows",
            ProblemCode::LegacyRowsWaitForRoom => "legacy_rows_wait_for_room",
            ProblemCode::UnmovableLegacyRows => "unmovable_legacy_rows",
            ProblemCode::UnusableByOwner => "unusable_by_owner",
            ProblemCode::StrandedSetupPlan => "stranded_setup_plan",
            ProblemCode::CutoverPending => "cutover_pending",
            ProblemCode::LateLegacyRows => "late_legacy_rows",
            ProblemCode::ProjectUnknown => "project_unknown",
            ProblemCode::AuthRequired => "auth_required",
            ProblemCode::UnknownSchema => "unknown_schema",
        }
    }
}

/// Something wrong that a user's action clears: `steps` say which, and
/// following them verbatim clears it (`tests/system/fixes_clear/mod.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: ProblemCode,
    pub message: String,
    pub fields: Vec<ProblemField>,
    /// The steps as one line (older consumers read it).
    pub remediation: String,
    pub steps: Vec<Step>,
}

impl Problem {
    /// A problem whose fix is `steps` (completed by [`Problem::finish`]).
    pub fn new(
        code: ProblemCode,
        message: String,
        fields: Vec<ProblemField>,
        steps: Vec<Step>,
    ) -> Problem {
        let remediation = remediation(&steps);
        Problem {
            code,
            message,
            fields,
            remediation,
            steps,
        }
    }

    /// The steps made to act on the home and release the user named, and
    /// `remediation` built from them.
    pub fn finish(&mut self, inv: &Invocation) {
        inv.complete(&mut self.steps);
        self.remediation = remediation(&self.steps);
    }
}

/// What sk-doctor says about a state no user action changes (a release's
/// defect, a decision that is the user's to take): never a problem, never
/// fails `--check` or `preflight`. Its message is also in `warnings`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdvisoryCode {
    /// 3.2.6+: the release's own status cannot read what any cutover stores.
    JournalUndecodable,
    /// 3.2.6+: migrated events held as sealed history, and whether the
    /// release can deliver them (its own preview, confirm, apply).
    SealedHistory,
    /// 3.2.6+: a complete cutover quarantined rows; nothing delivers them.
    RowsQuarantined,
    /// Legacy rows with a NULL natural key: nothing moves or delivers them.
    KeylessLegacyRows,
}

impl AdvisoryCode {
    pub const ALL: [AdvisoryCode; 4] = [
        AdvisoryCode::JournalUndecodable,
        AdvisoryCode::SealedHistory,
        AdvisoryCode::RowsQuarantined,
        AdvisoryCode::KeylessLegacyRows,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AdvisoryCode::JournalUndecodable => "journal_undecodable",
            AdvisoryCode::SealedHistory => "sealed_history",
            AdvisoryCode::RowsQuarantined => "rows_quarantined",
            AdvisoryCode::KeylessLegacyRows => "keyless_legacy_rows",
        }
    }
}

/// An advisory: `{"code", "message", "steps"}` (steps: what the user may
/// do, e.g. deliver sealed history; none clears a state nobody can change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advisory {
    pub code: AdvisoryCode,
    pub message: String,
    pub steps: Vec<Step>,
}

/// A field a problem names: one of the owner record's, or one the release's
/// preflight gate compares. In JSON, its name (`docs/json.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum ProblemField {
    Owner(Field),
    Gate(GateField),
}

impl ProblemField {
    /// The name in JSON and output.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemField::Owner(f) => f.as_str(),
            ProblemField::Gate(g) => g.as_str(),
        }
    }
}

impl From<Field> for ProblemField {
    fn from(f: Field) -> ProblemField {
        ProblemField::Owner(f)
    }
}

impl From<GateField> for ProblemField {
    fn from(g: GateField) -> ProblemField {
        ProblemField::Gate(g)
    }
}

/// `sk-doctor --json` (`docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub home: crate::path_text::PathText,
    /// `{version, source, generation}` of the installed spec-kitty release.
    pub release: ReleaseView,
    /// 3.2.6+ only: the project stores, the legacy sources the release's
    /// cutover would read, and every cutover manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_stores: Option<StoreFacts>,
    pub foreground: ForegroundIdentity,
    pub daemon_owner: DaemonOwner,
    pub fields: Vec<FieldRow>,
    pub queues: Queues,
    pub live_orphans: Vec<LiveOrphan>,
    pub problems: Vec<Problem>,
    pub warnings: Vec<String>,
    /// Warnings with a code and steps (their messages are in `warnings` too).
    pub advisories: Vec<Advisory>,
    /// Where the foreground scope came from; shown to people, not in JSON.
    #[serde(skip)]
    pub scope_source: Option<ScopeSource>,
    /// Why no login resolved (for preflight's auth problem); not in JSON.
    #[serde(skip)]
    pub auth_notes: Vec<String>,
    /// The gate fields the daemon differs in (the preflight's verdict); not in JSON.
    #[serde(skip)]
    pub gate_mismatches: Vec<GateField>,
    /// 3.2.6+: the gate's layout check, `Some(refusal)` when it refuses.
    #[serde(skip)]
    pub layout_refusal: Option<Problem>,
    /// What steps of fixes `preflight` adds repeat; not in JSON.
    #[serde(skip)]
    pub invocation: Invocation,
}

/// Rows when there is no record to compare with: the foreground's values.
fn rows_without_owner(fg: &ForegroundIdentity, profile: &Profile) -> Vec<FieldRow> {
    let value = |f: Field| -> Option<String> {
        match f {
            Field::PackageVersion => fg.package_version.clone(),
            Field::ExecutablePath => fg.executable_path.clone(),
            Field::SourceCheckoutPath => fg.source_checkout_path.clone(),
            Field::ServerUrl => fg.server_url.clone(),
            Field::AuthScope => fg.auth_scope.as_deref().map(str::to_string),
            Field::AuthPrincipal => fg.auth_principal.clone(),
            Field::AuthTeam => fg.auth_team.clone(),
            Field::QueueDbPath => fg.queue_db_path.clone(),
            Field::Pid | Field::Port | Field::StartedAt => None,
        }
    };
    Field::ALL
        .into_iter()
        .map(|f| {
            let blocking = profile.is_blocking(f);
            FieldRow {
                field: f,
                foreground: value(f),
                daemon: None,
                status: if blocking {
                    FieldStatus::Unknown
                } else {
                    FieldStatus::Info
                },
                blocking,
            }
        })
        .collect()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::identity::AuthScope;

    fn owner() -> RedactedOwner {
        RedactedOwner {
            token: (),
            pid: 42,
            port: 9400,
            package_version: "3.1.4".into(),
            executable_path: "/v/bin/python3".into(),
            source_checkout_path: "/v/lib/python3.11".into(),
            server_url: "https://s.test".into(),
            auth_principal: Some("a@b".into()),
            auth_team: Some("t".into()),
            auth_scope: Some("https://s.test|a@b|t".into()),
            queue_db_path: "/h/queues/queue-x.db".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
        }
    }

    pub(super) fn facts() -> Facts {
        let o = owner();
        Facts {
            home: "/h".into(),
            release: ReleaseView::default(),
            release_note: None,
            profile: crate::release::DEFAULT_PROFILE,
            stores: None,
            ledger: None,
            saas_enabled: false,
            scope_source: Some(ScopeSource::Credentials),
            foreground: ForegroundIdentity {
                package_version: Some(o.package_version.clone()),
                executable_path: Some(o.executable_path.clone()),
                source_checkout_path: Some(o.source_checkout_path.clone()),
                server_url: Some(o.server_url.clone()),
                auth_scope: AuthScope::Scope(o.auth_scope.clone().unwrap_or_default()),
                auth_principal: o.auth_principal.clone(),
                auth_team: o.auth_team.clone(),
                queue_db_path: Some(o.queue_db_path.clone()),
            },
            owner: OwnerFacts {
                file_issues: vec![],
                path: "/h/sync/daemon/owner.json".into(),
                found: OwnerFound::Present {
                    record: o.clone(),
                    canonical: o,
                    mode: 0o600,
                    unknown_fields: vec![],
                    pid_alive: true,
                    executable_exists: true,
                },
            },
            active: QueueFacts {
                path: "/h/queues/queue-x.db".into(),
                exists: true,
                schema_version: Some(5),
                ..QueueFacts::default()
            },
            legacy: QueueFacts {
                path: "/h/queue.db".into(),
                ..QueueFacts::default()
            },
            legacy_missions: vec![],
            queue_limits: Default::default(),
            legacy_unmovable: vec![],
            legacy_is_active: false,
            unusable_by_owner: vec![],
            home_owner: None,
            live_daemons: Some(vec![]),
            notes: vec![],
            auth_notes: vec![],
            gate: GateForeground::default(),
            checkout_project: None,
            invocation: Invocation::default(),
        }
    }

    fn codes(r: &Report) -> Vec<ProblemCode> {
        r.problems.iter().map(|p| p.code).collect()
    }

    /// Legacy rows the cap guard would hold back are not worth a run: the
    /// problem says they wait for room, and so does the stranded fix.
    #[test]
    fn rows_past_the_cap_wait_for_room_and_no_fix_says_run() {
        use crate::release::limits::{Limit, QueueLimits};
        let mut f = facts();
        f.queue_limits = QueueLimits {
            events: Some(Limit::of_cap(10)),
            bodies: Some(Limit::of_cap(10)),
        };
        f.active.events = 9;
        f.active.body_uploads = 9;
        f.legacy.exists = true;
        f.legacy.events = 3;
        f.legacy.body_uploads = 2;
        f.legacy_missions = vec![StrandedMission {
            mission_slug: "007-live".into(),
            body_uploads: 2,
        }];
        let r = build(f.clone());
        let wait = r
            .problems
            .iter()
            .find(|p| p.code == ProblemCode::LegacyRowsWaitForRoom)
            .unwrap_or_else(|| panic!("{:?}", r.problems));
        assert!(
            wait.message.contains("3 events (9 of 10 queued)"),
            "{}",
            wait.message
        );
        // The default profile (3.2.0's) caps bodies at max_queue_size too,
        // and its `sync now` refuses while legacy rows remain: raise the cap.
        assert!(
            wait.remediation.contains(
                "raise `max_queue_size` in the `[sync]` table of /h/config.toml to at least 14"
            ),
            "{}",
            wait.remediation
        );
        assert!(
            !codes(&r).contains(&ProblemCode::LegacyRows),
            "{:?}",
            r.problems
        );
        for p in &r.problems {
            assert_ne!(p.remediation, "sk-migrate run", "futile: {p:?}");
        }
        // Room for some: those are worth a run, the rest still wait.
        f.active.events = 7;
        let r = build(f);
        assert!(codes(&r).contains(&ProblemCode::LegacyRows));
        assert!(codes(&r).contains(&ProblemCode::LegacyRowsWaitForRoom));
    }

    #[test]
    fn coherent_facts_give_no_problem() {
        let r = build(facts());
        assert!(r.ok, "{:?}", r.problems);
        assert_eq!(r.daemon_owner.status, OwnerStatus::Present);
    }

    #[test]
    fn a_daemon_on_an_unrecorded_port_is_a_live_orphan() {
        let mut f = facts();
        let found = |port| LiveDaemon {
            port,
            pid: Some(7),
            protocol_version: Some("1".into()),
            package_version: Some("2.9.0".into()),
            owner: None,
        };
        f.live_daemons = Some(vec![found(9400), found(9412)]);
        let r = build(f);
        assert_eq!(
            r.live_orphans,
            [LiveOrphan {
                port: 9412,
                pid: Some(7),
                package_version: Some("2.9.0".into())
            }]
        );
        assert_eq!(codes(&r), [ProblemCode::OrphanDaemon]);
        assert_eq!(
            r.problems[0].remediation,
            "stop pid 7 (sk-doctor never stops a process)"
        );
        assert!(!r.problems[0].remediation.contains("kill"));
    }

    #[test]
    fn probe_off_is_a_warning_not_a_problem() {
        let mut f = facts();
        f.live_daemons = None;
        let r = build(f);
        assert!(r.ok);
        assert!(r.warnings.iter().any(|w| w.contains("--no-probe")));
    }

    #[test]
    fn saas_without_scope_requires_auth_and_legacy_is_then_not_stranded() {
        let mut f = facts();
        f.saas_enabled = true;
        f.scope_source = None;
        f.foreground.auth_scope = AuthScope::NoScope;
        f.owner.found = OwnerFound::Absent;
        f.legacy.events = 3;
        f.legacy_missions = vec![StrandedMission {
            mission_slug: "m".into(),
            body_uploads: 1,
        }];
        let r = build(f);
        assert_eq!(codes(&r), [ProblemCode::AuthRequired]);
        assert!(r.queues.stranded_missions.is_empty());
        assert!(
            r.problems[0]
                .message
                .contains("SaaS sync cannot be guaranteed")
        );
    }

    #[test]
    fn unreadable_queue_is_unknown_schema() {
        let mut f = facts();
        f.legacy.exists = true;
        f.legacy.unreadable =
            Some("/h/queue.db has a queue schema sk-migrate does not know".into());
        let r = build(f);
        assert_eq!(codes(&r), [ProblemCode::UnknownSchema]);
    }

    #[test]
    fn malformed_and_open_record_gives_both_problems() {
        let mut f = facts();
        f.owner.found = OwnerFound::Malformed {
            reason: "missing field pid".into(),
            mode: Some(0o644),
        };
        let r = build(f);
        assert_eq!(
            codes(&r),
            [
                ProblemCode::OwnerRecordMalformed,
                ProblemCode::OwnerRecordPermissions
            ]
        );
        assert_eq!(r.daemon_owner.status, OwnerStatus::Malformed);
    }

    #[test]
    fn preflight_puts_auth_first_and_requires_it_on_demand() {
        let mut f = facts();
        f.scope_source = None;
        f.foreground.auth_scope = AuthScope::NoScope;
        if let OwnerFound::Present { mode, .. } = &mut f.owner.found {
            *mode = 0o644;
        }
        let r = build(f);
        assert!(
            preflight(&r, false)
                .problems
                .iter()
                .all(|p| p.code != ProblemCode::AuthRequired)
        );
        let p = preflight(&r, true);
        assert!(!p.ok);
        assert_eq!(p.problems[0].code, ProblemCode::AuthRequired);
    }
}
