//! The survey: one read-only gathering of a home's facts that both tools
//! stand on, as cargo's `Workspace` or uv's `Interpreter`: gathered once
//! ([`gather`]), passed down. sk-doctor builds its report from it,
//! `sk-migrate status` its summary; the readers it is made of serve the
//! cutover too.
//!
//! * [`queues`]: the legacy and scoped queue DBs (fingerprint and counts,
//!   through `db::inspect`), whether they are one file, the legacy rows no
//!   move takes, the missions of legacy body uploads;
//! * [`stores`]: 3.2.6+ project stores, legacy sources, the release's
//!   cutover manifests and layout mode ([`layout`] names them), what our
//!   cutovers carried; [`history`]: what re-encoding sealed history did;
//! * [`carried`]: the carried ledger, which legacy row a cutover covered
//!   (stored, quarantined) and which is late;
//! * [`writers`]: who still holds a legacy DB open (the process table,
//!   `crate::process`);
//! * the queue limits of the installed release ([`queue_limits`]).
//!
//! A read that fails is kept as a value: a queue DB's read as the
//! `Result` it was ([`queues::QueueDb`]), a 3.2.6+ read as
//! [`crate::seen::Seen`] or in the `unreadable` list of what it feeds
//! ([`stores::StoreFacts`], [`carried::Covered`]).
//!
//! Owns: every read of a home's sync state. Never writes, never signals a
//! process, never decides what to do about what it found (that is
//! `doctor/report/` and `migrate/`).
//! Contract: `docs/architecture.md` ("The survey"), `docs/home.md`.

use crate::error::Error;
use crate::home::Home;
use crate::release::limits::QueueLimits;
use crate::release::{Generation, Profile};
use crate::scope::Scope;

pub mod carried;
pub mod history;
pub mod json;
pub mod layout;
pub mod queues;
pub mod stores;
pub mod writers;

use queues::{QueueDb, UnmovableRows};

/// What a home holds, read once.
#[derive(Debug)]
pub struct Survey {
    pub legacy: QueueDb,
    /// The scoped DB of the resolved scope; `None`: no scope resolves, and
    /// the legacy DB is the active queue.
    pub scoped: Option<QueueDb>,
    /// The legacy and scoped DB are one file (same device and inode: a
    /// hard link, a bind mount): nothing is stranded, nothing can move.
    pub same_file: bool,
    /// The legacy rows no move takes under the installed release, per
    /// table and reason. `None` where no move would run: no scope, a
    /// release without queue DBs, one file, or no legacy DB read.
    pub unmovable: Option<Result<Vec<UnmovableRows>, Error>>,
    /// How full a move may make each scoped table.
    pub limits: QueueLimits,
    /// 3.2.6+ only: project stores, legacy sources, cutovers (and who
    /// still writes a source), and the carried ledger.
    pub stores: Option<(stores::StoreFacts, carried::Ledger)>,
}

/// Survey `home` under the installed release's `profile`, with `scope`
/// resolved (or none), waiting up to `busy` ms for a locked DB. Reads only.
pub fn gather(home: &Home, profile: &Profile, scope: Option<&Scope>, busy: u64) -> Survey {
    let legacy = QueueDb::read(home.legacy_queue(), busy);
    let scoped = scope.map(|s| QueueDb::read(home.scoped_queue(s), busy));
    let same_file = scoped
        .as_ref()
        .is_some_and(|s| crate::fsutil::same_file(&legacy.path, &s.path));
    let unmovable = match (profile.schema, legacy.facts(), &scoped) {
        (Some(schema), Some(facts), Some(scoped)) if !same_file => {
            let target = queues::move_target(
                schema,
                profile.reads_schemas,
                scoped.facts().map(|f| f.version),
            );
            Some(queues::unmovable(&legacy.path, facts, target, busy))
        }
        _ => None,
    };
    Survey {
        limits: queue_limits(home, profile),
        stores: (profile.generation == Generation::ProjectStore)
            .then(|| project_stores(home, busy)),
        legacy,
        scoped,
        same_file,
        unmovable,
    }
}

/// 3.2.6+: the project stores and every legacy row classified by natural
/// key; who holds each legacy source open.
fn project_stores(home: &Home, busy: u64) -> (stores::StoreFacts, carried::Ledger) {
    let mut f = stores::gather(home);
    let ledger = carried::ledger(home, busy);
    carried::annotate(&mut f, &ledger);
    let found = writers::legacy_writers(home);
    // TODO(issue 29, phase 2): where the process table cannot be read (or
    // this platform cannot tell), no writer is named and the fix does not
    // say that it could not look.
    let found = found.known_or_default(&mut f.unreadable);
    f.legacy_writers = writers::by_source(&found, &stores::discover_sources(home));
    (f, ledger)
}

/// How full a move may make each scoped table on this home: the release's
/// caps at `[sync] max_queue_size` as the release reads it (`config.toml`).
/// The one place they are computed.
pub fn queue_limits(home: &Home, profile: &Profile) -> QueueLimits {
    profile.queue_limits(crate::login::config::max_queue_size(&home.config()))
}
