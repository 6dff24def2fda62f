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
    Queues, Report, Step, rows_without_owner, stores,
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
    let mut advisories = super::queue::keyless_advisory(&facts, scope_resolved);
    if let Some(f) = &facts.stores {
        problems.extend(stores::store_problems(
            f,
            facts.ledger.as_ref(),
            &mut warnings,
        ));
        advisories.extend(stores::store_advisories(f, &facts, &mut warnings));
    }
    let mut layout_refusal = facts
        .profile
        .gate_on_layout
        .then(|| layout_gate(facts.stores.as_ref(), facts.checkout_project.as_deref()))
        .flatten();
    for p in problems.iter_mut().chain(layout_refusal.as_mut()) {
        p.finish(&facts.invocation);
    }
    for a in &mut advisories {
        facts.invocation.complete(&mut a.steps);
    }

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
        advisories,
        scope_source: facts.scope_source,
        auth_notes: facts.auth_notes,
        gate_mismatches,
        layout_refusal,
        invocation: facts.invocation,
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
            // A command's argument: the path itself (escaped only where
            // it is not UTF-8).
            let p = crate::path_text::text(&facts.owner.path);
            problems.push(Problem::new(
                ProblemCode::OwnerRecordMalformed,
                format!("the daemon owner record is malformed: {reason}"),
                Vec::new(),
                vec![Step::user_command(
                    vec!["mv".into(), p.clone(), format!("{p}.malformed")],
                    "move the record aside (kept, not deleted); spec-kitty writes a new one when it next starts its daemon",
                )],
            ));
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
    let steps = if orphan {
        vec![retire_step(
            "remove the record of the daemon that is gone; spec-kitty starts a new one",
        )]
    } else {
        mismatch_remedy(facts.profile, &mismatched)
    };
    Some(Problem::new(
        ProblemCode::DaemonMismatch,
        format!(
            "the sync daemon (pid {}, {}) differs from this CLI in: {}",
            record.pid,
            record.package_version,
            Field::joined(&mismatched)
        ),
        mismatched.into_iter().map(ProblemField::from).collect(),
        steps,
    ))
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
    Problem::new(
        ProblemCode::OrphanDaemon,
        format!("the daemon owner record is an orphan: {why}"),
        vec![Field::Pid.into(), Field::ExecutablePath.into()],
        vec![retire_step(
            "remove the orphan record (sk-doctor checks again that its daemon is gone)",
        )],
    )
}

/// `sk-doctor retire --yes`: the diagnosis was just shown, and retire
/// checks again that the record is an orphan before it removes anything.
fn retire_step(what: &str) -> Step {
    Step::sk_doctor(&["retire", "--yes"], what)
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
        // No `kill` argv: by the time a user pastes it the pid may be
        // another process's.
        let what = if pids.is_empty() {
            "stop the processes listening on those loopback ports (sk-doctor never stops a process)"
                .to_string()
        } else {
            format!(
                "stop pid {} (sk-doctor never stops a process)",
                pids.join(", ")
            )
        };
        problems.push(Problem::new(
            ProblemCode::OrphanDaemon,
            format!(
                "daemons no owner record names are running: {}",
                list.join("; ")
            ),
            vec![Field::Port.into()],
            vec![Step::user(what)],
        ));
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
        problems.push(Problem::new(
            ProblemCode::OwnerRecordPermissions,
            format!("the owner record cannot be trusted: {}", issue.text()),
            Vec::new(),
            trust_steps(issue, &crate::path_text::text(&facts.owner.path)),
        ));
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
                problems.push(unknown_schema_problem(
                    why,
                    &crate::path_text::text(&q.path),
                ));
            }
        }
    }
}

/// A queue DB of a shape no release writes: moved aside (kept), the
/// release's next write makes the queue it reads.
fn unknown_schema_problem(why: &str, path: &str) -> Problem {
    Problem::new(
        ProblemCode::UnknownSchema,
        why.to_string(),
        vec![Field::QueueDbPath.into()],
        vec![Step::user_command(
            vec![
                "mv".into(),
                path.to_string(),
                format!("{path}.unknown-schema"),
            ],
            "no spec-kitty release writes this shape, so neither the release nor sk-migrate can read it: \
             keep it, but out of the queue's path (the release makes a new queue on its next write); \
             `sk-doctor explain unknown_schema` says how to look inside",
        )],
    )
}

/// What makes an untrusted owner record trusted again: the directories
/// others can write closed, or a record another user owns retired.
fn trust_steps(issue: &crate::doctor::owner::TrustIssue, record: &str) -> Vec<Step> {
    use crate::doctor::owner::TrustIssue;
    match issue {
        TrustIssue::Writable { dir, .. } => vec![Step::user_command(
            vec!["chmod".into(), "go-w".into(), dir.clone()],
            "let only you write the directory holding the owner record",
        )],
        TrustIssue::Owner { .. } => vec![
            Step::user(format!(
                "check who wrote {record}: another user's daemon record is not yours to trust"
            )),
            retire_step("if its daemon is gone, remove the record"),
        ],
    }
}

pub(super) fn permissions_problem(path: &str, mode: u32) -> Problem {
    Problem::new(
        ProblemCode::OwnerRecordPermissions,
        format!(
            "the owner record holds the daemon token but is readable by others (mode {:04o})",
            mode & 0o7777
        ),
        Vec::new(),
        vec![Step::user_command(
            vec!["chmod".into(), "600".into(), path.to_string()],
            "let only you read the record that holds the daemon token",
        )],
    )
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
    Problem::new(
        ProblemCode::AuthRequired,
        message,
        vec![Field::AuthScope.into()],
        vec![Step::spec_kitty(
            &["auth", "login"],
            "log in (spec-kitty opens the sign-in page in a browser)",
        )],
    )
}

/// 3.2.6+'s gate on the layout (`_project_store_layout_diagnostic`): the
/// checkout must name a project, and the machine's layout must be
/// `project_only`. Its reasons, word for word (pure).
pub(super) fn layout_gate(stores: Option<&StoreFacts>, project: Option<&str>) -> Option<Problem> {
    if project.is_none() {
        return Some(Problem::new(
            ProblemCode::ProjectUnknown,
            "no existing project identity resolves from this checkout; sync boundary authority is unavailable".to_string(),
            vec![],
            vec![Step::user(
                "run `sk-doctor preflight` again from your spec-kitty project checkout (the directory whose \
                 .kittify/config.yaml names project.uuid), or give it with --project DIR",
            )],
        ));
    }
    let mode = stores.map_or(&LayoutMode::Legacy, |s| &s.layout_mode);
    (*mode != LayoutMode::ProjectOnly).then(|| {
        Problem::new(
            ProblemCode::CutoverPending,
            format!(
                "layout is {mode}; run `spec-kitty sync project-store-migrate` before producing hosted work"
            ),
            vec![],
            vec![Step::sk_migrate(
                &["run"],
                "carry every legacy source across the release's cutover (with none, switch the \
                 layout to project_only through the release's own code)",
            )],
        )
    })
}

/// The fix the installed release itself offers for a mismatched daemon: a
/// user or team change needs a new login first, anything else a restart.
pub(super) fn mismatch_remedy(profile: &Profile, fields: &[Field]) -> Vec<Step> {
    let Some(r) = profile.remediation else {
        return vec![Step::user(
            "restart the spec-kitty sync daemon (this release has no command for it)",
        )];
    };
    let mut steps = Vec::new();
    if fields.contains(&Field::AuthScope) {
        steps.extend(Step::from_release(
            r.relogin,
            "log in again as the user and team this CLI works for",
        ));
    }
    steps.extend(Step::from_release(
        r.restart_daemon,
        "restart the daemon from this CLI, with its version, source and login",
    ));
    steps
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
        let mut gate = gate_problem(&report.gate_mismatches);
        gate.finish(&report.invocation);
        problems.insert(0, gate);
    }
    let has_auth_problem = problems.iter().any(|p| p.code == ProblemCode::AuthRequired);
    if require_auth && report.scope_source.is_none() && !has_auth_problem {
        let mut auth = auth_required_problem(&report.auth_notes);
        auth.finish(&report.invocation);
        problems.insert(0, auth);
    }
    // Authentication first: without it nothing else can be made right.
    problems.sort_by_key(|p| p.code != ProblemCode::AuthRequired);
    Preflight {
        ok: problems.is_empty(),
        problems,
    }
}

/// The release's gate refuses a daemon that differs in `fields`: its own
/// fix (the hints of `_REMEDIATION_HINTS`, as steps).
fn gate_problem(fields: &[GateField]) -> Problem {
    let mut hints: Vec<&str> = fields.iter().map(|f| f.hint()).collect();
    hints.dedup();
    let what = hints.join(" ");
    let mut steps = Vec::new();
    if fields.contains(&GateField::TeamOrUser) {
        steps.push(Step::spec_kitty(&["auth", "logout"], what.clone()));
        steps.push(Step::spec_kitty(&["auth", "login"], what.clone()));
    }
    steps.push(Step::spec_kitty(&["doctor", "restart-daemon"], what));
    Problem::new(
        ProblemCode::DaemonMismatch,
        format!(
            "sync boundary refused: the daemon differs from this CLI in {}",
            fields
                .iter()
                .map(|f| f.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        fields.iter().map(|&f| ProblemField::from(f)).collect(),
        steps,
    )
}

/// The warning a report carries when the release is unknown (`why`); the
/// command line prints it on stderr, as sk-migrate's warnings are.
pub fn release_unknown_warning(why: &str) -> String {
    format!(
        "release unknown: {why}; verdicts follow spec-kitty 3.2.0's rules, and sk-migrate will not write until --release names the release"
    )
}
