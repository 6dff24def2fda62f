//! `sk-doctor` output for people.

use owo_colors::OwoColorize;

use crate::identity::FieldStatus;
use crate::report::{OwnerStatus, Preflight, Problem, QueueFacts, Report};

fn status_cell(s: FieldStatus, colour: bool) -> String {
    let (sym, word) = match s {
        FieldStatus::Match => ("✓", "match"),
        FieldStatus::Mismatch => ("✗", "mismatch"),
        FieldStatus::Unknown => ("?", "unknown"),
        FieldStatus::Info => ("·", "info"),
    };
    let text = format!("{sym} {word}");
    if !colour {
        return text;
    }
    match s {
        FieldStatus::Match => text.green().to_string(),
        FieldStatus::Mismatch => text.red().bold().to_string(),
        FieldStatus::Unknown => text.yellow().to_string(),
        FieldStatus::Info => text.dimmed().to_string(),
    }
}

fn or_dash(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "?".to_string())
}

fn queue_line(name: &str, q: &QueueFacts) -> String {
    if !q.exists {
        return format!("  {name:<7} {} (does not exist)\n", q.path);
    }
    if let Some(why) = &q.unreadable {
        return format!("  {name:<7} {} (unreadable: {why})\n", q.path);
    }
    if q.needs_recovery.is_some() {
        return format!(
            "  {name:<7} {} (holds an interrupted write; see warnings)\n",
            q.path
        );
    }
    if q.locked {
        return format!(
            "  {name:<7} {} (locked by another process: counts unknown)\n",
            q.path
        );
    }
    format!(
        "  {name:<7} {} (V{}): {} events, {} body uploads, {} failure-log rows\n",
        q.path,
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

/// The full doctor output: coherence table, then Queues, Daemon, Problems.
pub fn report(r: &Report, colour: bool) -> String {
    let mut out = String::new();
    out.push_str(&format!("spec-kitty home: {}\n", r.home));
    match (r.foreground.auth_scope.as_deref(), r.scope_source) {
        (Some(s), Some(src)) => out.push_str(&format!("scope: {s} (from {src})\n")),
        _ => out.push_str("scope: none (the legacy queue is active)\n"),
    }
    let mut t = super::table(&["Field", "Foreground", "Daemon", "Status"]);
    for row in &r.fields {
        t.add_row(vec![
            row.field.clone(),
            or_dash(&row.foreground),
            row.daemon.clone().unwrap_or_else(|| "-".to_string()),
            status_cell(row.status, colour),
        ]);
    }
    out.push_str(&t.to_string());
    out.push_str("\n\nQueues\n");
    out.push_str(&queue_line("active", &r.queues.active));
    if r.queues.legacy.path != r.queues.active.path {
        out.push_str(&queue_line("legacy", &r.queues.legacy));
    }
    if !r.queues.stranded_missions.is_empty() {
        let list: Vec<String> = r
            .queues
            .stranded_missions
            .iter()
            .map(|m| format!("{} ({})", m.mission_slug, m.body_uploads))
            .collect();
        out.push_str(&format!("  stranded missions: {}\n", list.join(", ")));
    }
    out.push_str("\nDaemon\n");
    let d = &r.daemon_owner;
    let status = match d.status {
        OwnerStatus::Absent => "absent (no daemon owns the queue)",
        OwnerStatus::Present => "present",
        OwnerStatus::Orphan => "orphan",
        OwnerStatus::Malformed => "malformed",
    };
    out.push_str(&format!("  owner record: {status} ({})\n", d.path));
    if let Some(rec) = &d.record {
        let yes_no = |b: Option<bool>, y: &str, n: &str| match b {
            Some(true) => y.to_string(),
            Some(false) => n.to_string(),
            None => "?".to_string(),
        };
        out.push_str(&format!(
            "  pid {} {}, port {}, executable {}, started {}\n",
            rec.pid,
            yes_no(d.pid_alive, "alive", "not running"),
            rec.port,
            yes_no(d.executable_exists, "exists", "missing"),
            rec.started_at
        ));
    }
    for o in &r.live_orphans {
        out.push_str(&format!(
            "  live orphan: port {} (pid {}, {})\n",
            o.port,
            o.pid.map_or("?".to_string(), |p| p.to_string()),
            o.package_version.as_deref().unwrap_or("version ?")
        ));
    }
    if !r.problems.is_empty() {
        out.push_str("\nProblems\n");
        for p in &r.problems {
            out.push_str(&problem_lines(p, colour, 76));
        }
    }
    if !r.warnings.is_empty() {
        out.push_str("\nWarnings\n");
        for w in &r.warnings {
            for (i, line) in wrap(&format!("! {w}"), 76, "  ").iter().enumerate() {
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
    out.push_str(&if colour {
        if r.ok {
            verdict.green().to_string()
        } else {
            verdict.red().bold().to_string()
        }
    } else {
        verdict
    });
    out.push('\n');
    out
}

/// The preflight diagnostic: fits 25 lines at 80 columns in the worst case.
pub fn preflight(p: &Preflight, colour: bool) -> String {
    if p.ok {
        return "preflight: ok, sync work may proceed\n".to_string();
    }
    let mut out = format!(
        "preflight: REFUSED, {} blocking problem(s); nothing was written\n",
        p.problems.len()
    );
    for pr in &p.problems {
        out.push_str(&problem_lines(pr, colour, 76));
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
