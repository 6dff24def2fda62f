//! Audit keys of the moved rows, streamed to the observer.

use std::path::Path;

use rusqlite::Connection;

use super::sql::{plan_key_cols, plan_table};
use crate::db::ident;
use crate::db::schema::tables::TableDef;
use crate::error::Error;
use crate::migrate::observe::{AuditLine, Observer};

/// Where a table's audit keys are read once its rows are durable in scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuditFrom {
    /// The plan temp table: exactly the rows inserted.
    Plan,
    /// A scoped table that was empty: its rows up to `max_id` are the moved
    /// ones (a daemon's later rows get larger ids; read under the write lock,
    /// so none is drained meanwhile).
    NewScoped { max_id: i64 },
}

/// Stream the plan's keys (what was inserted) to the observer, in order.
/// Each key is rendered as typed JSON into one reused buffer
/// ([`push_typed`]): no row is held.
pub(super) fn emit_audit(
    conn: &Connection,
    t: &TableDef,
    source: AuditFrom,
    observer: &mut dyn Observer,
    path: &Path,
    busy: u64,
) -> Result<(), Error> {
    let sq = |e| Error::sqlite(path, e, busy);
    let (sql, up_to) = audit_query(t, source);
    let mut stmt = conn.prepare(&sql).map_err(sq)?;
    let mut rows = if matches!(source, AuditFrom::Plan) {
        stmt.query([])
    } else {
        stmt.query([up_to])
    }
    .map_err(sq)?;
    let mut buf: Vec<u8> = Vec::with_capacity(256);
    while let Some(row) = rows.next().map_err(sq)? {
        buf.clear();
        typed_object(
            &mut buf,
            t.key.iter().copied(),
            |i| row.get_ref(i).map_err(sq),
            path,
        )?;
        observer.audit(&AuditLine {
            table: t.table,
            key_json: as_utf8(&buf),
        })?;
    }
    Ok(())
}

/// `{"name": typed value, ...}` into `buf`, each value as [`push_typed`]
/// renders it; `value(i)` is the `i`-th name's value.
pub(super) fn typed_object<'a, 'r>(
    buf: &mut Vec<u8>,
    names: impl Iterator<Item = &'a str>,
    value: impl Fn(usize) -> Result<rusqlite::types::ValueRef<'r>, Error>,
    path: &Path,
) -> Result<(), Error> {
    buf.push(b'{');
    for (i, name) in names.enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let v = value(i)?;
        let json_err = |e: serde_json::Error| Error::Malformed {
            path: path.to_path_buf(),
            detail: format!("cannot render a typed value: {e}"),
        };
        serde_json::to_writer(&mut *buf, name).map_err(json_err)?;
        buf.push(b':');
        push_typed(buf, v).map_err(json_err)?;
    }
    buf.push(b'}');
    Ok(())
}

/// A buffer built from UTF-8 pieces and serde_json's escaping: always UTF-8.
pub(super) fn as_utf8(buf: &[u8]) -> &str {
    std::str::from_utf8(buf).unwrap_or("{}")
}

/// One key value as typed JSON, lossless and telling the types apart: TEXT
/// that is UTF-8 as a JSON string; TEXT that is not as `{"text_hex": ".."}`;
/// a BLOB as `{"blob_hex": ".."}` (lower-case hex of the bytes); INTEGER and
/// REAL as numbers; NULL as `null` (`docs/migrate.md`, "Audit trail").
pub(super) fn push_typed(
    buf: &mut Vec<u8>,
    value: rusqlite::types::ValueRef<'_>,
) -> Result<(), serde_json::Error> {
    use rusqlite::types::ValueRef;
    fn hex(buf: &mut Vec<u8>, tag: &[u8], bytes: &[u8]) {
        buf.extend_from_slice(b"{\"");
        buf.extend_from_slice(tag);
        buf.extend_from_slice(b"\":\"");
        buf.extend_from_slice(hex::encode(bytes).as_bytes());
        buf.extend_from_slice(b"\"}");
    }
    match value {
        ValueRef::Null => buf.extend_from_slice(b"null"),
        ValueRef::Integer(n) => buf.extend_from_slice(n.to_string().as_bytes()),
        ValueRef::Real(f) => serde_json::to_writer(&mut *buf, &f)?,
        ValueRef::Text(text) => match std::str::from_utf8(text) {
            Ok(s) => serde_json::to_writer(&mut *buf, s)?,
            Err(_) => hex(buf, b"text_hex", text),
        },
        ValueRef::Blob(b) => hex(buf, b"blob_hex", b),
    }
    Ok(())
}

/// The SQL reading a table's audit keys in order, and its id bound.
fn audit_query(t: &TableDef, source: AuditFrom) -> (String, i64) {
    match source {
        AuditFrom::Plan => (
            format!(
                "SELECT {} FROM {} ORDER BY rowid",
                plan_key_cols(t).join(", "),
                plan_table(t)
            ),
            i64::MAX,
        ),
        AuditFrom::NewScoped { max_id } => (
            format!(
                "SELECT {} FROM \"main\".{} WHERE \"id\" <= ?1 ORDER BY \"id\"",
                t.key
                    .iter()
                    .map(|k| ident(k))
                    .collect::<Vec<_>>()
                    .join(", "),
                ident(t.name())
            ),
            max_id,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::push_typed;
    use rusqlite::types::ValueRef;

    fn typed(v: ValueRef<'_>) -> String {
        let mut buf = Vec::new();
        push_typed(&mut buf, v).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn text_is_a_json_string() {
        assert_eq!(
            typed(ValueRef::Text("evt-\"ü\"".as_bytes())),
            r#""evt-\"ü\"""#
        );
    }

    #[test]
    fn a_blob_is_tagged_hex_and_differs_from_the_same_text() {
        assert_eq!(typed(ValueRef::Blob(b"ab\x00")), r#"{"blob_hex":"616200"}"#);
        assert_ne!(typed(ValueRef::Blob(b"ab")), typed(ValueRef::Text(b"ab")));
    }

    #[test]
    fn non_utf8_text_is_kept_losslessly_as_tagged_hex() {
        assert_eq!(
            typed(ValueRef::Text(b"e\xff\xfe")),
            r#"{"text_hex":"65fffe"}"#
        );
    }

    #[test]
    fn numbers_and_null_stay_json_scalars() {
        assert_eq!(typed(ValueRef::Integer(-7)), "-7");
        assert_eq!(typed(ValueRef::Null), "null");
    }
}
