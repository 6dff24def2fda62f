//! Audit keys of the moved rows, streamed to the observer.

use super::*;

/// Stream the plan's keys (what was inserted) to the observer, in order.
/// Each key is rendered as JSON into one reused buffer (BLOBs as hex): no
/// row is held, and nothing is allocated per row.
pub(super) fn emit_audit(
    conn: &Connection,
    t: &TableDef,
    source: AuditFrom,
    observer: &mut dyn Observer,
    path: &Path,
    busy: u64,
) -> Result<(), Error> {
    use rusqlite::types::ValueRef;
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
    let json_err = |e: serde_json::Error| Error::Malformed {
        path: path.to_path_buf(),
        detail: format!("cannot render an audit key: {e}"),
    };
    while let Some(row) = rows.next().map_err(sq)? {
        buf.clear();
        buf.push(b'{');
        for (i, name) in t.key.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.push(b'"');
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(b"\":");
            match row.get_ref(i).map_err(sq)? {
                ValueRef::Null => buf.extend_from_slice(b"null"),
                ValueRef::Integer(n) => buf.extend_from_slice(n.to_string().as_bytes()),
                ValueRef::Real(f) => serde_json::to_writer(&mut buf, &f).map_err(json_err)?,
                ValueRef::Text(text) => {
                    serde_json::to_writer(&mut buf, &String::from_utf8_lossy(text))
                        .map_err(json_err)?
                }
                ValueRef::Blob(b) => {
                    buf.push(b'"');
                    for byte in b {
                        buf.extend_from_slice(format!("{byte:02x}").as_bytes());
                    }
                    buf.push(b'"');
                }
            }
        }
        buf.push(b'}');
        // Built from UTF-8 pieces and serde_json's escaping: always UTF-8.
        let key_json = std::str::from_utf8(&buf).unwrap_or("{}");
        observer.audit(&AuditLine {
            table: t.name,
            key_json,
        })?;
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
                ident(t.name)
            ),
            max_id,
        ),
    }
}
