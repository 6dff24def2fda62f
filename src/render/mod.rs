//! Output for people (comfy-table, colour only when asked for) and programs
//! (JSON). Pure: what to colour, how wide a terminal is and where `~` is are
//! decided at the edge ([`crate::cli`]) and passed in as a [`Style`].

pub mod cutover;
pub mod doctor;
pub mod migrate;
pub mod paths;
pub mod progress;

use std::io::IsTerminal;

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ColumnConstraint, ContentArrangement, Table, Width};

/// How text for people looks. The default is plain, as wide as the content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Style {
    /// Emit ANSI colour. The table layout measures the text without it.
    pub colour: bool,
    /// Columns to fit in (the terminal's); `None`: as wide as the content.
    pub width: Option<u16>,
    /// The user's home directory, shown as `~` in tables.
    pub user_home: Option<String>,
}

impl Style {
    /// Plain text, no width limit: what a pipe gets.
    pub fn plain() -> Style {
        Style::default()
    }

    /// Width to wrap running text (problems, warnings) to: at most 80
    /// columns, less on a narrower terminal, never below 40.
    pub fn text_width(&self) -> usize {
        usize::from(self.width.unwrap_or(80).clamp(40, 80)) - 4
    }
}

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

/// A table in the house style, with a header row. comfy-table never looks
/// at the terminal itself: colour and width come from `style`, and cells are
/// coloured with comfy-table's own `Cell::fg` so widths are measured on the
/// text, not on its escape codes.
pub fn table(header: &[&str], style: &Style) -> Table {
    let mut t = Table::new();
    t.force_no_tty()
        .load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header.iter().copied());
    if style.colour {
        t.enforce_styling();
    }
    if let Some(w) = style.width {
        t.set_width(w);
    }
    t
}

/// Right-align the columns from `first` on: they hold numbers.
pub fn numbers_right(t: &mut Table, first: usize) {
    for c in t.column_iter_mut().skip(first) {
        c.set_cell_alignment(CellAlignment::Right);
    }
}

/// Never wrap column `index`: it is at least as wide as its widest cell
/// (names, statuses). Call after the rows are added.
pub fn keep_whole(t: &mut Table, index: usize) {
    let widest = t.column_max_content_widths().get(index).copied();
    if let (Some(w), Some(c)) = (widest, t.column_mut(index)) {
        // The boundary counts the cell padding, one space either side.
        let w = w.saturating_add(c.padding_width());
        c.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(w)));
    }
}

/// Serialise a report as the one JSON object on stdout.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| {
        // Serialising our own plain structs cannot fail; say so if it ever does.
        format!("{{\"error\":\"cannot serialise report: {e}\"}}")
    })
}

/// `release: spec-kitty 3.2.5 (db-v5, from --release)`, or unknown.
pub fn release_line(r: &crate::release::ReleaseView) -> String {
    match (&r.version, r.source, r.generation) {
        (Some(v), Some(src), Some(g)) => {
            format!("release: spec-kitty {v} ({}, from {src})\n", g.as_str())
        }
        _ => "release: unknown (see the warnings)\n".to_string(),
    }
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

    #[test]
    fn text_width_follows_narrow_terminals_only() {
        let w = |width| {
            Style {
                width,
                ..Style::plain()
            }
            .text_width()
        };
        assert_eq!(w(None), 76);
        assert_eq!(w(Some(200)), 76);
        assert_eq!(w(Some(60)), 56);
        assert_eq!(w(Some(10)), 36);
    }
}
