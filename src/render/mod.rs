//! Output for people (comfy-table, colour on a terminal only) and programs (JSON).

pub mod cutover;
pub mod doctor;
pub mod migrate;

use std::io::IsTerminal;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

/// Whether to colour: only on a terminal, never with `NO_COLOR` set non-empty.
pub fn colour_enabled(is_terminal: bool, no_color: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(str::is_empty)
}

/// [`colour_enabled`] for stdout and the process environment.
pub fn colour_for_stdout() -> bool {
    colour_enabled(
        std::io::stdout().is_terminal(),
        std::env::var("NO_COLOR").ok().as_deref(),
    )
}

/// A table in the house style, with a header row.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    t
}

/// Serialise a report as the one JSON object on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        // Serialising our own plain structs cannot fail; say so if it ever does.
        format!("{{\"error\":\"cannot serialise report: {e}\"}}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_terminal_without_no_color() {
        assert!(colour_enabled(true, None));
        assert!(colour_enabled(true, Some("")));
        assert!(!colour_enabled(true, Some("1")));
        assert!(!colour_enabled(false, None));
    }
}
