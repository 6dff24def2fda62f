//! The audit journal of `sk-migrate run`: one JSON line per moved row,
//! complete and honest whatever happens to the run.
//!
//! Lines are never written straight to `sk-migrate.journal.jsonl`. While
//! the move holds its write locks, and before anything commits, they go to
//! a pending file (`sk-migrate.journal.pending`, 0600) whose first line
//! names the run; the pending file is fsynced, and the move then writes a
//! marker row `sk-migrate-run:<run>` into the scoped DB's `sqlite_sequence`
//! *in the same transaction as the rows* (for a new scoped DB: into the
//! file before it is linked into place). The marker is SQLite's own
//! evidence that the lines are true, whatever the journal mode: a daemon
//! may drain the rows afterwards, but it does not touch the marker.
//!
//! After the move the pending lines are appended to the journal (fsynced)
//! and the pending file is removed ("promoted"). If that fails (disk full),
//! the rows have moved and the lines wait in the pending file: the run says
//! so (`audit_incomplete`, exit 3). The next run, under the run lock,
//! first settles any pending file: marker present → its lines are promoted
//! (the journal is first cut back to the length the header recorded, so a
//! promotion cut short is neither duplicated nor glued to); marker absent →
//! the rows never committed and the lines are dropped. A journal whose last
//! line is torn for any other reason has that fragment moved, as evidence,
//! to `sk-migrate.journal.torn` before anything is appended.
//!
//! Markers are removed by the next move's transaction; SQLite ignores
//! `sqlite_sequence` rows that name no table.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::fsutil;
use crate::home::Home;
use crate::migrate::observe::{AuditLine, DivergentLine, Observer, Step};

/// Prefix of the marker rows a move writes into the scoped `sqlite_sequence`.
pub const MARKER_PREFIX: &str = "sk-migrate-run:";

/// What settling a previous run's leftovers did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Lines of an interrupted run appended to the journal now.
    pub lines: u64,
    /// A torn last line was moved here.
    pub torn: Option<PathBuf>,
}

/// The pending file's first line.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Header {
    sk_migrate_pending: u32,
    run: String,
    scoped_db: crate::path_text::PathText,
    journal_len: u64,
}

/// Collects a run's audit lines in the pending file; see the module docs.
pub struct Journal<'a> {
    path: PathBuf,
    pending: PathBuf,
    scoped_db: PathBuf,
    run: String,
    /// JSON-encoded (quoted) scope and run time, shared by every line.
    scope: String,
    at: String,
    /// Opened on the first line, so a run that moves nothing creates nothing.
    out: Option<BufWriter<File>>,
    /// The run's name without its chunk number, and the chunk it is in:
    /// each chunk's lines are a pending file (and a marker) of their own.
    base: String,
    chunk: u64,
    /// Any line written (some chunk's lines may be promoted already).
    wrote: bool,
    /// A chunk's lines could not be promoted: the move stopped there.
    stopped: Option<Error>,
    /// Divergent duplicates kept whole (`sk-migrate.divergent.jsonl`).
    evidence_path: PathBuf,
    evidence: Option<BufWriter<File>>,
    /// The evidence file's length before the current chunk's first line.
    evidence_start: Option<u64>,
    inner: &'a mut dyn Observer,
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl<'a> Journal<'a> {
    pub fn new(home: &Home, scope: &str, scoped_db: &Path, inner: &'a mut dyn Observer) -> Self {
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let base = format!("{}-{nanos}", std::process::id());
        Journal {
            path: home.migrate_journal(),
            pending: home.migrate_journal_pending(),
            scoped_db: scoped_db.to_path_buf(),
            run: base.clone(),
            base,
            chunk: 0,
            wrote: false,
            stopped: None,
            evidence_path: home.migrate_divergent(),
            evidence: None,
            evidence_start: None,
            scope: serde_json::Value::from(scope).to_string(),
            at: serde_json::Value::from(now_rfc3339()).to_string(),
            out: None,
            inner,
        }
    }

    /// Did this run audit anything (so the journal is worth naming)?
    pub fn written(&self) -> bool {
        self.wrote
    }

    /// The divergent-evidence file, when this run wrote to it.
    pub fn evidence(&self) -> Option<&Path> {
        self.evidence.as_ref().map(|_| self.evidence_path.as_path())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn pending_path(&self) -> &Path {
        &self.pending
    }

    fn open(&mut self) -> Result<&mut BufWriter<File>, Error> {
        if self.out.is_none() {
            let journal_len = std::fs::symlink_metadata(&self.path).map_or(0, |m| m.len());
            let header = Header {
                sk_migrate_pending: 1,
                run: self.run.clone(),
                scoped_db: self.scoped_db.as_path().into(),
                journal_len,
            };
            let _ = std::fs::remove_file(&self.pending);
            let mut out = BufWriter::new(fsutil::create_private_new(&self.pending)?);
            serde_json::to_writer(&mut out, &header)
                .map_err(std::io::Error::other)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(|e| Error::io(&self.pending, e))?;
            self.out = Some(out);
            self.wrote = true;
        }
        self.out
            .as_mut()
            .ok_or_else(|| Error::io(&self.pending, std::io::ErrorKind::NotFound.into()))
    }

    /// The rows moved: append the pending lines to the journal. An error
    /// here means "rows moved, audit incomplete": the lines stay pending.
    pub fn promote(&mut self) -> Result<u64, Error> {
        if let Some(e) = self.stopped.take() {
            return Err(e);
        }
        if self.out.take().is_none() {
            return Ok(0);
        }
        promote(&self.pending, &self.path, None, self.inner)
    }

    /// The move failed: promote the lines if their rows committed anyway
    /// (a WAL move whose legacy side failed), else drop them.
    pub fn settle(&mut self, busy: u64) -> Result<u64, Error> {
        // The failed chunk deleted nothing: its divergent rows are still in
        // legacy, so their evidence lines go (the next run writes them again).
        if let (Some(out), Some(len)) = (self.evidence.take(), self.evidence_start.take()) {
            let file = out
                .into_inner()
                .map_err(|e| Error::io(&self.evidence_path, e.into_error()))?;
            if len == 0 {
                // Created for this chunk alone: gone with it.
                drop(file);
                std::fs::remove_file(&self.evidence_path)
                    .map_err(|e| Error::io(&self.evidence_path, e))?;
            } else {
                file.set_len(len)
                    .and_then(|()| file.sync_data())
                    .map_err(|e| Error::io(&self.evidence_path, e))?;
            }
        }
        if self.out.take().is_none() {
            return Ok(0);
        }
        settle_pending(&self.pending, &self.path, busy, self.inner)
    }
}

impl Observer for Journal<'_> {
    fn table_started(&mut self, table: crate::db::schema::tables::Table, rows: u64) {
        self.inner.table_started(table, rows);
    }
    fn checkpoint(&mut self, step: Step) -> Result<(), Error> {
        self.inner.checkpoint(step)
    }
    fn waiting(&mut self, path: &Path) {
        self.inner.waiting(path);
    }
    fn audit(&mut self, line: &AuditLine<'_>) -> Result<(), Error> {
        if self.stopped.is_some() {
            // A new pending file would replace lines not yet promoted.
            return Err(Error::io(
                &self.pending,
                std::io::Error::other(
                    "an earlier chunk's audit lines are still pending (the journal could not take them); \
                     rows stay in legacy until a run can audit them",
                ),
            ));
        }
        if self.out.is_none() {
            self.open()?;
        }
        let Journal {
            out: Some(out),
            at,
            scope,
            pending,
            ..
        } = self
        else {
            return Ok(());
        };
        write_record(
            out,
            pending,
            (at, scope),
            line.table.as_str(),
            line.key_json,
            None,
        )
    }
    fn seal_audit(&mut self) -> Result<Option<String>, Error> {
        let Some(out) = self.out.as_mut() else {
            return Ok(None);
        };
        out.flush()
            .and_then(|()| out.get_ref().sync_data())
            .map_err(|e| Error::io(&self.pending, e))?;
        Ok(Some(format!("{MARKER_PREFIX}{}", self.run)))
    }
    fn divergent(&mut self, line: &DivergentLine<'_>) -> Result<(), Error> {
        if self.evidence.is_none() {
            let file = fsutil::open_private_append(&self.evidence_path)?;
            self.evidence = Some(BufWriter::new(file));
        }
        if self.evidence_start.is_none() {
            let len = match &self.evidence {
                Some(out) => out.get_ref().metadata(),
                None => Err(std::io::ErrorKind::NotFound.into()),
            }
            .map_err(|e| Error::io(&self.evidence_path, e))?
            .len();
            self.evidence_start = Some(len);
        }
        let Journal {
            evidence: Some(out),
            at,
            scope,
            evidence_path,
            ..
        } = self
        else {
            return Ok(());
        };
        let row = Some(line.row_json);
        write_record(
            out,
            evidence_path,
            (at, scope),
            line.table.as_str(),
            line.key_json,
            row,
        )
    }
    fn seal_divergent(&mut self) -> Result<(), Error> {
        let Some(out) = self.evidence.as_mut() else {
            return Ok(());
        };
        out.flush()
            .and_then(|()| out.get_ref().sync_data())
            .map_err(|e| Error::io(&self.evidence_path, e))
    }
    fn chunk_committed(&mut self) -> Result<(), Error> {
        self.inner.chunk_committed()?;
        self.evidence_start = None;
        if self.out.take().is_some()
            && let Err(e) = promote(&self.pending, &self.path, None, self.inner)
        {
            // The lines stay pending (their marker is committed): the next
            // run promotes them. The move goes on deleting legacy copies of
            // rows already stored, but inserts nothing more (see `audit`).
            self.stopped = Some(e);
            return Ok(());
        }
        self.chunk += 1;
        self.run = format!("{}.{}", self.base, self.chunk);
        Ok(())
    }
    fn audit_void(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.pending);
        }
    }
}

/// One JSON line `{"at","scope","table","key"[,"row"]}` from pieces already
/// encoded, written by hand (no map, no formatter): a large move writes a
/// line per row.
fn write_record(
    out: &mut BufWriter<File>,
    path: &Path,
    (at, scope): (&str, &str),
    table: &str,
    key_json: &str,
    row_json: Option<&str>,
) -> Result<(), Error> {
    let row: [&[u8]; 2] = match row_json {
        Some(r) => [b",\"row\":", r.as_bytes()],
        None => [b"", b""],
    };
    let parts: [&[u8]; 11] = [
        b"{\"at\":",
        at.as_bytes(),
        b",\"scope\":",
        scope.as_bytes(),
        b",\"table\":\"",
        table.as_bytes(),
        b"\",\"key\":",
        key_json.as_bytes(),
        row[0],
        row[1],
        b"}\n",
    ];
    for part in parts {
        out.write_all(part).map_err(|e| Error::io(path, e))?;
    }
    Ok(())
}

/// Before a run (under the run lock): settle a pending file a previous run
/// left, then move a torn last journal line aside.
pub fn recover(home: &Home, busy: u64, inner: &mut dyn Observer) -> Result<Recovered, Error> {
    let journal = home.migrate_journal();
    for p in [
        &journal,
        &home.migrate_journal_pending(),
        &home.migrate_journal_torn(),
    ] {
        fsutil::refuse_symlink(p)?;
    }
    let mut recovered = Recovered::default();
    if std::fs::symlink_metadata(home.migrate_journal_pending()).is_ok() {
        recovered.lines = settle_pending(&home.migrate_journal_pending(), &journal, busy, inner)?;
    }
    if cut_torn_tail(&journal, &home.migrate_journal_torn())? {
        recovered.torn = Some(home.migrate_journal_torn());
    }
    Ok(recovered)
}

/// Promote `pending` when its run's marker is in the scoped DB, else remove it.
fn settle_pending(
    pending: &Path,
    journal: &Path,
    busy: u64,
    inner: &mut dyn Observer,
) -> Result<u64, Error> {
    let header = read_header(pending)?;
    let committed = match &header {
        Some(h) => marker_present(&h.scoped_db, &h.run, busy)?,
        // No complete header: the run stopped before auditing anything.
        None => false,
    };
    if !committed {
        std::fs::remove_file(pending).map_err(|e| Error::io(pending, e))?;
        return Ok(0);
    }
    promote(pending, journal, header.map(|h| h.journal_len), inner)
}

fn read_header(pending: &Path) -> Result<Option<Header>, Error> {
    let file = fsutil::open_private_rw(pending)?;
    let Some(file) = file else { return Ok(None) };
    let mut first = Vec::new();
    BufReader::new(file.take(64 * 1024))
        .read_until(b'\n', &mut first)
        .map_err(|e| Error::io(pending, e))?;
    if first.last() != Some(&b'\n') {
        return Ok(None);
    }
    Ok(serde_json::from_slice(&first).ok())
}

/// Is the marker of `run` in the scoped DB at `db`?
fn marker_present(db: &Path, run: &str, busy: u64) -> Result<bool, Error> {
    if !db.exists() {
        return Ok(false);
    }
    // A run killed mid-commit leaves a hot journal: roll it back first, as
    // the move itself does (a read-only open could not, and would fail).
    crate::db::recover(db, busy)?;
    let conn = crate::db::open_read_only(db, busy)?;
    let found = conn.query_row(
        "SELECT count(*) FROM main.sqlite_sequence WHERE name = ?1",
        [format!("{MARKER_PREFIX}{run}")],
        |r| r.get::<_, i64>(0),
    );
    match found {
        Ok(n) => Ok(n > 0),
        // No sqlite_sequence: no marker could have been written.
        Err(e) if e.to_string().contains("no such table") => Ok(false),
        Err(e) => Err(Error::sqlite(db, e, busy)),
    }
}

/// Append the complete lines of `pending` (after its header) to `journal`,
/// fsync, remove `pending`. `cut_to`: first cut the journal back to this
/// length (a promotion of these very lines that was cut short).
fn promote(
    pending: &Path,
    journal: &Path,
    cut_to: Option<u64>,
    inner: &mut dyn Observer,
) -> Result<u64, Error> {
    let Some(src) = fsutil::open_private_rw(pending)? else {
        return Ok(0);
    };
    let mut src = BufReader::with_capacity(256 * 1024, src);
    let mut line = Vec::with_capacity(512);
    src.read_until(b'\n', &mut line)
        .map_err(|e| Error::io(pending, e))?;
    fsutil::create_private_empty(journal)?;
    let mut dst = fsutil::open_private_rw(journal)?
        .ok_or_else(|| Error::io(journal, std::io::ErrorKind::NotFound.into()))?;
    let len = dst.metadata().map_err(|e| Error::io(journal, e))?.len();
    let start = match cut_to {
        Some(cut) if cut < len => {
            dst.set_len(cut).map_err(|e| Error::io(journal, e))?;
            cut
        }
        _ => len,
    };
    dst.seek(SeekFrom::Start(start))
        .map_err(|e| Error::io(journal, e))?;
    // The sealed lines, up to the last complete one (a torn tail was never
    // sealed, so never committed), streamed: memory stays flat however
    // many lines a run wrote.
    let mut out = BufWriter::with_capacity(256 * 1024, dst);
    let mut lines = 0u64;
    loop {
        line.clear();
        src.read_until(b'\n', &mut line)
            .map_err(|e| Error::io(pending, e))?;
        if line.last() != Some(&b'\n') {
            break;
        }
        out.write_all(&line).map_err(|e| Error::io(journal, e))?;
        lines += 1;
        if inner.wants_audit_lines()
            && let Some(a) = parse_line(&line)
        {
            inner.audit(&a)?;
        }
    }
    let dst = out
        .into_inner()
        .map_err(|e| Error::io(journal, e.into_error()))?;
    dst.sync_data().map_err(|e| Error::io(journal, e))?;
    std::fs::remove_file(pending).map_err(|e| Error::io(pending, e))?;
    if let Some(dir) = pending.parent() {
        fsutil::sync_dir(dir)?;
    }
    Ok(lines)
}

/// The table and key of a journal line this module wrote:
/// `{"at":…,"scope":…,"table":"T","key":K}`. Inside a JSON string a `"` is
/// always escaped, so the first `,"table":"` is the field itself.
fn parse_line(line: &[u8]) -> Option<AuditLine<'_>> {
    let text = std::str::from_utf8(line).ok()?.trim_end();
    let (_, rest) = text.split_once(",\"table\":\"")?;
    let (table, rest) = rest.split_once("\",\"key\":")?;
    let key = rest.strip_suffix('}')?;
    let table = crate::db::schema::tables::Table::from_name(table)?;
    Some(AuditLine {
        table,
        key_json: key,
    })
}

/// Move a torn last line (no final `\n`) of `journal` to `torn` and cut it
/// off, so the next line starts on a line of its own. `true` when cut.
fn cut_torn_tail(journal: &Path, torn: &Path) -> Result<bool, Error> {
    let Some(mut f) = fsutil::open_private_rw(journal)? else {
        return Ok(false);
    };
    let io = |e| Error::io(journal, e);
    let len = f.metadata().map_err(io)?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    f.seek(SeekFrom::Start(len - 1)).map_err(io)?;
    f.read_exact(&mut last).map_err(io)?;
    if last[0] == b'\n' {
        return Ok(false);
    }
    // Find the last newline, reading backwards in blocks.
    let mut cut = 0u64;
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let buf = &mut block[..(end - start) as usize];
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        f.read_exact(buf).map_err(io)?;
        if let Some(i) = buf.iter().rposition(|b| *b == b'\n') {
            cut = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    let mut evidence = fsutil::open_private_append(torn)?;
    f.seek(SeekFrom::Start(cut)).map_err(io)?;
    std::io::copy(&mut (&mut f).take(len - cut), &mut evidence)
        .and_then(|_| evidence.write_all(b"\n"))
        .and_then(|()| evidence.sync_data())
        .map_err(|e| Error::io(torn, e))?;
    f.set_len(cut).and_then(|()| f.sync_data()).map_err(io)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    /// A copy of a DB taken mid-transaction, with its rollback journal: a
    /// hot journal, exactly what a run killed mid-commit leaves behind.
    fn hot_journal_db(dir: &Path) -> std::path::PathBuf {
        let live = dir.join("live.db");
        let conn = Connection::open(&live).unwrap();
        conn.execute_batch(
            "PRAGMA cache_size = 1;
             CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);
             INSERT INTO sqlite_sequence (name, seq) VALUES ('sk-migrate-run:1-1', 0);",
        )
        .unwrap();
        conn.execute_batch("BEGIN; INSERT INTO t (v) SELECT hex(randomblob(512)) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 400) SELECT x FROM c);")
            .unwrap();
        let hot = dir.join("queue-ab.db");
        std::fs::copy(&live, &hot).unwrap();
        std::fs::copy(dir.join("live.db-journal"), dir.join("queue-ab.db-journal")).unwrap();
        conn.execute_batch("ROLLBACK").unwrap();
        hot
    }

    /// Found by the crash suite: the marker check opened a DB with a hot
    /// journal read-only, which cannot roll it back ("attempt to write a
    /// readonly database"), so the run after a kill failed.
    #[test]
    fn the_marker_is_read_through_a_hot_journal() {
        let dir = tempfile::tempdir().unwrap();
        let db = hot_journal_db(dir.path());
        assert!(dir.path().join("queue-ab.db-journal").exists());
        assert!(marker_present(&db, "1-1", 1000).unwrap());
        assert!(!marker_present(&db, "2-2", 1000).unwrap());
    }
}
