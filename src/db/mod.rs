//! Queue DB files as SQLite files: open one to read it without writing,
//! roll back a crashed writer's hot journal, fingerprint and count it
//! ([`inspect`]), copy it consistently ([`snapshot`], backups)
//! (`docs/schema.md`). The schema history and its refinery migrations are
//! in [`schema`].
//!
//! Owns: SQLite mechanics. Never: moves rows, deletes, or decides anything
//! (what a home holds is `survey/`; what moves is `migrate/`).

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::Error;
use schema::tables::{ALL, Table};

pub mod schema;

/// SQLite takes its busy timeout as a C `int` of milliseconds (and rusqlite
/// panics beyond it): longer timeouts are clamped to about 24.8 days.
pub const MAX_BUSY_TIMEOUT_MS: u64 = i32::MAX as u64;

/// A busy timeout SQLite accepts, whatever `ms` a library caller passes.
pub fn busy_duration(ms: u64) -> Duration {
    Duration::from_millis(ms.min(MAX_BUSY_TIMEOUT_MS))
}

/// A SQL identifier, double-quoted.
pub(crate) fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

pub(crate) fn count(conn: &Connection, sql: &str, path: &Path, busy: u64) -> Result<u64, Error> {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
        .map_err(|e| Error::sqlite(path, e, busy))
}

/// Does `path` have a `-<suffix>` file next to it (`wal`, `journal`)?
pub(crate) fn side_file_exists(path: &Path, suffix: &str) -> bool {
    let mut side = path.as_os_str().to_owned();
    side.push(format!("-{suffix}"));
    Path::new(&side).exists()
}

pub(crate) fn wal_file_exists(path: &Path) -> bool {
    side_file_exists(path, "wal")
}

/// Open a DB to read it, never to write it; the file must exist.
///
/// A read-only connection to a WAL-mode DB creates `-wal`/`-shm` files it
/// cannot remove on close, so while no `-wal` or `-journal` exists the DB is
/// opened read-write with `query_only` (nothing can be written) and its
/// close removes what it created. With a `-journal` it is opened read-only:
/// a read-write connection would roll back a hot journal, which is a write
/// (the reader then reports [`Error::NeedsRecovery`] instead).
pub(crate) fn open_read_only(path: &Path, busy: u64) -> Result<Connection, Error> {
    let mode = if wal_file_exists(path) || side_file_exists(path, "journal") {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    // URIs on, for `VACUUM INTO` a `file_uri` (the path itself is absolute,
    // never read as one).
    let flags = mode | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn =
        Connection::open_with_flags(path, flags).map_err(|e| Error::sqlite(path, e, busy))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| Error::sqlite(path, e, busy))?;
    conn.busy_timeout(busy_duration(busy))
        .map_err(|e| Error::sqlite(path, e, busy))?;
    Ok(conn)
}

/// A read that failed because the DB holds an interrupted write (a hot
/// journal a reader may not roll back) says so.
pub(crate) fn read_error(path: &Path, e: Error) -> Error {
    match e {
        Error::Sqlite { source, .. }
            if source.sqlite_error_code() == Some(rusqlite::ErrorCode::ReadOnly)
                && side_file_exists(path, "journal") =>
        {
            Error::NeedsRecovery {
                path: path.to_path_buf(),
            }
        }
        other => other,
    }
}

/// The move is a writer: let SQLite roll back a hot journal left by a
/// crashed writer before the DB is inspected (what any spec-kitty open does).
pub(crate) fn recover(path: &Path, busy: u64) -> Result<(), Error> {
    if !side_file_exists(path, "journal") {
        return Ok(());
    }
    let conn = Connection::open(path).map_err(|e| Error::sqlite(path, e, busy))?;
    conn.busy_timeout(busy_duration(busy))
        .and_then(|()| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .map(|_| ())
        .map_err(|e| Error::sqlite(path, e, busy))
}

/// A `file:` URI naming `path` byte for byte (for ATTACH and `VACUUM
/// INTO`, on a connection that takes URIs): `%`, `?` and `#` are escaped,
/// and so is every byte that is not printable ASCII, which SQLite decodes
/// back, so a path that is not UTF-8 names its own file (`docs/json.md`,
/// "Paths").
pub(crate) fn file_uri(path: &Path) -> String {
    let mut s = String::from("file:");
    for &b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'%' | b'?' | b'#' => s.push_str(&format!("%{b:02x}")),
            0x20..=0x7e => s.push(char::from(b)),
            _ => s.push_str(&format!("%{b:02x}")),
        }
    }
    s
}

/// A `file:` URI for ATTACH that opens `path` read-only.
pub(crate) fn read_only_uri(path: &Path) -> String {
    let mut s = file_uri(path);
    s.push_str("?mode=ro");
    s
}

/// The URI the dry run attaches `path` with: read-only, or, while no `-wal`
/// exists, read-write (see [`open_read_only`]; the dry run's SQL writes only
/// temp tables).
pub(crate) fn dry_run_uri(path: &Path) -> String {
    let uri = read_only_uri(path);
    if wal_file_exists(path) || side_file_exists(path, "journal") {
        uri
    } else {
        uri.replace("?mode=ro", "?mode=rw")
    }
}

/// Facts about a queue DB read without writing: version and rows per table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFacts {
    pub version: u32,
    /// Rows per table, in [`ALL`] order; 0 for a table the version lacks.
    pub rows: Vec<(Table, u64)>,
}

impl DbFacts {
    /// The rows of `table` (0 for a table the version lacks).
    pub fn rows_of(&self, table: Table) -> u64 {
        self.rows
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// Fingerprint and count a queue DB, read-only. `Ok(None)` when it does not exist.
pub fn inspect(path: &Path, busy_timeout_ms: u64) -> Result<Option<DbFacts>, Error> {
    let started = std::time::Instant::now();
    inspect_inner(path, busy_timeout_ms).map_err(|e| e.waited(started.elapsed()))
}

pub(crate) fn inspect_inner(path: &Path, busy_timeout_ms: u64) -> Result<Option<DbFacts>, Error> {
    // Only a missing file is absent: one this user may not see (a root-owned
    // `queues/`) is an error, never an empty queue.
    match std::fs::metadata(path) {
        Ok(_) => {}
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(e) => return Err(Error::io(path, e)),
    }
    let conn = open_read_only(path, busy_timeout_ms).map_err(|e| read_error(path, e))?;
    let version = schema::fingerprint(&conn, "main", path).map_err(|e| match e {
        Error::Sqlite { source, .. } => {
            read_error(path, Error::sqlite(path, source, busy_timeout_ms))
        }
        other => other,
    })?;
    let mut rows = Vec::new();
    for t in ALL {
        let n = if t.exists_at(version) {
            count(
                &conn,
                &format!("SELECT count(*) FROM {}", ident(t.name())),
                path,
                busy_timeout_ms,
            )?
        } else {
            0
        };
        rows.push((t.table, n));
    }
    Ok(Some(DbFacts { version, rows }))
}

/// Copy a DB consistently into `dir` (mode 0600), named after `label`.
pub(crate) fn backup(
    conn: &Connection,
    schema_name: &str,
    dir: &Path,
    label: &str,
    busy: u64,
) -> Result<PathBuf, Error> {
    crate::fsutil::create_private_dir_all(dir)?;
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let target = dir.join(format!("{label}-{stamp}.db"));
    // Written under a temp name and renamed when complete: a failed backup
    // (disk full) leaves no partial file that looks like a backup.
    let partial = dir.join(format!(".{label}-{stamp}.db.partial"));
    crate::fsutil::create_private_new(&partial)?;
    let written = (|| -> Result<(), Error> {
        // VACUUM INTO writes only the copy; `query_only` (see
        // open_read_only) would refuse it.
        conn.pragma_update(None, "query_only", false)
            .map_err(|e| Error::sqlite(&partial, e, busy))?;
        conn.execute(
            &format!("VACUUM {} INTO ?1", ident(schema_name)),
            [file_uri(&partial)],
        )
        .map_err(|e| Error::sqlite(&partial, e, busy))?;
        std::fs::File::open(&partial)
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::hard_link(&partial, &target))
            .map_err(|e| Error::io(&target, e))?;
        crate::fsutil::sync_dir(dir)
    })();
    let _ = std::fs::remove_file(&partial);
    if written.is_err() {
        let _ = std::fs::remove_file(&target);
    }
    written.map(|()| target)
}

/// Copy the DB at `source` consistently into `target` (which must not exist)
/// with `VACUUM INTO`; `source` is only read.
pub fn snapshot(source: &Path, target: &Path, busy: u64) -> Result<(), Error> {
    let conn = open_read_only(source, busy).map_err(|e| read_error(source, e))?;
    // VACUUM INTO writes only the copy; `query_only` would refuse it.
    conn.pragma_update(None, "query_only", false)
        .and_then(|()| conn.execute("VACUUM main INTO ?1", [file_uri(target)]))
        .map(|_| ())
        .map_err(|e| Error::sqlite(source, e, busy))
}
