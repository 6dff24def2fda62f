//! Man pages: a page per tool (`sk-doctor.1`, `sk-migrate.1`) and one per
//! subcommand (`sk-migrate-run.1`, …). `tests/man.rs` generates them from
//! the clap definitions and [`super::help`] (with `clap_mangen`, a
//! dev-dependency) and checks the committed `man/*.1` are what it generates
//! (`SK_UPDATE_MAN=1 cargo test --test man` rewrites them). The binaries
//! carry the committed pages, so `sk-doctor man | man -l -` reads them
//! wherever the tool is installed (`uv tool`, pipx, cargo), and the wheel
//! installs them under `share/man/man1`.

use std::io::{IsTerminal, Write};

use super::{ExitStatus, fail};

macro_rules! pages {
    ($($name:literal),* $(,)?) => {
        /// Every page, by file name, as committed under `man/`.
        pub const PAGES: &[(&str, &[u8])] = &[$(
            ($name, include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/wheel/data/share/man/man1/",
                $name
            ))),
        )*];
    };
}

pages![
    "sk-doctor.1",
    "sk-doctor-retire.1",
    "sk-doctor-preflight.1",
    "sk-doctor-completions.1",
    "sk-doctor-man.1",
    "sk-migrate.1",
    "sk-migrate-run.1",
    "sk-migrate-status.1",
    "sk-migrate-queue-path.1",
    "sk-migrate-completions.1",
    "sk-migrate-man.1",
];

/// The page of `tool`, or of its subcommand `command`.
pub fn page(tool: &str, command: Option<&str>) -> Option<&'static [u8]> {
    let name = match command {
        Some(c) => format!("{tool}-{c}.1"),
        None => format!("{tool}.1"),
    };
    PAGES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// `man [COMMAND]`: print the page as roff on stdout.
pub(crate) fn print(tool: &str, command: Option<&str>) -> ExitStatus {
    let Some(text) = page(tool, command) else {
        return fail(tool, format!("no man page for {command:?}"));
    };
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        stderr_line!("{tool}: this is roff; read it with `{tool} man | man -l -`");
    }
    match out.write_all(text) {
        Ok(()) => ExitStatus::Success,
        Err(e) => fail(tool, format!("cannot write the man page: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_found_by_tool_and_subcommand() {
        assert!(page("sk-doctor", None).is_some());
        assert!(page("sk-migrate", Some("queue-path")).is_some());
        assert!(page("sk-migrate", Some("nope")).is_none());
    }
}
