//! What each tool's `--help` ends with and its man page carries beyond the
//! options: examples, exit status, environment. Plain data, so the help
//! text and the man pages (`tests/it/man.rs`) say the same thing.

/// The closing sections of one tool's help and man page.
#[derive(Debug)]
pub struct ToolHelp {
    /// Command lines with what each does.
    pub examples: &'static [(&'static str, &'static str)],
    /// Exit codes with what each means for this tool (`docs/cli.md`).
    pub exit_status: &'static [(u8, &'static str)],
    /// Environment variables this tool reads beyond [`ENVIRONMENT`], with
    /// what each changes.
    pub more_environment: &'static [(&'static str, &'static str)],
    /// A closing paragraph.
    pub note: &'static str,
}

impl ToolHelp {
    /// Every variable this tool reads: [`ENVIRONMENT`], then its own.
    pub fn environment(&self) -> Vec<(&'static str, &'static str)> {
        ENVIRONMENT
            .iter()
            .chain(self.more_environment)
            .copied()
            .collect()
    }
}

/// The variables both tools read.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "SPEC_KITTY_HOME",
        "the spec-kitty home when --home is not given, for releases that honour it (the others keep ~/.spec-kitty; a warning says so)",
    ),
    (
        "HOME",
        "the user's home: ~/.spec-kitty by default, and `~` in paths shown",
    ),
    ("SK_RELEASE", "the spec-kitty release you run, as --release"),
    (
        "PATH",
        "where `spec-kitty` is found when --spec-kitty is not given (its release is detected from its package)",
    ),
    (
        "SPEC_KITTY_ENABLE_SAAS_SYNC",
        "as spec-kitty reads it: SaaS sync is on when it is 1, true, yes or on",
    ),
    (
        "SPEC_KITTY_SAAS_URL",
        "as spec-kitty reads it: the SaaS server a scope resolves against",
    ),
    (
        "NO_COLOR",
        "set and non-empty: no colour (unless --color always); wins over FORCE_COLOR and CLICOLOR_FORCE",
    ),
    (
        "FORCE_COLOR",
        "set and non-empty: colour even when not on a terminal (unless NO_COLOR or --color never)",
    ),
    ("CLICOLOR_FORCE", "as FORCE_COLOR"),
    (
        "COLUMNS",
        "the width tables fit when the output is not a terminal",
    ),
];

/// The widest example command that shares its line with what it does.
const EXAMPLE_COLUMN: usize = 36;

/// `--help`'s closing text: examples, exit status, the variables read.
pub fn after_help(tool: &str, h: &ToolHelp) -> String {
    let width = h
        .examples
        .iter()
        .map(|(c, _)| c.len())
        .filter(|w| *w <= EXAMPLE_COLUMN)
        .max()
        .unwrap_or(0);
    let mut out = String::from("Examples:\n");
    for (command, what) in h.examples {
        if command.len() > width {
            // Too long to share a line: what it does goes under it.
            out.push_str(&format!("  {command}\n  {:width$}  {what}\n", ""));
        } else {
            out.push_str(&format!("  {command:width$}  {what}\n"));
        }
    }
    out.push_str("\nExit status:\n");
    for (code, what) in h.exit_status {
        out.push_str(&format!("  {code:<3} {what}\n"));
    }
    let names: Vec<&str> = h.environment().iter().map(|(n, _)| *n).collect();
    out.push_str(&format!(
        "\nEnvironment: {} (`{tool} man | man -l -` says how each is read).\n",
        names.join(", ")
    ));
    if !h.note.is_empty() {
        out.push_str(&format!("\n{}\n", h.note));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_help_lists_examples_codes_and_variables() {
        let h = ToolHelp {
            examples: &[
                ("t run", "runs"),
                ("t run --long", "longer"),
                ("t run --a-very-long-option-that-takes-a-line", "alone"),
            ],
            exit_status: &[(0, "done"), (64, "usage")],
            more_environment: &[("A_MORE", "a")],
            note: "Never writes.",
        };
        let text = after_help("t", &h);
        assert!(text.contains("  t run         runs\n"), "{text}");
        assert!(text.contains("  64  usage\n"), "{text}");
        assert!(
            text.contains("that-takes-a-line\n                alone\n"),
            "{text}"
        );
        assert!(
            text.contains("Environment: SPEC_KITTY_HOME, HOME,"),
            "{text}"
        );
        assert!(text.contains(", COLUMNS, A_MORE ("), "{text}");
        assert!(text.ends_with("\nNever writes.\n"), "{text}");
        assert_eq!(text.matches("Examples").count(), 1);
    }
}
