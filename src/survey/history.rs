//! Sealed history and the encoding the release's upload demands of it
//! (3.2.6–3.2.7, the profile's `cutover_history_canonical_json`).
//!
//! The release's `sync project-store-history --apply` uploads the sealed
//! cohort only if every row's `payload_json` is its own
//! `_canonical_event_json` of the event; its cutover stores the legacy text
//! verbatim. sk-migrate's cutover re-encodes its snapshot with that function
//! (in the release's interpreter, `scripts/canonical_history.py`) and leaves
//! what it did in `<root>/sk-migrate-cutover/<id>/history.json`
//! ([`crate::home::CutoverWork::history_record`]), an [`HistoryEncoding`]. That record is how sk-doctor tells a store whose
//! sealed rows the release accepts (cut over by sk-migrate) from one the
//! release's own command cut over: it reads the record and the store, and
//! writes nothing.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use crate::home::Home;
use crate::seen::{Seen, Unreadable};
use crate::survey::json::json_file;

/// What re-encoding a snapshot's events did (the record, and `history` of
/// `sk-migrate run --json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEncoding {
    /// The release whose encoder ran (`importlib.metadata`).
    pub release: String,
    /// Events of the snapshot (every one kept).
    pub events: u64,
    /// Rewritten as the release's canonical JSON of the event.
    pub reencoded: u64,
    /// Already in that encoding.
    pub already_canonical: u64,
    /// Left as they were, by reason: the encoder cannot take them.
    pub left: BTreeMap<String, u64>,
    pub left_event_ids: Vec<String>,
    /// Encoded, yet the upload would still refuse them, by reason
    /// (`event_id_differs`, `project_differs`): never changed.
    pub not_deliverable: BTreeMap<String, u64>,
    pub not_deliverable_event_ids: Vec<String>,
}

impl HistoryEncoding {
    /// Event ids the release's upload would refuse.
    fn refused(&self) -> impl Iterator<Item = &String> {
        self.left_event_ids
            .iter()
            .chain(&self.not_deliverable_event_ids)
    }
}

/// Every cutover record of the home, by migration id: for each, the event
/// ids its upload would refuse (read-only). A record that cannot be read
/// goes into `unreadable` and counts as none, so its rows are not called
/// deliverable.
pub fn records(
    home: &Home,
    unreadable: &mut Vec<Unreadable>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    let dir = home.cutover_work_dir();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let id = entry.file_name().to_string_lossy().into_owned();
        let path = home.cutover_work(entry.file_name()).history_record();
        let record = json_file(&path).and_then(|v| {
            Seen::read(
                &path,
                v.map(serde_json::from_value::<HistoryEncoding>).transpose(),
            )
        });
        if let Some(r) = record.known_or_default(unreadable) {
            out.insert(id, r.refused().cloned().collect());
        }
    }
    out
}

/// Sealed rows of a store the release's upload accepts: those a cutover of
/// ours re-encoded (its epoch's reason is the release's
/// `legacy_migration:<id>` and that id has a record) and not refused by it.
pub fn deliverable_sealed(
    conn: &Connection,
    records: &BTreeMap<String, BTreeSet<String>>,
) -> rusqlite::Result<u64> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut st = conn.prepare(
        "SELECT j.entry_id, e.reason FROM journal_entries AS j JOIN consent_epochs AS e \
         ON e.project_uuid = j.project_uuid AND e.epoch_id = j.epoch_id \
         WHERE e.state = 'sealed' AND NOT EXISTS (SELECT 1 FROM outbox_tasks AS o \
         WHERE o.project_uuid = j.project_uuid AND o.journal_entry_id = j.entry_id \
         AND o.state IN ('complete', 'terminal_refused', 'purged', 'canceled'))",
    )?;
    let mut n = 0;
    for row in st.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })? {
        let (entry, reason) = row?;
        n += u64::from(
            reason
                .as_deref()
                .and_then(|r| r.strip_prefix("legacy_migration:"))
                .and_then(|id| records.get(id))
                .is_some_and(|refused| !refused.contains(&entry)),
        );
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with(reason: &str, ids: &[&str]) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE consent_epochs (project_uuid TEXT, epoch_id INTEGER, state TEXT, reason TEXT);
             CREATE TABLE journal_entries (entry_id TEXT, project_uuid TEXT, epoch_id INTEGER, payload_json TEXT);
             CREATE TABLE outbox_tasks (project_uuid TEXT, journal_entry_id TEXT, state TEXT);",
        )
        .unwrap();
        c.execute(
            "INSERT INTO consent_epochs VALUES ('p', 1, 'sealed', ?1)",
            [reason],
        )
        .unwrap();
        for id in ids {
            c.execute(
                "INSERT INTO journal_entries VALUES (?1, 'p', 1, '{}')",
                [id],
            )
            .unwrap();
        }
        c
    }

    #[test]
    fn only_rows_of_a_recorded_cutover_and_not_refused_by_it_are_deliverable() {
        let c = store_with("legacy_migration:sk-migrate-ab", &["e1", "e2", "e3"]);
        let mut records = BTreeMap::new();
        assert_eq!(deliverable_sealed(&c, &records), Ok(0), "no record: none");
        records.insert("sk-migrate-cd".to_string(), BTreeSet::new());
        assert_eq!(
            deliverable_sealed(&c, &records),
            Ok(0),
            "another cutover's record"
        );
        records.insert(
            "sk-migrate-ab".to_string(),
            BTreeSet::from(["e2".to_string()]),
        );
        assert_eq!(deliverable_sealed(&c, &records), Ok(2));
    }

    #[test]
    fn a_record_is_read_from_its_cutover_directory() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let path = home.cutover_work("sk-migrate-ab").history_record();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let r = HistoryEncoding {
            events: 2,
            reencoded: 1,
            left_event_ids: vec!["e9".into()],
            ..HistoryEncoding::default()
        };
        std::fs::write(&path, serde_json::to_string(&r).unwrap()).unwrap();
        let mut unreadable = Vec::new();
        let all = records(&home, &mut unreadable);
        assert_eq!(all["sk-migrate-ab"], BTreeSet::from(["e9".to_string()]));
        assert!(unreadable.is_empty());

        // A record that is not JSON counts as none, and is kept as unreadable.
        let torn = home.cutover_work("sk-migrate-cd").history_record();
        std::fs::create_dir_all(torn.parent().unwrap()).unwrap();
        std::fs::write(&torn, "{\"events\": 2,").unwrap();
        let all = records(&home, &mut unreadable);
        assert!(!all.contains_key("sk-migrate-cd"));
        assert_eq!(unreadable.len(), 1);
        assert_eq!(unreadable[0].path, torn);
    }

    #[test]
    fn a_store_that_is_not_a_database_is_an_error_not_zero_deliverable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sync.db");
        std::fs::write(&path, vec![0x5a; 4096]).unwrap();
        let c = crate::survey::stores::open_ro(&path).unwrap();
        let records = BTreeMap::from([("sk-migrate-ab".to_string(), BTreeSet::new())]);
        assert!(deliverable_sealed(&c, &records).is_err());
    }
}
