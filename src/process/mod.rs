//! Process facts, told from the kernel's tables and never by sending a
//! signal (`docs/daemon.md`): is a pid alive, which processes hold a file
//! open, which process holds a `flock`. Used by the doctor (orphan daemons),
//! the survey (who still writes a legacy DB) and the run lock (naming the
//! run that holds it).
//!
//! Owns: every read of `/proc` (Linux, `linux.rs`) and of `ps` (other Unix,
//! `other.rs`). Never signals a process (not even `kill(pid, 0)`). What a
//! platform cannot tell is [`Seen::NotOnThisPlatform`], never an empty list.
//! Contract: `docs/daemon.md`, `docs/architecture.md` ("The survey").

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::seen::Seen;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
use linux as os;

#[cfg(not(target_os = "linux"))]
mod other;
#[cfg(not(target_os = "linux"))]
use other as os;

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
    os::liveness(pid)
}

/// [`pid_liveness`] as a bool: only a provably dead pid is not alive.
pub fn pid_alive(pid: i64) -> bool {
    pid_liveness(pid) != Liveness::Dead
}

/// A process (not this one) holding files open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    /// Its executable, when the kernel tells it.
    pub executable: Option<PathBuf>,
    /// Its command line, arguments joined by spaces.
    pub command: String,
    /// The open files `wanted` took, sorted, each once.
    pub paths: Vec<PathBuf>,
}

/// The processes other than this one holding open a file `wanted` takes
/// (by the path the kernel reports for the open file). A process whose
/// open files this user may not see (another user's) is not listed.
pub fn holders(wanted: &dyn Fn(&Path) -> bool) -> Seen<Vec<Holder>> {
    os::holders(wanted)
}

/// The pid holding a `flock` on `file`, `Known(None)` when the kernel
/// lists none.
pub fn flock_holder(file: &File) -> Seen<Option<u32>> {
    os::flock_holder(file)
}

/// A child process that holds a file open, for the tests of who holds a
/// file (here, in the survey and in sk-doctor's gather).
#[cfg(test)]
pub(crate) mod test_support {
    use std::io::{BufRead, BufReader};
    use std::path::Path;

    /// Runs `look` while a child (`sh`, fd 3) holds `path` open; the child's
    /// pid and what `look` found. Waits on the child's word (a line on its
    /// stdout once `exec 3<` has run), not on time.
    pub(crate) fn while_held_open<T>(path: &Path, look: impl FnOnce() -> T) -> (u32, T) {
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg("exec 3<\"$1\"; echo open; read _")
            .arg("sh")
            .arg(path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut said = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut said)
            .unwrap();
        assert_eq!(said.trim(), "open", "the child did not open {path:?}");
        let found = look();
        drop(child.stdin.take());
        child.wait().unwrap();
        (child.id(), found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_impossible_pids_are_not() {
        assert!(pid_alive(i64::from(std::process::id())));
        assert_eq!(pid_liveness(0), Liveness::Dead);
        assert_eq!(pid_liveness(-4), Liveness::Dead);
        assert_eq!(pid_liveness(i64::from(i32::MAX) + 1), Liveness::Dead);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_holding_a_file_open_is_named_with_its_command() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("held.db");
        std::fs::write(&file, "").unwrap();
        let real = std::fs::canonicalize(&file).unwrap();
        let want = |p: &Path| p == real;
        assert_eq!(holders(&want), Seen::Known(Vec::new()));
        let (pid, found) = test_support::while_held_open(&file, || holders(&want));
        let found = found.known().cloned().unwrap_or_default();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].pid, pid);
        assert_eq!(found[0].paths, vec![real]);
        assert!(found[0].command.starts_with("sh -c"), "{found:?}");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_holder_of_a_flock_is_told_from_the_kernel() {
        use rustix::fs::{FlockOperation, flock};
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let f = File::open(dir.path()).unwrap();
        assert_eq!(flock_holder(&f), Seen::Known(None));
        flock(f.as_fd(), FlockOperation::NonBlockingLockExclusive).unwrap();
        assert_eq!(flock_holder(&f), Seen::Known(Some(std::process::id())));
    }
}
