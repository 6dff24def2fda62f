//! The doctor's report (`docs/json.md`): facts gathered at the edges go in, the
//! coherence rows, problems and warnings come out. Pure.

use serde::Serialize;

use crate::db::store::{self, StoreFacts};
use crate::doctor::identity::{self, FieldRow, FieldStatus, ForegroundIdentity, GateForeground};
use crate::doctor::owner::RedactedOwner;
use crate::doctor::probe::LiveDaemon;
use crate::field::Field;
use crate::login::ScopeSource;
use crate::migrate::JSON_SCHEMA_VERSION;
use crate::release::{GateField, Profile, ReleaseView};

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
    pub path: String,
    pub found: OwnerFound,
    /// Another user owns the record, or others can write a directory
    /// holding it (`owner::file_trust_issues`): `owner_record_permissions`.
    pub file_issues: Vec<String>,
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
    pub path: String,
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
    pub home: String,
    /// The installed release, as detected.
    pub release: ReleaseView,
    /// Why no release profile applies (the report then uses the default
    /// profile and says so); `None` when one does.
    pub release_note: Option<String>,
    /// The rules every verdict follows.
    pub profile: &'static Profile,
    /// Project stores, legacy sources and cutovers (3.2.6+ releases only).
    pub stores: Option<StoreFacts>,
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
    /// `None` when the probe was turned off.
    pub live_daemons: Option<Vec<LiveDaemon>>,
    /// What foreground discovery could not find, as text.
    pub notes: Vec<String>,
    /// The scope resolution's diagnostics: why no login resolved.
    pub auth_notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DaemonOwner {
    pub status: OwnerStatus,
    pub path: String,
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
    StrandedSetupPlan,
    CutoverPending,
    RowsQuarantined,
    ProjectUnknown,
    AuthRequired,
    UnknownSchema,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: ProblemCode,
    pub message: String,
    pub fields: Vec<String>,
    pub remediation: String,
}

/// `sk-doctor --json` (`docs/json.md`).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub ok: bool,
    pub home: String,
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
                field: f.as_str().to_string(),
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

/// Build the report from the facts (pure).
pub fn build(facts: Facts) -> Report {
    let mut problems = Vec::new();
    let mut gate_mismatches = Vec::new();
    let mut warnings: Vec<String> = facts
        .auth_notes
        .iter()
        .chain(&facts.notes)
        .cloned()
        .collect();
    let scope_resolved = facts.scope_source.is_some();

    let (daemon_owner, fields, recorded_port) = match &facts.owner.found {
        OwnerFound::Absent => (
            DaemonOwner {
                status: OwnerStatus::Absent,
                path: facts.owner.path.clone(),
                record: None,
                pid_alive: None,
                executable_exists: None,
            },
            rows_without_owner(&facts.foreground, facts.profile),
            None,
        ),
        OwnerFound::Malformed { reason, mode } => {
            problems.push(Problem {
                code: ProblemCode::OwnerRecordMalformed,
                message: format!("the daemon owner record is malformed: {reason}"),
                fields: Vec::new(),
                remediation: format!(
                    "mv {p} {p}.malformed  # then restart sync so the daemon writes a new one",
                    p = facts.owner.path
                ),
            });
            if mode.is_some_and(|m| m & 0o077 != 0) {
                problems.push(permissions_problem(&facts.owner.path, mode.unwrap_or(0)));
            }
            (
                DaemonOwner {
                    status: OwnerStatus::Malformed,
                    path: facts.owner.path.clone(),
                    record: None,
                    pid_alive: None,
                    executable_exists: None,
                },
                rows_without_owner(&facts.foreground, facts.profile),
                None,
            )
        }
        OwnerFound::Present {
            record,
            canonical,
            mode,
            unknown_fields,
            pid_alive,
            executable_exists,
        } => {
            let orphan = crate::doctor::owner::is_orphan(*pid_alive, *executable_exists);
            gate_mismatches = identity::gate_mismatches(facts.profile, &facts.gate, canonical);
            let rows = identity::compare_view(&facts.foreground, canonical, facts.profile);
            let mismatched: Vec<String> = identity::mismatched_fields(&rows)
                .into_iter()
                .map(str::to_string)
                .collect();
            if !mismatched.is_empty() {
                problems.push(Problem {
                    code: ProblemCode::DaemonMismatch,
                    message: format!(
                        "the sync daemon (pid {}, {}) differs from this CLI in: {}",
                        record.pid,
                        record.package_version,
                        mismatched.join(", ")
                    ),
                    remediation: if orphan {
                        "sk-doctor retire  # the daemon is gone; spec-kitty starts a new one"
                            .to_string()
                    } else {
                        mismatch_remedy(facts.profile, &mismatched)
                    },
                    fields: mismatched,
                });
            }
            if orphan {
                let why = match (*pid_alive, *executable_exists) {
                    (false, false) => format!(
                        "pid {} is not running and {} does not exist",
                        record.pid, record.executable_path
                    ),
                    (false, true) => format!("pid {} is not running", record.pid),
                    _ => format!("{} does not exist", record.executable_path),
                };
                problems.push(Problem {
                    code: ProblemCode::OrphanDaemon,
                    message: format!("the daemon owner record is an orphan: {why}"),
                    fields: vec!["pid".to_string(), "executable_path".to_string()],
                    remediation: "sk-doctor retire".to_string(),
                });
            }
            if mode & 0o077 != 0 {
                problems.push(permissions_problem(&facts.owner.path, *mode));
            }
            if !unknown_fields.is_empty() {
                warnings.push(format!(
                    "the owner record has fields this tool does not know: {}",
                    unknown_fields.join(", ")
                ));
            }
            (
                DaemonOwner {
                    status: if orphan {
                        OwnerStatus::Orphan
                    } else {
                        OwnerStatus::Present
                    },
                    path: facts.owner.path.clone(),
                    record: Some(record.clone()),
                    pid_alive: Some(*pid_alive),
                    executable_exists: Some(*executable_exists),
                },
                rows,
                Some(record.port),
            )
        }
    };

    let live_orphans: Vec<LiveOrphan> = match &facts.live_daemons {
        Some(found) => crate::doctor::probe::live_orphans(recorded_port, found)
            .into_iter()
            .map(|d| LiveOrphan {
                port: d.port,
                pid: d.pid,
                package_version: d.package_version,
            })
            .collect(),
        None => {
            warnings.push("the loopback probe was off (--no-probe): daemons on other ports were not looked for".to_string());
            Vec::new()
        }
    };
    if !live_orphans.is_empty() {
        let list: Vec<String> = live_orphans
            .iter()
            .map(|o| {
                format!(
                    "port {} (pid {}, {})",
                    o.port,
                    o.pid.map_or("?".to_string(), |p| p.to_string()),
                    o.package_version.as_deref().unwrap_or("version ?")
                )
            })
            .collect();
        let pids: Vec<String> = live_orphans
            .iter()
            .filter_map(|o| o.pid.map(|p| p.to_string()))
            .collect();
        problems.push(Problem {
            code: ProblemCode::OrphanDaemon,
            message: format!(
                "daemons no owner record names are running: {}",
                list.join("; ")
            ),
            fields: vec!["port".to_string()],
            remediation: if pids.is_empty() {
                "stop the processes listening on those loopback ports (sk-doctor never stops a process)"
                    .to_string()
            } else {
                format!(
                    "stop pid {} (sk-doctor never stops a process)",
                    pids.join(", ")
                )
            },
        });
    }

    for issue in &facts.owner.file_issues {
        problems.push(Problem {
            code: ProblemCode::OwnerRecordPermissions,
            message: format!("the owner record cannot be trusted: {issue}"),
            fields: Vec::new(),
            remediation: format!(
                "chmod go-w on the directories named, and check who wrote {}; if not your daemon: sk-doctor retire",
                facts.owner.path
            ),
        });
    }
    for q in [&facts.active, &facts.legacy] {
        if let Some(why) = &q.needs_recovery
            && !warnings.contains(why)
        {
            warnings.push(why.clone());
        }
        if let Some(why) = &q.unreadable {
            let already = problems
                .iter()
                .any(|p| p.code == ProblemCode::UnknownSchema && p.message.contains(&q.path));
            if !already {
                problems.push(Problem {
                    code: ProblemCode::UnknownSchema,
                    message: why.clone(),
                    fields: vec!["queue_db_path".to_string()],
                    remediation: format!(
                        "sk-migrate status  # then inspect {} by hand; nothing here alters it",
                        q.path
                    ),
                });
            }
        }
    }

    // Project-store releases never read queue DBs as queues: their rows wait
    // for the cutover, which the project-store problems below name.
    let queue_dbs = facts.profile.has_queue_dbs();
    let scope_resolved_for_queues = scope_resolved && queue_dbs;
    let stranded = if scope_resolved_for_queues {
        facts.legacy_missions.clone()
    } else {
        Vec::new()
    };
    if scope_resolved_for_queues && facts.legacy.rows() > 0 {
        problems.push(Problem {
            code: ProblemCode::LegacyRows,
            message: format!(
                "the legacy queue {} holds {}, {} and {} that the daemon never syncs",
                facts.legacy.path,
                plural(facts.legacy.events, "event", "events"),
                plural(facts.legacy.body_uploads, "body upload", "body uploads"),
                plural(
                    facts.legacy.failure_log,
                    "failure-log row",
                    "failure-log rows"
                ),
            ),
            fields: vec!["queue_db_path".to_string()],
            remediation: "sk-migrate run".to_string(),
        });
    }
    if !stranded.is_empty() {
        let list: Vec<String> = stranded
            .iter()
            .map(|m| format!("{} ({})", m.mission_slug, m.body_uploads))
            .collect();
        problems.push(Problem {
            code: ProblemCode::StrandedSetupPlan,
            message: format!(
                "mission artifacts stranded in the legacy queue, never seen by the server: {}",
                list.join(", ")
            ),
            fields: vec!["queue_db_path".to_string()],
            remediation: "sk-migrate run".to_string(),
        });
    }
    if facts.saas_enabled && !scope_resolved {
        problems.push(auth_required_problem(&facts.auth_notes));
    }
    if let Some(stores) = &facts.stores {
        problems.extend(store_problems(stores));
    }
    let layout_refusal = facts
        .profile
        .gate_on_layout
        .then(|| layout_gate(facts.stores.as_ref(), facts.checkout_project.as_deref()))
        .flatten();

    let unknown = facts.foreground.unknown_fields();
    if !unknown.is_empty() {
        warnings.push(format!(
            "foreground fields unknown (not guessed): {}; pass --spec-kitty PATH or --foreground FILE",
            unknown.join(", ")
        ));
    }

    if let Some(why) = &facts.release_note {
        warnings.insert(
            0,
            format!("release unknown: {why}; verdicts follow spec-kitty 3.2.0's rules, and sk-migrate will not write until --release names the release"),
        );
    }
    Report {
        schema_version: JSON_SCHEMA_VERSION,
        ok: problems.is_empty(),
        home: facts.home,
        release: facts.release,
        project_stores: facts.stores,
        foreground: facts.foreground,
        daemon_owner,
        fields,
        queues: Queues {
            active: facts.active,
            legacy: facts.legacy,
            stranded_missions: stranded,
        },
        live_orphans,
        problems,
        warnings,
        scope_source: facts.scope_source,
        auth_notes: facts.auth_notes,
        gate_mismatches,
        layout_refusal,
    }
}

fn permissions_problem(path: &str, mode: u32) -> Problem {
    Problem {
        code: ProblemCode::OwnerRecordPermissions,
        message: format!(
            "the owner record holds the daemon token but is readable by others (mode {:04o})",
            mode & 0o7777
        ),
        fields: Vec::new(),
        remediation: format!("chmod 600 {path}"),
    }
}

/// SaaS sync enabled (or required) and no authenticated scope. `why`: the
/// resolution's diagnostics (a refused session says how to fix it).
pub fn auth_required_problem(why: &[String]) -> Problem {
    let mut message = "missing authentication: no session or credentials resolve a scope, so \
                       SaaS sync cannot be guaranteed; work would land in the legacy queue"
        .to_string();
    for w in why {
        message.push_str(" (");
        message.push_str(w);
        message.push(')');
    }
    Problem {
        code: ProblemCode::AuthRequired,
        message,
        fields: vec!["auth_scope".to_string()],
        remediation: "spec-kitty auth login  # or pass --scope <server>|<user>|<team>".to_string(),
    }
}

/// 3.2.6+'s gate on the layout (`_project_store_layout_diagnostic`): the
/// checkout must name a project, and the machine's layout must be
/// `project_only`. Its reasons, word for word (pure).
fn layout_gate(stores: Option<&StoreFacts>, project: Option<&str>) -> Option<Problem> {
    if project.is_none() {
        return Some(Problem {
            code: ProblemCode::ProjectUnknown,
            message: "no existing project identity resolves from this checkout; sync boundary authority is unavailable".to_string(),
            fields: vec![],
            remediation: "run inside a spec-kitty project checkout (.kittify/config.yaml with project.uuid), or pass --project DIR".to_string(),
        });
    }
    let mode = stores.map_or("legacy", |s| s.layout_mode.as_str());
    (mode != "project_only").then(|| Problem {
        code: ProblemCode::CutoverPending,
        message: format!(
            "layout is {mode}; run `spec-kitty sync project-store-migrate` before producing hosted work"
        ),
        fields: vec![],
        remediation: "sk-migrate run  # carries every legacy source across the cutover".to_string(),
    })
}

/// `cutover_pending` and `rows_quarantined` of a project-store home (pure).
fn store_problems(f: &StoreFacts) -> Vec<Problem> {
    let mut out = Vec::new();
    let pending = store::pending_sources(f);
    if !pending.is_empty() {
        let rows: u64 = pending.iter().map(|s| s.rows).sum();
        let failed: Vec<String> = f
            .cutovers
            .iter()
            .filter(|c| c.phase == "failed")
            .map(|c| {
                format!(
                    " Cutover {} failed ({}); spec-kitty will not resume a failed id, and a new id re-checks the same destination rows.",
                    c.migration_id,
                    c.failure.as_deref().unwrap_or("no reason recorded")
                )
            })
            .collect();
        out.push(Problem {
            code: ProblemCode::CutoverPending,
            message: format!(
                "layout is {}: {} in {} legacy source(s) wait for the project-store cutover: {}.{}",
                f.layout_mode,
                plural(rows, "row", "rows"),
                pending.len(),
                pending
                    .iter()
                    .map(|s| s.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                failed.concat()
            ),
            fields: vec![],
            remediation: format!(
                "sk-migrate run  # consolidates the sources so none is quarantined, then runs: {}",
                store::cutover_command(&pending, "<id>")
            ),
        });
    }
    for c in f
        .cutovers
        .iter()
        .filter(|c| c.phase == "complete" && !c.quarantine.is_empty())
    {
        let by_reason: Vec<String> = c
            .quarantine
            .iter()
            .map(|(reason, n)| format!("{n} {reason}"))
            .collect();
        let file = std::path::Path::new(&c.path).with_file_name("quarantine.json");
        out.push(Problem {
            code: ProblemCode::RowsQuarantined,
            message: format!(
                "cutover {} quarantined rows that will never be delivered: {} (listed in {})",
                c.migration_id,
                by_reason.join(", "),
                file.display()
            ),
            fields: vec![],
            remediation: format!(
                "spec-kitty sync project-store-quarantine --migration-id {} --json  # inspect them",
                c.migration_id
            ),
        });
    }
    out
}

/// The fix the installed release itself offers for a mismatched daemon: a
/// user or team change needs a new login first, anything else a restart.
fn mismatch_remedy(profile: &Profile, fields: &[String]) -> String {
    let Some(r) = profile.remediation else {
        return "restart the spec-kitty sync daemon".to_string();
    };
    let identity_changed = fields
        .iter()
        .any(|f| f == Field::AuthScope.as_str() || f == "team_or_user");
    if identity_changed {
        format!("{} && {}", r.relogin, r.restart_daemon)
    } else {
        r.restart_daemon.to_string()
    }
}

/// `sk-doctor preflight`: may sync work proceed? (pure)
#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
    pub schema_version: u32,
    pub ok: bool,
    pub problems: Vec<Problem>,
}

/// The gate: every doctor problem blocks; with `require_auth` (or SaaS sync
/// enabled, already in the report) a missing scope blocks too.
pub fn preflight(report: &Report, require_auth: bool) -> Preflight {
    // The daemon check is the release's gate, not the owner check: other
    // fields (e.g. source_checkout_path, team_or_user; not auth_scope).
    let mut problems: Vec<Problem> = report
        .problems
        .iter()
        .filter(|p| p.code != ProblemCode::DaemonMismatch)
        .cloned()
        .collect();
    if let Some(refusal) = &report.layout_refusal {
        problems.retain(|p| p.code != refusal.code);
        problems.insert(0, refusal.clone());
    }
    if !report.gate_mismatches.is_empty() {
        let mut hints: Vec<&str> = report.gate_mismatches.iter().map(|f| f.hint()).collect();
        hints.dedup();
        problems.insert(
            0,
            Problem {
                code: ProblemCode::DaemonMismatch,
                message: format!(
                    "sync boundary refused: the daemon differs from this CLI in {}",
                    report
                        .gate_mismatches
                        .iter()
                        .map(|f| f.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fields: report
                    .gate_mismatches
                    .iter()
                    .map(|f| f.as_str().to_string())
                    .collect(),
                remediation: hints.join(" "),
            },
        );
    }
    let has_auth_problem = problems.iter().any(|p| p.code == ProblemCode::AuthRequired);
    if require_auth && report.scope_source.is_none() && !has_auth_problem {
        problems.insert(0, auth_required_problem(&report.auth_notes));
    }
    // Authentication first: without it nothing else can be made right.
    problems.sort_by_key(|p| p.code != ProblemCode::AuthRequired);
    Preflight {
        schema_version: JSON_SCHEMA_VERSION,
        ok: problems.is_empty(),
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::identity::AuthScope;

    fn owner() -> RedactedOwner {
        RedactedOwner {
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

    fn facts() -> Facts {
        let o = owner();
        Facts {
            home: "/h".into(),
            release: ReleaseView::default(),
            release_note: None,
            profile: crate::release::DEFAULT_PROFILE,
            stores: None,
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
            live_daemons: Some(vec![]),
            notes: vec![],
            auth_notes: vec![],
            gate: GateForeground::default(),
            checkout_project: None,
        }
    }

    fn codes(r: &Report) -> Vec<ProblemCode> {
        r.problems.iter().map(|p| p.code).collect()
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
