//! The machine-wide layout mode 3.2.6+ releases write in
//! `projects/.layout-generation.json` (`mode`): `legacy`, `cutover_pending`
//! or `project_only` (absent = `legacy`). Read by `store`; this file only
//! names the modes.

use serde::Serialize;

/// A layout mode, as the release writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LayoutMode {
    /// Legacy queue DBs are the queue (also: no layout file).
    #[default]
    Legacy,
    /// A cutover began and has not completed.
    CutoverPending,
    /// Project stores only: the release reads no legacy source again.
    ProjectOnly,
    /// A mode no release this crate knows writes (a later one's): kept as
    /// written, so it is shown and reported as the release spelt it.
    Other(String),
}

impl LayoutMode {
    /// The mode named `text` in the layout file.
    pub fn from_name(text: &str) -> LayoutMode {
        match text {
            "legacy" => LayoutMode::Legacy,
            "cutover_pending" => LayoutMode::CutoverPending,
            "project_only" => LayoutMode::ProjectOnly,
            other => LayoutMode::Other(other.to_string()),
        }
    }

    /// The mode as the layout file spells it.
    pub fn as_str(&self) -> &str {
        match self {
            LayoutMode::Legacy => "legacy",
            LayoutMode::CutoverPending => "cutover_pending",
            LayoutMode::ProjectOnly => "project_only",
            LayoutMode::Other(text) => text,
        }
    }
}

impl std::fmt::Display for LayoutMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LayoutMode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mode_reads_and_serialises_as_the_release_spells_it() {
        for text in [
            "legacy",
            "cutover_pending",
            "project_only",
            "project_only_v2",
        ] {
            let mode = LayoutMode::from_name(text);
            assert_eq!(mode.as_str(), text);
            assert_eq!(serde_json::to_value(&mode).unwrap(), text);
        }
        assert_eq!(
            LayoutMode::from_name("project_only"),
            LayoutMode::ProjectOnly
        );
        assert!(matches!(LayoutMode::from_name("x"), LayoutMode::Other(_)));
    }
}
