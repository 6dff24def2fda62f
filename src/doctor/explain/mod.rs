//! The long page of every code sk-doctor reports (`sk-doctor explain CODE`,
//! as `rustc --explain` and `ruff rule` print theirs): what it means, why
//! it happens, the release facts behind it, the fix. Each page is a text
//! file beside this one, named by its code and carried in the binary;
//! `docs/problems.md` is generated from them (`tests/it/explain.rs`
//! checks it, `SK_UPDATE_DOCS=1` rewrites it).

use serde::Serialize;

use crate::doctor::report::{AdvisoryCode, ProblemCode};

/// Whether a code is a problem (something a user's action clears; fails
/// `--check` and `preflight`) or an advisory (nobody's action changes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Problem,
    Advisory,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Problem => "problem",
            Kind::Advisory => "advisory",
        }
    }
}

macro_rules! pages {
    ($($code:literal),* $(,)?) => {
        /// Every page, by code.
        const PAGES: &[(&str, &str)] = &[$(($code, include_str!(concat!($code, ".md")))),*];
    };
}

pages![
    "daemon_mismatch",
    "orphan_daemon",
    "owner_record_malformed",
    "owner_record_permissions",
    "legacy_rows",
    "legacy_rows_wait_for_room",
    "unmovable_legacy_rows",
    "unusable_by_owner",
    "stranded_setup_plan",
    "auth_required",
    "unknown_schema",
    "cutover_pending",
    "late_legacy_rows",
    "project_unknown",
    "journal_undecodable",
    "sealed_history",
    "rows_quarantined",
    "keyless_legacy_rows",
];

/// Every code, problems first, each with its kind, in report order.
pub fn codes() -> Vec<(&'static str, Kind)> {
    ProblemCode::ALL
        .iter()
        .map(|c| (c.as_str(), Kind::Problem))
        .chain(
            AdvisoryCode::ALL
                .iter()
                .map(|c| (c.as_str(), Kind::Advisory)),
        )
        .collect()
}

/// The page of `code`.
pub fn page(code: &str) -> Option<&'static str> {
    PAGES.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// A page's one-line summary: its first line, after the code.
pub fn summary(code: &str) -> Option<&'static str> {
    let first = page(code)?.lines().next()?;
    Some(first.split_once(" — ").map_or(first, |(_, s)| s))
}

/// `sk-doctor explain` without a code: every code and its summary.
pub fn index() -> String {
    let mut out =
        String::from("Codes sk-doctor reports (`sk-doctor explain CODE` prints one):\n\n");
    for (kind, title) in [
        (Kind::Problem, "Problems"),
        (
            Kind::Advisory,
            "Advisories (never fail --check or preflight)",
        ),
    ] {
        out.push_str(&format!("{title}\n"));
        for (code, _) in codes().into_iter().filter(|(_, k)| *k == kind) {
            out.push_str(&format!("  {code:<26} {}\n", summary(code).unwrap_or("")));
        }
        out.push('\n');
    }
    out
}

/// `docs/problems.md`: the same pages, for readers of the repository.
pub fn document() -> String {
    let mut out = String::from(
        "# sk-doctor's codes\n\n\
         Generated from the pages `sk-doctor explain CODE` prints (src/doctor/explain/); \
         edit those, then `SK_UPDATE_DOCS=1 cargo test --test it explain`.\n\n\
         A **problem** is something a user's action clears: it makes `ok` false, `--check` \
         exit 2 and `preflight` refuse, and carries `steps` (`docs/json.md`) that clear it when \
         followed verbatim (`tests/system/fixes_clear/mod.rs`). `preflight` blocks on every \
         problem, except that its daemon check is the release's own gate. An **advisory** \
         is a state no user action changes (a release's defect, or a decision that is yours): \
         it is in `advisories` and `warnings`, never in `problems`.\n\n\
         | code | kind | summary |\n|---|---|---|\n",
    );
    for (code, kind) in codes() {
        out.push_str(&format!(
            "| [`{code}`](#{code}) | {} | {} |\n",
            kind.as_str(),
            summary(code).unwrap_or("")
        ));
    }
    for (code, _) in codes() {
        let text = page(code).unwrap_or("");
        let mut lines = text.lines();
        let _title = lines.next();
        out.push_str(&format!("\n## {code}\n\n```text\n"));
        out.push_str(lines.collect::<Vec<_>>().join("\n").trim_matches('\n'));
        out.push_str("\n```\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_its_page_and_every_page_a_code() {
        let codes = codes();
        for (code, kind) in &codes {
            let text = page(code).unwrap_or_else(|| panic!("no page for {code}"));
            assert!(text.starts_with(&format!("{code} ")), "{code}: {text}");
            assert!(text.contains("\nWhat it means\n"), "{code}");
            let fix = text.contains("\nThe fix\n");
            match kind {
                Kind::Problem => assert!(fix, "{code}: no fix"),
                Kind::Advisory => assert!(fix || text.contains("\nWhat to do\n"), "{code}"),
            }
        }
        for (code, _) in PAGES {
            assert!(codes.iter().any(|(c, _)| c == code), "{code} is no code");
        }
        assert_eq!(PAGES.len(), codes.len());
    }

    #[test]
    fn no_page_points_into_docs_or_asks_to_report_a_schema() {
        for (code, text) in PAGES {
            assert!(!text.contains("report the schema"), "{code}");
            assert!(!text.contains("see docs/"), "{code}");
        }
    }
}
