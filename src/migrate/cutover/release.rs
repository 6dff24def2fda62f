//! Running the installed release's cutover commands, and telling how they
//! ended: done, interrupted (a signal; a rerun resumes the same id), failed
//! (only when the manifest says so, with its reason) or refused.

use std::path::Path;
use std::process::Command;

use crate::error::Error;
use crate::home::Home;
use crate::survey::stores;

use super::CutoverOptions;

/// What a run of the release's command returned.
#[derive(Debug)]
pub(super) struct Released {
    pub(super) json: serde_json::Value,
    pub(super) status: std::process::ExitStatus,
    pub(super) tail: String,
}

/// Run the installed release's cutover command; its JSON on stdout.
pub(super) fn run_release(
    opts: &CutoverOptions,
    command: &str,
    snapshot: &Path,
    id: &str,
    root: &Path,
    home_env: Option<&Path>,
) -> Result<Released, Error> {
    let mut cmd = Command::new(&opts.spec_kitty);
    cmd.args(["sync", command, "--source"])
        .arg(snapshot)
        .args(["--migration-id", id, "--json"])
        .env("SPEC_KITTY_HOME", root)
        .env("SPEC_KITTY_NO_AUTO_CUTOVER", "1");
    if let Some(h) = home_env {
        // The dry run: the release's caches and temp files stay in the scratch.
        cmd.env("HOME", h).env("TMPDIR", h);
    }
    let what = format!("the release's `spec-kitty sync {command}`");
    let out = super::child::run(&mut cmd, None, &what, |e| Error::EntryPoint {
        path: opts.spec_kitty.clone(),
        detail: format!("cannot run it: {e}"),
    })?;
    Ok(Released {
        json: serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null),
        status: out.status,
        tail: tail_of(&String::from_utf8_lossy(&out.stderr)),
    })
}

/// The last lines of a child's stderr (the release's own message).
pub(super) fn tail_of(stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("\n")
}

/// How a run of the release's cutover ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ended {
    Done,
    /// Killed or stopped before its manifest reached a terminal phase.
    Interrupted(String),
    /// The manifest says failed: its reason.
    Failed(String),
    /// Exited non-zero with the manifest neither failed nor in flight.
    Refused(String),
}

/// Classify the end of the release's run (pure): "failed" only when its
/// manifest says so; a signal, or an exit with the manifest mid-way, is an
/// interruption that a rerun resumes.
pub(super) fn classify(
    success: bool,
    signal: Option<i32>,
    code: Option<i32>,
    manifest: Option<&serde_json::Value>,
    tail: &str,
) -> Ended {
    let phase = manifest.and_then(|m| m["phase"].as_str());
    if phase == Some("failed") {
        let reason = manifest
            .and_then(|m| m["failure"].as_str())
            .unwrap_or("no reason recorded");
        return Ended::Failed(format!("{reason} {tail}").trim().to_string());
    }
    if success {
        return Ended::Done;
    }
    // 130/137/143: Python's exit on SIGINT, or a shell's 128+signal.
    if let Some(sig) = signal {
        return Ended::Interrupted(format!("the spec-kitty child was killed by signal {sig}"));
    }
    if let Some(c @ (130 | 137 | 143)) = code {
        return Ended::Interrupted(format!(
            "the spec-kitty child stopped on a signal (exit {c})"
        ));
    }
    Ended::Refused(if tail.is_empty() {
        format!("exit {}", code.unwrap_or(-1))
    } else {
        tail.to_string()
    })
}

/// Run the release's `project-store-migrate` on the snapshot; its end is
/// reported as interrupted, failed (the manifest's reason) or refused.
pub(super) fn release_migrate(
    opts: &CutoverOptions,
    snapshot: &Path,
    id: &str,
    home: &Home,
    manifest_path: &Path,
) -> Result<(), Error> {
    use std::os::unix::process::ExitStatusExt;
    let r = run_release(
        opts,
        "project-store-migrate",
        snapshot,
        id,
        home.root(),
        None,
    )?;
    let manifest = stores::read_json(manifest_path);
    let phase = manifest
        .as_ref()
        .and_then(|m| m["phase"].as_str())
        .unwrap_or("none")
        .to_string();
    match classify(
        r.status.success(),
        r.status.signal(),
        r.status.code(),
        manifest.as_ref(),
        &r.tail,
    ) {
        Ended::Done => Ok(()),
        Ended::Interrupted(detail) => Err(Error::CutoverInterrupted {
            migration_id: id.to_string(),
            phase,
            detail,
        }),
        Ended::Failed(reason) => Err(Error::CutoverFailed {
            migration_id: id.to_string(),
            manifest: manifest_path.to_path_buf(),
            reason,
        }),
        Ended::Refused(reason) => Err(Error::CutoverRefused {
            migration_id: id.to_string(),
            phase,
            reason,
        }),
    }
}

/// A migration the release marked failed is not retried blindly.
pub(super) fn refuse_failed(
    manifest: Option<&serde_json::Value>,
    id: &str,
    manifest_path: &Path,
) -> Result<(), Error> {
    if let Some(m) = manifest
        && m["phase"] == "failed"
    {
        return Err(Error::CutoverFailed {
            migration_id: id.to_string(),
            manifest: manifest_path.to_path_buf(),
            reason: m["failure"]
                .as_str()
                .unwrap_or("no reason recorded")
                .to_string(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failed_manifest_is_failed_and_a_signal_is_an_interruption() {
        let failed = serde_json::json!({"phase": "failed", "failure": "MigrationError: x"});
        let copied = serde_json::json!({"phase": "copied"});
        assert_eq!(
            classify(false, None, Some(1), Some(&failed), "tail"),
            Ended::Failed("MigrationError: x tail".into())
        );
        assert!(matches!(
            classify(false, Some(9), None, Some(&copied), ""),
            Ended::Interrupted(_)
        ));
        assert!(matches!(
            classify(false, None, Some(130), None, ""),
            Ended::Interrupted(_)
        ));
        assert_eq!(
            classify(false, None, Some(1), Some(&copied), "refused: y"),
            Ended::Refused("refused: y".into())
        );
        assert_eq!(
            classify(true, None, Some(0), Some(&copied), ""),
            Ended::Done
        );
    }
}
