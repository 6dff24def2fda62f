//! Checking what the release carried: every snapshot key in a store or in quarantine, per-project counts (`docs/migrate.md`).
//!
//! A store, snapshot or document that cannot be read is an error naming it,
//! never a zero: a count or a key set read as empty would pass (or fail) the
//! check for the wrong reason.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::db::schema::tables::{self, Table};
use crate::error::Error;
use crate::home::Home;
use crate::survey::stores;

use super::ProjectCarried;

/// The project stores of `home`, each opened read-only with its path.
pub(super) fn open_stores(home: &Home, busy: u64) -> Result<Vec<(PathBuf, Connection)>, Error> {
    stores::gather(home)
        .stores
        .iter()
        .map(|s| {
            let path = PathBuf::from(&s.path);
            let conn = stores::open_ro(&path).map_err(|e| Error::sqlite(&path, e, busy))?;
            Ok((path, conn))
        })
        .collect()
}

/// Every value of the first column `sql` selects from `conn` (at `path`).
fn column(conn: &Connection, path: &Path, sql: &str, busy: u64) -> Result<Vec<String>, Error> {
    let sq = |e| Error::sqlite(path, e, busy);
    let mut st = conn.prepare(sql).map_err(sq)?;
    let rows = st.query_map([], |r| r.get::<_, String>(0)).map_err(sq)?;
    rows.collect::<rusqlite::Result<_>>().map_err(sq)
}

/// Natural keys the snapshot (at `snap_path`) holds that no store and no
/// quarantine entry accounts for.
pub(super) fn unaccounted(
    snapshot: &Connection,
    snap_path: &Path,
    stores: &[(PathBuf, Connection)],
    quarantined: &BTreeSet<(Table, String)>,
    busy: u64,
) -> Result<Vec<String>, Error> {
    let mut delivered_events = BTreeSet::new();
    let mut delivered_bodies = BTreeSet::new();
    for (path, conn) in stores {
        delivered_events.extend(column(
            conn,
            path,
            "SELECT entry_id FROM journal_entries WHERE entry_id IS NOT NULL",
            busy,
        )?);
        let refs = column(
            conn,
            path,
            "SELECT body_reference FROM body_upload_tasks WHERE body_reference IS NOT NULL",
            busy,
        )?;
        for r in refs {
            // The release itself parses every reference (`json.loads`).
            let v: serde_json::Value = serde_json::from_str(&r).map_err(|e| Error::Malformed {
                path: path.clone(),
                detail: format!("a body_upload_tasks.body_reference is not JSON ({e})"),
            })?;
            delivered_bodies.insert(body_key(&v));
        }
    }
    let sq = |e| Error::sqlite(snap_path, e, busy);
    let mut missing = Vec::new();
    let mut st = snapshot
        .prepare("SELECT id, event_id FROM queue")
        .map_err(sq)?;
    let rows = st
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
        .map_err(sq)?;
    for row in rows {
        let (id, event_id) = row.map_err(sq)?;
        if !delivered_events.contains(&event_id)
            && !quarantined.contains(&(Table::Queue, id.to_string()))
        {
            missing.push(format!("{} {event_id}", tables::QUEUE.name()));
        }
    }
    let body = tables::BODY_UPLOAD_QUEUE;
    let cols = body.key.join(", ");
    let mut st = snapshot
        .prepare(&format!("SELECT id, {cols} FROM {}", body.name()))
        .map_err(sq)?;
    let rows = st
        .query_map([], |r| {
            let id: i64 = r.get(0)?;
            let key: Vec<String> = (1..=body.key.len())
                .map(|i| r.get::<_, String>(i))
                .collect::<rusqlite::Result<_>>()?;
            Ok((id, key))
        })
        .map_err(sq)?;
    for row in rows {
        let (id, key) = row.map_err(sq)?;
        if !delivered_bodies.contains(&key) && !quarantined.contains(&(body.table, id.to_string()))
        {
            missing.push(format!("{} {}", body.name(), key.join("|")));
        }
    }
    Ok(missing)
}

pub(super) fn body_key(v: &serde_json::Value) -> Vec<String> {
    tables::BODY_UPLOAD_QUEUE
        .key
        .iter()
        .map(|k| match &v[*k] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

/// Rows each project store holds that came from this cutover.
pub(super) fn per_project(
    home: &Home,
    snapshot: &Connection,
    snap_path: &Path,
    busy: u64,
) -> Result<Vec<ProjectCarried>, Error> {
    // The snapshot's event ids, and its body ids: the release keeps a body
    // upload's source `id` as its `body_task_id`.
    let ids = |sql: &str| -> Result<BTreeSet<String>, Error> {
        Ok(column(snapshot, snap_path, sql, busy)?
            .into_iter()
            .collect())
    };
    let events = ids("SELECT event_id FROM queue")?;
    let bodies = ids("SELECT CAST(id AS TEXT) FROM body_upload_queue")?;
    let carried = |conn: &Connection, path: &Path, sql: &str, of: &BTreeSet<String>| {
        column(conn, path, sql, busy)
            .map(|keys| keys.iter().filter(|k| of.contains(*k)).count() as u64)
    };
    stores::gather(home)
        .stores
        .iter()
        .map(|s| {
            let path = PathBuf::from(&s.path);
            let conn = stores::open_ro(&path).map_err(|e| Error::sqlite(&path, e, busy))?;
            Ok(ProjectCarried {
                project_uuid: s.project_uuid.clone(),
                events: carried(
                    &conn,
                    &path,
                    "SELECT entry_id FROM journal_entries WHERE entry_id IS NOT NULL",
                    &events,
                )?,
                body_uploads: carried(
                    &conn,
                    &path,
                    "SELECT body_task_id FROM body_upload_tasks WHERE body_task_id IS NOT NULL",
                    &bodies,
                )?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        let cols = tables::BODY_UPLOAD_QUEUE.key.join(" TEXT, ");
        c.execute_batch(&format!(
            "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT NOT NULL);
             CREATE TABLE body_upload_queue (id INTEGER PRIMARY KEY, {cols} TEXT);
             INSERT INTO queue (id, event_id) VALUES (1, 'e1'), (2, 'e2');"
        ))
        .unwrap();
        c
    }

    fn store(references: &[&str]) -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "CREATE TABLE journal_entries (entry_id TEXT PRIMARY KEY);
             CREATE TABLE body_upload_tasks (body_task_id TEXT PRIMARY KEY, body_reference TEXT);
             INSERT INTO journal_entries VALUES ('e1');",
        )
        .unwrap();
        for (i, r) in references.iter().enumerate() {
            c.execute(
                "INSERT INTO body_upload_tasks VALUES (?1, ?2)",
                (i.to_string(), r),
            )
            .unwrap();
        }
        c
    }

    #[test]
    fn a_key_in_no_store_and_no_quarantine_is_unaccounted() {
        let stores = vec![(PathBuf::from("/s/a.sqlite"), store(&["{}"]))];
        let snap = Path::new("/w/snapshot.db");
        let none = BTreeSet::new();
        let missing = unaccounted(&snapshot(), snap, &stores, &none, 0).unwrap();
        assert_eq!(missing, vec!["queue e2".to_string()]);
        let quarantined = [(Table::Queue, "2".to_string())].into();
        let missing = unaccounted(&snapshot(), snap, &stores, &quarantined, 0).unwrap();
        assert!(missing.is_empty(), "{missing:?}");
    }

    #[test]
    fn an_unreadable_body_reference_is_an_error_naming_its_store() {
        let stores = vec![(PathBuf::from("/s/a.sqlite"), store(&["{}", "not json"]))];
        let err = unaccounted(
            &snapshot(),
            Path::new("/w/snapshot.db"),
            &stores,
            &BTreeSet::new(),
            0,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Malformed { .. }), "{err}");
        assert!(err.to_string().contains("/s/a.sqlite"), "{err}");
    }

    #[test]
    fn a_store_that_cannot_be_read_is_an_error_not_zero_keys() {
        let broken = Connection::open_in_memory().unwrap(); // no tables
        let stores = vec![(PathBuf::from("/s/broken.sqlite"), broken)];
        let err = unaccounted(
            &snapshot(),
            Path::new("/w/snapshot.db"),
            &stores,
            &BTreeSet::new(),
            0,
        )
        .unwrap_err();
        assert!(matches!(err, Error::Sqlite { .. }), "{err}");
        assert!(err.to_string().contains("/s/broken.sqlite"), "{err}");
    }
}
