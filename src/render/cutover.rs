//! `sk-migrate run` on a project-store release, for people.

use super::Style;
use crate::migrate::cutover::CutoverReport;

/// The summary: what was consolidated, carried per project, quarantined.
pub fn run_summary(r: &CutoverReport, style: &Style) -> String {
    let mut out = String::new();
    let head = match r.status {
        "nothing_to_do" => {
            "Nothing to carry: no legacy source holds rows that no complete cutover carried."
        }
        "dry_run" => "Dry run: the release's own preview of the cutover (nothing was written).",
        _ => "Carried every legacy source across the project-store cutover.",
    };
    out.push_str(head);
    out.push('\n');
    if let Some(release) = &r.release {
        out.push_str(&super::release_line(release));
    }
    if let Some(id) = &r.migration_id {
        out.push_str(&format!("migration id: {id}\n"));
    }
    for s in &r.sources {
        out.push_str(&format!(
            "source: {} ({} rows, left unchanged)\n",
            s.path, s.rows
        ));
    }
    if r.migration_id.is_some() {
        out.push_str(&format!(
            "snapshot: {} events, {} body uploads{}\n",
            r.snapshot_events,
            r.snapshot_body_uploads,
            r.snapshot
                .as_deref()
                .map(|p| format!(" ({p})"))
                .unwrap_or_default()
        ));
    }
    if r.failure_log_not_carried > 0 {
        out.push_str(&format!(
            "not carried: {} failure-log row(s), diagnostics the release never delivers (they stay in the sources)\n",
            r.failure_log_not_carried
        ));
    }
    if r.left_in_sources > 0 {
        out.push_str(&format!(
            "left in the sources: {} row(s) whose natural key is NULL (not carried)\n",
            r.left_in_sources
        ));
    }
    if !r.projects.is_empty() {
        out.push_str(&projects_table(r, style));
        out.push('\n');
    }
    if !r.quarantined.is_empty() {
        let list: Vec<String> = r
            .quarantined
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        out.push_str(&format!(
            "quarantined by the release: {}\n",
            list.join(", ")
        ));
    }
    if let Some(m) = &r.manifest {
        out.push_str(&format!(
            "manifest: {m} (phase {})\n",
            r.phase.as_deref().unwrap_or("?")
        ));
    }
    out
}

/// Rows carried per project.
fn projects_table(r: &CutoverReport, style: &Style) -> String {
    let mut t = super::table(&["Project", "Events", "Body uploads"], style);
    for p in &r.projects {
        t.add_row(vec![
            p.project_uuid.clone(),
            p.events.to_string(),
            p.body_uploads.to_string(),
        ]);
    }
    for col in 1..=2 {
        if let Some(c) = t.column_mut(col) {
            c.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    super::numbers_right(&mut t, 1);
    super::keep_whole(&mut t, 0);
    t.to_string()
}
