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

/// `eprintln!` that never panics: a closed or full stderr is ignored (the
/// std macro panics on a write error, and a tool must not die on a warning).
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `eprint!` that never panics (a prompt on stderr).
macro_rules! stderr_text {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut err = std::io::stderr().lock();
        let _ = write!(err, $($arg)*);
        let _ = err.flush();
    }};
}

pub mod error;
pub mod field;
pub mod fsutil;
pub mod interrupt;
pub mod path_text;
pub mod process;
pub mod seen;
pub mod trust;

// The installation: which release, where its home is, whose scope.
pub mod home;
pub mod login;
pub mod release;
pub mod scope;

// Queue DB files as SQLite files; the read-only survey of a home.
pub mod db;
pub mod survey;

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
