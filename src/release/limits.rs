//! How full a move may make each scoped queue table: the release's caps
//! (`QueueCaps`, driven: `fixtures/releases/X/caps.json`) at
//! `[sync] max_queue_size` as the release reads it, less a tenth. Computed
//! once, by [`Profile::queue_limits`]; sk-migrate's move obeys it (its cap
//! guard, `migrate/merge/cap.rs`), sk-doctor and `sk-migrate status` count
//! the legacy rows it holds back.

use crate::db::schema::tables::Table;

use super::Profile;

/// The release's caps on the scoped tables, as the move obeys them: it
/// fills a table to at most [`Limit::fill_to`], so the writes that come
/// before the daemon next drains it still fit under the cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueLimits {
    pub events: Option<Limit>,
    pub bodies: Option<Limit>,
}

/// One table's cap and how full the move may make it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub cap: u64,
    /// A tenth under the cap (rounded up): at the default cap of 100,000,
    /// room for 10,000 writes before the release would evict or refuse.
    pub fill_to: u64,
}

impl Limit {
    pub fn of_cap(cap: u64) -> Limit {
        Limit {
            cap,
            fill_to: cap - cap.div_ceil(10),
        }
    }
}

impl QueueLimits {
    /// Of `waiting` legacy rows of `table`, with `stored` rows in the
    /// scoped table: how many a run moves now, and how many wait for room
    /// (counted as if each added a row, as the guard first assumes).
    pub fn split(&self, table: Table, waiting: u64, stored: u64) -> (u64, u64) {
        match self.of(table) {
            Some(limit) => {
                let room = limit.fill_to.saturating_sub(stored);
                (waiting.min(room), waiting.saturating_sub(room))
            }
            None => (waiting, 0),
        }
    }

    /// The limit on `table` (the failure log has none).
    pub fn of(&self, table: Table) -> Option<Limit> {
        match table {
            Table::Queue => self.events,
            Table::BodyUploadQueue => self.bodies,
            Table::BodyUploadFailureLog => None,
        }
    }
}

impl Profile {
    /// The limits of this release, given `[sync] max_queue_size` as
    /// `config.toml` sets it (`None`: unset); none for a release without
    /// queue DBs.
    pub fn queue_limits(&self, max_queue_size: Option<i64>) -> QueueLimits {
        match &self.queue_caps {
            Some(caps) => QueueLimits {
                events: Some(Limit::of_cap(caps.events(max_queue_size))),
                bodies: Some(Limit::of_cap(caps.bodies(max_queue_size))),
            },
            None => QueueLimits::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::{Version, profile_for};

    fn limits(version: &str, max_queue_size: Option<i64>) -> QueueLimits {
        profile_for(&Version::parse(version).unwrap())
            .unwrap()
            .queue_limits(max_queue_size)
    }

    #[test]
    fn a_release_fills_each_table_to_a_tenth_under_its_cap() {
        let l = limits("3.0.0", None);
        assert_eq!(
            l.events,
            Some(Limit {
                cap: 100_000,
                fill_to: 90_000
            })
        );
        assert_eq!(
            l.bodies,
            Some(Limit {
                cap: 10_000,
                fill_to: 9_000
            })
        );
        // 3.1+: one setting caps both tables; 2.1–3.0 keep bodies fixed.
        let l = limits("3.1.0", Some(50));
        assert_eq!(
            l.bodies,
            Some(Limit {
                cap: 50,
                fill_to: 45
            })
        );
        assert_eq!(
            limits("3.0.0", Some(50)).bodies.map(|b| b.cap),
            Some(10_000)
        );
        assert_eq!(l.split(Table::Queue, 30, 40), (5, 25));
        assert_eq!(l.split(Table::BodyUploadFailureLog, 30, 40), (30, 0));
        // No queue DBs (3.2.6+): no limits.
        assert_eq!(limits("3.2.7", Some(50)), QueueLimits::default());
    }
}
