//! Which rows of the legacy sources a 3.2.6+ cutover already covered, by
//! natural key (read-only; for sk-doctor and `sk-migrate run`).
//!
//! A legacy row is
//! * **stored** when a project store holds its natural key: an event's
//!   `queue.event_id` as `journal_entries.entry_id`, a body upload's seven
//!   key columns (`project_uuid`, `mission_slug`, `target_branch`,
//!   `mission_type`, `manifest_version`, `artifact_path`, `content_hash`)
//!   in `body_upload_tasks.body_reference`;
//! * **quarantined** when the quarantine of a cutover that reached
//!   `cutover` (or later) names a row with that natural key: the manifest
//!   names a row by the release's own identity (`row_id`: an event's
//!   `event_id`, a body upload's local `id`), so its natural key is read
//!   from the snapshot the cutover kept next to its manifest
//!   (`projects/.migration/<id>/snapshots/source-<n>.db`), never from the
//!   path the manifest recorded (the home may have been copied or moved);
//!   `post_cutover_residue` entries are the release noticing late rows, not
//!   covering them;
//! * **late** otherwise: in no store and in no cutover's quarantine. These
//!   are the rows a later writer added, which `sk-migrate run` must carry.
//!
//! Failure-log rows (`body_upload_failure_log`) are diagnostics, never work
//! (every cutover sets them aside as `incompatible_row`): they are counted
//! apart and never late.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::db::schema::tables::{BODY_UPLOAD_QUEUE, Table};
use crate::home::{Home, Migration};
use crate::seen::{Seen, Unreadable};
use crate::survey::json::json_file;
use crate::survey::layout::CutoverPhase;
use crate::survey::stores::{self, open_ro};

mod source;
pub use source::source_rows;
use source::{has_column, key_by_release_identity};

/// The natural key of one legacy row of queued work.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "table", rename_all = "snake_case")]
pub enum NaturalKey {
    /// `queue.event_id`.
    Queue { event_id: String },
    /// The seven key columns of `body_upload_queue`, in
    /// [`BODY_UPLOAD_QUEUE`]`.key` order.
    BodyUploadQueue { key: Vec<String> },
}

impl NaturalKey {
    /// The legacy table the row lives in.
    pub fn table(&self) -> Table {
        match self {
            NaturalKey::Queue { .. } => Table::Queue,
            NaturalKey::BodyUploadQueue { .. } => Table::BodyUploadQueue,
        }
    }

    /// One line for people: the event id, or the key columns joined by `|`.
    pub fn display(&self) -> String {
        match self {
            NaturalKey::Queue { event_id } => event_id.clone(),
            NaturalKey::BodyUploadQueue { key } => key.join("|"),
        }
    }
}

/// What became of one legacy row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// A project store holds its natural key.
    Stored,
    /// A cutover's quarantine names it.
    Quarantined {
        migration_id: String,
        reason: String,
    },
    /// No store holds it and no cutover covered it.
    Late,
}

/// One legacy row of queued work and its fate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegacyRow {
    /// The source DB it was read from.
    pub source: PathBuf,
    /// Its local `id` in that source (to select the whole row again).
    pub local_id: i64,
    pub key: NaturalKey,
    pub fate: Fate,
}

/// One legacy source, counted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceLedger {
    pub path: PathBuf,
    pub stored: u64,
    pub quarantined: u64,
    pub late_events: u64,
    pub late_body_uploads: u64,
    /// `body_upload_failure_log` rows: diagnostics, never work, never late.
    pub failure_log: u64,
    /// Why the source could not be read; its rows are then unknown (not late).
    pub unreadable: Option<String>,
}

impl SourceLedger {
    pub fn late(&self) -> u64 {
        self.late_events + self.late_body_uploads
    }
}

/// Every legacy row of a home, classified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    pub sources: Vec<SourceLedger>,
    pub rows: Vec<LegacyRow>,
    /// What could not be read of what covers a row (a store, a manifest,
    /// a snapshot, our late-row record): see [`Covered::unreadable`].
    #[serde(skip)]
    pub unreadable: Vec<Unreadable>,
}

impl Ledger {
    /// The late rows, in source then local-id order.
    pub fn late(&self) -> impl Iterator<Item = &LegacyRow> {
        self.rows.iter().filter(|r| r.fate == Fate::Late)
    }

    pub fn late_count(&self) -> u64 {
        self.late().count() as u64
    }

    /// Rows some cutover covered (stored or quarantined).
    pub fn carried_count(&self) -> u64 {
        self.rows.iter().filter(|r| r.fate != Fate::Late).count() as u64
    }
}

/// The natural keys every cutover covered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Covered {
    /// Keys some project store holds.
    pub stored: BTreeSet<NaturalKey>,
    /// Keys a cutover's quarantine names: (migration id, reason).
    pub quarantined: BTreeMap<NaturalKey, (String, String)>,
    /// What could not be read, each with why: a store, a row of one, a
    /// manifest, a snapshot, our late-row record.
    ///
    /// TODO(issue 29, phase 2): what they hold covers nothing, so a row
    /// only they cover is called late (and `sk-migrate run` carries it).
    pub unreadable: Vec<Unreadable>,
}

/// The natural keys the project stores hold and the cutovers quarantined
/// (reads only; what cannot be read covers nothing and is kept in
/// [`Covered::unreadable`]).
pub fn covered(home: &Home) -> Covered {
    let mut out = Covered::default();
    for (_, db) in stores::store_dbs(home) {
        match open_ro(&db) {
            Ok(conn) => store_keys(&conn, &db, &mut out.stored, &mut out.unreadable),
            Err(e) => out.unreadable.push(Unreadable::new(&db, e)),
        }
    }
    for entry in std::fs::read_dir(home.migrations_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let migration = home.migration(entry.file_name());
        quarantined_keys(&migration, &mut out.quarantined, &mut out.unreadable);
    }
    let late = late_quarantine(home).known_or_default(&mut out.unreadable);
    late_quarantined_keys(late, &mut out.quarantined);
    out
}

/// The migration id under which late rows the release rejected are counted.
pub const LATE_QUARANTINE_ID: &str = "sk-migrate-late";

/// One late row the release rejected when `sk-migrate run` carried it
/// through its live writers: an entry of [`Home::late_quarantine_record`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateQuarantine {
    /// A table name as the release's answer spells it: read back from a
    /// file, so a name no [`Table`] has skips that entry
    /// ([`Table::from_name`]), never the whole record.
    pub table: String,
    /// An event id (string) or the seven body-upload key columns (array).
    pub key: serde_json::Value,
    pub reason: String,
    pub source_path: Option<String>,
}

/// The file [`Home::late_quarantine_record`] holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct LateQuarantineRecord {
    pub quarantine: Vec<LateQuarantine>,
}

/// The late-row quarantine record (empty when absent).
pub fn late_quarantine(home: &Home) -> Seen<Vec<LateQuarantine>> {
    let path = home.late_quarantine_record();
    json_file(&path).and_then(|v| {
        let record = v.map(serde_json::from_value::<LateQuarantineRecord>);
        Seen::read(&path, record.transpose()).map(|r| r.map(|r| r.quarantine).unwrap_or_default())
    })
}

/// The late rows the release rejected when `sk-migrate run` carried them:
/// quarantined with their reason, so sk-doctor does not call them late (a
/// fix that cannot move them).
fn late_quarantined_keys(
    late: Vec<LateQuarantine>,
    out: &mut BTreeMap<NaturalKey, (String, String)>,
) {
    for q in late {
        let key = match (Table::from_name(&q.table), &q.key) {
            (Some(Table::Queue), serde_json::Value::String(id)) => NaturalKey::Queue {
                event_id: id.clone(),
            },
            (Some(Table::BodyUploadQueue), serde_json::Value::Array(parts)) => {
                let key: Option<Vec<String>> = parts
                    .iter()
                    .map(|p| p.as_str().map(str::to_string))
                    .collect();
                match key {
                    Some(key) => NaturalKey::BodyUploadQueue { key },
                    None => continue,
                }
            }
            _ => continue,
        };
        out.entry(key)
            .or_insert_with(|| (LATE_QUARANTINE_ID.to_string(), q.reason));
    }
}

/// Every row `sql` selects from the store at `path`, read by `row`; a row
/// (or the query) that fails is skipped and kept in `unreadable`.
fn each<T>(
    conn: &Connection,
    (path, sql): (&Path, &str),
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    unreadable: &mut Vec<Unreadable>,
) -> Vec<T> {
    let mut out = Vec::new();
    let read = conn.prepare(sql).and_then(|mut st| {
        for r in st.query_map([], row)? {
            match r {
                Ok(v) => out.push(v),
                Err(e) => unreadable.push(Unreadable::new(path, e)),
            }
        }
        Ok(())
    });
    if let Err(e) = read {
        unreadable.push(Unreadable::new(path, e));
    }
    out
}

/// The keys one project store holds (rows that cannot be read are skipped,
/// and kept in `unreadable`).
fn store_keys(
    conn: &Connection,
    path: &Path,
    out: &mut BTreeSet<NaturalKey>,
    unreadable: &mut Vec<Unreadable>,
) {
    let sql = "SELECT entry_id FROM journal_entries";
    for id in each(conn, (path, sql), |r| r.get::<_, String>(0), unreadable) {
        out.insert(NaturalKey::Queue { event_id: id });
    }
    // The release's live writer keeps `project_uuid` and `content_hash` in
    // their own columns, not in `body_reference` (3.2.6–3.2.7
    // `OfflineBodyUploadQueue.enqueue`, which `sk-migrate run` uses for late
    // rows); the cutover keeps the whole source row there. The columns fill
    // what the reference lacks.
    let sql = if has_column(conn, "body_upload_tasks", "content_hash") {
        "SELECT body_reference, project_uuid, content_hash FROM body_upload_tasks"
    } else {
        "SELECT body_reference, NULL, NULL FROM body_upload_tasks"
    };
    let row = |r: &rusqlite::Row<'_>| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, Option<String>>(2)?,
        ))
    };
    for (text, project, hash) in each(conn, (path, sql), row, unreadable) {
        let mut v = match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(v) => v,
            Err(e) => {
                let why = format!("a body_upload_tasks.body_reference is not JSON ({e})");
                unreadable.push(Unreadable::new(path, why));
                continue;
            }
        };
        for (k, col) in [("project_uuid", project), ("content_hash", hash)] {
            if v.get(k).is_none_or(serde_json::Value::is_null)
                && let (Some(obj), Some(c)) = (v.as_object_mut(), col)
            {
                obj.insert(k.to_string(), c.into());
            }
        }
        out.insert(NaturalKey::BodyUploadQueue {
            key: body_key_of_json(&v),
        });
    }
}

/// A body upload's key from the source row the release kept as JSON.
pub fn body_key_of_json(v: &serde_json::Value) -> Vec<String> {
    BODY_UPLOAD_QUEUE
        .key
        .iter()
        .map(|k| match &v[*k] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        })
        .collect()
}

/// The quarantined keys of one cutover directory, read from its snapshots.
fn quarantined_keys(
    dir: &Migration,
    out: &mut BTreeMap<NaturalKey, (String, String)>,
    unreadable: &mut Vec<Unreadable>,
) {
    let Some(m) = json_file(&dir.manifest()).known_or_default(unreadable) else {
        return;
    };
    let phase = CutoverPhase::from_name(m["phase"].as_str().unwrap_or(""));
    if !phase.quarantine_is_final() {
        return;
    }
    let id = m["migration_id"].as_str().unwrap_or("").to_string();
    let recorded: Vec<&str> = m["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["path"].as_str())
        .collect();
    let mut snapshots: BTreeMap<usize, Option<Connection>> = BTreeMap::new();
    for q in m["quarantine"].as_array().into_iter().flatten() {
        let (Some(table), Some(row_id), Some(reason)) = (
            q["table"].as_str(),
            q["row_id"].as_str(),
            q["reason"].as_str(),
        ) else {
            continue;
        };
        let table = Table::from_name(table);
        if reason == "post_cutover_residue" || table == Some(Table::BodyUploadFailureLog) {
            continue;
        }
        let index = q["source_path"]
            .as_str()
            .and_then(|p| recorded.iter().position(|r| *r == p));
        let key = index.and_then(|i| {
            let conn = snapshots.entry(i).or_insert_with(|| {
                let path = dir.source_snapshot(i);
                Seen::read(&path, open_ro(&path).map(Some)).known_or_default(unreadable)
            });
            conn.as_ref()
                .and_then(|c| key_by_release_identity(c, table?, row_id))
        });
        // Without its snapshot an event is still known: its identity is its
        // event id whenever it has one.
        let key = key.or_else(|| {
            (table == Some(Table::Queue) && !row_id.trim().is_empty()).then(|| NaturalKey::Queue {
                event_id: row_id.to_string(),
            })
        });
        if let Some(key) = key {
            out.entry(key)
                .or_insert_with(|| (id.clone(), reason.to_string()));
        }
    }
}

/// The fate of a key (pure).
pub fn fate(key: &NaturalKey, covered: &Covered) -> Fate {
    if covered.stored.contains(key) {
        return Fate::Stored;
    }
    match covered.quarantined.get(key) {
        Some((migration_id, reason)) => Fate::Quarantined {
            migration_id: migration_id.clone(),
            reason: reason.clone(),
        },
        None => Fate::Late,
    }
}

/// Put the ledger's counts on the legacy sources of `facts` (pure).
pub fn annotate(facts: &mut stores::StoreFacts, ledger: &Ledger) {
    for s in &mut facts.legacy_sources {
        if let Some(l) = ledger
            .sources
            .iter()
            .find(|l| l.unreadable.is_none() && l.path.display().to_string() == s.path)
        {
            s.carried = Some(l.stored + l.quarantined);
            s.late = Some(l.late());
        }
    }
}

/// Classify every row of every legacy source the release's discovery finds
/// (`queue.db`, `queues/queue-<hex>.db`). Reads only. A source that cannot
/// be read is listed with why, and none of its rows is called late.
pub fn ledger(home: &Home, busy_timeout_ms: u64) -> Ledger {
    // Every store's keys, read once and only when some source has a row to
    // classify: a home without legacy rows reads no store (20 stores of 10k
    // rows cost 300 ms to read: `benches/boundary.rs`).
    let mut known: Option<Covered> = None;
    let mut out = Ledger::default();
    for path in stores::discover_sources(home) {
        let mut s = SourceLedger {
            path: path.clone(),
            ..SourceLedger::default()
        };
        match source_rows(&path, busy_timeout_ms) {
            Ok((rows, failure_log)) => {
                s.failure_log = failure_log;
                for (local_id, key) in rows {
                    let fate = fate(&key, known.get_or_insert_with(|| covered(home)));
                    match (&fate, &key) {
                        (Fate::Stored, _) => s.stored += 1,
                        (Fate::Quarantined { .. }, _) => s.quarantined += 1,
                        (Fate::Late, NaturalKey::Queue { .. }) => s.late_events += 1,
                        (Fate::Late, NaturalKey::BodyUploadQueue { .. }) => {
                            s.late_body_uploads += 1
                        }
                    }
                    out.rows.push(LegacyRow {
                        source: path.clone(),
                        local_id,
                        key,
                        fate,
                    });
                }
            }
            Err(e) => s.unreadable = Some(e.to_string()),
        }
        out.sources.push(s);
    }
    out.unreadable = known.map(|c| c.unreadable).unwrap_or_default();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(i: u32) -> NaturalKey {
        NaturalKey::BodyUploadQueue {
            key: ["p", "m", "b", "t", "1", &format!("a{i}.md"), "h"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn event(id: &str) -> NaturalKey {
        NaturalKey::Queue {
            event_id: id.into(),
        }
    }

    #[test]
    fn stored_wins_then_quarantine_then_late() {
        let mut c = Covered::default();
        c.stored.insert(event("e1"));
        c.stored.insert(body(1));
        c.quarantined
            .insert(body(2), ("m1".into(), "missing_project_uuid".into()));
        assert_eq!(fate(&event("e1"), &c), Fate::Stored);
        assert_eq!(fate(&body(1), &c), Fate::Stored);
        assert_eq!(
            fate(&body(2), &c),
            Fate::Quarantined {
                migration_id: "m1".into(),
                reason: "missing_project_uuid".into()
            }
        );
        assert_eq!(fate(&event("e2"), &c), Fate::Late);
        assert_eq!(fate(&body(3), &c), Fate::Late);
    }

    #[test]
    fn late_rows_the_release_rejected_are_quarantined_not_late() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join(".spec-kitty"));
        let record = home.late_quarantine_record();
        std::fs::create_dir_all(record.parent().unwrap()).unwrap();
        std::fs::write(
            &record,
            r#"{"quarantine": [
                {"table": "queue", "key": "e9", "reason": "missing_project_uuid", "source_path": "/x/queue.db"},
                {"table": "body_upload_queue", "key": ["p","m","b","t","1","a4.md","h"], "reason": "refused", "source_path": null}
            ]}"#,
        )
        .unwrap();
        let c = covered(&home);
        assert_eq!(
            fate(&event("e9"), &c),
            Fate::Quarantined {
                migration_id: LATE_QUARANTINE_ID.into(),
                reason: "missing_project_uuid".into()
            }
        );
        assert!(matches!(fate(&body(4), &c), Fate::Quarantined { .. }));
        assert_eq!(fate(&event("e10"), &c), Fate::Late);
    }

    fn legacy_db(path: &std::path::Path, events: &[&str], bodies: &[(i64, &str)]) {
        let c = Connection::open(path).unwrap();
        c.execute_batch(
            "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT, event_type TEXT, data TEXT, timestamp TEXT);
             CREATE TABLE body_upload_queue (id INTEGER PRIMARY KEY, project_uuid TEXT, mission_slug TEXT,
               target_branch TEXT, mission_type TEXT, manifest_version TEXT, artifact_path TEXT, content_hash TEXT);
             CREATE TABLE body_upload_failure_log (id INTEGER PRIMARY KEY, project_uuid TEXT);
             INSERT INTO body_upload_failure_log (project_uuid) VALUES ('p');",
        )
        .unwrap();
        for e in events {
            c.execute("INSERT INTO queue (event_id) VALUES (?1)", [e])
                .unwrap();
        }
        for (id, a) in bodies {
            c.execute(
                "INSERT INTO body_upload_queue VALUES (?1, 'p', 'm', 'b', 't', '1', ?2, 'h')",
                rusqlite::params![id, a],
            )
            .unwrap();
        }
    }

    /// A home whose store holds e1 and a1, whose complete cutover
    /// quarantined e2 and the body with local id 7 (a2), and whose
    /// `queue.db` then got e3 and a3: only those two are late. The
    /// manifest names a path that no longer exists (a moved home).
    #[test]
    fn a_moved_home_is_classified_by_natural_key() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let mig = dir.path().join("projects/.migration/m1");
        std::fs::create_dir_all(mig.join("snapshots")).unwrap();
        legacy_db(
            &mig.join("snapshots/source-0.db"),
            &["e1", "e2"],
            &[(6, "a1.md"), (7, "a2.md")],
        );
        std::fs::write(
            mig.join("manifest.json"),
            serde_json::json!({
                "migration_id": "m1", "phase": "complete",
                "sources": [{"path": "/old/home/queue.db"}],
                "quarantine": [
                    {"table": "queue", "row_id": "e2", "reason": "missing_project_uuid", "source_path": "/old/home/queue.db"},
                    {"table": "body_upload_queue", "row_id": "7", "reason": "divergent_duplicate", "source_path": "/old/home/queue.db"},
                    {"table": "body_upload_failure_log", "row_id": "1", "reason": "incompatible_row", "source_path": "/old/home/queue.db"}
                ]
            })
            .to_string(),
        )
        .unwrap();
        let store_dir = dir.path().join("projects/p/sync");
        std::fs::create_dir_all(&store_dir).unwrap();
        let s = Connection::open(store_dir.join("sync.db")).unwrap();
        s.execute_batch(
            "CREATE TABLE journal_entries (entry_id TEXT);
             CREATE TABLE outbox_tasks (task_kind TEXT, state TEXT);
             CREATE TABLE body_upload_tasks (body_reference TEXT, state TEXT);
             INSERT INTO journal_entries VALUES ('e1');",
        )
        .unwrap();
        s.execute(
            "INSERT INTO body_upload_tasks VALUES (?1, 'pending')",
            [serde_json::json!({"project_uuid": "p", "mission_slug": "m", "target_branch": "b",
                "mission_type": "t", "manifest_version": "1", "artifact_path": "a1.md", "content_hash": "h", "id": 6})
            .to_string()],
        )
        .unwrap();
        drop(s);
        legacy_db(
            &home.legacy_queue(),
            &["e1", "e2", "e3"],
            &[(1, "a1.md"), (2, "a2.md"), (3, "a3.md")],
        );

        let l = ledger(&home, 100);
        let late: Vec<String> = l.late().map(|r| r.key.display()).collect();
        assert_eq!(late, ["e3", "p|m|b|t|1|a3.md|h"]);
        assert_eq!(l.carried_count(), 4);
        assert_eq!(l.sources.len(), 1);
        let s = &l.sources[0];
        assert_eq!((s.stored, s.quarantined), (2, 2));
        assert_eq!(
            (s.late_events, s.late_body_uploads, s.failure_log),
            (1, 1, 1)
        );
        let late_body = l.late().nth(1).unwrap();
        assert_eq!(late_body.local_id, 3);
        assert_eq!(late_body.source, home.legacy_queue());

        // A cutover still in progress covers nothing it quarantined.
        let text = std::fs::read_to_string(mig.join("manifest.json")).unwrap();
        std::fs::write(
            mig.join("manifest.json"),
            text.replace("\"complete\"", "\"copied\""),
        )
        .unwrap();
        assert_eq!(ledger(&home, 100).late_count(), 4);
    }
}
