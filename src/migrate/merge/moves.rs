//! One move's statements over the attached pair (legacy attached to a
//! connection whose `main` is the scoped DB): begin, insert, seal, delete, commit.

use super::*;

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
        .query_map((t.name, schema), |r| r.get(0))?
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

/// `PRAGMA legacy.data_version`: changes when another connection commits to legacy.
pub(super) fn legacy_data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA legacy.data_version", [], |r| r.get(0))
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
            [legacy_path.to_string_lossy()],
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

    /// Plan and insert every table into the existing scoped DB (`main`).
    pub(super) fn insert_phase(
        &self,
        conn: &Connection,
        report: &mut MoveReport,
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        for t in &self.tables {
            let Some(counts) = report.tables.iter_mut().find(|c| c.table == t.name) else {
                continue;
            };
            // Counted under the write locks: what this move starts from.
            counts.legacy_before = self.count(
                conn,
                &format!("SELECT count(*) FROM {}", table_ref(self.legacy_side, t)),
            )?;
            observer.table_started(t.name, counts.legacy_before);
            conn.execute_batch(&format!("DROP TABLE IF EXISTS {}", plan_table(t)))
                .map_err(|e| self.on_scoped(e))?;
            let unique = key_is_unique(conn, "legacy", t, self.legacy_side.version)
                .map_err(|e| self.on_legacy(e))?;
            conn.execute_batch(&plan_sql(
                t,
                self.legacy_side,
                Some(self.scoped_side()),
                unique,
            ))
            .map_err(|e| self.on_legacy(e))?;
            observer.checkpoint(Step::Planned(t.name))?;
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
            counts.inserted = inserted;
            observer.checkpoint(Step::Inserted(t.name))?;
        }
        Ok(())
    }

    /// Delete from legacy every row whose key is in the scoped DB (`main`).
    /// `locks_held`: legacy is as the plan saw it (same transaction, or no
    /// commit by anyone since), so a plan that covered every legacy row
    /// proves them all moved without a probe.
    pub(super) fn delete_phase(
        &self,
        conn: &Connection,
        locks_held: bool,
        report: &mut MoveReport,
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        for t in &self.tables {
            let Some(counts) = report.tables.iter_mut().find(|c| c.table == t.name) else {
                continue;
            };
            let lt = table_ref(self.legacy_side, t);
            let present = present_where(t, self.legacy_side, Some(self.scoped_side()), false);
            let total = self.count(conn, &format!("SELECT count(*) FROM {lt}"))?;
            let provable = if locks_held && counts.inserted == total {
                total
            } else {
                self.count(
                    conn,
                    &format!("SELECT count(*) FROM {lt} AS l WHERE {present}"),
                )?
            };
            let deleted = if provable == 0 {
                // Nothing to delete: no statement, so an unchanged file stays
                // byte-identical (clearing an empty table still writes pages).
                Ok(0)
            } else if provable == total {
                // Every row's key is in the scoped DB: clear the table at once.
                conn.execute(&format!("DELETE FROM {lt}"), [])
            } else {
                conn.execute(
                    &format!(
                        "DELETE FROM {lt} WHERE rowid IN (SELECT l.rowid FROM {lt} AS l WHERE {present})"
                    ),
                    [],
                )
            }
            .map_err(|e| self.on_legacy(e))? as u64;
            counts.already_present = deleted.saturating_sub(counts.inserted);
            counts.deleted_from_legacy = deleted;
            let remaining = total.saturating_sub(deleted);
            // Rows beyond what the plan saw arrived meanwhile (WAL: between
            // the two commits; new DB: during the build).
            counts.arrived_late = total.saturating_sub(counts.legacy_before).min(remaining);
            counts.left_in_legacy = remaining - counts.arrived_late;
            observer.checkpoint(Step::Deleted(t.name))?;
        }
        Ok(())
    }

    /// Stream the audit lines, let the observer seal them, and write its
    /// marker into `main` (the scoped DB, or the file that becomes it) in
    /// the transaction that carries the rows. Old markers go at the same time.
    pub(super) fn seal(
        &self,
        conn: &Connection,
        sources: &[AuditFrom],
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        self.audit(conn, sources, observer)?;
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

    /// One audit line per moved row, once the rows are durable in scoped.
    pub(super) fn audit(
        &self,
        conn: &Connection,
        sources: &[AuditFrom],
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        for (i, t) in self.tables.iter().enumerate() {
            let source = sources.get(i).copied().unwrap_or(AuditFrom::Plan);
            emit_audit(conn, t, source, observer, &self.scoped_path, self.busy)?;
        }
        Ok(())
    }

    /// Fast path: move every movable row of `t` into the empty scoped table.
    pub(super) fn insert_all(
        &self,
        conn: &Connection,
        t: &TableDef,
        report: &mut MoveReport,
        observer: &mut dyn Observer,
    ) -> Result<AuditFrom, Error> {
        let Some(counts) = report.tables.iter_mut().find(|c| c.table == t.name) else {
            return Ok(AuditFrom::Plan);
        };
        counts.legacy_before = self.count(
            conn,
            &format!("SELECT count(*) FROM {}", table_ref(self.legacy_side, t)),
        )?;
        observer.table_started(t.name, counts.legacy_before);
        observer.checkpoint(Step::Planned(t.name))?;
        counts.inserted = conn
            .execute(
                &insert_all_sql(t, self.legacy_side, self.scoped_version),
                [],
            )
            .map_err(|e| self.on_scoped(e))? as u64;
        let max_id: Option<i64> = conn
            .query_row(
                &format!("SELECT max(\"id\") FROM \"main\".{}", ident(t.name)),
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.on_scoped(e))?;
        observer.checkpoint(Step::Inserted(t.name))?;
        Ok(AuditFrom::NewScoped {
            max_id: max_id.unwrap_or(0),
        })
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
    // A 16 MiB page cache (per attached DB) keeps a typical move's index
    // pages resident; rows still stream, so memory stays flat at any size.
    conn.execute_batch(
        "PRAGMA cache_size = -16384; PRAGMA temp.cache_size = -16384; PRAGMA main.synchronous = FULL",
    )
        .map_err(|e| Error::sqlite(path, e, busy))?;
    Ok(conn)
}
