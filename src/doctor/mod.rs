//! `sk-doctor`: explain the sync state of a home without changing it.
//!
//! [`mod@gather`] collects facts (effects: the survey of the home,
//! `crate::survey`, and the doctor's own: identity, owner record, probe);
//! [`report::build`] turns them into the report (pure); `render/`
//! prints it. [`identity`] compares the foreground CLI with the daemon's
//! [`owner`] record field by field; [`probe`] asks a daemon that is running.
//!
//! Owns: facts and verdicts. Never writes, except `retire` (an orphan owner
//! record and a stale state file, planned by [`owner::plan_retire`] first),
//! and never signals a process.
//! Contract: `docs/json.md` (the report), `docs/problems.md` (codes and
//! remedies), `docs/daemon.md` (owner record, orphans).

pub mod explain;
pub mod gather;
pub mod identity;
pub mod owner;
pub mod probe;
pub mod report;

pub use gather::{
    DOCTOR_BUSY_TIMEOUT_MS, DoctorOptions, RetireDecision, diagnose, gather, plan_retire,
};
