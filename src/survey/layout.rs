//! Names 3.2.6+ releases write in their project-store layout: the
//! machine-wide layout mode of `projects/.layout-generation.json` (`mode`:
//! `legacy`, `cutover_pending` or `project_only`; absent = `legacy`) and a
//! cutover manifest's `phase`. Read by `store` and `migrate::cutover`; this
//! file only names them. A name no release this crate knows writes is kept
//! as written (`Other`), so it is shown and reported as the release spelt it.

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

/// A cutover manifest's `phase` (`projects/.migration/<id>/manifest.json`),
/// in the order a cutover passes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutoverPhase {
    Inventoried,
    Planned,
    Copied,
    Held,
    Cutover,
    Restarted,
    Complete,
    Failed,
    /// A phase no release this crate knows writes, or `unknown` when a
    /// manifest names none.
    Other(String),
}

impl CutoverPhase {
    const NAMED: [CutoverPhase; 8] = [
        CutoverPhase::Inventoried,
        CutoverPhase::Planned,
        CutoverPhase::Copied,
        CutoverPhase::Held,
        CutoverPhase::Cutover,
        CutoverPhase::Restarted,
        CutoverPhase::Complete,
        CutoverPhase::Failed,
    ];

    /// The phase named `text` in a manifest.
    pub fn from_name(text: &str) -> CutoverPhase {
        CutoverPhase::NAMED
            .into_iter()
            .find(|p| p.as_str() == text)
            .unwrap_or_else(|| CutoverPhase::Other(text.to_string()))
    }

    /// The phase as the manifest spells it.
    pub fn as_str(&self) -> &str {
        match self {
            CutoverPhase::Inventoried => "inventoried",
            CutoverPhase::Planned => "planned",
            CutoverPhase::Copied => "copied",
            CutoverPhase::Held => "held",
            CutoverPhase::Cutover => "cutover",
            CutoverPhase::Restarted => "restarted",
            CutoverPhase::Complete => "complete",
            CutoverPhase::Failed => "failed",
            CutoverPhase::Other(text) => text,
        }
    }

    /// At or past the phase where the manifest's quarantine is final.
    pub fn quarantine_is_final(&self) -> bool {
        matches!(
            self,
            CutoverPhase::Cutover | CutoverPhase::Restarted | CutoverPhase::Complete
        )
    }
}

impl std::fmt::Display for CutoverPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CutoverPhase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
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

    #[test]
    fn a_phase_reads_and_serialises_as_the_manifest_spells_it() {
        for p in CutoverPhase::NAMED {
            assert_eq!(CutoverPhase::from_name(p.as_str()), p);
            assert_eq!(serde_json::to_value(&p).unwrap(), p.as_str());
        }
        let later = CutoverPhase::from_name("verifying");
        assert_eq!(later, CutoverPhase::Other("verifying".into()));
        assert_eq!(later.to_string(), "verifying");
        assert!(CutoverPhase::Restarted.quarantine_is_final());
        assert!(!CutoverPhase::Copied.quarantine_is_final());
    }
}
