//! Reading a legacy source (or a cutover's snapshot of one): its rows'
//! natural keys, by the columns its schema version has. Reads only.

use std::path::Path;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use crate::db::schema::tables::{BODY_UPLOAD_QUEUE, Table};
use crate::survey::stores;

use super::NaturalKey;

/// The natural key of the row the release names `row_id` in `table`: its
/// identity is `event_id` (else `id`) for events, `body_task_id` (else
/// `id`, else `artifact_path`) for body uploads.
pub(super) fn key_by_release_identity(
    conn: &Connection,
    table: Table,
    row_id: &str,
) -> Option<NaturalKey> {
    let version = source_version(conn);
    match table {
        Table::Queue => {
            let found = conn
                .query_row(
                    "SELECT event_id FROM queue WHERE event_id = ?1 \
                     OR ((event_id IS NULL OR trim(event_id) = '') AND CAST(id AS TEXT) = ?1) LIMIT 1",
                    [row_id],
                    |r| r.get::<_, String>(0),
                )
                .ok()?;
            Some(NaturalKey::Queue { event_id: found })
        }
        Table::BodyUploadQueue => {
            let cols = body_columns(version).join(", ");
            let has_task_id = has_column(conn, Table::BodyUploadQueue.as_str(), "body_task_id");
            let by = if has_task_id {
                "CAST(body_task_id AS TEXT) = ?1 OR CAST(id AS TEXT) = ?1 OR artifact_path = ?1"
            } else {
                "CAST(id AS TEXT) = ?1 OR artifact_path = ?1"
            };
            conn.query_row(
                &format!("SELECT {cols} FROM body_upload_queue WHERE {by} ORDER BY id LIMIT 1"),
                [row_id],
                |r| Ok(NaturalKey::BodyUploadQueue { key: texts(r, 0) }),
            )
            .ok()
        }
        Table::BodyUploadFailureLog => None,
    }
}

/// The seven body key columns as a DB at `version` names them, quoted.
fn body_columns(version: u32) -> Vec<String> {
    BODY_UPLOAD_QUEUE
        .key
        .iter()
        .map(|k| {
            format!(
                "\"{}\"",
                BODY_UPLOAD_QUEUE.column_at(k, version).unwrap_or(k)
            )
        })
        .collect()
}

/// V3 (`feature_slug`) or later, from the columns the DB has.
fn source_version(conn: &Connection) -> u32 {
    if has_column(conn, Table::BodyUploadQueue.as_str(), "feature_slug") {
        3
    } else {
        crate::db::schema::LATEST
    }
}

/// Does `table` have `column`? (`PRAGMA table_info`: a quoted unknown
/// column in a SELECT would be taken for a string literal.)
pub(super) fn has_column(conn: &Connection, table: &str, column: &str) -> bool {
    conn.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")
        .and_then(|mut st| st.exists([table, column]))
        .unwrap_or(false)
}

/// Seven key values as text, from column `from` on.
fn texts(r: &rusqlite::Row<'_>, from: usize) -> Vec<String> {
    (from..from + BODY_UPLOAD_QUEUE.key.len())
        .map(|i| match r.get_ref(i) {
            Ok(ValueRef::Text(t)) => String::from_utf8_lossy(t).into_owned(),
            Ok(ValueRef::Integer(n)) => n.to_string(),
            Ok(ValueRef::Real(f)) => serde_json::Value::from(f).to_string(),
            Ok(ValueRef::Blob(b)) => String::from_utf8_lossy(b).into_owned(),
            Ok(ValueRef::Null) | Err(_) => String::new(),
        })
        .collect()
}

/// The rows of queued work one source holds: (local id, natural key), and
/// its failure-log rows. Reads only.
pub fn source_rows(
    path: &Path,
    busy_timeout_ms: u64,
) -> Result<(Vec<(i64, NaturalKey)>, u64), crate::error::Error> {
    let conn = crate::db::open_read_only(path, busy_timeout_ms)?;
    let sq = |e| crate::error::Error::sqlite(path, e, busy_timeout_ms);
    let mut rows = Vec::new();
    if has_column(&conn, Table::Queue.as_str(), "event_id") {
        let mut st = conn
            .prepare("SELECT id, event_id FROM queue ORDER BY id")
            .map_err(sq)?;
        let found = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    NaturalKey::Queue {
                        event_id: r.get::<_, String>(1)?,
                    },
                ))
            })
            .map_err(sq)?;
        for row in found {
            rows.push(row.map_err(sq)?);
        }
    }
    if has_column(&conn, Table::BodyUploadQueue.as_str(), "id") {
        let cols = body_columns(source_version(&conn)).join(", ");
        let mut st = conn
            .prepare(&format!(
                "SELECT id, {cols} FROM body_upload_queue ORDER BY id"
            ))
            .map_err(sq)?;
        let found = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    NaturalKey::BodyUploadQueue { key: texts(r, 1) },
                ))
            })
            .map_err(sq)?;
        for row in found {
            rows.push(row.map_err(sq)?);
        }
    }
    let failure_log = if has_column(&conn, Table::BodyUploadFailureLog.as_str(), "id") {
        stores::count_rows(&conn, Table::BodyUploadFailureLog.as_str()).map_err(sq)?
    } else {
        0
    };
    Ok((rows, failure_log))
}
