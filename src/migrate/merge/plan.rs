//! The shape of a move, decided from what was found (pure: no connection,
//! no file). [`super::move_rows`] gathers the facts, asks [`plan`], and
//! only `match`es the answer.

use crate::db::DbFacts;
use crate::release::limits::QueueLimits;

/// What a move will do, given the two DBs as found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    /// No legacy DB, or no legacy rows and no scoped DB to upgrade: create
    /// and change nothing.
    Nothing,
    /// Count what a real run would do; write nothing.
    DryRun { legacy_version: u32 },
    /// No scoped DB yet and rows to move: build it aside and link it into
    /// place (the general path follows if a daemon creates it meanwhile).
    IntoNew,
    /// No scoped DB yet, and more legacy rows in some table than the cap
    /// guard lets the move add: create it in place and move in chunks, so
    /// the guard holds the rest back (the fast path copies every row).
    CreateInPlace,
    /// A scoped DB exists: upgrade its schema, then move the rows, if any.
    IntoExisting { rows: bool },
}

/// Rows in a DB's tables, summed.
pub fn rows(facts: &DbFacts) -> u64 {
    facts.rows.iter().map(|r| r.1).sum()
}

/// Do all of `facts`' rows fit under `limits` (into an empty scoped DB)?
fn fits(facts: &DbFacts, limits: &QueueLimits) -> bool {
    facts
        .rows
        .iter()
        .all(|(t, n)| limits.of(*t).is_none_or(|l| *n <= l.fill_to))
}

/// Decide the move (see [`Plan`]).
pub fn plan(
    legacy: Option<&DbFacts>,
    scoped: Option<&DbFacts>,
    dry_run: bool,
    limits: &QueueLimits,
) -> Plan {
    let Some(legacy) = legacy else {
        return Plan::Nothing;
    };
    if dry_run {
        return Plan::DryRun {
            legacy_version: legacy.version,
        };
    }
    let legacy_rows = rows(legacy);
    match (legacy_rows, scoped) {
        (0, None) => Plan::Nothing,
        (_, None) if fits(legacy, limits) => Plan::IntoNew,
        (_, None) => Plan::CreateInPlace,
        (n, Some(_)) => Plan::IntoExisting { rows: n > 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::tables::Table;

    fn none() -> QueueLimits {
        QueueLimits::default()
    }

    fn facts(version: u32, n: u64) -> DbFacts {
        DbFacts {
            version,
            rows: vec![(Table::Queue, n), (Table::BodyUploadQueue, 0)],
        }
    }

    #[test]
    fn no_legacy_is_nothing_even_in_a_dry_run() {
        assert_eq!(plan(None, Some(&facts(5, 3)), true, &none()), Plan::Nothing);
        assert_eq!(plan(None, None, false, &none()), Plan::Nothing);
    }

    #[test]
    fn dry_run_wins_over_every_shape() {
        let l = facts(3, 2);
        assert_eq!(
            plan(Some(&l), None, true, &none()),
            Plan::DryRun { legacy_version: 3 }
        );
        assert_eq!(
            plan(Some(&l), Some(&facts(5, 0)), true, &none()),
            Plan::DryRun { legacy_version: 3 }
        );
    }

    #[test]
    fn empty_legacy_creates_nothing_but_upgrades_an_existing_scoped_db() {
        let l = facts(3, 0);
        assert_eq!(plan(Some(&l), None, false, &none()), Plan::Nothing);
        assert_eq!(
            plan(Some(&l), Some(&facts(4, 1)), false, &none()),
            Plan::IntoExisting { rows: false }
        );
    }

    #[test]
    fn rows_go_into_a_new_db_or_the_existing_one() {
        let l = facts(3, 2);
        assert_eq!(plan(Some(&l), None, false, &none()), Plan::IntoNew);
        assert_eq!(
            plan(Some(&l), Some(&facts(5, 0)), false, &none()),
            Plan::IntoExisting { rows: true }
        );
    }

    /// The fast path copies every legacy row: a home with more rows than
    /// the cap guard lets in is moved in place, in chunks, instead.
    #[test]
    fn more_rows_than_the_cap_guard_admits_are_moved_in_place() {
        let limits = QueueLimits {
            events: Some(crate::release::limits::Limit::of_cap(10)),
            bodies: None,
        };
        assert_eq!(
            plan(Some(&facts(3, 9)), None, false, &limits),
            Plan::IntoNew
        );
        assert_eq!(
            plan(Some(&facts(3, 10)), None, false, &limits),
            Plan::CreateInPlace
        );
    }
}
