//! Man pages: a page per tool (`sk-doctor.1`, `sk-migrate.1`) and one per
//! subcommand (`sk-migrate-run.1`, …). `tests/it/man.rs` generates them from
//! the clap definitions and [`super::help`] (with `clap_mangen`, a
//! dev-dependency) and checks the committed `man/*.1` are what it generates
//! (`SK_UPDATE_MAN=1 cargo test --test it man` rewrites them). The binaries
//! carry the committed pages, so `sk-doctor man | man -l -` reads them
//! wherever the tool is installed (`uv tool`, pipx, cargo), and the wheel
//! installs them under `share/man/man1`.

use std::io::{IsTerminal, Write};

use clap::ValueEnum;
use clap::builder::PossibleValue;

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
    "sk-doctor-explain.1",
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

/// `man [COMMAND]`: print the page as roff on stdout. `command` is one of
/// the tool's `Page`s: clap checked it, so its page is committed.
pub(crate) fn print(tool: &str, command: Option<impl ValueEnum>) -> ExitStatus {
    let name = command.and_then(|c| c.to_possible_value());
    let name = name.as_ref().map(PossibleValue::get_name);
    let Some(text) = page(tool, name) else {
        return fail(tool, format!("no man page for {name:?}"));
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

    /// Every value `man COMMAND` accepts has its page, in both tools.
    #[test]
    fn every_page_clap_accepts_is_committed() {
        fn names<T: ValueEnum>() -> Vec<String> {
            T::value_variants()
                .iter()
                .filter_map(|v| v.to_possible_value())
                .map(|v| v.get_name().to_string())
                .collect()
        }
        let tools = [
            ("sk-migrate", names::<crate::cli::migrate::Page>()),
            ("sk-doctor", names::<crate::cli::doctor::Page>()),
        ];
        for (tool, pages) in tools {
            assert!(!pages.is_empty());
            for p in pages {
                assert!(page(tool, Some(&p)).is_some(), "{tool} man {p}");
            }
        }
        assert_eq!(
            names::<crate::cli::migrate::Page>(),
            ["run", "status", "queue-path", "completions", "man"]
        );
    }
}
