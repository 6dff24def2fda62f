//! The fast path into a scoped DB that does not exist yet.

use std::path::Path;

use rusqlite::Connection;

use super::audit::AuditFrom;
use super::guard::{TempDb, Tx};
use super::moves::{CACHE, Move};
use super::sql::{IdRange, insert_all_sql, table_ref};
use super::{MoveOptions, MoveReport};
use crate::db::schema::tables::TableDef;
use crate::db::{ident, schema};
use crate::error::Error;
use crate::migrate::observe::{Observer, Step};

use rusqlite::OptionalExtension;

use super::chunk::{Chunker, FIRST_CHUNK, pause_after};

/// Fast path into a scoped DB that does not exist yet: build it complete in a
/// temp file beside it with no per-statement syncing, fsync it once, link it
/// into place (never over a DB a daemon created meanwhile), then delete from
/// legacy what is provably in it, in chunks — scoped first, legacy second,
/// as in WAL mode. A crash before the link leaves legacy untouched; after
/// it, the next run finds every key present and only deletes. `Ok(None)`:
/// the scoped DB appeared meanwhile; nothing was changed.
pub(super) fn move_into_new(
    legacy_path: &Path,
    scoped_path: &Path,
    mut report: MoveReport,
    observer: &mut dyn Observer,
    opts: &MoveOptions,
) -> Result<Option<MoveReport>, Error> {
    let busy = opts.busy_timeout_ms;
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
    let (conn, mv, seen) = build(legacy_path, tmp.path(), &mut report, observer, opts)?;
    // Lock before the link: from the moment a daemon can see the scoped DB,
    // our write lock on it keeps the daemon from draining the new rows
    // before their audit lines are sealed and promoted.
    let tx = mv.tx(&conn, observer)?;
    // hard_link never replaces: a scoped DB a daemon created meanwhile wins.
    let linked = std::fs::hard_link(tmp.path(), scoped_path);
    drop(tmp);
    match linked {
        Ok(()) => crate::fsutil::sync_dir(dir)?,
        // AlreadyExists: a daemon created it meanwhile; a file system with
        // no hard links: it cannot be linked. Either way the general path
        // moves into the DB in place (creating it, or as the daemon made it).
        Err(e) if link_falls_back(&e) => {
            drop(tx);
            observer.audit_void();
            return Ok(None);
        }
        Err(e) => return Err(Error::io(scoped_path, e)),
    }
    report.scoped_version = Some(mv.scoped_version);
    report.changed = true;
    observer.checkpoint(Step::ScopedCommitted)?;
    // A small home nobody wrote meanwhile, every row of it copied: clear
    // legacy in this same short transaction (one commit, no probe).
    let cleared = legacy_data_version(&conn).map_err(|e| mv.on_legacy(e))? == seen
        && mv.clear_if_all_copied(&conn, &mut report, observer)?;
    tx.commit(&mv)?;
    observer.chunk_committed()?;
    if cleared {
        report.atomic = false;
        mv.mark_changed(&mut report);
        return Ok(Some(report));
    }
    // Second phase on the DB now in place (the connection's `main` is its
    // inode): crash-safe writes from here on, and the chunked move deletes
    // from legacy what is provably in it (and moves what arrived meanwhile).
    conn.execute_batch("PRAGMA main.journal_mode = DELETE; PRAGMA main.synchronous = FULL")
        .map_err(|e| Error::sqlite(scoped_path, e, busy))?;
    let mv = Move {
        scoped_path: scoped_path.to_path_buf(),
        ..mv
    };
    mv.move_chunks(&conn, opts, &mut report, observer)?;
    // Scoped committed before legacy in the first phase.
    report.atomic = false;
    mv.mark_changed(&mut report);
    Ok(Some(report))
}

/// `PRAGMA legacy.data_version`: changes when another connection commits to legacy.
fn legacy_data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA legacy.data_version", [], |r| r.get(0))
}

impl Move {
    /// Legacy as the copy read it (no commit by anyone since), and small
    /// enough for one chunk: when each table's rows are exactly the ones
    /// copied (none unmovable, no duplicate key), delete them all at once.
    /// `false`: nothing deleted; the chunked pass does it.
    fn clear_if_all_copied(
        &self,
        conn: &Connection,
        report: &mut MoveReport,
        observer: &mut dyn Observer,
    ) -> Result<bool, Error> {
        let mut totals = Vec::new();
        for t in &self.tables {
            let lt = table_ref(self.legacy_side, t);
            let total = self.count(conn, &format!("SELECT count(*) FROM {lt}"))?;
            let copied = report.counts(t.table).map_or(0, |c| c.inserted);
            totals.push(total);
            if total != copied {
                return Ok(false);
            }
        }
        if totals.iter().sum::<u64>() > FIRST_CHUNK {
            return Ok(false);
        }
        for (t, total) in self.tables.iter().zip(totals) {
            if total > 0 {
                let lt = table_ref(self.legacy_side, t);
                conn.execute(&format!("DELETE FROM {lt}"), [])
                    .map_err(|e| self.on_legacy(e))?;
            }
            if let Some(c) = report.counts_mut(t.table) {
                c.legacy_before = total;
                c.deleted_from_legacy = total;
                c.left_in_legacy = 0;
                c.already_present = 0;
            }
            observer.checkpoint(Step::Deleted(t.table))?;
        }
        Ok(true)
    }
}

/// A link error after which the general path is right: the name is taken
/// (a daemon created the DB), or the file system has no hard links.
fn link_falls_back(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{AlreadyExists, PermissionDenied, Unsupported};
    matches!(e.kind(), AlreadyExists | Unsupported | PermissionDenied)
}

/// Build the new scoped DB complete in the private temp file `tmp`, its
/// audit lines sealed and the file fsynced. Returns the connection (legacy
/// attached) and legacy's `data_version` before the copy.
fn build(
    legacy_path: &Path,
    tmp: &Path,
    report: &mut MoveReport,
    observer: &mut dyn Observer,
    opts: &MoveOptions,
) -> Result<(Connection, Move, i64), Error> {
    let busy = opts.busy_timeout_ms;
    let mut conn = Connection::open(tmp).map_err(|e| Error::sqlite(tmp, e, busy))?;
    conn.busy_timeout(crate::db::busy_duration(busy))
        .and_then(|_| {
            // A temp file nobody else sees: no journal, one fsync at the end.
            conn.execute_batch(&format!(
                "PRAGMA main.journal_mode = OFF; PRAGMA main.synchronous = OFF; {CACHE}"
            ))
        })
        .map_err(|e| Error::sqlite(tmp, e, busy))?;
    let upgrade = schema::upgrade_to(&mut conn, tmp, opts.schema.version)?;
    observer.checkpoint(Step::SchemaUpgraded)?;
    let mv = Move::attach(&conn, legacy_path, tmp, upgrade.to, busy)?;
    let secondary = drop_secondary_indexes(&conn, &mv)?;
    let seen = legacy_data_version(&conn).map_err(|e| mv.on_legacy(e))?;
    load(&conn, &mv, tmp, &secondary, report, observer, opts)?;
    // The file is still private: every row in it is one this run moved.
    let audit: Vec<_> = mv
        .tables
        .iter()
        .map(|t| (*t, AuditFrom::NewScoped { max_id: i64::MAX }))
        .collect();
    mv.seal(&conn, &audit, observer)?;
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

/// Copy every table's movable rows into the private file, in chunks of
/// legacy ids, each chunk its own short *read* of legacy (a deferred
/// transaction: no legacy write lock, and a shared lock no longer than a
/// chunk), then rebuild the secondary indexes.
fn load(
    conn: &Connection,
    mv: &Move,
    tmp: &Path,
    secondary: &[String],
    report: &mut MoveReport,
    observer: &mut dyn Observer,
    opts: &MoveOptions,
) -> Result<(), Error> {
    // Each chunk commits on its own (the file is private until linked), so
    // a helper thread can write its pages back while the next one builds;
    // the fsync before the link is then short.
    let (kick, kicks) = std::sync::mpsc::channel::<()>();
    let sync_path = tmp.to_path_buf();
    let syncer = std::thread::spawn(move || -> std::io::Result<()> {
        for () in kicks {
            std::fs::File::open(&sync_path)?.sync_data()?;
        }
        Ok(())
    });
    let built = (|| -> Result<(), Error> {
        let mut chunker = Chunker::for_home(opts.lock_budget(), mv.legacy_rows(report));
        for t in &mv.tables {
            copy_table(conn, mv, t, &mut chunker, report, observer, &kick)?;
        }
        for sql in secondary {
            conn.execute_batch(sql).map_err(|e| mv.on_scoped(e))?;
        }
        Ok(())
    })();
    drop(kick);
    // The final fsync before the link makes the file durable whatever the
    // helper did; a failed early write-back is still an error worth naming.
    let synced = match syncer.join() {
        Ok(r) => r.map_err(|e| Error::io(tmp, e)),
        Err(_) => Err(Error::io(
            tmp,
            std::io::Error::other("the write-back thread panicked"),
        )),
    };
    built?;
    synced
}

/// Where a signal stops the build of the new scoped DB.
const ASIDE: &str =
    "while the new scoped DB was built aside: it was removed, and nothing else was changed";

/// One table into the private file, chunk by chunk (see [`load`]).
fn copy_table(
    conn: &Connection,
    mv: &Move,
    t: &TableDef,
    chunker: &mut Chunker,
    report: &mut MoveReport,
    observer: &mut dyn Observer,
    kick: &std::sync::mpsc::Sender<()>,
) -> Result<(), Error> {
    let lt = table_ref(mv.legacy_side, t);
    let Some(counts) = report.counts_mut(t.table) else {
        return Ok(());
    };
    observer.table_started(t.table, counts.legacy_before);
    observer.checkpoint(Step::Planned(t.table))?;
    let mut after = i64::MIN;
    loop {
        let started = std::time::Instant::now();
        conn.execute_batch("BEGIN").map_err(|e| mv.on_scoped(e))?;
        let tx = Tx::adopt(conn);
        let next: Option<i64> = conn
            .query_row(
                &format!(
                    "SELECT \"id\" FROM {lt} WHERE \"id\" > ?1 ORDER BY \"id\" LIMIT 1 OFFSET ?2"
                ),
                (after, chunker.rows().saturating_sub(1) as i64),
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| mv.on_legacy(e))?;
        let range = IdRange {
            after,
            upto: next.unwrap_or(i64::MAX),
        };
        counts.inserted += conn
            .execute(
                &insert_all_sql(t, mv.legacy_side, mv.scoped_version, range),
                [],
            )
            .map_err(|e| mv.on_scoped(e))? as u64;
        tx.commit(mv)?;
        // Fails only once the write-back thread has stopped on an error,
        // which `load` reports when it joins it.
        let _ = kick.send(());
        match next {
            Some(upto) => {
                chunker.observe(chunker.rows(), started.elapsed());
                after = upto;
                // Legacy writers waiting to commit behind this read get in.
                // A signal stops the build here: the private file is removed.
                crate::interrupt::pause(pause_after(started.elapsed()), ASIDE)?;
            }
            None => break,
        }
    }
    observer.checkpoint(Step::Inserted(t.table))?;
    Ok(())
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
