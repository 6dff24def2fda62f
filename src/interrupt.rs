//! Ctrl-C and SIGTERM as a value the work looks at (`docs/cli.md`,
//! "Interruptions").
//!
//! A writing `sk-migrate` command calls [`install`]: from then on SIGINT
//! and SIGTERM only record which arrived (signal-hook's async-signal-safe
//! flag handler), and the work stops at its next safe point by returning
//! [`Interrupted`] from [`check`] or [`pause`]: between two chunks of
//! the move (each committed and audited, or not begun), while it waits
//! between them, and while a release child it started runs (the child is
//! then stopped, see `migrate::cutover::child`). Everything already
//! committed stays; the next run resumes from what is left.
//!
//! Without [`install`] (a library caller, a read-only command) nothing is
//! ever recorded and a signal keeps its default action. Never sends a signal.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The signal that asked the run to stop (0: none yet).
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// How long a wait sleeps before it looks for a signal again.
pub const SLICE: Duration = Duration::from_millis(50);

/// The run stopped at a safe point: which signal, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("interrupted; run again to resume ({} {detail})", signal.name())]
pub struct Interrupted {
    pub signal: Stop,
    /// Where the work stopped, and what that leaves.
    pub detail: String,
}

/// A signal that stops a run at its next safe point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// SIGINT (Ctrl-C): exit 130.
    Interrupt,
    /// SIGTERM: exit 143.
    Terminate,
}

impl Stop {
    /// The signal's number.
    pub fn number(self) -> i32 {
        match self {
            Stop::Interrupt => signal_hook::consts::SIGINT,
            Stop::Terminate => signal_hook::consts::SIGTERM,
        }
    }

    /// The exit code a shell gives a process killed by it (128 + signal).
    pub fn exit_code(self) -> u8 {
        128 + self.number() as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
        }
    }

    fn from_number(n: usize) -> Option<Stop> {
        [Stop::Interrupt, Stop::Terminate]
            .into_iter()
            .find(|s| s.number() as usize == n)
    }
}

/// Record SIGINT and SIGTERM instead of dying of them, for the rest of the
/// process. Called by the writing commands before they change anything.
pub fn install() -> std::io::Result<()> {
    for stop in [Stop::Interrupt, Stop::Terminate] {
        signal_hook::flag::register_usize(stop.number(), &RECEIVED, stop.number() as usize)?;
    }
    Ok(())
}

/// The signal received so far, if any.
pub fn received() -> Option<Stop> {
    Stop::from_number(RECEIVED.load(Ordering::SeqCst))
}

/// A safe point: `Err(Interrupted)` once a signal arrived; `what` says
/// where the work stopped (for the message).
pub fn check(what: &str) -> Result<(), Interrupted> {
    match received() {
        Some(signal) => Err(Interrupted {
            signal,
            detail: what.to_string(),
        }),
        None => Ok(()),
    }
}

/// Sleep `d`, but stop within [`SLICE`] of a signal (a safe point).
pub fn pause(d: Duration, what: &str) -> Result<(), Interrupted> {
    let until = Instant::now() + d;
    loop {
        check(what)?;
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(SLICE));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exit_code_is_the_shells_for_the_signal() {
        assert_eq!(Stop::Interrupt.exit_code(), 130);
        assert_eq!(Stop::Terminate.exit_code(), 143);
        assert_eq!(Stop::from_number(15), Some(Stop::Terminate));
        assert_eq!(Stop::from_number(0), None);
    }

    #[test]
    fn without_a_signal_every_safe_point_goes_on() {
        assert!(check("x").is_ok());
        assert!(pause(Duration::from_millis(1), "x").is_ok());
    }
}
