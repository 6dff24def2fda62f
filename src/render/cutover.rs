//! `sk-migrate run` on a project-store release, for people.

use super::layout::{Cell, Grid};
use super::{Style, para};
use crate::migrate::cutover::{CutoverReport, CutoverStatus};

/// The summary: what was consolidated, carried per project, quarantined.
pub fn run_summary(r: &CutoverReport, style: &Style) -> String {
    let head = match r.status {
        CutoverStatus::NothingToDo => {
            "Nothing to carry: no legacy source holds rows that no complete cutover carried."
        }
        CutoverStatus::DryRun => {
            "Dry run: the release's own preview of the cutover (nothing was written)."
        }
        CutoverStatus::Migrated | CutoverStatus::CarriedLate => {
            "Carried every legacy source across the project-store cutover."
        }
        CutoverStatus::LayoutPublished => {
            "Nothing to carry: switched the layout to project_only through the release's own \
             code, as its first live write would."
        }
    };
    let mut lines = vec![head.to_string()];
    if let Some(release) = &r.release {
        lines.push(super::release_line(release));
    }
    if let Some(id) = &r.migration_id {
        lines.push(format!("migration id: {id}"));
    }
    for s in &r.sources {
        lines.push(format!(
            "source: {} ({} rows, left unchanged)",
            s.path, s.rows
        ));
    }
    if r.migration_id.is_some() {
        lines.push(format!(
            "snapshot: {} events, {} body uploads{}",
            r.snapshot_events,
            r.snapshot_body_uploads,
            r.snapshot
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ));
    }
    if r.failure_log_not_carried > 0 {
        lines.push(format!(
            "not carried: {} failure-log row(s), diagnostics the release never delivers (they stay in the sources)",
            r.failure_log_not_carried
        ));
    }
    if r.left_in_sources > 0 {
        lines.push(format!(
            "left in the sources: {} row(s) whose natural key is NULL (not carried)",
            r.left_in_sources
        ));
    }
    if let Some(h) = &r.history {
        lines.push(history_line(h));
    }
    let mut out = para(&lines.join("\n"), style);
    if !r.projects.is_empty() {
        out.push_str(&projects_table(r, style));
    }
    let mut lines = Vec::new();
    if !r.quarantined.is_empty() {
        let list: Vec<String> = r
            .quarantined
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        lines.push(format!("quarantined by the release: {}", list.join(", ")));
    }
    if let Some(m) = &r.manifest {
        lines.push(format!(
            "manifest: {m} (phase {})",
            r.phase
                .as_ref()
                .map_or("unknown", crate::survey::layout::CutoverPhase::as_str)
        ));
    }
    out.push_str(&para(&lines.join("\n"), style));
    out
}

/// Rows carried per project: a table that fits, else one block per project.
fn projects_table(r: &CutoverReport, style: &Style) -> String {
    let mut g = Grid::new(&["Project", "Events", "Body uploads"]);
    for p in &r.projects {
        g.row(vec![
            Cell::new(&p.project_uuid),
            Cell::new(p.events.to_string()),
            Cell::new(p.body_uploads.to_string()),
        ]);
    }
    g.right_from = Some(1);
    g.fit(style)
}

/// What re-encoding the snapshot for the release's history upload did.
fn history_line(h: &crate::survey::history::HistoryEncoding) -> String {
    let mut line = format!(
        "history: {} of {} event(s) re-encoded with spec-kitty {}'s own _canonical_event_json ({} already so), as its `sync project-store-history --apply` demands of a sealed row",
        h.reencoded, h.events, h.release, h.already_canonical
    );
    let left: u64 = h.left.values().sum();
    if left > 0 {
        line.push_str(&format!(
            "; {left} left as they were (its encoder cannot take them: {})",
            reasons(&h.left)
        ));
    }
    let refused: u64 = h.not_deliverable.values().sum();
    if refused > 0 {
        line.push_str(&format!(
            "; {refused} its upload would still refuse ({})",
            reasons(&h.not_deliverable)
        ));
    }
    line
}

fn reasons(m: &std::collections::BTreeMap<String, u64>) -> String {
    m.iter()
        .map(|(r, n)| format!("{n} {r}"))
        .collect::<Vec<_>>()
        .join(", ")
}
