//! `sk-doctor` output for people.

use std::path::Path;

use comfy_table::Color;
use owo_colors::OwoColorize;

use super::layout::{self, Cell, Grid, Look};
use super::{Style, paths};
use crate::doctor::identity::FieldStatus;
use crate::doctor::report::{OwnerStatus, Preflight, Problem, QueueFacts, Report, Step};
use crate::survey::stores::StoreFacts;

fn status_text(s: FieldStatus) -> &'static str {
    match s {
        FieldStatus::Match => "✓ match",
        FieldStatus::Mismatch => "✗ mismatch",
        FieldStatus::Unknown => "? unknown",
        FieldStatus::Info => "· info",
    }
}

/// Coloured by comfy-table (`Cell::fg`), which measures the plain text;
/// never folded.
fn status_cell(s: FieldStatus) -> Cell {
    let look = match s {
        FieldStatus::Match => Look {
            fg: Some(Color::Green),
            ..Look::default()
        },
        FieldStatus::Mismatch => Look {
            fg: Some(Color::Red),
            bold: true,
            ..Look::default()
        },
        FieldStatus::Unknown => Look {
            fg: Some(Color::Yellow),
            ..Look::default()
        },
        FieldStatus::Info => Look {
            dim: true,
            ..Look::default()
        },
    };
    Cell::whole(status_text(s), look)
}

/// The value columns as shown: `?` for a foreground value not discovered,
/// `-` for a value the daemon's owner record lacks.
fn shown(r: &Report, style: &Style) -> Vec<(String, String)> {
    let short = |v: &str| paths::short(v, &r.home, style.user_home.as_deref());
    r.fields
        .iter()
        .map(|row| {
            (
                row.foreground
                    .as_deref()
                    .map_or_else(|| "?".to_string(), short),
                row.daemon.as_deref().map_or_else(|| "-".to_string(), short),
            )
        })
        .collect()
}

/// The coherence table: one row per identity field, paths relative to the
/// home or `~`, folded between path components. Four columns when they fit;
/// else foreground and daemon share one (one line when equal, else `fg:`
/// and `daemon:` lines); else one block per field.
pub fn fields_table(r: &Report, style: &Style) -> String {
    let values = shown(r, style);
    let mut wide = Grid::new(&["Field", "Foreground", "Daemon", "Status"]);
    let mut merged = Grid::new(&["Field", "Foreground / daemon", "Status"]);
    for (row, (fg, daemon)) in r.fields.iter().zip(values) {
        let both = if fg == daemon {
            fg.clone()
        } else {
            format!("fg: {fg}\ndaemon: {daemon}")
        };
        wide.row(vec![
            Cell::new(row.field.as_str()),
            Cell::new(fg),
            Cell::new(daemon),
            status_cell(row.status),
        ]);
        merged.row(vec![
            Cell::new(row.field.as_str()),
            Cell::new(both),
            status_cell(row.status),
        ]);
    }
    let mut out = wide
        .table(style)
        .or_else(|| merged.table(style))
        .unwrap_or_else(|| wide.stacked(style));
    out.push_str(&legend(r, style));
    out
}

/// What the symbols the table uses mean, only those it uses.
fn legend(r: &Report, style: &Style) -> String {
    let has = |s: FieldStatus| r.fields.iter().any(|f| f.status == s);
    let mut out = String::new();
    let mut line = |text: &str| out.push_str(&layout::block(text, style.text_width(), "", "  "));
    if r.fields.iter().any(|f| f.foreground.is_none()) || has(FieldStatus::Unknown) {
        line(
            "? unknown: this CLI's value was not discovered, so it is not compared; \
             pass --spec-kitty PATH (the spec-kitty you run) or --foreground FILE to compare it",
        );
    }
    if r.fields.iter().any(|f| f.daemon.is_none()) {
        line(match r.daemon_owner.status {
            OwnerStatus::Absent => "-: no daemon owner record, so no daemon value",
            _ => "-: the daemon's owner record has no such value",
        });
    }
    if has(FieldStatus::Info) {
        line("· info: shown for reference; this release does not compare it");
    }
    out
}

/// What sk-doctor says when the home does not exist.
pub fn no_home(home: &impl std::fmt::Display) -> String {
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

/// A problem: its code and message, then its fix.
fn problem_lines(p: &Problem, style: &Style, explain: bool) -> String {
    let head = format!("✗ {}: {}", p.code.as_str(), p.message);
    let mut out = String::new();
    for (i, line) in layout::wrap(&head, style.text_width(), "  ", "      ")
        .iter()
        .enumerate()
    {
        if i == 0 && style.colour {
            out.push_str(&format!("{}\n", line.red()));
        } else {
            out.push_str(&format!("{line}\n"));
        }
    }
    out.push_str(&fix_lines(
        &p.steps,
        style.text_width(),
        "    fix: ",
        explain,
    ));
    out
}

/// The steps of a fix as lines a user can paste into a shell: each
/// command on its own line (continued with ` \` where it wraps, never
/// inside a word), with `# what it does` after it when `explain`; a step
/// no command does is a `#` comment. Every comment line starts with `#`.
fn fix_lines(steps: &[Step], width: usize, first: &str, explain: bool) -> String {
    let indent = " ".repeat(layout::width(first));
    let mut lines = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let prefix = if i == 0 { first } else { &indent };
        let comment_cont = format!("{indent}# ");
        let Some(argv) = &step.argv else {
            lines.extend(layout::wrap(
                &format!("# {}", step.what),
                width,
                prefix,
                &comment_cont,
            ));
            continue;
        };
        let mut cmd = command_lines(argv, width, prefix, &indent);
        if explain && let Some(last) = cmd.pop() {
            let first_word = step.what.split_whitespace().next().unwrap_or("");
            if layout::width(&last) + 4 + layout::width(first_word) <= width {
                cmd.extend(layout::wrap(
                    &step.what,
                    width,
                    &format!("{last}  # "),
                    &comment_cont,
                ));
            } else {
                cmd.push(last);
                cmd.extend(layout::wrap(
                    &step.what,
                    width,
                    &comment_cont,
                    &comment_cont,
                ));
            }
        }
        lines.extend(cmd);
    }
    lines.into_iter().map(|l| l + "\n").collect()
}

/// One command, its words shell-quoted, wrapped at words with ` \`
/// continuations (a word wider than the line overflows: a command is
/// never cut).
fn command_lines(argv: &[String], width: usize, prefix: &str, indent: &str) -> Vec<String> {
    let cont = format!("{indent}  ");
    let mut lines = Vec::new();
    let mut line = prefix.to_string();
    let mut empty = true;
    for word in argv.iter().map(|w| crate::doctor::report::quote(w)) {
        if !empty && layout::width(&line) + 1 + layout::width(&word) + 2 > width {
            lines.push(format!("{line} \\"));
            // A word too wide for the indent (a digest) starts further left.
            let indent = if layout::width(&cont) + layout::width(&word) + 2 > width {
                "    "
            } else {
                &cont
            };
            line = indent.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(&word);
        empty = false;
    }
    lines.push(line);
    lines
}

/// `text` wrapped to the style's text width, the first line indented by
/// two spaces, continuation lines by `indent` more.
fn item(text: &str, style: &Style, indent: &str) -> String {
    layout::block(text, style.text_width(), "  ", &format!("  {indent}"))
}

/// The full doctor output: coherence table, then Queues, Daemon, Problems.
pub fn report(r: &Report, style: &Style) -> String {
    let user_home = style.user_home.as_deref();
    let mut out = super::para(
        &format!(
            "spec-kitty home: {} (relative paths below are under it)",
            paths::tilde(&r.home, user_home)
        ),
        style,
    );
    out.push_str(&super::para(&super::release_line(&r.release), style));
    let scope = match (
        r.foreground.auth_scope.as_deref(),
        r.scope_source,
        &r.project_stores,
    ) {
        (Some(s), Some(src), _) => format!("scope: {s} (from {src})"),
        (_, _, Some(_)) => "scope: none (no session login)".to_string(),
        _ => "scope: none (the legacy queue is active)".to_string(),
    };
    out.push_str(&super::para(&scope, style));
    out.push_str(&fields_table(r, style));
    match &r.project_stores {
        Some(stores) => {
            out.push_str("\nProject stores\n");
            out.push_str(&stores_section(r, stores, style));
        }
        None => {
            out.push_str("\nQueues\n");
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
    let short = |p: &Path| paths::short_path(p, &r.home, style.user_home.as_deref());
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
    let path = paths::short_path(&d.path, &r.home, style.user_home.as_deref());
    let mut out = item(&format!("owner record: {status} ({path})"), style, "  ");
    if let Some(rec) = &d.record {
        let yes_no = |b: Option<bool>, y: &str, n: &str| match b {
            Some(true) => y.to_string(),
            Some(false) => n.to_string(),
            None => "unknown".to_string(),
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
        let line = format!(
            "live orphan: port {} (pid {}, {})",
            o.port,
            o.pid.map_or("unknown".to_string(), |p| p.to_string()),
            o.package_version.as_deref().unwrap_or("version unknown")
        );
        out.push_str(&item(&line, style, "  "));
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
            out.push_str(&problem_lines(p, style, true));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\nWarnings\n");
        for w in &r.warnings {
            for (i, line) in layout::wrap(&format!("! {w}"), style.text_width(), "  ", "    ")
                .iter()
                .enumerate()
            {
                if i == 0 && colour {
                    out.push_str(&format!("{}\n", line.yellow()));
                } else {
                    out.push_str(&format!("{line}\n"));
                }
            }
            // An advisory's steps: what the user may do about it.
            if let Some(a) = r.advisories.iter().find(|a| &a.message == w)
                && !a.steps.is_empty()
            {
                out.push_str(&fix_lines(
                    &a.steps,
                    style.text_width(),
                    "    you may: ",
                    true,
                ));
            }
        }
    }
    out.push('\n');
    for line in layout::wrap(&verdict(r), style.text_width(), "", "  ") {
        out.push_str(&match (colour, r.ok) {
            (false, _) => line,
            (true, true) => line.green().to_string(),
            (true, false) => line.red().bold().to_string(),
        });
        out.push('\n');
    }
    out
}

/// The closing line; a coherent verdict says how much it could not compare.
fn verdict(r: &Report) -> String {
    if !r.ok {
        return format!(
            "Incoherent: {} problem(s). Run the fixes above, then sk-doctor again.",
            r.problems.len()
        );
    }
    let unknown = r
        .fields
        .iter()
        .filter(|f| f.status == FieldStatus::Unknown)
        .count();
    match unknown {
        0 => "Coherent: the sync boundary holds.".to_string(),
        n => format!(
            "Coherent as far as known: no problem found, but {n} field(s) are unknown \
             and were not compared (see ? above)."
        ),
    }
}

/// The preflight diagnostic: fits 25 lines at 80 columns in the worst case.
pub fn preflight(p: &Preflight, style: &Style) -> String {
    if p.ok {
        return "preflight: ok, sync work may proceed\n".to_string();
    }
    let mut out = super::para(
        &format!(
            "preflight: REFUSED, {} blocking problem(s); nothing was written",
            p.problems.len()
        ),
        style,
    );
    for pr in &p.problems {
        out.push_str(&problem_lines(pr, style, false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrapped_fix_comment_stays_a_comment() {
        let steps = [Step::sk_doctor(
            &["retire", "--yes"],
            "the daemon is gone; spec-kitty starts a new one",
        )];
        assert_eq!(
            fix_lines(&steps, 60, "    fix: ", true),
            "    fix: sk-doctor retire --yes  # the daemon is gone;\n         # spec-kitty starts a new one\n"
        );
        let run = [Step::sk_migrate(&["run"], "move")];
        assert_eq!(
            fix_lines(&run, 40, "    fix: ", false),
            "    fix: sk-migrate run\n"
        );
    }

    #[test]
    fn a_long_command_continues_at_a_word_and_a_step_without_one_is_a_comment() {
        let steps = [
            Step::user("stop the writer"),
            Step::user_command(
                vec![
                    "chmod".into(),
                    "600".into(),
                    "/a/very/long/path/to/owner.json".into(),
                ],
                "x",
            ),
        ];
        assert_eq!(
            fix_lines(&steps, 40, "    fix: ", false),
            "    fix: # stop the writer\n         chmod 600 \\\n    /a/very/long/path/to/owner.json\n"
        );
    }
}
