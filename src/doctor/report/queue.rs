//! The queue-DB problems (pure): legacy rows a run moves, rows none can
//! move, stranded missions, files the home's owner cannot use.

use crate::db::schema::tables::Table;
use crate::field::Field;

use super::{Facts, Problem, ProblemCode, StrandedMission, plural};

/// Rows the legacy queue holds that the daemon never syncs, and the
/// missions stranded there; returns the stranded missions.
pub(super) fn legacy_queue_problems(
    facts: &Facts,
    scope_resolved: bool,
    problems: &mut Vec<Problem>,
) -> Vec<StrandedMission> {
    // Project-store releases never read queue DBs as queues: their rows wait
    // for the cutover, which the project-store problems below name.
    let queue_dbs = facts.profile.has_queue_dbs();
    // One file under two names: the legacy rows are the active queue's.
    let scope_resolved_for_queues = scope_resolved && queue_dbs && !facts.legacy_is_active;
    let stranded = if scope_resolved_for_queues {
        facts.legacy_missions.clone()
    } else {
        Vec::new()
    };
    // Only rows `sk-migrate run` takes are worth `sk-migrate run`; those
    // the cap guard holds back wait for the daemon to make room first.
    let [events, body_uploads, failure_log] = [
        Table::Queue,
        Table::BodyUploadQueue,
        Table::BodyUploadFailureLog,
    ]
    .map(|t| movable_now(facts, t));
    if scope_resolved_for_queues && events.0 + body_uploads.0 + failure_log.0 > 0 {
        problems.push(Problem {
            code: ProblemCode::LegacyRows,
            message: format!(
                "the legacy queue {} holds {}, {} and {} that the daemon never syncs",
                facts.legacy.path,
                plural(events.0, "event", "events"),
                plural(body_uploads.0, "body upload", "body uploads"),
                plural(failure_log.0, "failure-log row", "failure-log rows"),
            ),
            fields: vec![Field::QueueDbPath.into()],
            remediation: "sk-migrate run".to_string(),
        });
    }
    if scope_resolved_for_queues && events.1 + body_uploads.1 > 0 {
        problems.push(wait_for_room_problem(facts, events.1, body_uploads.1));
    }
    if scope_resolved_for_queues && !facts.legacy_unmovable.is_empty() {
        problems.push(unmovable_problem(
            &facts.legacy.path.to_string(),
            &facts.legacy_unmovable,
        ));
    }
    if let (false, Some(owner)) = (facts.unusable_by_owner.is_empty(), &facts.home_owner) {
        problems.push(unusable_problem(
            &facts.home.to_string(),
            owner,
            &facts.unusable_by_owner,
        ));
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
            fields: vec![Field::QueueDbPath.into()],
            // Bodies a run would hold back wait for room first.
            remediation: if body_uploads.0 == 0 && body_uploads.1 > 0 {
                WAIT_FOR_ROOM_FIX
            } else {
                "sk-migrate run"
            }
            .to_string(),
        });
    }
    stranded
}

/// `table`'s legacy rows a run would move now, and those it would hold back
/// because the scoped table has no room under the release's cap (the
/// move fills it to [`crate::release::limits::Limit::fill_to`]). Counted as
/// if every row added one, as the run's guard first assumes.
fn movable_now(facts: &Facts, table: Table) -> (u64, u64) {
    let stuck: u64 = facts
        .legacy_unmovable
        .iter()
        .filter(|u| u.table == table)
        .map(|u| u.rows)
        .sum();
    let (legacy, stored) = match table {
        Table::Queue => (facts.legacy.events, facts.active.events),
        Table::BodyUploadQueue => (facts.legacy.body_uploads, facts.active.body_uploads),
        Table::BodyUploadFailureLog => (facts.legacy.failure_log, facts.active.failure_log),
    };
    facts
        .queue_limits
        .split(table, legacy.saturating_sub(stuck), stored)
}

/// Legacy rows that wait for room in the scoped queue: a run moves none of
/// them until the daemon has drained it.
fn wait_for_room_problem(facts: &Facts, events: u64, body_uploads: u64) -> Problem {
    let mut parts = Vec::new();
    for (n, table, what, stored) in [
        (
            events,
            Table::Queue,
            ("event", "events"),
            facts.active.events,
        ),
        (
            body_uploads,
            Table::BodyUploadQueue,
            ("body upload", "body uploads"),
            facts.active.body_uploads,
        ),
    ] {
        if let (true, Some(limit)) = (n > 0, facts.queue_limits.of(table)) {
            parts.push(format!(
                "{} ({stored} of {} queued)",
                plural(n, what.0, what.1),
                limit.cap
            ));
        }
    }
    Problem {
        code: ProblemCode::LegacyRowsWaitForRoom,
        message: format!(
            "the legacy queue {} holds {} that wait for room in the scoped queue {} (queued of \
             the release's cap): a move fills it to a tenth under the cap at most, since at the \
             cap spec-kitty evicts its oldest events and refuses new bodies",
            facts.legacy.path,
            parts.join(" and "),
            facts.active.path,
        ),
        fields: vec![Field::QueueDbPath.into()],
        remediation: WAIT_FOR_ROOM_FIX.to_string(),
    }
}

/// What makes room in the scoped queue, then moves the rows that waited.
const WAIT_FOR_ROOM_FIX: &str = "let the daemon sync the scoped queue (`spec-kitty sync now`), \
     then `sk-migrate run`; or raise `[sync] max_queue_size` in config.toml";

/// Legacy rows no `sk-migrate run` moves under the installed release: what
/// would move them (a release that reads the table), or that nothing will.
pub(super) fn unmovable_problem(
    path: &str,
    rows: &[crate::survey::queues::UnmovableRows],
) -> Problem {
    use crate::survey::queues::Unmovable;
    let mut parts = Vec::new();
    let mut fixes = Vec::new();
    for u in rows {
        match u.why {
            Unmovable::TableMissing { since, target } => {
                parts.push(format!(
                    "{} in {} (the installed release's queue DBs are V{target}, without that table)",
                    plural(u.rows, "row", "rows"),
                    u.table
                ));
                let by = crate::release::first_with_schema(since)
                    .map_or(format!("V{since}"), |v| format!("{v} or later (V{since})"));
                let fix = format!(
                    "a spec-kitty release whose queue DBs have {} reads them: with {by} installed, sk-migrate run moves them",
                    u.table
                );
                if !fixes.contains(&fix) {
                    fixes.push(fix);
                }
            }
            Unmovable::NullKey => {
                parts.push(format!(
                    "{} in {} with a NULL natural key or required column",
                    plural(u.rows, "row", "rows"),
                    u.table
                ));
                let fix = format!(
                    "nothing moves rows without a key: no release can take them; they stay in {path} (inspect them by hand)"
                );
                if !fixes.contains(&fix) {
                    fixes.push(fix);
                }
            }
        }
    }
    Problem {
        code: ProblemCode::UnmovableLegacyRows,
        message: format!(
            "the legacy queue {path} holds rows sk-migrate run cannot move: {}",
            parts.join("; ")
        ),
        fields: vec![Field::QueueDbPath.into()],
        remediation: fixes.join("; "),
    }
}

/// Files in the home its owner cannot use (a root run leaves them): the
/// owner's spec-kitty cannot open its queue, whatever the counts say.
pub(super) fn unusable_problem(
    home: &str,
    (name, uid, gid): &(String, u32, u32),
    files: &[crate::home::Unusable],
) -> Problem {
    let list: Vec<String> = files
        .iter()
        .map(|f| {
            format!(
                "{} (uid {}, mode {:04o}: cannot {})",
                crate::path_text::escaped(&f.path),
                f.uid,
                f.mode,
                f.lacks
            )
        })
        .collect();
    Problem {
        code: ProblemCode::UnusableByOwner,
        message: format!(
            "the home belongs to {name} (uid {uid}), who cannot use these files in it, so {name}'s spec-kitty cannot open them and their counts here may be incomplete: {}",
            list.join(", ")
        ),
        fields: vec![Field::QueueDbPath.into()],
        remediation: format!("sudo chown -R {uid}:{gid} {home} && sudo chmod -R u+rwX {home}"),
    }
}
