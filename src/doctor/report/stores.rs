//! The project-store part of the report (3.2.6+, pure): rows no cutover
//! covered (`cutover_pending`), rows that arrived after one
//! (`late_legacy_rows`), quarantined rows, and what the release will do
//! with what each store holds: deliver it, hold it as sealed history, or
//! fail to read it (`journal_undecodable`). Quarantined rows, sealed history
//! and the undecodable journal are advisories: no user action changes them
//! (`sk-doctor explain journal_undecodable`).

use crate::survey::layout::{CutoverPhase, LayoutMode};
use crate::survey::stores;
use crate::survey::stores::StoreFacts;

use super::{Advisory, AdvisoryCode, Facts, Problem, ProblemCode, Step, plural};

use crate::path_text::escaped;
use crate::survey::carried::{Ledger, SourceLedger};

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

/// Every project-store problem: pending or late legacy rows (pure).
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
    out
}

/// What no user action changes, in order: quarantined rows, then per store
/// its sealed history and undecodable journal; each advisory's message and
/// what each store holds go to `warnings` too (pure).
pub(super) fn store_advisories(
    f: &StoreFacts,
    facts: &Facts,
    warnings: &mut Vec<String>,
) -> Vec<Advisory> {
    let mut out = quarantined(f);
    for s in &f.stores {
        held(s, facts, &mut out, warnings);
    }
    warnings.extend(out.iter().map(|a| a.message.clone()));
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
            "stop or upgrade the older spec-kitty (CLI, daemon or CI job) that still writes the legacy sources"
                .to_string()
        } else {
            format!(
                "stop or upgrade {}, which still writes a legacy source",
                writers.join(", ")
            )
        };
        Problem::new(
            ProblemCode::LateLegacyRows,
            format!(
                "{} reached legacy sources after the cutover and are in no project store: {}; \
                 the release never reads legacy sources again (layout {}), so they are not delivered. \
                 {} already carried are not counted.",
                plural(rows, "row", "rows"),
                source_list(late),
                f.layout_mode,
                plural(carried, "row", "rows"),
            ),
            vec![],
            vec![
                Step::user(stop),
                Step::sk_migrate(
                    &["run"],
                    "carry the late rows into their project store through the release's own writer",
                ),
            ],
        )
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
    Problem::new(
        ProblemCode::CutoverPending,
        format!(
            "layout is {}: {} in {} legacy source(s) wait for the project-store cutover: {}.{}",
            f.layout_mode,
            plural(rows, "row", "rows"),
            late.len(),
            source_list(late),
            failed.concat()
        ),
        vec![],
        vec![cutover_step()],
    )
}

/// `sk-migrate run` before any cutover.
fn cutover_step() -> Step {
    Step::sk_migrate(
        &["run"],
        "consolidate the legacy sources so none is quarantined, then run the release's own \
         cutover (`spec-kitty sync project-store-migrate`) on them",
    )
}

/// `cutover_pending` by path, when rows could not be classified.
fn path_pending(f: &StoreFacts) -> Option<Problem> {
    let pending = stores::pending_sources(f);
    if pending.is_empty() {
        return None;
    }
    let rows: u64 = pending.iter().map(|s| s.rows).sum();
    Some(Problem::new(
        ProblemCode::CutoverPending,
        format!(
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
        vec![],
        vec![cutover_step()],
    ))
}

/// `rows_quarantined` of every complete cutover: the release never
/// delivers them, and no command of it or ours changes that.
fn quarantined(f: &StoreFacts) -> Vec<Advisory> {
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
            Advisory {
                code: AdvisoryCode::RowsQuarantined,
                message: format!(
                    "cutover {} quarantined rows the release will never deliver: {} (listed in {}); \
                     they stay in the legacy sources and the cutover's snapshots, unchanged",
                    c.migration_id,
                    by_reason.join(", "),
                    escaped(&file)
                ),
                steps: vec![Step::spec_kitty(
                    &[
                        "sync",
                        "project-store-quarantine",
                        "--migration-id",
                        &c.migration_id,
                        "--json",
                    ],
                    "list them, as the release recorded them",
                )],
            }
        })
        .collect()
}

/// What the release will do with what one store holds.
fn held(
    s: &stores::ProjectStore,
    facts: &Facts,
    out: &mut Vec<Advisory>,
    warnings: &mut Vec<String>,
) {
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
        out.push(sealed_advisory(s, facts));
    }
    if s.undecodable_journal > 0 {
        out.push(Advisory {
            code: AdvisoryCode::JournalUndecodable,
            message: format!(
                "project {}: spec-kitty's own `sync status --check` fails on this store (\"{STATUS_FAILURE}\"), \
                 a defect of the release that no command clears: its status reads every journal entry as a \
                 base64 document, and its cutover stores {} as plain event JSON, which its history upload \
                 requires; the events are stored and nothing is lost. sk-doctor --check and preflight do \
                 not fail on it",
                s.project_uuid,
                plural(s.undecodable_journal, "journal entry", "journal entries"),
            ),
            steps: vec![],
        });
    }
}

/// Who confirms a history upload: the login's email, else the home's owner.
fn confirmer(facts: &Facts) -> String {
    facts
        .foreground
        .auth_principal
        .clone()
        .or_else(|| facts.home_owner.as_ref().map(|(name, _, _)| name.clone()))
        .unwrap_or_else(|| "spec-kitty-user".to_string())
}

/// The release's own preview, confirm and apply of a store's sealed
/// history, every value filled in: the confirmer, a fresh idempotency key,
/// and the action id the release derives from them.
fn history_steps(s: &stores::ProjectStore, facts: &Facts) -> Vec<Step> {
    let key = &facts.invocation.idempotency_key;
    let action = super::history_action_id(&s.project_uuid, key);
    let who = confirmer(facts);
    let within = "in the project's checkout";
    vec![
        Step::spec_kitty(
            &["sync", "opt-in"],
            format!(
                "{within}: consent to sync it (the release confirms nothing without it; needs a login)"
            ),
        ),
        Step::spec_kitty(
            &["sync", "project-store-history", "--json"],
            format!("{within}: preview the migrated events the release would upload"),
        ),
        Step::spec_kitty(
            &[
                "sync",
                "project-store-history",
                "--confirm-by",
                &who,
                "--idempotency-key",
                key,
                "--json",
            ],
            format!("{within}: confirm exactly that preview for upload, as {who}"),
        ),
        Step::spec_kitty(
            &[
                "sync",
                "project-store-history",
                "--apply",
                "--history-action-id",
                &action,
                "--json",
            ],
            format!("{within}: upload it (the release names this action id for that key)"),
        ),
    ]
}

/// What the release will do with a store's sealed history (pure). It
/// uploads the confirmed cohort whole or not at all, so the history is
/// deliverable only when every sealed row is one sk-migrate's cutover
/// re-encoded and its record does not refuse (`sealed_deliverable`).
fn sealed_advisory(s: &stores::ProjectStore, facts: &Facts) -> Advisory {
    let events = plural(s.sealed_history, "migrated event", "migrated events");
    let (message, steps) = if s.sealed_deliverable == s.sealed_history {
        (
            format!(
                "project {}: {events} held as sealed history: stored, and deliverable by the release \
                 once you consent and confirm (its own preview, confirm and upload; the steps below, \
                 in a checkout of that project)",
                s.project_uuid,
            ),
            history_steps(s, facts),
        )
    } else {
        let ours = if s.sealed_deliverable > 0 {
            format!(
                " ({} of them re-encoded by sk-migrate, but the upload takes them all or none)",
                s.sealed_deliverable
            )
        } else {
            String::new()
        };
        (
            format!(
                "project {}: {events} held as sealed history: stored, and NOT deliverable by 3.2.6-3.2.7: \
                 their own upload refuses every one: \"{HISTORY_REFUSAL}\" (the release's cutover kept \
                 the legacy text, its upload wants its own canonical form){ours}. Nothing is lost: \
                 keep the store",
                s.project_uuid,
            ),
            vec![Step::spec_kitty(
                &["sync", "project-store-history", "--json"],
                "in a checkout of the project: list them",
            )],
        )
    };
    Advisory {
        code: AdvisoryCode::SealedHistory,
        message,
        steps,
    }
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
            legacy_sources: vec![stores::LegacySource {
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
                "stop or upgrade pid 77 (spec-kitty 3.2.5), which still writes a legacy source; then sk-migrate run"
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

    fn advisories(f: &StoreFacts, w: &mut Vec<String>) -> Vec<Advisory> {
        let mut facts = crate::doctor::report::tests::facts();
        facts.invocation.idempotency_key = "sk-doctor-k".into();
        store_advisories(f, &facts, w)
    }

    #[test]
    fn sealed_history_and_an_undecodable_journal_are_advisories_never_problems() {
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
        assert!(problems(&f, &mut w).is_empty());
        let a = advisories(&f.0, &mut w);
        let codes: Vec<AdvisoryCode> = a.iter().map(|a| a.code).collect();
        assert_eq!(
            codes,
            [
                AdvisoryCode::SealedHistory,
                AdvisoryCode::JournalUndecodable
            ]
        );
        assert!(a[1].message.contains(STATUS_FAILURE), "{}", a[1].message);
        assert!(a[1].message.contains("a defect of the release"));
        assert!(a[1].steps.is_empty());
        assert!(
            w.iter()
                .any(|w| w.contains("2 body uploads wait for delivery"))
        );
        assert!(a[0].message.contains("NOT deliverable"), "{}", a[0].message);
        assert!(a[0].message.contains(HISTORY_REFUSAL));
        for x in &a {
            assert!(w.contains(&x.message), "{w:?}");
        }
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

    fn sealed(s: &stores::ProjectStore) -> Advisory {
        let mut facts = crate::doctor::report::tests::facts();
        facts.invocation.idempotency_key = "sk-doctor-k".into();
        sealed_advisory(s, &facts)
    }

    #[test]
    fn deliverable_history_comes_with_the_releases_commands_every_value_filled_in() {
        let a = sealed(&with(4, 4));
        assert!(
            a.message.contains("deliverable by the release") && !a.message.contains("NOT"),
            "{}",
            a.message
        );
        let argv: Vec<Vec<String>> = a.steps.iter().map(|s| s.argv.clone().unwrap()).collect();
        assert_eq!(argv[0], ["spec-kitty", "sync", "opt-in"]);
        assert_eq!(
            argv[1],
            ["spec-kitty", "sync", "project-store-history", "--json"]
        );
        assert_eq!(
            argv[2],
            [
                "spec-kitty",
                "sync",
                "project-store-history",
                "--confirm-by",
                "a@b",
                "--idempotency-key",
                "sk-doctor-k",
                "--json"
            ]
        );
        assert_eq!(
            argv[3][5],
            crate::doctor::report::history_action_id("p", "sk-doctor-k")
        );
        for s in &a.steps {
            let text = s.command().unwrap();
            assert!(!text.contains('<'), "a placeholder: {text}");
        }
    }

    #[test]
    fn one_row_the_upload_refuses_makes_the_whole_cohort_undeliverable() {
        let a = sealed(&with(4, 3));
        assert!(
            a.message.contains("NOT deliverable") && a.message.contains(HISTORY_REFUSAL),
            "{}",
            a.message
        );
        assert!(a.message.contains("3 of them re-encoded by sk-migrate"));
        assert_eq!(a.steps.len(), 1, "only the listing: {:?}", a.steps);
        let a = sealed(&with(4, 0));
        assert!(a.message.contains("NOT deliverable") && !a.message.contains("of them"));
    }
}
