//! The fast path into a scoped DB that does not exist yet.

use super::*;

/// Fast path into a scoped DB that does not exist yet: build it complete in a
/// temp file beside it with no per-statement syncing, fsync it once, link it
/// into place (never over a DB a daemon created meanwhile), then delete from
/// legacy what is provably in it — scoped first, legacy second, as in WAL
/// mode. A crash before the link leaves legacy untouched; after it, the next
/// run finds every key present and only deletes. `Ok(None)`: the scoped DB
/// appeared meanwhile; nothing was changed.
pub(super) fn move_into_new(
    legacy_path: &Path,
    scoped_path: &Path,
    mut report: MoveReport,
    observer: &mut dyn Observer,
    (target, busy): (u32, u64),
) -> Result<Option<MoveReport>, Error> {
    let dir = scoped_path.parent().unwrap_or(Path::new("."));
    crate::fsutil::create_private_dir_all(dir)?;
    let name = scoped_path
        .file_name()
        .map_or_else(|| "queue.db".into(), |n| n.to_string_lossy().into_owned());
    let prefix = format!("{name}.sk-migrate-");
    remove_stale_temps(dir, &prefix);
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    // Removed when dropped: on every error below, and right after the link.
    let tmp = TempDb::create(dir.join(format!("{prefix}{}-{stamp}.tmp", std::process::id())))?;
    let (conn, mv, seen) = build(
        legacy_path,
        tmp.path(),
        &mut report,
        observer,
        (target, busy),
    )?;
    // Lock before the link: from the moment a daemon can see the scoped DB,
    // our write lock on it keeps the daemon from draining the new rows
    // before they are audited (their lines are true whatever happens to
    // legacy next: the rows are durable in scoped).
    let tx = mv.tx(&conn, observer)?;
    // hard_link never replaces: a scoped DB a daemon created meanwhile wins.
    let linked = std::fs::hard_link(tmp.path(), scoped_path);
    drop(tmp);
    let linked = match linked {
        Ok(()) => crate::fsutil::sync_dir(dir),
        // AlreadyExists: a daemon created it meanwhile. Anything else (a file
        // system without hard links): the general path creates it in place.
        Err(_) => {
            drop(tx);
            observer.audit_void();
            return Ok(None);
        }
    };
    report.scoped_version = Some(mv.scoped_version);
    report.changed = true;
    report.atomic = false;

    // Second phase, same connection (its `main` is now the scoped DB's inode):
    // delete from legacy what is provably in scoped (audited before the link).
    // An error rolls `tx` back as it drops.
    linked?;
    observer.checkpoint(Step::ScopedCommitted)?;
    let unchanged = legacy_data_version(&conn).map_err(|e| mv.on_legacy(e))? == seen;
    mv.delete_phase(&conn, unchanged, &mut report, observer)?;
    tx.commit(&mv)?;
    observer.checkpoint(Step::Committed)?;
    mv.mark_changed(&mut report);
    Ok(Some(report))
}

/// Build the new scoped DB complete in the private temp file `tmp`, its
/// audit lines sealed and the file fsynced. Returns the connection (legacy
/// attached) and legacy's `data_version` when the inserts started.
fn build(
    legacy_path: &Path,
    tmp: &Path,
    report: &mut MoveReport,
    observer: &mut dyn Observer,
    (target, busy): (u32, u64),
) -> Result<(Connection, Move, i64), Error> {
    let mut conn = Connection::open(tmp).map_err(|e| Error::sqlite(tmp, e, busy))?;
    conn.busy_timeout(crate::db::busy_duration(busy))
        .and_then(|_| {
            // A temp file nobody else sees: no journal, one fsync at the end.
            conn.execute_batch(
                "PRAGMA main.journal_mode = OFF; PRAGMA main.synchronous = OFF; \
                 PRAGMA cache_size = -16384; PRAGMA temp.cache_size = -16384;",
            )
        })
        .map_err(|e| Error::sqlite(tmp, e, busy))?;
    let upgrade = schema::upgrade_to(&mut conn, tmp, target)?;
    observer.checkpoint(Step::SchemaUpgraded)?;
    let mv = Move::attach(&conn, legacy_path, tmp, upgrade.to, busy)?;
    let secondary = drop_secondary_indexes(&conn, &mv)?;
    let (seen, sources) = load(&conn, &mv, tmp, &secondary, report, observer)?;
    // The file is still private: every row in it is one this run moved.
    mv.seal(&conn, &sources, observer)?;
    std::fs::File::open(tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(tmp, e))?;
    Ok((conn, mv, seen))
}

/// Secondary indexes are built once after the load (a sort) rather than row
/// by row; their SQL is kept verbatim, so the schema is the one the
/// migrations wrote. Drops them and returns their SQL.
fn drop_secondary_indexes(conn: &Connection, mv: &Move) -> Result<Vec<String>, Error> {
    let mut stmt = conn
        .prepare(
            "SELECT name, sql FROM main.sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY rowid",
        )
        .map_err(|e| mv.on_scoped(e))?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .map_err(|e| mv.on_scoped(e))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| mv.on_scoped(e))?;
    for (name, _) in &rows {
        conn.execute_batch(&format!("DROP INDEX main.{}", ident(name)))
            .map_err(|e| mv.on_scoped(e))?;
    }
    Ok(rows.into_iter().map(|(_, sql)| sql).collect())
}

/// Insert every table, each in its own transaction, then rebuild the
/// secondary indexes. Returns legacy's `data_version` before the inserts and
/// where each table's audit keys are read.
fn load(
    conn: &Connection,
    mv: &Move,
    tmp: &Path,
    secondary: &[String],
    report: &mut MoveReport,
    observer: &mut dyn Observer,
) -> Result<(i64, Vec<AuditFrom>), Error> {
    // Each table commits on its own (the file is private until linked), so
    // a helper thread can write its pages back while the next one builds;
    // the fsync before the link is then short.
    let (kick, kicks) = std::sync::mpsc::channel::<()>();
    let sync_path = tmp.to_path_buf();
    let syncer = std::thread::spawn(move || {
        for () in kicks {
            if let Ok(f) = std::fs::File::open(&sync_path) {
                let _ = f.sync_data();
            }
        }
    });
    let mut sources = Vec::new();
    let built = (|| -> Result<i64, Error> {
        let mut pending = Some(mv.tx(conn, observer)?);
        // The legacy state the inserts start from: unchanged later means
        // no other connection has committed to legacy since.
        let seen = legacy_data_version(conn).map_err(|e| mv.on_legacy(e))?;
        for t in &mv.tables {
            let tx = match pending.take() {
                Some(tx) => tx,
                None => mv.tx(conn, observer)?,
            };
            sources.push(mv.insert_all(conn, t, report, observer)?);
            tx.commit(mv)?;
            let _ = kick.send(());
        }
        for sql in secondary {
            conn.execute_batch(sql).map_err(|e| mv.on_scoped(e))?;
        }
        Ok(seen)
    })();
    drop(kick);
    let _ = syncer.join();
    Ok((built?, sources))
}

/// Temp files of runs killed before their link hold only copies: remove
/// those whose process (the pid in their name) is gone. A live run's temp
/// file is never touched.
pub(super) fn remove_stale_temps(dir: &Path, prefix: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file
            .strip_prefix(prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|p| p.parse::<i64>().ok());
        if pid.is_some_and(|p| !crate::process::pid_alive(p)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
