//! Is a process alive? Told from the kernel's process table, never by
//! sending a signal (`docs/daemon.md`). Used by the doctor (orphan daemons)
//! and by the move (temp files of killed runs).

#[cfg(target_os = "linux")]
use std::io::ErrorKind;
use std::path::Path;

use serde::Serialize;

/// What can be told about a pid without signalling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    Alive,
    Dead,
    /// Could not be told; treated as alive so nothing is retired on a guess.
    Unknown,
}

/// Is `pid` a live process? Never sends a signal (not even `kill(pid, 0)`).
///
/// * `pid <= 0` (or beyond the kernel's pid range) is not alive.
/// * Linux: `/proc/<pid>` exists → alive, also for another user's process;
///   `NotFound` → dead; any other error (e.g. permission) → alive
///   (conservative). On a `/proc` mounted with `hidepid=2`, other users'
///   processes are invisible and would look dead: a daemon of another user
///   would then be reported an orphan.
/// * Other Unix (macOS): `ps -p <pid> -o pid=` (reads process tables, sends
///   nothing); if `ps` cannot run the answer is [`Liveness::Unknown`].
pub fn pid_liveness(pid: i64) -> Liveness {
    if pid <= 0 || pid > i64::from(i32::MAX) {
        return Liveness::Dead;
    }
    liveness_os(pid)
}

/// [`pid_liveness`] as a bool: only a provably dead pid is not alive.
pub fn pid_alive(pid: i64) -> bool {
    pid_liveness(pid) != Liveness::Dead
}

#[cfg(target_os = "linux")]
fn liveness_os(pid: i64) -> Liveness {
    match std::fs::metadata(Path::new("/proc").join(pid.to_string())) {
        Ok(_) => Liveness::Alive,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            // Without /proc at all nothing can be told.
            if Path::new("/proc/self").exists() {
                Liveness::Dead
            } else {
                Liveness::Unknown
            }
        }
        Err(_) => Liveness::Alive,
    }
}

#[cfg(not(target_os = "linux"))]
fn liveness_os(pid: i64) -> Liveness {
    match std::process::Command::new("ps")
        .args(["-p", &pid.to_string(), "-o", "pid="])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
    {
        Ok(out) if out.status.success() && !out.stdout.trim_ascii().is_empty() => Liveness::Alive,
        Ok(out) if out.status.code() == Some(1) => Liveness::Dead,
        _ => Liveness::Unknown,
    }
}
