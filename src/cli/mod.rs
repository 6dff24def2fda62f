//! The command lines of `sk-doctor` and `sk-migrate`. This module owns the
//! clap definitions (so man pages and completions are generated from the
//! library, see [`man`]) and each tool's `run`: resolve the environment, call
//! the library, render, and return an [`ExitStatus`]. The binaries only parse
//! and exit. Nothing here decides anything about the sync boundary.
//!
//! Contract: `docs/cli.md` (options, exit codes) and `docs/json.md`.

pub mod completions;
pub mod context;
pub mod doctor;
pub mod global;
pub mod help;
pub mod man;
pub mod migrate;
mod retire;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::context::Context;
use crate::error::Error;

pub use global::{ColorChoice, GlobalArgs};

/// How a run ends, as the process exit code (`docs/cli.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: done, coherent, or nothing to do.
    Success,
    /// 1: a runtime error (I/O, a locked or corrupt DB, …).
    Failure,
    /// 2: incoherent with `--check`, or refused (`preflight`, `retire`).
    Refused,
    /// 3: `sk-migrate run` moved rows but could not write their audit lines
    /// (they wait in the pending journal; the next run writes them).
    AuditIncomplete,
    /// 64: a usage error (`EX_USAGE`).
    Usage,
    /// 130 (SIGINT) or 143 (SIGTERM): stopped at a safe point; a rerun
    /// resumes (`crate::interrupt`).
    Interrupted(crate::interrupt::Stop),
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::Refused => 2,
            ExitStatus::AuditIncomplete => 3,
            ExitStatus::Usage => 64,
            ExitStatus::Interrupted(stop) => stop.exit_code(),
        }
    }
}

impl From<ExitStatus> for ExitCode {
    fn from(s: ExitStatus) -> ExitCode {
        ExitCode::from(s.code())
    }
}

/// `--version`: the crate version and the spec-kitty releases this build
/// understands, e.g. `0.2.0 (spec-kitty 2.1 – 3.2.7)`.
pub fn version() -> String {
    format!(
        "{} (spec-kitty {})",
        env!("CARGO_PKG_VERSION"),
        crate::release::SUPPORTED_RANGE
    )
}

/// Parse the process's arguments. On `--help`/`--version` prints them and
/// returns `Err(Success)`; on a usage error prints it on stderr in the form
/// every error takes, `sk-…: error: …`, and returns `Err(Usage)`.
pub fn parse<P: Parser>() -> Result<P, ExitStatus> {
    P::try_parse().map_err(|e| {
        if !e.use_stderr() {
            let _ = e.print();
            return ExitStatus::Success;
        }
        let tool = P::command().get_name().to_string();
        let colour = ColorChoice::Auto.enabled(
            std::io::stderr().is_terminal(),
            &global::ColourEnv::from_process(),
        );
        let rendered = e.render();
        let text = if colour {
            rendered.ansi().to_string()
        } else {
            rendered.to_string()
        };
        stderr_text!("{}", prefixed(&tool, &text));
        ExitStatus::Usage
    })
}

/// clap's message (`error: …`, possibly coloured) under the tool's name.
fn prefixed(tool: &str, message: &str) -> String {
    format!("{tool}: {}", message.trim_start())
}

/// Print `text` on stdout with exactly one trailing newline. A closed pipe
/// is not an error worth reporting.
pub(crate) fn print(text: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{}", text.trim_end());
}

/// [`print`] for bytes that need not be UTF-8 (a path for a script).
pub(crate) fn print_bytes(text: &[u8]) {
    let mut out = std::io::stdout().lock();
    let _ = out
        .write_all(text.trim_ascii_end())
        .and_then(|()| out.write_all(b"\n"));
}

/// Print `sk-…: error: …` on stderr and return [`ExitStatus::Failure`].
pub(crate) fn fail(tool: &str, e: impl std::fmt::Display) -> ExitStatus {
    stderr_line!("{tool}: error: {e}");
    ExitStatus::Failure
}

/// [`fail`] for a library error: an interrupted run says
/// `sk-…: interrupted; run again to resume (…)` and exits 130 or 143.
pub(crate) fn fail_error(tool: &str, e: Error) -> ExitStatus {
    match e {
        Error::Interrupted(i) => {
            stderr_line!("{tool}: {i}");
            ExitStatus::Interrupted(i.signal)
        }
        e => fail(tool, e),
    }
}

/// Print `sk-…: …` on stderr and return [`ExitStatus::Usage`].
pub(crate) fn usage(tool: &str, e: impl std::fmt::Display) -> ExitStatus {
    stderr_line!("{tool}: {e}");
    ExitStatus::Usage
}

/// Print shell completions for `cmd` on stdout ([`completions::script`]).
pub(crate) fn completions(shell: clap_complete::Shell, cmd: clap::Command) -> ExitStatus {
    let name = cmd.get_name().to_string();
    match std::io::stdout()
        .lock()
        .write_all(&completions::script(shell, cmd))
    {
        Ok(()) => ExitStatus::Success,
        Err(e) => fail(&name, format!("cannot write the completions: {e}")),
    }
}

/// Resolve the context for `tool`: no home resolvable is a usage error, any
/// other failure a runtime one. Prints the context's notes as warnings,
/// except the one saying why the release is unknown (the caller decides
/// whether that is fatal). An explicit `--home` must exist.
pub(crate) fn context(tool: &str, global: &GlobalArgs) -> Result<Context, ExitStatus> {
    let ctx = match global.context() {
        Ok(c) => c,
        Err(e @ Error::NoHome) => return Err(usage(tool, e)),
        Err(e) => return Err(fail(tool, e)),
    };
    let unknown = ctx.detection.why_unknown();
    for note in ctx.notes.iter().filter(|n| unknown.as_ref() != Some(*n)) {
        stderr_line!("{tool}: warning: {note}");
    }
    if global.home.is_some()
        && let Err(e) = ctx.home.require_existing()
    {
        return Err(fail(tool, e));
    }
    Ok(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_supported_releases() {
        let v = version();
        assert!(v.starts_with(env!("CARGO_PKG_VERSION")), "{v}");
        assert!(v.contains(crate::release::SUPPORTED_RANGE), "{v}");
    }

    #[test]
    fn usage_errors_carry_the_tool_name() {
        assert_eq!(
            prefixed("sk-doctor", "error: unexpected argument '--x' found\n"),
            "sk-doctor: error: unexpected argument '--x' found\n"
        );
    }

    #[test]
    fn exit_codes_are_the_contract() {
        let codes: Vec<u8> = [
            ExitStatus::Success,
            ExitStatus::Failure,
            ExitStatus::Refused,
            ExitStatus::AuditIncomplete,
            ExitStatus::Usage,
            ExitStatus::Interrupted(crate::interrupt::Stop::Interrupt),
            ExitStatus::Interrupted(crate::interrupt::Stop::Terminate),
        ]
        .map(ExitStatus::code)
        .to_vec();
        assert_eq!(codes, [0, 1, 2, 3, 64, 130, 143]);
    }
}
