//! The queue-DB problems (pure): legacy rows a run moves, rows none can
//! move, stranded missions, files the home's owner cannot use.

use crate::db::schema::tables::Table;
use crate::field::Field;

use super::{Advisory, AdvisoryCode, Facts, Problem, ProblemCode, Step, StrandedMission, plural};

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
        problems.push(Problem::new(
            ProblemCode::LegacyRows,
            format!(
                "the legacy queue {} holds {}, {} and {} that the daemon never syncs",
                facts.legacy.path,
                plural(events.0, "event", "events"),
                plural(body_uploads.0, "body upload", "body uploads"),
                plural(failure_log.0, "failure-log row", "failure-log rows"),
            ),
            vec![Field::QueueDbPath.into()],
            vec![move_step()],
        ));
    }
    if scope_resolved_for_queues && events.1 + body_uploads.1 > 0 {
        problems.push(wait_for_room_problem(facts, events.1, body_uploads.1));
    }
    let missing: Vec<crate::survey::queues::UnmovableRows> = facts
        .legacy_unmovable
        .iter()
        .filter(|u| matches!(u.why, crate::survey::queues::Unmovable::TableMissing { .. }))
        .cloned()
        .collect();
    if scope_resolved_for_queues && !missing.is_empty() {
        problems.push(unmovable_problem(&facts.legacy.path.to_string(), &missing));
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
        problems.push(Problem::new(
            ProblemCode::StrandedSetupPlan,
            format!(
                "mission artifacts stranded in the legacy queue, never seen by the server: {}",
                list.join(", ")
            ),
            vec![Field::QueueDbPath.into()],
            // Bodies a run would hold back wait for room first.
            if body_uploads.0 == 0 && body_uploads.1 > 0 {
                wait_for_room_steps(facts, 0, body_uploads.1)
            } else {
                vec![move_step()]
            },
        ));
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
    Problem::new(
        ProblemCode::LegacyRowsWaitForRoom,
        format!(
            "the legacy queue {} holds {} that wait for room in the scoped queue {} (queued of \
             the release's cap): a move fills it to a tenth under the cap at most, since at the \
             cap spec-kitty evicts its oldest events and refuses new bodies",
            facts.legacy.path,
            parts.join(" and "),
            facts.active.path,
        ),
        vec![Field::QueueDbPath.into()],
        wait_for_room_steps(facts, events, body_uploads),
    )
}

/// `sk-migrate run`: moves the legacy rows into the queue the daemon drains.
fn move_step() -> Step {
    Step::sk_migrate(
        &["run"],
        "move the legacy rows into the queue the daemon syncs",
    )
}

/// What makes room for the legacy rows that wait, then moves them. Where
/// the cap is `[sync] max_queue_size`, raising it: the daemon may not sync
/// soon, and 3.2.0-3.2.5's own `spec-kitty sync now` refuses while legacy
/// rows remain (their preflight). Where a body cap is hard-coded (2.1.x -
/// 3.0.x, whose `sync now` has no such gate), syncing is the only room.
fn wait_for_room_steps(facts: &Facts, events: u64, body_uploads: u64) -> Vec<Step> {
    let run = Step::sk_migrate(&["run"], "move the rows that waited for room");
    let fixed_bodies = facts
        .profile
        .queue_caps
        .as_ref()
        .is_some_and(|c| c.body_fixed.is_some());
    if body_uploads > 0 && fixed_bodies {
        return vec![
            Step::spec_kitty(
                &["sync", "now"],
                "let the daemon sync the scoped queue, which makes room (this release's body cap is fixed)",
            ),
            run,
        ];
    }
    let need = [
        (events, facts.active.events),
        (body_uploads, facts.active.body_uploads),
    ]
    .iter()
    .filter(|(waiting, _)| *waiting > 0)
    .map(|(waiting, stored)| cap_holding(waiting + stored))
    .max()
    .unwrap_or(0);
    let config = crate::home::Home::at(facts.home.as_path()).config();
    vec![
        Step::user(format!(
            "raise `max_queue_size` in the `[sync]` table of {} to at least {need}, so the \
             scoped queue holds them a tenth under the cap (spec-kitty reads it on its next write)",
            crate::path_text::escaped(&config)
        )),
        run,
    ]
}

/// The smallest cap under which a move may fill a queue with `rows` (it
/// fills to a tenth under the cap).
fn cap_holding(rows: u64) -> u64 {
    let mut cap = rows + rows.div_ceil(9);
    while crate::release::limits::Limit::of_cap(cap).fill_to < rows {
        cap += 1;
    }
    cap
}

/// Legacy rows no `sk-migrate run` moves under the installed release, for
/// want of a table its queue DBs lack: a release that reads it moves them.
pub(super) fn unmovable_problem(
    path: &str,
    rows: &[crate::survey::queues::UnmovableRows],
) -> Problem {
    use crate::survey::queues::Unmovable;
    let mut parts = Vec::new();
    let mut newest_since = 0;
    for u in rows {
        if let Unmovable::TableMissing { since, target } = u.why {
            parts.push(format!(
                "{} in {} (the installed release's queue DBs are V{target}, without that table)",
                plural(u.rows, "row", "rows"),
                u.table
            ));
            newest_since = newest_since.max(since);
        }
    }
    let by = crate::release::first_with_schema(newest_since).map_or(
        format!("a release whose queue DBs are V{newest_since}"),
        |v| format!("{v} or later"),
    );
    Problem::new(
        ProblemCode::UnmovableLegacyRows,
        format!(
            "the legacy queue {path} holds rows sk-migrate run cannot move: {}",
            parts.join("; ")
        ),
        vec![Field::QueueDbPath.into()],
        vec![
            Step::user(format!(
                "{} {by}, whose queue DBs have the table these rows are in",
                super::INSTALL
            )),
            Step::sk_migrate(&["run"], "move them under that release"),
        ],
    )
}

/// Legacy rows with a NULL natural key or required column: no release and
/// no move can take them. They stay where they are (an advisory).
pub(super) fn keyless_advisory(facts: &Facts, scope_resolved: bool) -> Vec<Advisory> {
    let keyless: Vec<String> = facts
        .legacy_unmovable
        .iter()
        .filter(|u| matches!(u.why, crate::survey::queues::Unmovable::NullKey))
        .map(|u| format!("{} in {}", plural(u.rows, "row", "rows"), u.table))
        .collect();
    if keyless.is_empty()
        || !scope_resolved
        || !facts.profile.has_queue_dbs()
        || facts.legacy_is_active
    {
        return Vec::new();
    }
    vec![Advisory {
        code: AdvisoryCode::KeylessLegacyRows,
        message: format!(
            "the legacy queue {} holds rows with a NULL natural key or required column: {}; \
             no release and no move can take them, so they stay there, unchanged",
            facts.legacy.path,
            keyless.join(", ")
        ),
        steps: vec![],
    }]
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
    let sudo = |args: &[&str]| -> Vec<String> {
        std::iter::once("sudo")
            .chain(args.iter().copied())
            .map(str::to_string)
            .collect()
    };
    let owner = format!("{uid}:{gid}");
    Problem::new(
        ProblemCode::UnusableByOwner,
        format!(
            "the home belongs to {name} (uid {uid}), who cannot use these files in it, so {name}'s spec-kitty cannot open them and their counts here may be incomplete: {}",
            list.join(", ")
        ),
        vec![Field::QueueDbPath.into()],
        vec![
            Step::user_command(
                sudo(&["chown", "-R", &owner, home]),
                format!("give every file of the home back to {name}"),
            ),
            Step::user_command(
                sudo(&["chmod", "-R", "u+rwX", home]),
                format!("let {name} read and write them"),
            ),
        ],
    )
}
