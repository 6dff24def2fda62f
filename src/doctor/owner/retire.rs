//! Retiring an orphan: the daemon's state file, the plan (pure) and its removal (the only write `sk-doctor` makes; `docs/daemon.md`).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Error;
use crate::home::Home;

use crate::fsutil::sync_dir;

use super::{OwnerRead, OwnerRecord, is_orphan, read};

/// The `sync-daemon` state file: url, port, token (optional), pid (optional),
/// one a line. The token line is recognised only to be skipped: it is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DaemonState {
    pub url: Option<String>,
    pub port: Option<u16>,
    pub pid: Option<i64>,
}

/// Parse the state file. Positional: line 4 is the pid; a 3-line file has a
/// token and no pid. Unparsable values are `None`.
pub fn parse_state_file(text: &str) -> DaemonState {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let line = |i: usize| lines.get(i).copied().filter(|l| !l.is_empty());
    DaemonState {
        url: line(0).map(str::to_string),
        port: line(1).and_then(|p| p.parse().ok()),
        pid: line(3).and_then(|p| p.parse().ok()),
    }
}

/// A `sync-daemon` state file no daemon stands behind: its pid is not
/// running, or (no pid) there is no owner record and nothing answers on
/// its port. `text` is what it held when judged; removal checks it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleState {
    pub path: PathBuf,
    pub reason: String,
    pub text: String,
}

/// Judge the state file (pure). `answering`: the ports the loopback probe
/// found a daemon on (`None`: no probe, so a pid-less file is not judged).
pub fn stale_state(
    path: &Path,
    text: &str,
    owner_present: bool,
    pid_alive: impl Fn(i64) -> bool,
    answering: Option<&[u16]>,
) -> Option<StaleState> {
    let state = parse_state_file(text);
    let reason = match (state.pid, state.port, answering) {
        (Some(pid), _, _) if !pid_alive(pid) => format!("its pid {pid} is not running"),
        (None, port, Some(ports))
            if !owner_present && !port.is_some_and(|p| ports.contains(&p)) =>
        {
            format!(
                "it names no pid, there is no owner record, and nothing answers on port {}",
                port.map_or("?".to_string(), |p| p.to_string())
            )
        }
        _ => return None,
    };
    Some(StaleState {
        path: path.to_path_buf(),
        reason,
        text: text.to_string(),
    })
}

/// Remove a stale state file if it still holds what was judged. Never
/// signals anything. Returns whether it was removed.
pub fn retire_state(stale: &StaleState) -> Result<bool, Error> {
    match crate::login::config::read_optional(&stale.path)? {
        Some(text) if text == stale.text => {
            let mut removed = Vec::new();
            remove_if_present(&stale.path, &mut removed)?;
            if let Some(dir) = stale.path.parent() {
                sync_dir(dir)?;
            }
            Ok(!removed.is_empty())
        }
        Some(_) => Err(Error::OwnerChanged {
            path: stale.path.clone(),
        }),
        None => Ok(false),
    }
}

/// Why retiring is refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// The recorded daemon is alive and its executable exists.
    Live { pid: i64 },
}

/// The files a retirement removes, and what they must still say when removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removal {
    pub owner_record: PathBuf,
    /// The `sync-daemon` state file, when it names the same dead pid.
    pub state_file: Option<PathBuf>,
    /// The pid and start time the record had when planned; [`retire`] removes
    /// nothing if the record changed meanwhile.
    pub pid: i64,
    pub started_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RetirePlan {
    Refuse(Refusal),
    Remove(Removal),
}

/// Decide a retirement (pure). Live = pid alive AND executable exists →
/// refuse. Otherwise remove the record, and the state file too when it names
/// the same (dead) pid. A live pid with a missing executable is an orphan by
/// `docs/daemon.md`: its record is removed, but a state file naming that pid is kept
/// (the process still runs).
pub fn plan_retire(
    home: &Home,
    record: &OwnerRecord,
    pid_alive: bool,
    exe_exists: bool,
    state_file: Option<&str>,
) -> RetirePlan {
    if !is_orphan(pid_alive, exe_exists) {
        return RetirePlan::Refuse(Refusal::Live { pid: record.pid });
    }
    let same_dead_pid = !pid_alive
        && state_file
            .map(parse_state_file)
            .is_some_and(|s| s.pid == Some(record.pid));
    RetirePlan::Remove(Removal {
        owner_record: home.owner_record(),
        state_file: same_dead_pid.then(|| home.daemon_state()),
        pid: record.pid,
        started_at: record.started_at.clone(),
    })
}

/// Carry out a [`Removal`]. Re-reads the record first and removes nothing when
/// it no longer names the planned pid and start time ([`Error::OwnerChanged`]);
/// the state file is removed only if it still names that pid. Files already
/// gone are not an error. Returns the paths removed. Never signals.
pub fn retire(removal: &Removal) -> Result<Vec<PathBuf>, Error> {
    let mut removed = Vec::new();
    match read(&removal.owner_record)? {
        OwnerRead::Absent => {}
        OwnerRead::Present(rec, _)
            if rec.pid == removal.pid && rec.started_at == removal.started_at =>
        {
            remove_if_present(&removal.owner_record, &mut removed)?;
        }
        _ => {
            return Err(Error::OwnerChanged {
                path: removal.owner_record.clone(),
            });
        }
    }
    if let Some(state) = &removal.state_file {
        match crate::login::config::read_optional(state) {
            Ok(Some(text)) if parse_state_file(&text).pid == Some(removal.pid) => {
                remove_if_present(state, &mut removed)?;
            }
            Ok(_) => {}
            Err(e) => return Err(e),
        }
    }
    // Make the removals durable, as the writer makes its rename durable.
    for path in &removed {
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => sync_dir(dir)?,
            _ => sync_dir(Path::new("."))?,
        }
    }
    Ok(removed)
}

pub(super) fn remove_if_present(path: &Path, removed: &mut Vec<PathBuf>) -> Result<(), Error> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            removed.push(path.to_path_buf());
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}
