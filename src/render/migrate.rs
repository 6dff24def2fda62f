//! `sk-migrate` output for people.

use owo_colors::OwoColorize;

use super::{Style, paths};
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
    out.push_str(&headline(r, inserted, colour));
    out.push('\n');
    if let Some(release) = &r.release {
        out.push_str(&super::release_line(release));
    }
    if let Some(scope) = &r.scope {
        out.push_str(&format!("scope:  {scope}\n"));
    }
    out.push_str(&format!(
        "legacy: {} ({})\n",
        r.legacy_db,
        version(r.legacy_schema_version)
    ));
    if let Some(db) = &r.scoped_db {
        out.push_str(&format!(
            "scoped: {db} ({})\n",
            version(r.scoped_schema_version)
        ));
    }
    if !r.tables.is_empty() && r.legacy_schema_version.is_some() {
        out.push_str(&table_counts(r, style));
        out.push('\n');
    }
    if left > 0 && r.status != Status::NoScope {
        let msg = format!(
            "{left} row(s) stay in legacy: their natural key or a required column is NULL. \
             They were not moved and are safe where they are."
        );
        out.push_str(&if colour {
            msg.yellow().to_string()
        } else {
            msg
        });
        out.push('\n');
    }
    let late: u64 = r.tables.iter().map(|t| t.arrived_late).sum();
    if late > 0 {
        out.push_str(&format!(
            "{late} row(s) arrived in legacy while the move ran: left for the next `sk-migrate run`.\n"
        ));
    }
    if let Some(j) = &r.journal {
        out.push_str(&format!("journal: {j}\n"));
    }
    if r.audit_recovered > 0 {
        out.push_str(&format!(
            "journal: {} audit line(s) of an interrupted earlier run written now\n",
            r.audit_recovered
        ));
    }
    if let Some(why) = &r.audit_incomplete {
        out.push_str(&format!("audit incomplete: {why}\n"));
    }
    for b in &r.backups {
        out.push_str(&format!("backup: {}\n", b.display()));
    }
    out
}

/// The run's headline, coloured by outcome when `colour`.
fn headline(r: &RunReport, inserted: u64, colour: bool) -> String {
    let headline = match r.status {
        Status::NoScope => format!(
            "No scope resolves (not logged in, or pass --scope): {} is the active queue, nothing to move.",
            r.legacy_db
        ),
        Status::NothingToDo => "Nothing to do: no legacy row is waiting to move.".to_string(),
        Status::Migrated => format!("Migrated {inserted} row(s) into the scoped queue."),
        Status::DryRun => format!("Dry run: {inserted} row(s) would move; nothing was written."),
    };
    if colour {
        match r.status {
            Status::Migrated => headline.green().to_string(),
            Status::DryRun => headline.yellow().to_string(),
            _ => headline,
        }
    } else {
        headline
    }
}

/// The per-table counts.
fn table_counts(r: &RunReport, style: &Style) -> String {
    let mut t = super::table(
        &[
            "Table",
            "Legacy before",
            "Inserted",
            "Already present",
            "Deleted from legacy",
            "Left in legacy",
        ],
        style,
    );
    for c in &r.tables {
        t.add_row(vec![
            c.table.to_string(),
            c.legacy_before.to_string(),
            c.inserted.to_string(),
            c.already_present.to_string(),
            c.deleted_from_legacy.to_string(),
            c.left_in_legacy.to_string(),
        ]);
    }
    super::numbers_right(&mut t, 1);
    super::keep_whole(&mut t, 0);
    t.to_string()
}

/// `sk-migrate status` for people.
/// `sk-migrate status` for people; paths in the table are relative to the
/// home (`home_root`) or `~`.
pub fn status(r: &StatusReport, home_root: &str, style: &Style) -> String {
    let mut out = String::new();
    if let Some(release) = &r.release {
        out.push_str(&super::release_line(release));
    }
    match (&r.scope, r.scope_source) {
        (Some(s), Some(src)) => out.push_str(&format!("scope: {s} (from {src})\n")),
        _ => out.push_str("scope: none (legacy queue is active)\n"),
    }
    let mut t = super::table(
        &[
            "DB",
            "Path",
            "Exists",
            "Schema",
            "queue",
            "body_upload_queue",
            "body_upload_failure_log",
        ],
        style,
    );
    let mut row = |name: &str, d: &crate::migrate::DbStatus| {
        let n = |k: &str| d.rows.get(k).map_or("-".to_string(), |v| v.to_string());
        t.add_row(vec![
            name.to_string(),
            paths::short(&d.path, home_root, style.user_home.as_deref()),
            if d.exists { "yes" } else { "no" }.to_string(),
            version(d.schema_version),
            n("queue"),
            n("body_upload_queue"),
            n("body_upload_failure_log"),
        ]);
    };
    row("legacy", &r.legacy);
    if let Some(s) = &r.scoped {
        row("scoped", s);
    }
    super::numbers_right(&mut t, 4);
    super::keep_whole(&mut t, 0);
    out.push_str(&t.to_string());
    out.push('\n');
    if !r.pending_migrations.is_empty() {
        out.push_str(&format!(
            "pending migrations: {}\n",
            r.pending_migrations.join(", ")
        ));
    }
    if r.rows_waiting > 0 {
        out.push_str(&format!(
            "{} legacy row(s) waiting: run `sk-migrate run`\n",
            r.rows_waiting
        ));
    }
    for u in &r.rows_unmovable {
        let why = match u.why {
            crate::db::Unmovable::TableMissing { since, target } => format!(
                "the installed release's queue DBs are V{target}; a release with V{since} DBs reads them"
            ),
            crate::db::Unmovable::NullKey => {
                "a NULL natural key: no release can take them".to_string()
            }
        };
        out.push_str(&format!(
            "{} legacy row(s) in {} that no run moves ({why})\n",
            u.rows, u.table
        ));
    }
    if r.same_file {
        out.push_str("the legacy and scoped DB are one file: nothing to move\n");
    }
    out
}
