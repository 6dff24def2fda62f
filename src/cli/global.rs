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
    /// On a terminal, unless `NO_COLOR` is set
    #[default]
    Auto,
    /// Always, even piped and with `NO_COLOR`
    Always,
    /// Never
    Never,
}

impl ColorChoice {
    /// Whether to colour a stream. `NO_COLOR` (set, non-empty) wins over
    /// `auto` only: an explicit `always` is obeyed.
    pub fn enabled(self, is_terminal: bool, no_color: Option<&str>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => crate::render::colour_enabled(is_terminal, no_color),
        }
    }
}

/// The options `sk-doctor` and `sk-migrate` share; valid before or after a
/// subcommand.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// spec-kitty home (default: $SPEC_KITTY_HOME, else ~/.spec-kitty)
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Print one JSON object on stdout instead of text
    #[arg(long, global = true)]
    pub json: bool,
    /// Colour the output: auto (a terminal without NO_COLOR), always, never
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
    #[arg(long = "spec-kitty", global = true, value_name = "PATH")]
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

    /// How text for `stream` looks, from `--color`, `NO_COLOR`, whether the
    /// stream is a terminal, `$COLUMNS` (else the terminal's width) and `$HOME`.
    pub fn style(&self, stream: Stream) -> Style {
        let is_terminal = match stream {
            Stream::Stdout => std::io::stdout().is_terminal(),
            Stream::Stderr => std::io::stderr().is_terminal(),
        };
        let no_color = std::env::var("NO_COLOR").ok();
        let user_home = std::env::var("HOME").ok().filter(|h| !h.is_empty());
        Style {
            colour: self.color.enabled(is_terminal, no_color.as_deref()),
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

#[cfg(unix)]
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

#[cfg(not(unix))]
fn terminal_width(_stream: Stream, _is_terminal: bool) -> Option<u16> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_wins_over_auto_only() {
        use ColorChoice::*;
        assert!(Auto.enabled(true, None));
        assert!(!Auto.enabled(true, Some("1")));
        assert!(!Auto.enabled(false, None));
        assert!(Always.enabled(false, Some("1")));
        assert!(!Never.enabled(true, None));
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
