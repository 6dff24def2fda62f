//! The move in chunks (`docs/migrate.md`, "Chunks") and divergent
//! duplicates kept as evidence: a large move commits chunk after chunk,
//! each audited; a fault in a later chunk keeps what earlier chunks did and
//! a rerun resumes; a legacy row whose key is stored with another payload
//! is kept whole, then deleted, and counted `divergent`.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;

use crate::common::*;
use rusqlite::Connection;
use sk_boundary::Error;
use sk_boundary::db::schema::tables::Table;
use sk_boundary::migrate::merge::MoveOptions;
use sk_boundary::migrate::observe::{Observer, Step};
use sk_boundary::migrate::{self, RunOptions};

const ROWS: u32 = 40_000;

/// Legacy with `n` events and `n` body uploads; a scoped DB with the fixture's rows.
pub fn big_home(n: u32) -> TestHome {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let c = Connection::open(h.home.legacy_queue()).unwrap();
    c.execute_batch(&format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO queue (event_id, event_type, data, timestamp) SELECT printf('big-%06d', i), 't', 'd', i FROM n;
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
         INSERT INTO body_upload_queue (project_uuid, mission_slug, target_branch, mission_type,
             manifest_version, artifact_path, content_hash, content_body, size_bytes, created_at)
         SELECT 'p', 'm', 'main', 'software-dev', '1', printf('big/%06d', i), 'h', 'b', 1, i FROM n;"
    ))
    .unwrap();
    h
}

/// Counts commits, and fails at the `fail_at`-th step equal to `step`.
struct Chunks {
    commits: u32,
    step: Option<Step>,
    seen: u32,
    fail_at: u32,
}
impl Chunks {
    fn counting() -> Chunks {
        Chunks {
            commits: 0,
            step: None,
            seen: 0,
            fail_at: 0,
        }
    }
}
impl Observer for Chunks {
    fn checkpoint(&mut self, step: Step) -> Result<(), Error> {
        if step == Step::Committed {
            self.commits += 1;
        }
        if Some(step) == self.step {
            self.seen += 1;
            if self.seen == self.fail_at {
                return Err(Error::Malformed {
                    path: "injected".into(),
                    detail: format!("{step:?} #{}", self.seen),
                });
            }
        }
        Ok(())
    }
}

/// A run whose chunks are sized for a tiny lock budget (1 ms: the chunker
/// shrinks them to its smallest after the first).
fn small_chunks() -> RunOptions {
    RunOptions {
        moving: MoveOptions {
            lock_budget_ms: 1,
            ..MoveOptions::default()
        },
        ..RunOptions::default()
    }
}

fn keys(path: &std::path::Path, sql: &str) -> Vec<String> {
    let c = Connection::open(path).unwrap();
    let mut s = c.prepare(sql).unwrap();
    s.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn journal_keys(h: &TestHome) -> Vec<String> {
    std::fs::read_to_string(h.home.migrate_journal())
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!("{}:{}", v["table"], v["key"])
        })
        .collect()
}

#[test]
fn a_large_move_commits_in_chunks_each_audited_in_legacy_order() {
    let h = big_home(ROWS);
    h.scoped("scoped_v5");
    let before = keys(
        &h.home.legacy_queue(),
        "SELECT event_id FROM queue ORDER BY id",
    );
    let stored: BTreeSet<String> = keys(&h.scoped_path(), "SELECT event_id FROM queue")
        .into_iter()
        .collect();
    let mut obs = Chunks::counting();
    // The lock budget is the release's (a tenth of its writers' 5000 ms)
    // unless the options say otherwise: here the default, 500 ms.
    let r = migrate::run(&h.home, &RunOptions::default(), &mut obs).unwrap();
    assert!(obs.commits > 1, "one transaction for {} rows", 2 * ROWS);
    let q = &r.tables[0];
    assert_eq!(q.deleted_from_legacy, before.len() as u64);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
    // Order kept across chunks: scoped ids follow legacy ids.
    let moved: Vec<String> = keys(&h.scoped_path(), "SELECT event_id FROM queue ORDER BY id")
        .into_iter()
        .filter(|k| !stored.contains(k))
        .collect();
    let want: Vec<String> = before
        .iter()
        .filter(|k| !stored.contains(*k))
        .cloned()
        .collect();
    assert_eq!(moved.len(), want.len());
    assert!(moved == want, "scoped order differs from legacy order");
    // One journal line per inserted row, over every chunk, none twice.
    let lines = journal_keys(&h);
    let inserted: u64 = r.tables.iter().map(|t| t.inserted).sum();
    assert_eq!(lines.len() as u64, inserted);
    assert_eq!(lines.iter().collect::<BTreeSet<_>>().len(), lines.len());
    assert!(!h.home.migrate_journal_pending().exists());
}

#[test]
fn a_fault_in_a_later_chunk_keeps_the_earlier_ones_and_a_rerun_resumes() {
    let h = big_home(ROWS);
    let all = keys(
        &h.home.legacy_queue(),
        "SELECT event_id FROM queue ORDER BY id",
    );
    let mut obs = Chunks {
        step: Some(Step::Inserted(Table::Queue)),
        fail_at: 3,
        ..Chunks::counting()
    };
    // Into an existing scoped DB, in small chunks: the third fails.
    h.scoped("scoped_v5");
    assert!(migrate::run(&h.home, &small_chunks(), &mut obs).is_err());
    assert!(obs.commits >= 2, "{} commits before the fault", obs.commits);
    let left = keys(
        &h.home.legacy_queue(),
        "SELECT event_id FROM queue ORDER BY id",
    );
    assert!(!left.is_empty() && left.len() < all.len());
    // What left legacy is a prefix by id, and it is in scoped.
    assert_eq!(&all[all.len() - left.len()..], &left[..]);
    let scoped: BTreeSet<String> = keys(&h.scoped_path(), "SELECT event_id FROM queue")
        .into_iter()
        .collect();
    assert!(
        all[..all.len() - left.len()]
            .iter()
            .all(|k| scoped.contains(k))
    );
    let audited_first = journal_keys(&h).len();
    assert!(audited_first > 0);

    let r = migrate::run(&h.home, &RunOptions::default(), &mut Chunks::counting()).unwrap();
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
    let scoped: BTreeSet<String> = keys(&h.scoped_path(), "SELECT event_id FROM queue")
        .into_iter()
        .collect();
    assert!(all.iter().all(|k| scoped.contains(k)));
    // Every inserted row audited once over both runs.
    let lines = journal_keys(&h);
    let inserted: u64 = r.tables.iter().map(|t| t.inserted).sum();
    assert_eq!(lines.len() as u64, audited_first as u64 + inserted);
    assert_eq!(lines.iter().collect::<BTreeSet<_>>().len(), lines.len());
}

#[test]
fn a_divergent_duplicate_is_kept_whole_then_deleted_and_counted_apart() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let legacy = h.home.legacy_queue();
    let c = Connection::open(&legacy).unwrap();
    // An identical copy of a stored row: already present, not divergent.
    let s = Connection::open(h.scoped_path()).unwrap();
    let (id, ty, data, ts): (String, String, String, i64) = s
        .query_row(
            "SELECT event_id, event_type, data, timestamp FROM queue ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    c.execute(
        "INSERT OR IGNORE INTO queue (event_id, event_type, data, timestamp, retry_count) VALUES (?1, ?2, ?3, ?4, 0)",
        (&id, &ty, &data, ts),
    )
    .unwrap();
    let divergent_before: Vec<(String, String)> = {
        let mut st = c
            .prepare("SELECT event_id, data FROM queue ORDER BY id")
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    drop((c, s));
    let stored: std::collections::BTreeMap<String, String> = {
        let s = Connection::open(h.scoped_path()).unwrap();
        let mut st = s.prepare("SELECT event_id, data FROM queue").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let want_divergent: Vec<&(String, String)> = divergent_before
        .iter()
        .filter(|(k, d)| stored.get(k).is_some_and(|s| s != d))
        .collect();
    assert!(
        !want_divergent.is_empty(),
        "the fixtures share a key with another payload"
    );

    let r = migrate::run(&h.home, &RunOptions::default(), &mut Chunks::counting()).unwrap();
    let q = &r.tables[0];
    assert_eq!(q.divergent, want_divergent.len() as u64);
    assert!(q.already_present >= 1, "the identical copy");
    assert_eq!(
        q.deleted_from_legacy,
        q.inserted + q.already_present + q.divergent
    );
    assert_eq!(count(&legacy, "queue"), 0);
    // The stored row won.
    for (k, _) in &want_divergent {
        let now: String = Connection::open(h.scoped_path())
            .unwrap()
            .query_row("SELECT data FROM queue WHERE event_id = ?1", [k], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(Some(&now), stored.get(k));
    }
    // Kept whole: every legacy column, typed, in a private file.
    let path = h.home.migrate_divergent();
    assert_eq!(r.divergent_evidence.as_deref(), Some(path.as_path()));
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let queue_lines: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["table"] == "queue").collect();
    assert_eq!(queue_lines.len(), want_divergent.len());
    for ((k, data), line) in want_divergent.iter().zip(&queue_lines) {
        assert_eq!(line["key"]["event_id"], k.as_str());
        assert_eq!(line["row"]["data"], data.as_str());
        for col in ["id", "event_id", "event_type", "timestamp", "retry_count"] {
            assert!(line["row"].get(col).is_some(), "{col} missing: {line}");
        }
    }
    // A rerun has nothing to keep again.
    let again = migrate::run(&h.home, &RunOptions::default(), &mut Chunks::counting()).unwrap();
    assert!(again.tables.iter().all(|t| t.divergent == 0));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap().lines().count(),
        lines.len()
    );
}

#[test]
fn evidence_is_never_written_through_a_link_and_then_nothing_is_deleted() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5").scoped("scoped_v5");
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("elsewhere.jsonl");
    std::os::unix::fs::symlink(&target, h.home.migrate_divergent()).unwrap();
    let before = count(&h.home.legacy_queue(), "queue");
    let err = migrate::run(&h.home, &RunOptions::default(), &mut Chunks::counting()).unwrap_err();
    assert!(
        err.to_string().contains("sk-migrate.divergent.jsonl"),
        "{err}"
    );
    assert!(!target.exists());
    assert_eq!(count(&h.home.legacy_queue(), "queue"), before);
}
