//! Options both tools take, and what they resolve to at the edge: the
//! context (home, release, install), and the [`Style`] output gets (colour,
//! terminal width, `~`).

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::cli::context::{self, Context, ContextOptions};
use crate::error::Error;
use crate::render::Style;

/// When to colour output.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, or anywhere with FORCE_COLOR or CLICOLOR_FORCE; never with NO_COLOR
    #[default]
    Auto,
    /// Always, even piped and with `NO_COLOR`
    Always,
    /// Never
    Never,
}

/// The colour variables of the environment, as read at the edge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColourEnv {
    /// `NO_COLOR`
    pub no_color: Option<String>,
    /// `FORCE_COLOR`
    pub force_color: Option<String>,
    /// `CLICOLOR_FORCE`
    pub clicolor_force: Option<String>,
}

impl ColourEnv {
    /// The process environment's.
    pub fn from_process() -> ColourEnv {
        ColourEnv {
            no_color: std::env::var("NO_COLOR").ok(),
            force_color: std::env::var("FORCE_COLOR").ok(),
            clicolor_force: std::env::var("CLICOLOR_FORCE").ok(),
        }
    }
}

/// Set to a non-empty value: what these variables' conventions call "on".
fn set(v: &Option<String>) -> bool {
    v.as_deref().is_some_and(|v| !v.is_empty())
}

impl ColorChoice {
    /// Whether to colour a stream, with uv's and ruff's precedence: an
    /// explicit `--color always|never` first; then `NO_COLOR` (set,
    /// non-empty) turns colour off; then `FORCE_COLOR` or `CLICOLOR_FORCE`
    /// (set, non-empty) turn it on, even piped; else colour on a terminal.
    pub fn enabled(self, is_terminal: bool, env: &ColourEnv) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto if set(&env.no_color) => false,
            ColorChoice::Auto if set(&env.force_color) || set(&env.clicolor_force) => true,
            ColorChoice::Auto => crate::render::colour_enabled(is_terminal, None),
        }
    }
}

/// The options `sk-doctor` and `sk-migrate` share; valid before or after a
/// subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)
    #[arg(long, global = true, value_name = "DIR", value_hint = clap::ValueHint::DirPath)]
    pub home: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Colour the output: auto (a terminal, or FORCE_COLOR; not with NO_COLOR), always, never
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorChoice::Auto
    )]
    pub color: ColorChoice,
    /// The spec-kitty release you run (default: --spec-kitty's, PATH's, then the daemon's)
    #[arg(long, global = true, env = "SK_RELEASE", value_name = "X.Y.Z", value_parser = parse_release)]
    pub release: Option<String>,
    /// The spec-kitty entry point to follow (default: `spec-kitty` on PATH)
    #[arg(long = "spec-kitty", global = true, value_name = "PATH", value_hint = clap::ValueHint::ExecutablePath)]
    pub spec_kitty: Option<PathBuf>,
}

fn parse_release(s: &str) -> Result<String, String> {
    crate::release::Version::parse(s)
        .map(|v| v.to_string())
        .ok_or_else(|| format!("{s:?} is not a release version (e.g. 3.2.5)"))
}

/// The output stream a text goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl GlobalArgs {
    /// The home (`--home`, `$SPEC_KITTY_HOME` or `$HOME/.spec-kitty`), the
    /// release and the install, from the options and the process environment.
    pub fn context(&self) -> Result<Context, Error> {
        context::resolve(&ContextOptions::from_process(
            self.home.clone(),
            self.release.clone(),
            self.spec_kitty.clone(),
        ))
    }

    /// How text for `stream` looks, from `--color`, the colour variables
    /// ([`ColourEnv`]), whether the stream is a terminal, `$COLUMNS` (else
    /// the terminal's width) and `$HOME`.
    pub fn style(&self, stream: Stream) -> Style {
        let is_terminal = match stream {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        };
        let user_home = std::env::var("HOME").ok().filter(|h| !h.is_empty());
        Style {
            colour: self.color.enabled(is_terminal, &ColourEnv::from_process()),
            width: columns_var(std::env::var("COLUMNS").ok().as_deref())
                .or_else(|| terminal_width(stream, is_terminal)),
            user_home,
        }
    }
}

/// `$COLUMNS` as a width, when it is a sensible number.
fn columns_var(v: Option<&str>) -> Option<u16> {
    v?.trim().parse::<u16>().ok().filter(|w| *w >= 20)
}

fn terminal_width(stream: Stream, is_terminal: bool) -> Option<u16> {
    if !is_terminal {
        return None;
    }
    let size = match stream {
        Stream::Stdout => rustix::termios::tcgetwinsize(std::io::stdout()),
        Stream::Stderr => rustix::termios::tcgetwinsize(std::io::stderr()),
    };
    size.ok().map(|s| s.ws_col).filter(|w| *w > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(no: Option<&str>, force: Option<&str>, clicolor: Option<&str>) -> ColourEnv {
        ColourEnv {
            no_color: no.map(str::to_string),
            force_color: force.map(str::to_string),
            clicolor_force: clicolor.map(str::to_string),
        }
    }

    #[test]
    fn no_color_wins_over_auto_only() {
        use ColorChoice::*;
        let none = ColourEnv::default();
        assert!(Auto.enabled(true, &none));
        assert!(!Auto.enabled(true, &env(Some("1"), None, None)));
        assert!(Auto.enabled(true, &env(Some(""), None, None)));
        assert!(!Auto.enabled(false, &none));
        assert!(Always.enabled(false, &env(Some("1"), None, None)));
        assert!(!Never.enabled(true, &none));
    }

    #[test]
    fn force_color_and_clicolor_force_colour_a_pipe_unless_no_color() {
        use ColorChoice::*;
        assert!(Auto.enabled(false, &env(None, Some("1"), None)));
        assert!(Auto.enabled(false, &env(None, None, Some("1"))));
        assert!(!Auto.enabled(false, &env(None, Some(""), Some(""))));
        // NO_COLOR wins over both (uv's and ruff's order) …
        assert!(!Auto.enabled(true, &env(Some("1"), Some("1"), Some("1"))));
        // … and an explicit --color over everything.
        assert!(!Never.enabled(true, &env(None, Some("1"), Some("1"))));
    }

    #[test]
    fn columns_must_be_a_sensible_number() {
        assert_eq!(columns_var(Some("80")), Some(80));
        assert_eq!(columns_var(Some(" 120 ")), Some(120));
        assert_eq!(columns_var(Some("0")), None);
        assert_eq!(columns_var(Some("wide")), None);
        assert_eq!(columns_var(None), None);
    }
}
