//! Checking what the release carried: every snapshot key in a store or in quarantine, per-project counts (`docs/migrate.md`).

use std::collections::BTreeSet;
use std::path::Path;

use rusqlite::Connection;

use crate::db::schema::tables;
use crate::db::store;
use crate::home::Home;

use super::ProjectCarried;

/// Natural keys the snapshot holds that no store and no quarantine entry
/// accounts for (pure over the three connections' answers).
pub(super) fn unaccounted(
    snapshot: &Connection,
    stores: &[Connection],
    quarantined: &BTreeSet<(String, String)>,
) -> rusqlite::Result<(Vec<String>, Vec<ProjectCarried>)> {
    let mut delivered_events = BTreeSet::new();
    let mut delivered_bodies = BTreeSet::new();
    for conn in stores {
        let mut st = conn.prepare("SELECT entry_id FROM journal_entries")?;
        for id in st.query_map([], |r| r.get::<_, String>(0))? {
            delivered_events.insert(id?);
        }
        let mut st = conn.prepare("SELECT body_reference FROM body_upload_tasks")?;
        for r in st.query_map([], |r| r.get::<_, String>(0))? {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&r?) {
                delivered_bodies.insert(body_key(&v));
            }
        }
    }
    let mut missing = Vec::new();
    let mut st = snapshot.prepare("SELECT id, event_id FROM queue")?;
    for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))? {
        let (id, event_id) = row?;
        if !delivered_events.contains(&event_id)
            && !quarantined.contains(&("queue".to_string(), id.to_string()))
        {
            missing.push(format!("queue {event_id}"));
        }
    }
    let cols = tables::BODY_UPLOAD_QUEUE.key.join(", ");
    let mut st = snapshot.prepare(&format!("SELECT id, {cols} FROM body_upload_queue"))?;
    let rows = st.query_map([], |r| {
        let id: i64 = r.get(0)?;
        let key: Vec<String> = (1..=7)
            .map(|i| r.get::<_, String>(i))
            .collect::<rusqlite::Result<_>>()?;
        Ok((id, key))
    })?;
    for row in rows {
        let (id, key) = row?;
        if !delivered_bodies.contains(&key)
            && !quarantined.contains(&("body_upload_queue".to_string(), id.to_string()))
        {
            missing.push(format!("body_upload_queue {}", key.join("|")));
        }
    }
    Ok((missing, Vec::new()))
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
pub(super) fn per_project(home: &Home, snapshot: &Connection) -> Vec<ProjectCarried> {
    // The snapshot's event ids, and its body ids: the release keeps a body
    // upload's source `id` as its `body_task_id`.
    let ids = |sql: &str| -> BTreeSet<String> {
        snapshot
            .prepare(sql)
            .and_then(|mut st| {
                st.query_map([], |r| r.get::<_, String>(0))
                    .map(|rows| rows.flatten().collect())
            })
            .unwrap_or_default()
    };
    let events = ids("SELECT event_id FROM queue");
    let bodies = ids("SELECT CAST(id AS TEXT) FROM body_upload_queue");
    let carried = |conn: &Connection, sql: &str, of: &BTreeSet<String>| -> u64 {
        conn.prepare(sql)
            .and_then(|mut st| {
                st.query_map([], |r| r.get::<_, String>(0))
                    .map(|rows| rows.flatten().filter(|k| of.contains(k)).count() as u64)
            })
            .unwrap_or(0)
    };
    store::gather(home)
        .stores
        .iter()
        .filter_map(|s| {
            let conn = store::open_ro(Path::new(&s.path)).ok()?;
            Some(ProjectCarried {
                project_uuid: s.project_uuid.clone(),
                events: carried(&conn, "SELECT entry_id FROM journal_entries", &events),
                body_uploads: carried(&conn, "SELECT body_task_id FROM body_upload_tasks", &bodies),
            })
        })
        .collect()
}
