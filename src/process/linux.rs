//! Linux: process facts from `/proc` (read only).

use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{Holder, Liveness};
use crate::seen::Seen;

const PROC: &str = "/proc";

pub(super) fn liveness(pid: i64) -> Liveness {
    match std::fs::metadata(Path::new(PROC).join(pid.to_string())) {
        Ok(_) => Liveness::Alive,
        Err(e) if e.kind() == ErrorKind::NotFound => {
            // Without /proc at all nothing can be told.
            if Path::new(PROC).join("self").exists() {
                Liveness::Dead
            } else {
                Liveness::Unknown
            }
        }
        Err(_) => Liveness::Alive,
    }
}

/// `/proc/<pid>/fd/*` of every process this user may look into.
pub(super) fn holders(wanted: &dyn Fn(&Path) -> bool) -> Seen<Vec<Holder>> {
    let entries = match std::fs::read_dir(PROC) {
        Ok(e) => e,
        Err(e) => return Seen::read(Path::new(PROC), Err(e)),
    };
    let me = std::process::id();
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // Another user's fds are not ours to see: that process is not listed.
        let mut paths: Vec<_> = std::fs::read_dir(entry.path().join("fd"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|fd| std::fs::read_link(fd.path()).ok())
            .filter(|l| wanted(l))
            .collect();
        if paths.is_empty() {
            continue;
        }
        paths.sort();
        paths.dedup();
        let command = std::fs::read(entry.path().join("cmdline"))
            .map(|b| {
                b.split(|c| *c == 0)
                    .filter(|a| !a.is_empty())
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        out.push(Holder {
            pid,
            executable: std::fs::read_link(entry.path().join("exe")).ok(),
            command,
            paths,
        });
    }
    out.sort_by_key(|h| h.pid);
    Seen::Known(out)
}

/// The holder of a `flock` on `file`, from `/proc/locks`: lines
/// `N: FLOCK ADVISORY WRITE <pid> <major>:<minor>:<inode> 0 EOF`.
pub(super) fn flock_holder(file: &File) -> Seen<Option<u32>> {
    let locks = Path::new(PROC).join("locks");
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => return Seen::read(&locks, Err(e)),
    };
    let table = match std::fs::read_to_string(&locks) {
        Ok(t) => t,
        Err(e) => return Seen::read(&locks, Err(e)),
    };
    let dev = meta.dev();
    let want = (
        u64::from(rustix::fs::major(dev)),
        u64::from(rustix::fs::minor(dev)),
        meta.ino(),
    );
    Seen::Known(table.lines().find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.get(1) != Some(&"FLOCK") {
            return None;
        }
        let mut id = f.get(5)?.split(':');
        let major = u64::from_str_radix(id.next()?, 16).ok()?;
        let minor = u64::from_str_radix(id.next()?, 16).ok()?;
        let ino: u64 = id.next()?.parse().ok()?;
        ((major, minor, ino) == want).then(|| f.get(4)?.parse().ok())?
    }))
}
