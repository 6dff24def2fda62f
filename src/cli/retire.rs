//! `sk-doctor retire`: the confirmation dialogue around
//! [`owner::retire`](crate::doctor::owner::retire), the doctor's only write.

use std::io::{BufRead, IsTerminal};

use super::{ExitStatus, fail, print};
use crate::doctor::owner::{self, RetirePlan};
use crate::doctor::{self, RetireDecision};
use crate::home::Home;
use crate::path_text::PathText;
use crate::render;

const TOOL: &str = "sk-doctor";

/// Say an outcome: text, or `{"schema_version","status","message","removed"}`.
fn say(json: bool, status: &str, message: String, removed: Vec<PathText>) {
    if json {
        print(&render::json(&serde_json::json!({
            "status": status,
            "message": message,
            "removed": removed,
        })));
    } else {
        // Wrapped at words to the width, as every line for people is.
        let style = super::GlobalArgs::default().style(super::global::Stream::Stdout);
        print(render::para(&message, &style).trim_end());
    }
}

/// Paths for people: escaped, comma-separated.
fn listed(paths: &[PathText]) -> String {
    paths
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Say a refusal (status `refused`, nothing removed): exit 2.
fn refuse(json: bool, message: String) -> ExitStatus {
    say(json, "refused", message, vec![]);
    ExitStatus::Refused
}

/// Retire the orphan owner record of `home`, asking on a terminal unless `yes`.
pub fn run(home: &Home, yes: bool, dry_run: bool, json: bool) -> ExitStatus {
    let removal = match doctor::plan_retire(home) {
        Err(e) => return fail(TOOL, e),
        Ok(RetireDecision::NothingToRetire) => {
            say(
                json,
                "nothing_to_retire",
                format!(
                    "No owner record at {}: nothing to retire.",
                    crate::path_text::escaped(&home.owner_record())
                ),
                vec![],
            );
            return ExitStatus::Success;
        }
        Ok(RetireDecision::Malformed { reason }) => {
            return refuse(
                json,
                format!(
                    "Refused: the owner record {} is malformed ({reason}), so its pid cannot be trusted. Inspect it, then move it aside by hand.",
                    crate::path_text::escaped(&home.owner_record())
                ),
            );
        }
        Ok(RetireDecision::Plan(RetirePlan::Refuse(owner::Refusal::Live { pid }))) => {
            return refuse(
                json,
                format!(
                    "Refused: the recorded daemon (pid {pid}) is alive and its executable exists; it is not an orphan. Nothing was removed."
                ),
            );
        }
        Ok(RetireDecision::StaleState(stale)) => return retire_state(&stale, yes, dry_run, json),
        Ok(RetireDecision::Plan(RetirePlan::Remove(r))) => r,
    };
    let mut targets: Vec<PathText> = vec![removal.owner_record.as_path().into()];
    if let Some(s) = &removal.state_file {
        targets.push(s.into());
    }
    if dry_run {
        say(
            json,
            "dry_run",
            format!(
                "Would remove the orphan record of pid {}: {}",
                removal.pid,
                listed(&targets)
            ),
            targets,
        );
        return ExitStatus::Success;
    }
    let prompt = format!(
        "Remove the orphan owner record of pid {} ({})?",
        removal.pid,
        listed(&targets)
    );
    if !yes && let Some(why) = unconfirmed("retire the orphan record", &prompt) {
        return refuse(json, why);
    }
    match owner::retire(&removal) {
        Ok(removed) => {
            let removed: Vec<PathText> = removed.iter().map(PathText::from).collect();
            say(
                json,
                "retired",
                format!(
                    "Retired the orphan record of pid {}: removed {}",
                    removal.pid,
                    listed(&removed)
                ),
                removed,
            );
            ExitStatus::Success
        }
        Err(e) => fail(TOOL, e),
    }
}

/// No owner record, only a stale `sync-daemon` state file: remove it (with
/// `--yes`, or confirmed on a terminal). Never signals anything.
fn retire_state(stale: &owner::StaleState, yes: bool, dry_run: bool, json: bool) -> ExitStatus {
    let target = PathText::from(&stale.path);
    let reason = &stale.reason;
    if dry_run {
        let message = format!("Would remove the stale daemon state file {target} ({reason})");
        say(json, "dry_run", message, vec![target]);
        return ExitStatus::Success;
    }
    let prompt = format!("Remove the stale daemon state file {target} ({reason})?");
    if !yes && let Some(why) = unconfirmed("remove the stale state file", &prompt) {
        return refuse(json, why);
    }
    match owner::retire_state(stale) {
        Ok(true) => {
            let message = format!("Removed the stale daemon state file {target} ({reason})");
            say(json, "retired", message, vec![target]);
            ExitStatus::Success
        }
        Ok(false) => {
            let message = format!("{target} is already gone.");
            say(json, "nothing_to_retire", message, vec![]);
            ExitStatus::Success
        }
        Err(e) => fail(TOOL, e),
    }
}

/// Ask `prompt` on the terminal; without one nobody can confirm (`what` is
/// what `--yes` would do). `Some(why)` when not confirmed.
fn unconfirmed(what: &str, prompt: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return Some(format!(
            "Refused: not on a terminal, so nobody can confirm; pass --yes to {what}."
        ));
    }
    stderr_text!("{prompt} [y/N] ");
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        None
    } else {
        Some("Nothing removed.".to_string())
    }
}
