//! Every child the cutover starts (the release's `spec-kitty` and its
//! interpreter) runs through [`run`], so none outlives an interrupted run;
//! and none is started as root from a release another user can change
//! ([`require_trusted`]).
//!
//! The child stays in sk-migrate's process group, so whatever reaches the
//! group (a terminal's Ctrl-C or hangup, a supervisor killing the group)
//! reaches it too. Its output is read while it runs. When SIGINT or SIGTERM
//! reaches sk-migrate (`crate::interrupt`), the child is sent SIGTERM (a
//! process this run started: the release's cutover is built to survive
//! being killed at any point, and Python ends at once on SIGTERM, never
//! marking the migration failed), waited for, and killed only if it has
//! not ended after [`GRACE`]. The run then ends [`Error::Interrupted`]: the
//! release keeps its migration id and manifest mid-phase, and the next run
//! resumes them.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::interrupt;

/// A root run starts no child of a release another user can change
/// (`crate::trust`): checked once, before the cutover writes anything,
/// for the entry point and the interpreter every child is run with.
pub(super) fn require_trusted(opts: &super::CutoverOptions) -> Result<(), Error> {
    crate::trust::require(&opts.spec_kitty, opts.python.as_deref(), &opts.trusted).map_err(|d| {
        Error::DubiousOwnership {
            message: d.to_string(),
        }
    })
}

/// How long a signalled child may take to end before it is killed.
const GRACE: Duration = Duration::from_secs(10);

/// Run `cmd` with `input` on its stdin (none: `/dev/null`); its output once
/// it ends. `cannot` names a failure to start or feed it; a signal to
/// sk-migrate meanwhile stops it and is [`Error::Interrupted`].
pub(super) fn run(
    cmd: &mut Command,
    input: Option<&[u8]>,
    what: &str,
    cannot: impl Fn(std::io::Error) -> Error,
) -> Result<Output, Error> {
    interrupt::check(&format!("before {what} started"))?;
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(&cannot)?;
    // Fed and read on threads: a child that writes while it reads can
    // never block on a full pipe.
    let feeder = child.stdin.take().zip(input).map(|(mut stdin, bytes)| {
        let bytes = bytes.to_vec();
        std::thread::spawn(move || stdin.write_all(&bytes))
    });
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait(&mut child, what).map_err(|e| match e {
        Waited::Io(e) => cannot(e),
        Waited::Stopped(e) => e,
    })?;
    if let Some(Ok(Err(e))) = feeder.map(std::thread::JoinHandle::join) {
        // A child that exits without reading all of its input closes the
        // pipe: its exit status says what happened.
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(cannot(e));
        }
    }
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Read a child's pipe to its end on a thread.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

enum Waited {
    Io(std::io::Error),
    Stopped(Error),
}

/// Wait for the child, looking for a signal to sk-migrate every
/// [`interrupt::SLICE`]; on one, stop the child and say so.
fn wait(child: &mut Child, what: &str) -> Result<ExitStatus, Waited> {
    loop {
        let ended = child.try_wait().map_err(Waited::Io)?;
        // Looked at after the child's status: a child that ended of the
        // same Ctrl-C (it shares the terminal's process group) still makes
        // this run interrupted, not failed.
        if let Some(signal) = interrupt::received() {
            let how = match ended {
                Some(_) => "ended",
                None => stop(child),
            };
            return Err(Waited::Stopped(
                interrupt::Interrupted {
                    signal,
                    detail: format!("{what} (pid {}) {how}", child.id()),
                }
                .into(),
            ));
        }
        if let Some(status) = ended {
            return Ok(status);
        }
        std::thread::sleep(interrupt::SLICE);
    }
}

/// Stop the child: SIGTERM, a wait, SIGKILL after [`GRACE`]; how it ended.
fn stop(child: &mut Child) -> &'static str {
    use rustix::process::{Pid, Signal, kill_process};
    let pid = Pid::from_child(child);
    let _ = kill_process(pid, Signal::TERM);
    let started = Instant::now();
    while started.elapsed() < GRACE {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return "was stopped",
            Ok(None) => std::thread::sleep(interrupt::SLICE),
        }
    }
    let _ = kill_process(pid, Signal::KILL);
    let _ = child.wait();
    "was killed: it did not stop within 10 s of SIGTERM"
}
