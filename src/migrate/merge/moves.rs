//! One move's statements over the attached pair (legacy attached to a
//! connection whose `main` is the scoped DB): begin, insert, seal, delete, commit.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::MoveReport;
use super::audit::{AuditFrom, as_utf8, emit_audit, typed_object};
use super::sql::{
    Side, divergent_where, insert_sql, key_cols, plan_sql, plan_table, present_where,
    refine_plan_sql, table_ref,
};
use crate::db::schema::tables::{ALL, TableDef};
use crate::db::{count, ident, schema};
use crate::error::Error;
use crate::migrate::observe::{DivergentLine, Observer, Step};

use super::sql::Span;

// ------------------------------------------------------------------ effects

/// Does `schema.table` enforce its natural key with a (non-partial) unique
/// index over exactly the key columns? Then legacy rows need no dedup pass.
pub(super) fn key_is_unique(
    conn: &Connection,
    schema: &str,
    t: &TableDef,
    version: u32,
) -> rusqlite::Result<bool> {
    let mut want: Vec<&str> = key_cols(t, version);
    want.sort_unstable();
    let mut list = conn.prepare(
        "SELECT name FROM pragma_index_list(?1, ?2) WHERE \"unique\" = 1 AND partial = 0",
    )?;
    let names: Vec<String> = list
        .query_map((t.name(), schema), |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut info = conn.prepare("SELECT name FROM pragma_index_info(?1, ?2)")?;
    for name in names {
        let mut cols: Vec<Option<String>> = info
            .query_map((&name, schema), |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        cols.sort_unstable();
        if cols.len() == want.len()
            && cols
                .iter()
                .zip(&want)
                .all(|(c, w)| c.as_deref() == Some(*w))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

/// One move's fixed parts: the legacy DB attached as `legacy` to a
/// connection whose `main` is the scoped DB, and the tables to move.
pub(super) struct Move {
    pub(super) legacy_path: PathBuf,
    pub(super) scoped_path: PathBuf,
    pub(super) legacy_side: Side<'static>,
    /// The scoped DB's version once upgraded (the release's, or beyond it).
    pub(super) scoped_version: u32,
    pub(super) tables: Vec<&'static TableDef>,
    pub(super) busy: u64,
}

impl Move {
    pub(super) fn attach(
        conn: &Connection,
        legacy_path: &Path,
        scoped_path: &Path,
        scoped_version: u32,
        busy: u64,
    ) -> Result<Move, Error> {
        conn.execute(
            "ATTACH DATABASE ?1 AS legacy",
            [crate::db::file_uri(legacy_path)],
        )
        .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
        // Deleting user rows: legacy commits with full syncing, whatever the
        // connection's defaults.
        conn.execute_batch("PRAGMA legacy.synchronous = FULL")
            .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
        // Read the version through the attachment the SQL will use.
        let lv = schema::fingerprint(conn, "legacy", legacy_path)?;
        Ok(Move {
            legacy_path: legacy_path.to_path_buf(),
            scoped_path: scoped_path.to_path_buf(),
            legacy_side: Side {
                schema: "legacy",
                version: lv,
            },
            scoped_version,
            // A table the scoped DB's version lacks keeps its rows in legacy.
            tables: ALL
                .iter()
                .filter(|t| t.exists_at(lv) && t.exists_at(scoped_version))
                .collect(),
            busy,
        })
    }

    pub(super) fn scoped_side(&self) -> Side<'static> {
        Side {
            schema: "main",
            version: self.scoped_version,
        }
    }

    pub(super) fn on_scoped(&self, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.scoped_path, e, self.busy)
    }

    pub(super) fn on_legacy(&self, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.legacy_path, e, self.busy)
    }

    /// Rollback journal on both files: one transaction commits both atomically.
    pub(super) fn journal_modes_allow_atomic(&self, conn: &Connection) -> Result<bool, Error> {
        for schema in ["main", "legacy"] {
            let mode: String = conn
                .query_row(&format!("PRAGMA {schema}.journal_mode"), [], |r| r.get(0))
                .map_err(|e| self.on_scoped(e))?;
            if mode.eq_ignore_ascii_case("wal") {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) fn commit(&self, conn: &Connection) -> Result<(), Error> {
        let started = std::time::Instant::now();
        conn.execute_batch("COMMIT")
            .map_err(|e| self.on_locked_pair(e).waited(started.elapsed()))
    }

    /// An error of a statement over both files: when it is a lock, name the
    /// file another process holds (probed without waiting).
    pub(super) fn on_locked_pair(&self, e: rusqlite::Error) -> Error {
        let err = self.on_legacy(e);
        if matches!(err, Error::Locked { .. })
            && write_locked(&self.scoped_path)
            && !write_locked(&self.legacy_path)
        {
            return Error::Locked {
                path: self.scoped_path.clone(),
                timeout_ms: 0,
            };
        }
        err
    }

    pub(super) fn count(&self, conn: &Connection, sql: &str) -> Result<u64, Error> {
        count(conn, sql, &self.legacy_path, self.busy)
    }

    /// Plan and insert each span's rows into the scoped DB (`main`).
    pub(super) fn insert_phase(
        &self,
        conn: &Connection,
        spans: &mut [Span],
        report: &mut MoveReport,
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        for span in spans.iter_mut() {
            let t = span.table;
            if span.range.after == i64::MIN {
                observer.table_started(t.table, report.legacy_before([t.table]));
            }
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", plan_table(t)))
                .map_err(|e| self.on_scoped(e))?;
            let unique = key_is_unique(conn, "legacy", t, self.legacy_side.version)
                .map_err(|e| self.on_legacy(e))?;
            conn.execute_batch(&plan_sql(
                t,
                self.legacy_side,
                Some(self.scoped_side()),
                unique,
                span.range,
            ))
            .map_err(|e| self.on_legacy(e))?;
            observer.checkpoint(Step::Planned(t.table))?;
            let inserted = conn
                .execute(&insert_sql(t, self.legacy_side, self.scoped_version), [])
                .map_err(|e| self.on_scoped(e))? as u64;
            let planned = self.count(conn, &format!("SELECT count(*) FROM {}", plan_table(t)))?;
            if inserted != planned {
                // Some planned row did not land (OR IGNORE): keep the plan to
                // exactly what was inserted, for counts and audit lines.
                conn.execute(&refine_plan_sql(t, self.scoped_version), [])
                    .map_err(|e| self.on_scoped(e))?;
            }
            span.inserted = inserted;
            if let Some(counts) = report.counts_mut(t.table) {
                counts.inserted += inserted;
            }
            observer.checkpoint(Step::Inserted(t.table))?;
        }
        Ok(())
    }

    /// Delete from legacy each span's rows whose key is in the scoped DB
    /// (`main`), the divergent ones kept whole as evidence first.
    /// `locks_held`: legacy is as the plan saw it (same transaction), so a
    /// plan that covered every row of a span proves them all moved.
    pub(super) fn delete_phase(
        &self,
        conn: &Connection,
        spans: &[Span],
        locks_held: bool,
        report: &mut MoveReport,
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        let mut evidence = false;
        for span in spans {
            let t = span.table;
            let Some(counts) = report.counts_mut(t.table) else {
                continue;
            };
            let lt = table_ref(self.legacy_side, t);
            let in_span = span.range.sql("l");
            let present = present_where(t, self.legacy_side, Some(self.scoped_side()), false);
            let total = self.count(
                conn,
                &format!("SELECT count(*) FROM {lt} AS l WHERE {in_span}"),
            )?;
            let provable = if locks_held && span.inserted == total {
                total
            } else {
                self.count(
                    conn,
                    &format!("SELECT count(*) FROM {lt} AS l WHERE {in_span} AND {present}"),
                )?
            };
            // Rows past the table's last id when the move reached it arrived
            // while it ran (left for the next run); the delete never touches them.
            let arrived = if span.last() {
                Some(self.count(
                    conn,
                    &format!(
                        "SELECT count(*) FROM {lt} WHERE \"id\" > {}",
                        span.late_after
                    ),
                )?)
            } else {
                None
            };
            if provable > span.inserted {
                let kept = self.keep_divergent(conn, t, &in_span, &present, observer)?;
                counts.divergent += kept;
                evidence |= kept > 0;
            }
            let deleted = if provable == 0 {
                // Nothing to delete: no statement, so an unchanged file stays
                // byte-identical (clearing an empty table still writes pages).
                Ok(0)
            } else if provable == total && span.whole_table() && arrived == Some(0) {
                // The span is the whole table (none arrived) and every row
                // is stored: clear it at once (SQLite frees its pages
                // instead of deleting row by row and updating each index).
                conn.execute(&format!("DELETE FROM {lt}"), [])
            } else if provable == total {
                conn.execute(&format!("DELETE FROM {lt} AS l WHERE {in_span}"), [])
            } else {
                conn.execute(
                    &format!("DELETE FROM {lt} AS l WHERE {in_span} AND {present}"),
                    [],
                )
            }
            .map_err(|e| self.on_legacy(e))? as u64;
            counts.deleted_from_legacy += deleted;
            counts.left_in_legacy += total.saturating_sub(deleted);
            if let Some(n) = arrived {
                counts.arrived_late = n;
            }
            observer.checkpoint(Step::Deleted(t.table))?;
        }
        if evidence {
            observer.seal_divergent()?;
        }
        Ok(())
    }

    /// Stream the span's divergent rows (see [`divergent_where`]) to the
    /// observer, whole: every legacy column, typed. Returns how many.
    fn keep_divergent(
        &self,
        conn: &Connection,
        t: &TableDef,
        in_span: &str,
        present: &str,
        observer: &mut dyn Observer,
    ) -> Result<u64, Error> {
        let differs = divergent_where(t, self.legacy_side, self.scoped_side());
        let lt = table_ref(self.legacy_side, t);
        let keys: Vec<String> = key_cols(t, self.legacy_side.version)
            .iter()
            .map(|c| format!("l.{}", ident(c)))
            .collect();
        let sql = format!(
            "SELECT {}, l.* FROM {lt} AS l WHERE {in_span} AND {present} AND {differs} ORDER BY l.\"id\"",
            keys.join(", ")
        );
        let mut stmt = conn.prepare(&sql).map_err(|e| self.on_legacy(e))?;
        let names: Vec<String> = stmt
            .column_names()
            .skip(keys.len())
            .map(|n| n.to_string())
            .collect();
        let mut rows = stmt.query([]).map_err(|e| self.on_legacy(e))?;
        let mut kept = 0;
        let (mut key, mut row) = (Vec::with_capacity(128), Vec::with_capacity(1024));
        while let Some(r) = rows.next().map_err(|e| self.on_legacy(e))? {
            key.clear();
            row.clear();
            let get = |i| r.get_ref(i).map_err(|e| self.on_legacy(e));
            typed_object(&mut key, t.key.iter().copied(), get, &self.legacy_path)?;
            typed_object(
                &mut row,
                names.iter().map(String::as_str),
                |i| get(keys.len() + i),
                &self.legacy_path,
            )?;
            observer.divergent(&DivergentLine {
                table: t.table,
                key_json: as_utf8(&key),
                row_json: as_utf8(&row),
            })?;
            kept += 1;
        }
        Ok(kept)
    }

    /// Stream the audit lines of `tables` (each read from where its moved
    /// keys are), let the observer seal them, and write its marker into
    /// `main` (the scoped DB, or the file that becomes it) in the
    /// transaction that carries the rows. Old markers go at the same time.
    pub(super) fn seal(
        &self,
        conn: &Connection,
        tables: &[(&TableDef, AuditFrom)],
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        for (t, source) in tables {
            emit_audit(conn, t, *source, observer, &self.scoped_path, self.busy)?;
        }
        let Some(marker) = observer.seal_audit()? else {
            return Ok(());
        };
        let prefix = crate::migrate::journal::MARKER_PREFIX;
        conn.execute(
            "DELETE FROM main.sqlite_sequence WHERE substr(name, 1, length(?1)) = ?1",
            [prefix],
        )
        .and_then(|_| {
            conn.execute(
                "INSERT INTO main.sqlite_sequence (name, seq) VALUES (?1, 0)",
                [&marker],
            )
        })
        .map_err(|e| self.on_scoped(e))?;
        Ok(())
    }

    pub(super) fn mark_changed(&self, report: &mut MoveReport) {
        let moved: u64 = report
            .tables
            .iter()
            .map(|c| c.inserted + c.deleted_from_legacy)
            .sum();
        report.changed |= moved > 0;
    }
}

/// Does another process hold a write lock on `path` right now? Probed with
/// `BEGIN IMMEDIATE` and no busy timeout, rolled back at once.
pub(super) fn write_locked(path: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE) else {
        return false;
    };
    let busy = conn.execute_batch("BEGIN IMMEDIATE").is_err();
    let _ = conn.execute_batch("ROLLBACK");
    busy
}

/// An 8 MiB page cache for the scoped DB and for temp (the plan tables,
/// which spill to a temp file beyond it rather than grow in memory): a
/// chunk's index pages stay resident, rows stream, and memory is flat at
/// any size.
pub(super) const CACHE: &str =
    "PRAGMA temp_store = FILE; PRAGMA cache_size = -8192; PRAGMA temp.cache_size = -8192;";

pub(super) fn open_scoped(path: &Path, busy: u64) -> Result<Connection, Error> {
    if let Some(dir) = path.parent() {
        crate::fsutil::create_private_dir_all(dir)?;
    }
    let existed = path.exists();
    if !existed {
        crate::fsutil::create_private_empty(path)?;
    }
    let conn = Connection::open(path).map_err(|e| Error::sqlite(path, e, busy))?;
    conn.busy_timeout(crate::db::busy_duration(busy))
        .map_err(|e| Error::sqlite(path, e, busy))?;
    conn.execute_batch(&format!("{CACHE} PRAGMA main.synchronous = FULL"))
        .map_err(|e| Error::sqlite(path, e, busy))?;
    Ok(conn)
}
