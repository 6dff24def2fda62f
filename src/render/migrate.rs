//! `sk-migrate` output for people.

use owo_colors::OwoColorize;

use super::layout::{self, Cell, Grid};
use super::{Style, para, paths};
use crate::db::schema::tables::{self, Table};
use crate::migrate::{RunReport, Status, StatusReport};

fn version(v: Option<u32>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("V{v}"))
}

/// The run summary: a headline and a per-table table.
pub fn run_summary(r: &RunReport, style: &Style) -> String {
    let colour = style.colour;
    let mut out = String::new();
    let inserted: u64 = r.tables.iter().map(|t| t.inserted).sum();
    let left: u64 = r.tables.iter().map(|t| t.left_in_legacy).sum();
    out.push_str(&painted(&headline(r, inserted), style, |l| {
        match r.status {
            Status::Migrated => l.green().to_string(),
            Status::DryRun => l.yellow().to_string(),
            _ => l.to_string(),
        }
    }));
    let mut lines = Vec::new();
    if let Some(release) = &r.release {
        lines.push(super::release_line(release));
    }
    if let Some(scope) = &r.scope {
        lines.push(format!("scope:  {scope}"));
    }
    lines.push(format!(
        "legacy: {} ({})",
        r.legacy_db,
        version(r.legacy_schema_version)
    ));
    if let Some(db) = &r.scoped_db {
        lines.push(format!(
            "scoped: {db} ({})",
            version(r.scoped_schema_version)
        ));
    }
    out.push_str(&para(&lines.join("\n"), style));
    if !r.tables.is_empty() && r.legacy_schema_version.is_some() {
        out.push_str(&table_counts(r, style));
    }
    if left > 0 && r.status != Status::NoScope {
        let msg = format!(
            "{left} row(s) stay in legacy: their natural key or a required column is NULL. \
             They were not moved and are safe where they are."
        );
        out.push_str(&painted(&msg, style, |l| {
            if colour {
                l.yellow().to_string()
            } else {
                l.to_string()
            }
        }));
    }
    out.push_str(&para(&run_notes(r).join("\n"), style));
    out
}

/// `text` wrapped to the text width, each line coloured by `paint` when
/// the style colours (the layout measures the plain text).
fn painted(text: &str, style: &Style, paint: impl Fn(&str) -> String) -> String {
    layout::wrap(text, style.text_width(), "", "  ")
        .iter()
        .map(|l| {
            if style.colour {
                paint(l) + "\n"
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// The lines after the table: rows the cap guard held, late rows,
/// journal, backups.
fn run_notes(r: &RunReport) -> Vec<String> {
    let mut lines = held_notes(r);
    let late: u64 = r.tables.iter().map(|t| t.arrived_late).sum();
    if late > 0 {
        lines.push(format!(
            "{late} row(s) arrived in legacy while the move ran: left for the next `sk-migrate run`."
        ));
    }
    let divergent: u64 = r.tables.iter().map(|t| t.divergent).sum();
    if divergent > 0 {
        let kept = r
            .divergent_evidence
            .as_ref()
            .map_or_else(String::new, |p| format!(", kept whole in {p}"));
        lines.push(format!(
            "{divergent} legacy row(s) had a key already stored with another payload: \
             the stored row wins; the legacy copy was deleted{kept}."
        ));
    }
    if let Some(j) = &r.journal {
        lines.push(format!("journal: {j}"));
    }
    if r.audit_recovered > 0 {
        lines.push(format!(
            "journal: {} audit line(s) of an interrupted earlier run written now",
            r.audit_recovered
        ));
    }
    if let Some(why) = &r.audit_incomplete {
        lines.push(format!("audit incomplete: {why}"));
    }
    for b in &r.backups {
        lines.push(format!("backup: {}", crate::path_text::escaped(b)));
    }
    lines
}

/// One line per table whose rows the cap guard held back in legacy.
fn held_notes(r: &RunReport) -> Vec<String> {
    let mut lines = Vec::new();
    for c in r.tables.iter().filter(|c| c.held_by_cap > 0) {
        let cap = c
            .cap
            .map_or_else(|| "its cap".to_string(), |n| format!("its cap of {n}"));
        let past = match c.table {
            Table::Queue => "evicts the oldest events",
            _ => "refuses new bodies",
        };
        lines.push(format!(
            "{} {} row(s) stay in legacy: moving them would bring the scoped table within a \
             tenth of {cap} (`[sync] max_queue_size`), and at the cap spec-kitty {past}. \
             They move once the daemon has synced that table, or once `max_queue_size` is \
             raised: then run `sk-migrate run` again.",
            c.held_by_cap, c.table
        ));
    }
    lines
}

/// The run's headline.
fn headline(r: &RunReport, inserted: u64) -> String {
    let held: u64 = r.tables.iter().map(|t| t.held_by_cap).sum();
    match r.status {
        Status::NothingToDo if held > 0 => {
            format!("Nothing moved: {held} legacy row(s) wait for room in the scoped queue.")
        }
        Status::NoScope => format!(
            "No scope resolves (not logged in, or pass --scope): {} is the active queue, nothing to move.",
            r.legacy_db
        ),
        Status::NothingToDo => "Nothing to do: no legacy row is waiting to move.".to_string(),
        Status::Migrated => format!("Migrated {inserted} row(s) into the scoped queue."),
        Status::DryRun => format!("Dry run: {inserted} row(s) would move; nothing was written."),
    }
}

/// The per-table counts: a table that fits, else one block per table.
fn table_counts(r: &RunReport, style: &Style) -> String {
    let mut g = Grid::new(&[
        "Table",
        "Legacy before",
        "Inserted",
        "Already present",
        "Deleted from legacy",
        "Left in legacy",
    ]);
    for c in &r.tables {
        g.row(
            [
                c.table.to_string(),
                c.legacy_before.to_string(),
                c.inserted.to_string(),
                c.already_present.to_string(),
                c.deleted_from_legacy.to_string(),
                (c.left_in_legacy + c.held_by_cap).to_string(),
            ]
            .into_iter()
            .map(Cell::new)
            .collect(),
        );
    }
    g.right_from = Some(1);
    g.fit(style)
}

/// `sk-migrate status` for people; paths in the table are relative to the
/// home (`home_root`) or `~`. `-`: no such DB, table or schema.
pub fn status(r: &StatusReport, home_root: &std::path::Path, style: &Style) -> String {
    let mut lines = Vec::new();
    if let Some(release) = &r.release {
        lines.push(super::release_line(release));
    }
    match (&r.scope, r.scope_source) {
        (Some(s), Some(src)) => lines.push(format!("scope: {s} (from {src})")),
        _ => lines.push("scope: none (legacy queue is active)".to_string()),
    }
    let mut out = para(&lines.join("\n"), style);
    let mut g = Grid::new(&[
        "DB",
        "Path",
        "Exists",
        "Schema",
        tables::QUEUE.name(),
        tables::BODY_UPLOAD_QUEUE.name(),
        tables::BODY_UPLOAD_FAILURE_LOG.name(),
    ]);
    let mut dash = false;
    let mut row = |name: &str, d: &crate::migrate::DbStatus| {
        let mut n = |k: Table| {
            d.rows.get(&k).map_or_else(
                || {
                    dash = true;
                    "-".to_string()
                },
                |v| v.to_string(),
            )
        };
        let counts = [
            n(Table::Queue),
            n(Table::BodyUploadQueue),
            n(Table::BodyUploadFailureLog),
        ];
        dash |= d.schema_version.is_none();
        let mut cells = vec![
            Cell::new(name),
            Cell::new(paths::short_path(
                &d.path,
                home_root,
                style.user_home.as_deref(),
            )),
            Cell::new(if d.exists { "yes" } else { "no" }),
            Cell::new(version(d.schema_version)),
        ];
        cells.extend(counts.into_iter().map(Cell::new));
        g.row(cells);
    };
    row("legacy", &r.legacy);
    if let Some(s) = &r.scoped {
        row("scoped", s);
    }
    g.right_from = Some(4);
    // One row per DB; else one column per DB (fits 80 columns); else blocks.
    let view = g
        .table(style)
        .or_else(|| g.transposed().table(style))
        .unwrap_or_else(|| g.stacked(style));
    out.push_str(&view);
    out.push_str(&para(&status_notes(r, dash).join("\n"), style));
    out
}

/// The lines under the status table: the legend for `-`, what is pending,
/// and the rows no run moves (with why).
fn status_notes(r: &StatusReport, dash: bool) -> Vec<String> {
    let mut notes = Vec::new();
    if dash {
        notes.push("-: the DB does not exist, or has no such table or schema version".to_string());
    }
    if !r.pending_migrations.is_empty() {
        notes.push(format!(
            "pending migrations: {}",
            r.pending_migrations
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if r.rows_waiting > 0 {
        notes.push(format!(
            "{} legacy row(s) waiting: run `sk-migrate run`",
            r.rows_waiting
        ));
    }
    if r.rows_held_by_cap > 0 {
        notes.push(format!(
            "{} legacy row(s) wait for room: the scoped queue is within a tenth of the \
             release's cap (`[sync] max_queue_size`); once the daemon has synced it, or the \
             setting is raised, run `sk-migrate run` (`sk-doctor` says by how much)",
            r.rows_held_by_cap
        ));
    }
    for u in &r.rows_unmovable {
        let why = match u.why {
            crate::survey::queues::Unmovable::TableMissing { since, target } => format!(
                "the installed release's queue DBs are V{target}; a release with V{since} DBs reads them"
            ),
            crate::survey::queues::Unmovable::NullKey => {
                "a NULL natural key: no release can take them".to_string()
            }
        };
        notes.push(format!(
            "{} legacy row(s) in {} that no run moves ({why})",
            u.rows, u.table
        ));
    }
    if r.same_file {
        notes.push("the legacy and scoped DB are one file: nothing to move".to_string());
    }
    notes
}
