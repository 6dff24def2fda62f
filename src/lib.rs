//! sk-boundary: make the sync state of a spec-kitty installation coherent
//! again (`sk-migrate`) and explain it when it is not (`sk-doctor`).
//!
//! Decisions are pure functions (plan a move, compare identities, build a
//! report); effects (open DBs, read files, print) stay at the edges. The
//! module map and the data flow are in `docs/architecture.md`.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

// Leaves: used by everything below, using nothing of the crate but `error`.
pub mod error;
pub mod field;
pub mod fsutil;
pub mod process;

// The installation: which release, where its home is, whose scope.
pub mod home;
pub mod login;
pub mod release;
pub mod scope;

// Queue DB files and project stores.
pub mod db;

// The two tools: decisions and their effects.
pub mod doctor;
pub mod migrate;

// The edge: output and command lines.
pub mod cli;
pub mod render;

#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod fixture;

pub use error::Error;
pub use home::Home;
pub use scope::Scope;
