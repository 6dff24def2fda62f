//! Building the report from gathered facts (pure): coherence rows, problems in their fixed order, warnings.

use serde::Serialize;

use crate::doctor::identity::{self, FieldRow};
use crate::doctor::owner::RedactedOwner;
use crate::field::Field;
use crate::release::{GateField, Profile};
use crate::survey::layout::LayoutMode;
use crate::survey::stores::StoreFacts;

use super::queue::legacy_queue_problems;
use super::{
    DaemonOwner, Facts, LiveOrphan, OwnerFound, OwnerStatus, Problem, ProblemCode, ProblemField,
    Queues, Report, rows_without_owner, stores,
};

/// Build the report from the facts (pure). Problems and warnings come in
/// a fixed order: the owner record, live orphans, the record's trust, the
/// queues, the scope, project stores; then the foreground and the release.
pub fn build(facts: Facts) -> Report {
    let mut problems = Vec::new();
    let mut warnings: Vec<String> = facts
        .auth_notes
        .iter()
        .chain(&facts.notes)
        .cloned()
        .collect();
    let scope_resolved = facts.scope_source.is_some();

    let OwnerView {
        daemon_owner,
        fields,
        recorded_port,
        gate_mismatches,
    } = owner_view(&facts, &mut problems, &mut warnings);
    let live_orphans = live_orphans(&facts, recorded_port, &mut problems, &mut warnings);
    owner_trust_and_queue_problems(&facts, &mut problems, &mut warnings);
    let stranded = legacy_queue_problems(&facts, scope_resolved, &mut problems);
    if facts.saas_enabled && !scope_resolved {
        problems.push(auth_required_problem(&facts.auth_notes));
    }
    if let Some(f) = &facts.stores {
        problems.extend(stores::store_problems(
            f,
            facts.ledger.as_ref(),
            &mut warnings,
        ));
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
            Field::joined(&unknown)
        ));
    }

    if let Some(why) = &facts.release_note {
        warnings.insert(0, release_unknown_warning(why));
    }
    Report {
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

/// The daemon owner as found, its coherence rows and recorded port.
pub(super) struct OwnerView {
    daemon_owner: DaemonOwner,
    fields: Vec<FieldRow>,
    recorded_port: Option<u16>,
    gate_mismatches: Vec<GateField>,
}

/// The owner part of the report when no record can be read.
fn no_record(facts: &Facts, status: OwnerStatus) -> (DaemonOwner, Vec<FieldRow>, Option<u16>) {
    (
        DaemonOwner {
            status,
            path: facts.owner.path.clone(),
            record: None,
            pid_alive: None,
            executable_exists: None,
        },
        rows_without_owner(&facts.foreground, facts.profile),
        None,
    )
}

/// The owner record's part of the report: its status, the field rows, and
/// the problems and warnings it raises.
pub(super) fn owner_view(
    facts: &Facts,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) -> OwnerView {
    let mut gate_mismatches = Vec::new();
    let (daemon_owner, fields, recorded_port) = match &facts.owner.found {
        OwnerFound::Absent => no_record(facts, OwnerStatus::Absent),
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
                problems.push(permissions_problem(
                    &facts.owner.path.to_string(),
                    mode.unwrap_or(0),
                ));
            }
            no_record(facts, OwnerStatus::Malformed)
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
            problems.extend(mismatch_problem(facts, record, &rows, orphan));
            if orphan {
                problems.push(orphan_problem(record, *pid_alive, *executable_exists));
            }
            if mode & 0o077 != 0 {
                problems.push(permissions_problem(&facts.owner.path.to_string(), *mode));
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
    OwnerView {
        daemon_owner,
        fields,
        recorded_port,
        gate_mismatches,
    }
}

/// The daemon differs from this CLI in the fields the release compares.
fn mismatch_problem(
    facts: &Facts,
    record: &RedactedOwner,
    rows: &[FieldRow],
    orphan: bool,
) -> Option<Problem> {
    let mismatched = identity::mismatched_fields(rows);
    if mismatched.is_empty() {
        return None;
    }
    Some(Problem {
        code: ProblemCode::DaemonMismatch,
        message: format!(
            "the sync daemon (pid {}, {}) differs from this CLI in: {}",
            record.pid,
            record.package_version,
            Field::joined(&mismatched)
        ),
        remediation: if orphan {
            "sk-doctor retire  # the daemon is gone; spec-kitty starts a new one".to_string()
        } else {
            mismatch_remedy(facts.profile, &mismatched)
        },
        fields: mismatched.into_iter().map(ProblemField::from).collect(),
    })
}

/// The owner record names a process that is gone or an executable that is.
fn orphan_problem(record: &RedactedOwner, pid_alive: bool, executable_exists: bool) -> Problem {
    let why = match (pid_alive, executable_exists) {
        (false, false) => format!(
            "pid {} is not running and {} does not exist",
            record.pid, record.executable_path
        ),
        (false, true) => format!("pid {} is not running", record.pid),
        _ => format!("{} does not exist", record.executable_path),
    };
    Problem {
        code: ProblemCode::OrphanDaemon,
        message: format!("the daemon owner record is an orphan: {why}"),
        fields: vec![Field::Pid.into(), Field::ExecutablePath.into()],
        remediation: "sk-doctor retire".to_string(),
    }
}

/// Daemons listening that no owner record names (from the probe).
pub(super) fn live_orphans(
    facts: &Facts,
    recorded_port: Option<u16>,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) -> Vec<LiveOrphan> {
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
            fields: vec![Field::Port.into()],
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

    live_orphans
}

/// Problems of the owner record's file and of unreadable queue DBs.
pub(super) fn owner_trust_and_queue_problems(
    facts: &Facts,
    problems: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) {
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
            let already = problems.iter().any(|p| {
                p.code == ProblemCode::UnknownSchema && p.message.contains(&q.path.to_string())
            });
            if !already {
                problems.push(Problem {
                    code: ProblemCode::UnknownSchema,
                    message: why.clone(),
                    fields: vec![Field::QueueDbPath.into()],
                    remediation: format!(
                        "sk-migrate status  # then inspect {} by hand; nothing here alters it",
                        q.path
                    ),
                });
            }
        }
    }
}

pub(super) fn permissions_problem(path: &str, mode: u32) -> Problem {
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
        fields: vec![Field::AuthScope.into()],
        remediation: "spec-kitty auth login  # or pass --scope <server>|<user>|<team>".to_string(),
    }
}

/// 3.2.6+'s gate on the layout (`_project_store_layout_diagnostic`): the
/// checkout must name a project, and the machine's layout must be
/// `project_only`. Its reasons, word for word (pure).
pub(super) fn layout_gate(stores: Option<&StoreFacts>, project: Option<&str>) -> Option<Problem> {
    if project.is_none() {
        return Some(Problem {
            code: ProblemCode::ProjectUnknown,
            message: "no existing project identity resolves from this checkout; sync boundary authority is unavailable".to_string(),
            fields: vec![],
            remediation: "run inside a spec-kitty project checkout (.kittify/config.yaml with project.uuid), or pass --project DIR".to_string(),
        });
    }
    let mode = stores.map_or(&LayoutMode::Legacy, |s| &s.layout_mode);
    (*mode != LayoutMode::ProjectOnly).then(|| Problem {
        code: ProblemCode::CutoverPending,
        message: format!(
            "layout is {mode}; run `spec-kitty sync project-store-migrate` before producing hosted work"
        ),
        fields: vec![],
        remediation: "sk-migrate run  # carries every legacy source across the cutover".to_string(),
    })
}

/// The fix the installed release itself offers for a mismatched daemon: a
/// user or team change needs a new login first, anything else a restart.
pub(super) fn mismatch_remedy(profile: &Profile, fields: &[Field]) -> String {
    let Some(r) = profile.remediation else {
        return "restart the spec-kitty sync daemon".to_string();
    };
    let identity_changed = fields.contains(&Field::AuthScope);
    if identity_changed {
        format!("{} && {}", r.relogin, r.restart_daemon)
    } else {
        r.restart_daemon.to_string()
    }
}

/// `sk-doctor preflight`: may sync work proceed? (pure)
#[derive(Debug, Clone, Serialize)]
pub struct Preflight {
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
                    .map(|&f| ProblemField::from(f))
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
        ok: problems.is_empty(),
        problems,
    }
}

/// The warning a report carries when the release is unknown (`why`); the
/// command line prints it on stderr, as sk-migrate's warnings are.
pub fn release_unknown_warning(why: &str) -> String {
    format!(
        "release unknown: {why}; verdicts follow spec-kitty 3.2.0's rules, and sk-migrate will not write until --release names the release"
    )
}
