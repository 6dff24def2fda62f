//! Output for people (comfy-table, colour only when asked for) and programs
//! (JSON). Pure: what to colour, how wide a terminal is and where `~` is are
//! decided at the edge ([`crate::cli`]) and passed in as a [`Style`].

pub mod cutover;
pub mod doctor;
pub mod layout;
pub mod migrate;
pub mod paths;
pub mod progress;

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

    /// Width to wrap running text (headers, problems, fixes, warnings)
    /// to: the terminal's, else 80 columns.
    pub fn text_width(&self) -> usize {
        usize::from(self.width.unwrap_or(80).max(20))
    }
}

/// Whether to colour: only on a terminal, never with `NO_COLOR` set non-empty.
pub fn colour_enabled(is_terminal: bool, no_color: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(str::is_empty)
}

/// Running text: `text` (one line or more) wrapped at word boundaries to
/// the text width, continuation lines indented by two spaces.
pub fn para(text: &str, style: &Style) -> String {
    if text.is_empty() {
        return String::new();
    }
    text.trim_end_matches('\n')
        .split('\n')
        .map(|line| layout::block(line, style.text_width(), "", "  "))
        .collect()
}

/// Version of the JSON documents both tools print (`docs/json.md`): stated
/// here, at the edge, on every document ([`Document`]).
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// A JSON document: `schema_version`, then the fields of `body` (a report,
/// which does not carry the version itself).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Document<T> {
    schema_version: u32,
    #[serde(flatten)]
    body: T,
}

impl<T> Document<T> {
    pub fn new(body: T) -> Document<T> {
        Document {
            schema_version: JSON_SCHEMA_VERSION,
            body,
        }
    }
}

/// Serialise a report as the one JSON object on stdout, with its
/// `schema_version`.
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(&Document::new(value)).unwrap_or_else(|e| {
        // Serialising our own plain structs cannot fail; say so if it ever does.
        format!("{{\"error\":\"cannot serialise report: {e}\"}}")
    })
}

/// `release: spec-kitty 3.2.5 (db-v5, from --release)`, or unknown.
pub fn release_line(r: &crate::release::ReleaseView) -> String {
    match (&r.version, r.source, r.generation) {
        (Some(v), Some(src), Some(g)) => {
            format!("release: spec-kitty {v} ({}, from {src})", g.as_str())
        }
        _ => "release: unknown (see the warnings)".to_string(),
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
    fn text_width_is_the_terminals_else_80() {
        let w = |width| {
            Style {
                width,
                ..Style::plain()
            }
            .text_width()
        };
        assert_eq!(w(None), 80);
        assert_eq!(w(Some(200)), 200);
        assert_eq!(w(Some(60)), 60);
        assert_eq!(w(Some(10)), 20);
    }
}
