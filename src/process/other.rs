//! Other Unix (macOS): liveness from `ps`; which processes hold a file or a
//! lock is not known here.

use std::fs::File;
use std::path::Path;

use super::{Holder, Liveness};
use crate::seen::Seen;

pub(super) fn liveness(pid: i64) -> Liveness {
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

pub(super) fn holders(_wanted: &dyn Fn(&Path) -> bool) -> Seen<Vec<Holder>> {
    Seen::NotOnThisPlatform("which processes hold a file open")
}

pub(super) fn flock_holder(_file: &File) -> Seen<Option<u32>> {
    Seen::NotOnThisPlatform("which process holds a lock")
}
