//! `sk-doctor` output for people.

use comfy_table::{Attribute, Cell, Color};
use owo_colors::OwoColorize;

use super::{Style, paths};
use crate::db::store::StoreFacts;
use crate::doctor::identity::FieldStatus;
use crate::doctor::report::{OwnerStatus, Preflight, Problem, QueueFacts, Report};

/// Columns below which the table stacks foreground over daemon in one
/// column: four columns of paths do not fit.
pub const NARROW_BELOW: u16 = 90;

fn status_text(s: FieldStatus) -> &'static str {
    match s {
        FieldStatus::Match => "✓ match",
        FieldStatus::Mismatch => "✗ mismatch",
        FieldStatus::Unknown => "? unknown",
        FieldStatus::Info => "· info",
    }
}

/// The widest status text; the Status column never gets narrower.
const STATUS_WIDTH: usize = 10;

/// Coloured by comfy-table (`Cell::fg`), which measures the plain text.
fn status_cell(s: FieldStatus) -> Cell {
    let cell = Cell::new(status_text(s));
    match s {
        FieldStatus::Match => cell.fg(Color::Green),
        FieldStatus::Mismatch => cell.fg(Color::Red).add_attribute(Attribute::Bold),
        FieldStatus::Unknown => cell.fg(Color::Yellow),
        FieldStatus::Info => cell.add_attribute(Attribute::Dim),
    }
}

/// The coherence table: one row per identity field. Paths are shown
/// relative to the home or `~`; below [`NARROW_BELOW`] columns foreground and
/// daemon share one column (one line when they are equal, else labelled).
/// Values too long for their column are folded between path components.
pub fn fields_table(r: &Report, style: &Style) -> String {
    let short = |v: &str| paths::short(v, &r.home, style.user_home.as_deref());
    let narrow = style.width.is_some_and(|w| w < NARROW_BELOW);
    let header: &[&str] = if narrow {
        &["Field", "Foreground / daemon", "Status"]
    } else {
        &["Field", "Foreground", "Daemon", "Status"]
    };
    let field_width = r.fields.iter().map(|f| f.field.chars().count()).max();
    let field_width = field_width.unwrap_or(0).max(header[0].len());
    let values_width = value_columns_width(style.width, field_width, narrow);
    let fold = |text: String| match values_width {
        Some(w) => paths::fold(&text, w),
        None => text,
    };
    let mut t = super::table(header, style);
    t.style_text_only();
    for row in &r.fields {
        let fg = row
            .foreground
            .as_deref()
            .map_or_else(|| "?".to_string(), short);
        let daemon = row.daemon.as_deref().map_or_else(|| "-".to_string(), short);
        let mut cells = vec![Cell::new(&row.field)];
        if !narrow {
            cells.extend([Cell::new(fold(fg)), Cell::new(fold(daemon))]);
        } else if fg == daemon {
            cells.push(Cell::new(fold(fg)));
        } else {
            let both = format!(
                "{}\n{}",
                fold(format!("fg: {fg}")),
                fold(format!("daemon: {daemon}"))
            );
            cells.push(Cell::new(both));
        }
        cells.push(status_cell(row.status));
        t.add_row(cells);
    }
    super::keep_whole(&mut t, 0);
    super::keep_whole(&mut t, header.len() - 1);
    t.to_string()
}

/// Room for the text of each value column when the table must fit `width`:
/// what the field and status columns, the borders (one per column plus one)
/// and the padding (two per column) leave, shared by one or two columns.
fn value_columns_width(width: Option<u16>, field_width: usize, narrow: bool) -> Option<usize> {
    let columns = if narrow { 3 } else { 4 };
    let fixed = field_width + STATUS_WIDTH + (columns + 1) + 2 * columns;
    let room = usize::from(width?).saturating_sub(fixed);
    Some(if narrow { room } else { room / 2 }.max(8))
}

/// What sk-doctor says when the home does not exist.
pub fn no_home(home: &str) -> String {
    format!("no spec-kitty home at {home}: nothing to check\n")
}

/// One queue's line; `path` is the queue's path as shown to people.
fn queue_line(name: &str, q: &QueueFacts, path: &str) -> String {
    if !q.exists {
        return format!("{name:<7} {path} (does not exist)");
    }
    if let Some(why) = &q.unreadable {
        return format!("{name:<7} {path} (unreadable: {why})");
    }
    if q.needs_recovery.is_some() {
        return format!("{name:<7} {path} (holds an interrupted write; see warnings)");
    }
    if q.locked {
        return format!("{name:<7} {path} (locked by another process: counts unknown)");
    }
    format!(
        "{name:<7} {path} (V{}): {} events, {} body uploads, {} failure-log rows",
        q.schema_version.unwrap_or(0),
        q.events,
        q.body_uploads,
        q.failure_log
    )
}

fn problem_lines(p: &Problem, colour: bool, width: usize) -> String {
    let code = serde_json::to_value(p.code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let head = format!("✗ {code}: {}", p.message);
    let mut out = String::new();
    for (i, line) in wrap(&head, width, "    ").iter().enumerate() {
        if i == 0 && colour {
            out.push_str(&format!("  {}\n", line.red()));
        } else {
            out.push_str(&format!("  {line}\n"));
        }
    }
    // Never wrapped: the fix is a command to copy as it stands.
    out.push_str(&format!("    fix: {}\n", p.remediation));
    out
}

/// Greedy word wrap to `width` columns; continuation lines get `indent`.
/// Words longer than a line (paths) stand alone rather than being cut.
pub fn wrap(text: &str, width: usize, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let prefix = if lines.is_empty() { "" } else { indent };
        if !line.is_empty()
            && prefix.len() + line.chars().count() + 1 + word.chars().count() > width
        {
            lines.push(format!("{prefix}{line}"));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let prefix = if lines.is_empty() { "" } else { indent };
        lines.push(format!("{prefix}{line}"));
    }
    lines
}

/// `text` wrapped to the style's text width, each line indented by two
/// spaces, continuation lines by `indent` more.
fn item(text: &str, style: &Style, indent: &str) -> String {
    wrap(text, style.text_width(), indent)
        .iter()
        .map(|l| format!("  {l}\n"))
        .collect()
}

/// The full doctor output: coherence table, then Queues, Daemon, Problems.
pub fn report(r: &Report, style: &Style) -> String {
    let user_home = style.user_home.as_deref();
    let mut out = String::new();
    out.push_str(&format!(
        "spec-kitty home: {} (relative paths below are under it)\n",
        paths::tilde(&r.home, user_home)
    ));
    out.push_str(&super::release_line(&r.release));
    match (
        r.foreground.auth_scope.as_deref(),
        r.scope_source,
        &r.project_stores,
    ) {
        (Some(s), Some(src), _) => out.push_str(&format!("scope: {s} (from {src})\n")),
        (_, _, Some(_)) => out.push_str("scope: none (no session login)\n"),
        _ => out.push_str("scope: none (the legacy queue is active)\n"),
    }
    out.push_str(&fields_table(r, style));
    match &r.project_stores {
        Some(stores) => {
            out.push_str("\n\nProject stores\n");
            out.push_str(&stores_section(r, stores, style));
        }
        None => {
            out.push_str("\n\nQueues\n");
            out.push_str(&queues_section(r, style));
        }
    }
    out.push_str("\nDaemon\n");
    out.push_str(&daemon_section(r, style));
    out.push_str(&findings_section(r, style));
    out
}

/// 3.2.6+: layout, each store's pending work, the legacy sources the
/// release's cutover would read, every cutover manifest.
fn stores_section(r: &Report, f: &StoreFacts, style: &Style) -> String {
    let short = |p: &str| paths::short(p, &r.home, style.user_home.as_deref());
    let mut out = item(&format!("layout: {}", f.layout_mode), style, "  ");
    if f.stores.is_empty() {
        out.push_str(&item("no project store yet", style, "  "));
    }
    for s in &f.stores {
        let line = match &s.unreadable {
            Some(why) => format!("{} (unreadable: {why})", s.project_uuid),
            None => format!(
                "{}: {} pending events, {} pending body uploads, {} journal entries",
                s.project_uuid, s.pending_events, s.pending_body_uploads, s.journal_entries
            ),
        };
        out.push_str(&item(&line, style, "    "));
    }
    for src in &f.legacy_sources {
        out.push_str(&item(
            &format!("legacy source {} ({} rows)", short(&src.path), src.rows),
            style,
            "    ",
        ));
    }
    for c in &f.cutovers {
        let mut line = format!(
            "cutover {}: {}, {} rows",
            c.migration_id, c.phase, c.total_rows
        );
        if !c.quarantine.is_empty() {
            let q: Vec<String> = c
                .quarantine
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            line.push_str(&format!(", quarantined {}", q.join(", ")));
        }
        if let Some(why) = &c.failure {
            line.push_str(&format!(" ({why})"));
        }
        out.push_str(&item(&line, style, "    "));
    }
    out
}

fn queues_section(r: &Report, style: &Style) -> String {
    let short = |p: &str| paths::short(p, &r.home, style.user_home.as_deref());
    let (active, legacy) = (&r.queues.active, &r.queues.legacy);
    let mut out = item(
        &queue_line("active", active, &short(&active.path)),
        style,
        "        ",
    );
    if legacy.path != active.path {
        out.push_str(&item(
            &queue_line("legacy", legacy, &short(&legacy.path)),
            style,
            "        ",
        ));
    }
    if !r.queues.stranded_missions.is_empty() {
        let list: Vec<String> = r
            .queues
            .stranded_missions
            .iter()
            .map(|m| format!("{} ({})", m.mission_slug, m.body_uploads))
            .collect();
        out.push_str(&item(
            &format!("stranded missions: {}", list.join(", ")),
            style,
            "  ",
        ));
    }
    out
}

fn daemon_section(r: &Report, style: &Style) -> String {
    let d = &r.daemon_owner;
    let status = match d.status {
        OwnerStatus::Absent => "absent (no daemon owns the queue)",
        OwnerStatus::Present => "present",
        OwnerStatus::Orphan => "orphan",
        OwnerStatus::Malformed => "malformed",
    };
    let path = paths::short(&d.path, &r.home, style.user_home.as_deref());
    let mut out = item(&format!("owner record: {status} ({path})"), style, "  ");
    if let Some(rec) = &d.record {
        let yes_no = |b: Option<bool>, y: &str, n: &str| match b {
            Some(true) => y.to_string(),
            Some(false) => n.to_string(),
            None => "?".to_string(),
        };
        let line = format!(
            "pid {} {}, port {}, executable {}, started {}",
            rec.pid,
            yes_no(d.pid_alive, "alive", "not running"),
            rec.port,
            yes_no(d.executable_exists, "exists", "missing"),
            rec.started_at
        );
        out.push_str(&item(&line, style, "  "));
    }
    for o in &r.live_orphans {
        out.push_str(&format!(
            "  live orphan: port {} (pid {}, {})\n",
            o.port,
            o.pid.map_or("?".to_string(), |p| p.to_string()),
            o.package_version.as_deref().unwrap_or("version ?")
        ));
    }
    out
}

/// Problems, warnings and the verdict.
fn findings_section(r: &Report, style: &Style) -> String {
    let colour = style.colour;
    let mut out = String::new();
    if !r.problems.is_empty() {
        out.push_str("\nProblems\n");
        for p in &r.problems {
            out.push_str(&problem_lines(p, colour, style.text_width()));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\nWarnings\n");
        for w in &r.warnings {
            for (i, line) in wrap(&format!("! {w}"), style.text_width(), "  ")
                .iter()
                .enumerate()
            {
                let line = if i == 0 && colour {
                    line.yellow().to_string()
                } else {
                    line.clone()
                };
                out.push_str(&format!("  {line}\n"));
            }
        }
    }
    let verdict = if r.ok {
        "Coherent: the sync boundary holds.".to_string()
    } else {
        format!(
            "Incoherent: {} problem(s). Run the fixes above, then sk-doctor again.",
            r.problems.len()
        )
    };
    out.push('\n');
    out.push_str(&match (colour, r.ok) {
        (false, _) => verdict,
        (true, true) => verdict.green().to_string(),
        (true, false) => verdict.red().bold().to_string(),
    });
    out.push('\n');
    out
}

/// The preflight diagnostic: fits 25 lines at 80 columns in the worst case.
pub fn preflight(p: &Preflight, style: &Style) -> String {
    if p.ok {
        return "preflight: ok, sync work may proceed\n".to_string();
    }
    let mut out = format!(
        "preflight: REFUSED, {} blocking problem(s); nothing was written\n",
        p.problems.len()
    );
    for pr in &p.problems {
        out.push_str(&problem_lines(pr, style.colour, style.text_width()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_keeps_lines_within_width_and_long_words_whole() {
        let lines = wrap("aaa bbb ccc ddd eee", 8, "  ");
        assert_eq!(lines, ["aaa bbb", "  ccc", "  ddd", "  eee"]);
        let lines = wrap("x /a/very/long/path/that/does/not/fit y", 10, "");
        assert_eq!(lines, ["x", "/a/very/long/path/that/does/not/fit", "y"]);
    }
}
