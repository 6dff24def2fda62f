//! `sk-migrate`: move the rows older CLIs left in the legacy queue into the
//! authenticated user's scoped queue, and hand a 3.2.6+ home to the
//! release's own cutover.
//!
//! * [`mod@run`]: one run on a home — the run lock ([`lock`]), scope, the move,
//!   the audit journal ([`journal`]); `status` (the survey of the home,
//!   `crate::survey`, summed up) and `queue-path` ([`queue`]).
//! * [`merge`]: the move itself — pure SQL text, then the effects: into a new
//!   scoped DB (temp file linked into place) or into an existing one (one
//!   transaction over both files).
//! * [`cutover`]: 3.2.6+ homes, where project stores replace the queue.
//!
//! Owns: every write to a queue DB and the journal. Never deletes a legacy
//! row that is not provably in the scoped DB, never alters the legacy
//! schema, never signals a process.
//! Contract: `docs/migrate.md`, `docs/schema.md`, `docs/json.md`.

pub mod cutover;
pub mod journal;
pub mod lock;
pub mod merge;
pub mod observe;
pub mod queue;
pub mod run;

pub use run::{DbStatus, RunOptions, RunReport, Status, StatusReport, layout_message, run, status};
