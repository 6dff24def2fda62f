//! The project-store part of the report (3.2.6+, pure): rows no cutover
//! covered (`cutover_pending`), rows that arrived after one
//! (`late_legacy_rows`), quarantined rows, and what the release will do
//! with what each store holds: deliver it, hold it as sealed history, or
//! fail to read it (`journal_undecodable`). See `docs/problems.md`.

use crate::survey::layout::{CutoverPhase, LayoutMode};
use crate::survey::stores;
use crate::survey::stores::{LegacySource, StoreFacts};

use super::{Problem, ProblemCode, plural};

use crate::path_text::escaped;
use crate::survey::carried::{Ledger, SourceLedger};

/// The release's own commands for sealed history (the same syntax in
/// 3.2.6, 3.2.6.1, 3.2.6.2 and 3.2.7: `sync project-store-history`).
pub const HISTORY_PREVIEW: &str = "spec-kitty sync project-store-history --json";
pub const HISTORY_CONFIRM: &str =
    "spec-kitty sync project-store-history --confirm-by <you> --idempotency-key <key> --json";
pub const HISTORY_APPLY: &str =
    "spec-kitty sync project-store-history --apply --history-action-id <action_id> --json";

/// The release's own refusal to upload the sealed history its cutover
/// wrote, word for word (`history_import/upload.py::_assert_history_authority`,
/// the `rejected_samples` of its upload report; measured by delivery at a
/// loopback fake on 3.2.6, 3.2.6.1, 3.2.6.2 and 3.2.7,
/// tests/system/cutover_delivery.rs).
pub const HISTORY_REFUSAL: &str = "history envelopes differ from the exact confirmed local rows";

/// The release's own status failure on a journal it cannot decode, word
/// for word (`sync status --check --json`, `project_store_diagnostic`).
pub const STATUS_FAILURE: &str =
    "project-store status read failed: journal payload document has an unsupported encoding";

/// Every project-store problem, in order: pending or late legacy rows,
/// quarantined rows, undecodable journals; what each store holds goes to
/// `warnings` (pure).
pub(super) fn store_problems(
    f: &StoreFacts,
    ledger: Option<&Ledger>,
    warnings: &mut Vec<String>,
) -> Vec<Problem> {
    let mut out = Vec::new();
    match ledger {
        Some(ledger) => uncovered_rows(f, ledger, &mut out, warnings),
        None => out.extend(path_pending(f)),
    }
    out.extend(quarantined(f));
    for s in &f.stores {
        held(s, &mut out, warnings);
    }
    out
}

/// Has some cutover of this home completed (so the release reads legacy
/// sources no more)?
fn cut_over(f: &StoreFacts) -> bool {
    f.layout_mode == LayoutMode::ProjectOnly
        || f.cutovers.iter().any(|c| c.phase == CutoverPhase::Complete)
}

fn source_list(sources: &[&SourceLedger]) -> String {
    sources
        .iter()
        .map(|s| {
            format!(
                "{} ({}, {})",
                escaped(&s.path),
                plural(s.late_events, "event", "events"),
                plural(s.late_body_uploads, "body upload", "body uploads")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows in no store and in no cutover, by natural key: `late_legacy_rows`
/// once a cutover completed, else `cutover_pending` (counting only them).
fn uncovered_rows(
    f: &StoreFacts,
    ledger: &Ledger,
    out: &mut Vec<Problem>,
    warnings: &mut Vec<String>,
) {
    for s in ledger.sources.iter().filter(|s| s.unreadable.is_some()) {
        warnings.push(format!(
            "the legacy source {} could not be read, so its rows are not classified: {}",
            escaped(&s.path),
            s.unreadable.as_deref().unwrap_or("")
        ));
    }
    let late: Vec<&SourceLedger> = ledger.sources.iter().filter(|s| s.late() > 0).collect();
    if late.is_empty() {
        return;
    }
    let rows: u64 = late.iter().map(|s| s.late()).sum();
    if cut_over(f) {
        out.push(late_problem(f, &late, rows, ledger.carried_count()));
        return;
    }
    out.push(pending_problem(f, &late, rows));
}

/// `late_legacy_rows`: rows that reached the sources after a complete cutover.
fn late_problem(f: &StoreFacts, late: &[&SourceLedger], rows: u64, carried: u64) -> Problem {
    {
        let writers: Vec<String> = late
            .iter()
            .filter_map(|s| f.legacy_writers.get(&s.path.display().to_string()))
            .cloned()
            .collect();
        let stop = if writers.is_empty() {
            "an older spec-kitty (CLI, daemon or CI job) still writes it; stop or upgrade it, then "
                .to_string()
        } else {
            format!("stop or upgrade {} first, then ", writers.join(", "))
        };
        Problem {
            code: ProblemCode::LateLegacyRows,
            message: format!(
                "{} reached legacy sources after the cutover and are in no project store: {}; \
                 the release never reads legacy sources again (layout {}), so they are not delivered. \
                 {} already carried are not counted.",
                plural(rows, "row", "rows"),
                source_list(late),
                f.layout_mode,
                plural(carried, "row", "rows"),
            ),
            fields: vec![],
            remediation: format!(
                "{stop}sk-migrate run  # carries the late rows into their project store through the release's own writer"
            ),
        }
    }
}

/// `cutover_pending`: rows no cutover covered, before any completed.
fn pending_problem(f: &StoreFacts, late: &[&SourceLedger], rows: u64) -> Problem {
    let failed: Vec<String> = f
        .cutovers
        .iter()
        .filter(|c| c.phase == CutoverPhase::Failed)
        .map(|c| {
            format!(
                " Cutover {} failed ({}); spec-kitty will not resume a failed id, and a new id re-checks the same destination rows.",
                c.migration_id,
                c.failure.as_deref().unwrap_or("no reason recorded")
            )
        })
        .collect();
    let pending: Vec<&LegacySource> = f
        .legacy_sources
        .iter()
        .filter(|s| late.iter().any(|l| l.path.display().to_string() == s.path))
        .collect();
    Problem {
        code: ProblemCode::CutoverPending,
        message: format!(
            "layout is {}: {} in {} legacy source(s) wait for the project-store cutover: {}.{}",
            f.layout_mode,
            plural(rows, "row", "rows"),
            late.len(),
            source_list(late),
            failed.concat()
        ),
        fields: vec![],
        remediation: format!(
            "sk-migrate run  # consolidates the sources so none is quarantined, then runs: {}",
            stores::cutover_command(&pending, "<id>")
        ),
    }
}

/// `cutover_pending` by path, when rows could not be classified.
fn path_pending(f: &StoreFacts) -> Option<Problem> {
    let pending = stores::pending_sources(f);
    if pending.is_empty() {
        return None;
    }
    let rows: u64 = pending.iter().map(|s| s.rows).sum();
    Some(Problem {
        code: ProblemCode::CutoverPending,
        message: format!(
            "layout is {}: {} in {} legacy source(s) wait for the project-store cutover: {}.",
            f.layout_mode,
            plural(rows, "row", "rows"),
            pending.len(),
            pending
                .iter()
                .map(|s| s.path.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        fields: vec![],
        remediation: format!(
            "sk-migrate run  # consolidates the sources so none is quarantined, then runs: {}",
            stores::cutover_command(&pending, "<id>")
        ),
    })
}

/// `rows_quarantined` of every complete cutover.
fn quarantined(f: &StoreFacts) -> Vec<Problem> {
    f.cutovers
        .iter()
        .filter(|c| c.phase == CutoverPhase::Complete && !c.quarantine.is_empty())
        .map(|c| {
            let by_reason: Vec<String> = c
                .quarantine
                .iter()
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            let file = std::path::Path::new(&c.path).with_file_name("quarantine.json");
            Problem {
                code: ProblemCode::RowsQuarantined,
                message: format!(
                    "cutover {} quarantined rows that will never be delivered: {} (listed in {})",
                    c.migration_id,
                    by_reason.join(", "),
                    escaped(&file)
                ),
                fields: vec![],
                remediation: format!(
                    "spec-kitty sync project-store-quarantine --migration-id {} --json  # inspect them",
                    c.migration_id
                ),
            }
        })
        .collect()
}

/// What the release will do with what one store holds.
fn held(s: &stores::ProjectStore, out: &mut Vec<Problem>, warnings: &mut Vec<String>) {
    if let Some(why) = &s.unreadable {
        warnings.push(format!(
            "the project store {} could not be read: {why}",
            s.path
        ));
        return;
    }
    if s.pending_events + s.pending_body_uploads > 0 {
        warnings.push(format!(
            "project {}: {} and {} wait for delivery; the release delivers them itself (`spec-kitty sync now`)",
            s.project_uuid,
            plural(s.pending_events, "event", "events"),
            plural(s.pending_body_uploads, "body upload", "body uploads"),
        ));
    }
    if s.sealed_history > 0 {
        warnings.push(sealed_warning(s));
    }
    if s.undecodable_journal > 0 {
        out.push(Problem {
            code: ProblemCode::JournalUndecodable,
            message: format!(
                "project {}: {} in {} are event JSON (as the cutover stored them) the release's journal cannot decode \
                 (it reads only payload_encoding base64 documents); the release's own \
                 `spec-kitty sync status --check --json` exits 2: \"{STATUS_FAILURE}\"",
                s.project_uuid,
                plural(s.undecodable_journal, "journal entry", "journal entries"),
                s.path,
            ),
            fields: vec![],
            remediation: format!(
                "no spec-kitty command re-encodes them: keep the store (the events are there), and \
                 preview them with `{HISTORY_PREVIEW}`; see docs/problems.md (journal_undecodable)"
            ),
        });
    }
}

/// What the release will do with a store's sealed history (pure). It
/// uploads the confirmed cohort whole or not at all, so the history is
/// deliverable only when every sealed row is one sk-migrate's cutover
/// re-encoded and its record does not refuse (`sealed_deliverable`).
fn sealed_warning(s: &stores::ProjectStore) -> String {
    let events = plural(s.sealed_history, "migrated event", "migrated events");
    if s.sealed_deliverable == s.sealed_history {
        return format!(
            "project {}: {events} held as sealed history: stored, and deliverable by the release after \
             its own preview / confirm / apply: `{HISTORY_PREVIEW}`, then `{HISTORY_CONFIRM}`, then \
             `{HISTORY_APPLY}` (a login, consent and an admitted target needed); sk-migrate's cutover \
             stored each as the event's canonical JSON the release's upload demands; see \
             docs/problems.md (sealed history)",
            s.project_uuid,
        );
    }
    let ours = if s.sealed_deliverable > 0 {
        format!(
            " ({} of them re-encoded by sk-migrate, but the upload takes the cohort whole)",
            s.sealed_deliverable
        )
    } else {
        String::new()
    };
    format!(
        "project {}: {events} held as sealed history: stored, and NOT deliverable by 3.2.6-3.2.7: their own \
         upload (`{HISTORY_APPLY}`, after `{HISTORY_CONFIRM}` with a login, consent and an admitted \
         target) refuses every row of the cohort: \"{HISTORY_REFUSAL}\" (it wants each row as \
         the event's canonical JSON, the release's cutover kept the legacy text){ours}. Nothing is lost: \
         keep the store; `{HISTORY_PREVIEW}` lists them; see docs/problems.md (sealed history)",
        s.project_uuid,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::carried::{Fate, LegacyRow, NaturalKey};
    use std::path::PathBuf;

    fn facts(mode: &str, late: u64, carried: u64) -> (StoreFacts, Ledger) {
        let path = PathBuf::from("/h/queue.db");
        let mut rows = Vec::new();
        for i in 0..late + carried {
            rows.push(LegacyRow {
                source: path.clone(),
                local_id: i as i64,
                key: NaturalKey::Queue {
                    event_id: format!("e{i}"),
                },
                fate: if i < carried {
                    Fate::Stored
                } else {
                    Fate::Late
                },
            });
        }
        let f = StoreFacts {
            layout_mode: LayoutMode::from_name(mode),
            legacy_sources: vec![LegacySource {
                path: "/h/queue.db".into(),
                rows: late + carried,
                carried: Some(carried),
                late: Some(late),
            }],
            ..StoreFacts::default()
        };
        let l = Ledger {
            sources: vec![SourceLedger {
                path,
                stored: carried,
                late_events: late,
                ..SourceLedger::default()
            }],
            rows,
            ..Ledger::default()
        };
        (f, l)
    }

    fn problems(f: &(StoreFacts, Ledger), w: &mut Vec<String>) -> Vec<Problem> {
        store_problems(&f.0, Some(&f.1), w)
    }

    fn codes(p: &[Problem]) -> Vec<ProblemCode> {
        p.iter().map(|p| p.code).collect()
    }

    #[test]
    fn after_the_cutover_only_late_rows_count_and_never_as_pending() {
        let mut w = Vec::new();
        let p = problems(&facts("project_only", 1, 40), &mut w);
        assert_eq!(codes(&p), [ProblemCode::LateLegacyRows]);
        assert!(
            p[0].message.starts_with("1 row reached"),
            "{}",
            p[0].message
        );
        assert!(
            p[0].message
                .contains("/h/queue.db (1 event, 0 body uploads)")
        );
        assert!(p[0].message.contains("40 rows already carried"));
        assert!(p[0].remediation.contains("sk-migrate run"));
    }

    #[test]
    fn the_known_writer_is_named_in_the_fix() {
        let mut f = facts("project_only", 2, 0);
        f.0.legacy_writers
            .insert("/h/queue.db".into(), "pid 77 (spec-kitty 3.2.5)".into());
        let p = problems(&f, &mut Vec::new());
        assert!(
            p[0].remediation.starts_with(
                "stop or upgrade pid 77 (spec-kitty 3.2.5) first, then sk-migrate run"
            ),
            "{}",
            p[0].remediation
        );
    }

    #[test]
    fn before_any_cutover_uncovered_rows_are_pending() {
        let p = problems(&facts("legacy", 3, 0), &mut Vec::new());
        assert_eq!(codes(&p), [ProblemCode::CutoverPending]);
        assert!(p[0].message.contains("3 rows in 1 legacy source(s)"));
    }

    #[test]
    fn carried_rows_alone_are_no_problem() {
        let mut w = Vec::new();
        assert!(problems(&facts("project_only", 0, 9), &mut w).is_empty());
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn sealed_history_is_a_warning_and_an_undecodable_journal_a_problem() {
        let mut f = facts("project_only", 0, 3);
        f.0.stores.push(stores::ProjectStore {
            project_uuid: "p".into(),
            path: "/h/projects/p/sync/sync.db".into(),
            journal_entries: 3,
            pending_events: 0,
            pending_body_uploads: 2,
            sealed_history: 3,
            sealed_deliverable: 0,
            undecodable_journal: 3,
            unreadable: None,
        });
        let mut w = Vec::new();
        let p = problems(&f, &mut w);
        assert_eq!(codes(&p), [ProblemCode::JournalUndecodable]);
        assert!(p[0].message.contains(STATUS_FAILURE));
        assert!(
            w.iter()
                .any(|w| w.contains("2 body uploads wait for delivery"))
        );
        let sealed = w.iter().find(|w| w.contains("sealed history")).unwrap();
        for cmd in [
            HISTORY_PREVIEW,
            HISTORY_CONFIRM,
            HISTORY_APPLY,
            HISTORY_REFUSAL,
        ] {
            assert!(sealed.contains(cmd), "{sealed}");
        }
        assert!(sealed.contains("NOT deliverable"), "{sealed}");
    }
}

#[cfg(test)]
mod sealed_tests {
    use super::*;

    fn with(sealed: u64, deliverable: u64) -> stores::ProjectStore {
        stores::ProjectStore {
            project_uuid: "p".into(),
            path: "/h/projects/p/sync/sync.db".into(),
            journal_entries: sealed,
            pending_events: 0,
            pending_body_uploads: 0,
            sealed_history: sealed,
            sealed_deliverable: deliverable,
            undecodable_journal: sealed,
            unreadable: None,
        }
    }

    #[test]
    fn history_sk_migrate_re_encoded_is_deliverable_through_the_release_commands() {
        let w = sealed_warning(&with(4, 4));
        assert!(
            w.contains("deliverable by the release") && !w.contains("NOT"),
            "{w}"
        );
        for cmd in [HISTORY_PREVIEW, HISTORY_CONFIRM, HISTORY_APPLY] {
            assert!(w.contains(cmd), "{w}");
        }
        assert!(!w.contains(HISTORY_REFUSAL), "{w}");
    }

    #[test]
    fn one_row_the_upload_refuses_makes_the_whole_cohort_undeliverable() {
        let w = sealed_warning(&with(4, 3));
        assert!(
            w.contains("NOT deliverable") && w.contains(HISTORY_REFUSAL),
            "{w}"
        );
        assert!(w.contains("3 of them re-encoded by sk-migrate"), "{w}");
        let w = sealed_warning(&with(4, 0));
        assert!(
            w.contains("NOT deliverable") && !w.contains("of them"),
            "{w}"
        );
    }
}
