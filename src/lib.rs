//! sk-boundary: make the sync state of a spec-kitty installation coherent
//! again (`sk-migrate`) and explain it when it is not (`sk-doctor`).
//!
//! Decisions are pure functions (plan a move, compare identities, build a
//! report); effects (open DBs, read files, print) stay at the edges.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cli;
pub mod config;
pub mod context;
pub mod cutover;
pub mod doctor;
pub mod error;
pub mod field;
pub mod fixture;
pub mod fsutil;
pub mod home;
pub mod identity;
pub mod journal;
pub mod lock;
pub mod merge;
pub mod migrate;
pub mod owner;
pub mod probe;
pub mod queue;
pub mod release;
pub mod render;
pub mod report;
pub mod schema;
pub mod scope;
pub mod session;
pub mod store;

pub use error::Error;
pub use home::Home;
pub use scope::Scope;
