//! The legacy -> scoped move (`docs/migrate.md`): set-based SQL over both files.
//!
//! Per table: plan (the legacy rows whose natural key the scoped DB lacks,
//! one per key, in legacy order) into a temp table; `INSERT OR IGNORE` them;
//! count what is now provably in the scoped DB; delete exactly that from
//! legacy. Rows never pass through Rust, except audit keys after commit.
//!
//! Three shapes of the same move:
//! * rollback journal on both files: one transaction over both (`ATTACH`);
//! * WAL on either: scoped commits first, legacy second (at-least-once);
//! * no scoped DB yet (`move_into_new`): the DB is built aside, made
//!   durable and linked into place, then legacy is emptied — also scoped
//!   first, legacy second.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::error::Error;
use crate::schema::tables::{ALL, TableDef};
use crate::schema::{self, LATEST};

/// Per-table outcome, as `sk-migrate run --json` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TableCounts {
    pub table: &'static str,
    pub legacy_before: u64,
    pub inserted: u64,
    pub already_present: u64,
    pub deleted_from_legacy: u64,
    /// Rows that stay in legacy because they cannot move (a NULL natural
    /// key or required column, or a key the scoped table refuses).
    pub left_in_legacy: u64,
    /// Rows a writer added to legacy while the move ran (after its plan):
    /// left for the next run. `legacy_before + arrived_late =
    /// deleted_from_legacy + left_in_legacy + arrived_late` holds.
    pub arrived_late: u64,
}

/// One migrated row: its table and natural key, never its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditLine<'a> {
    pub table: &'static str,
    /// The natural key as a JSON object (V5 column names): `{"event_id":"..."}`.
    pub key_json: &'a str,
}

/// Points between the move's statements, for progress and fault injection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    SchemaUpgraded,
    Planned(&'static str),
    Inserted(&'static str),
    Deleted(&'static str),
    ScopedCommitted,
    Committed,
}

/// What the caller sees of a move while it runs. Every method has a no-op default.
pub trait Observer {
    /// A table is about to move `rows` rows (legacy rows before the move).
    fn table_started(&mut self, _table: &'static str, _rows: u64) {}
    /// After each statement; an error here aborts the move (fault injection).
    fn checkpoint(&mut self, _step: Step) -> Result<(), Error> {
        Ok(())
    }
    /// Once per migrated row, in legacy order, once the rows are inserted
    /// and before they commit (before the link, in the new-DB fast path):
    /// an error here aborts the move and changes nothing. The lines are
    /// true once the transaction carrying the marker [`Observer::seal_audit`]
    /// returned commits; [`Observer::audit_void`] says they never will.
    fn audit(&mut self, _line: &AuditLine<'_>) -> Result<(), Error> {
        Ok(())
    }
    /// After the last [`Observer::audit`] line, before the commit: make the
    /// lines durable and name a marker the move writes into the scoped DB's
    /// `sqlite_sequence` in the same transaction as the rows (see `journal`).
    fn seal_audit(&mut self) -> Result<Option<String>, Error> {
        Ok(None)
    }
    /// The lines audited so far will never commit (the new-DB fast path
    /// lost its link to a DB a daemon created; the general path follows).
    fn audit_void(&mut self) {}
}

/// An observer that sees nothing.
pub struct Quiet;
impl Observer for Quiet {}

/// The scoped DB's shape the installed release reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaTarget {
    /// An older scoped DB is upgraded to this version, never beyond.
    pub version: u32,
    /// Newer versions the release still opens as they are; a scoped DB of a
    /// newer version not listed is refused (the release could not read it).
    pub reads_newer: &'static [u32],
}

impl SchemaTarget {
    /// The latest shape (V5), as 3.2.0–3.2.5 keep it.
    pub const LATEST: SchemaTarget = SchemaTarget {
        version: LATEST,
        reads_newer: &[],
    };

    /// Can the release open a scoped DB at `version` (after our upgrade)?
    pub fn accepts(&self, version: u32) -> bool {
        version <= self.version || self.reads_newer.contains(&version)
    }
}

/// How to move.
#[derive(Debug, Clone)]
pub struct MoveOptions {
    pub dry_run: bool,
    pub busy_timeout_ms: u64,
    pub backup_dir: Option<PathBuf>,
    /// The shape the scoped DB must have for the installed release.
    pub schema: SchemaTarget,
}

impl Default for MoveOptions {
    fn default() -> MoveOptions {
        MoveOptions {
            dry_run: false,
            busy_timeout_ms: DEFAULT_BUSY_TIMEOUT_MS,
            backup_dir: None,
            schema: SchemaTarget::LATEST,
        }
    }
}

/// How long to wait for a daemon holding a write lock.
pub const DEFAULT_BUSY_TIMEOUT_MS: u64 = 5_000;

/// What a move found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveReport {
    pub legacy_version: Option<u32>,
    pub scoped_version_before: Option<u32>,
    pub scoped_version: Option<u32>,
    /// One transaction over both files (rollback journal on both, scoped DB
    /// existing); otherwise scoped committed first, legacy second.
    pub atomic: bool,
    pub tables: Vec<TableCounts>,
    /// Anything written: rows moved or deleted, or the scoped schema upgraded.
    pub changed: bool,
    pub backups: Vec<PathBuf>,
}

// ---------------------------------------------------------------- SQL (pure)

/// A DB as the SQL sees it: its schema name on the connection and its version.
#[derive(Debug, Clone, Copy)]
struct Side<'a> {
    schema: &'a str,
    version: u32,
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn table_ref(side: Side, t: &TableDef) -> String {
    format!("{}.{}", ident(side.schema), ident(t.name))
}

/// The key columns' names in a DB at `version`.
fn key_cols(t: &TableDef, version: u32) -> Vec<&'static str> {
    t.key
        .iter()
        .filter_map(|k| t.column_at(k, version))
        .collect()
}

fn all_not_null(alias: &str, cols: &[&str]) -> String {
    cols.iter()
        .map(|c| format!("{alias}.{} IS NOT NULL", ident(c)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Natural keys equal byte for byte: BINARY whatever collation a column
/// declares (a NOCASE column would make 'evt-ABC' present as 'evt-abc').
fn key_match(a: &str, a_cols: &[&str], b: &str, b_cols: &[&str]) -> String {
    a_cols
        .iter()
        .zip(b_cols)
        .map(|(x, y)| format!("{a}.{} = {b}.{} COLLATE BINARY", ident(x), ident(y)))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// A legacy row is movable when its key and every column the scoped table
/// requires (NOT NULL, no default) are non-NULL.
fn movable(t: &TableDef, alias: &str, version: u32) -> String {
    let cols: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| c.required)
        .filter_map(|c| t.column_at(c.name, version))
        .collect();
    all_not_null(alias, &cols)
}

fn plan_table(t: &TableDef) -> String {
    format!("temp.{}", ident(&format!("sk_plan_{}", t.name)))
}

fn plan_key_cols(t: &TableDef) -> Vec<String> {
    (0..t.key.len()).map(|i| format!("k{i}")).collect()
}

/// `EXISTS` a row with `l`'s key in the scoped table.
fn in_scoped(t: &TableDef, scoped: Side, legacy_version: u32) -> String {
    format!(
        "EXISTS (SELECT 1 FROM {} AS s WHERE {})",
        table_ref(scoped, t),
        key_match(
            "s",
            &key_cols(t, scoped.version),
            "l",
            &key_cols(t, legacy_version)
        )
    )
}

/// Create the plan: one legacy row per absent key (the first by rowid),
/// ordered by legacy `id`, so inserts keep legacy order. `legacy_key_unique`:
/// the legacy table enforces its natural key, so no duplicates need folding.
fn plan_sql(t: &TableDef, legacy: Side, scoped: Option<Side>, legacy_key_unique: bool) -> String {
    let lk = key_cols(t, legacy.version);
    let select_keys: Vec<String> = lk
        .iter()
        .zip(plan_key_cols(t))
        .map(|(c, k)| format!("l.{} AS {k}", ident(c)))
        .collect();
    let absent = match scoped.filter(|s| t.exists_at(s.version)) {
        Some(s) => format!("AND NOT {}", in_scoped(t, s, legacy.version)),
        None => String::new(),
    };
    let lt = table_ref(legacy, t);
    let one_per_key = if legacy_key_unique {
        movable(t, "l", legacy.version)
    } else {
        format!(
            "l.rowid IN (SELECT min(g.rowid) FROM {lt} AS g WHERE {valid} GROUP BY {group})",
            valid = movable(t, "g", legacy.version),
            group = lk
                .iter()
                .map(|c| format!("g.{}", ident(c)))
                .collect::<Vec<_>>()
                .join(", "),
        )
    };
    format!(
        "CREATE TEMP TABLE {plan} AS SELECT l.rowid AS legacy_rowid, {keys} \
         FROM {lt} AS l WHERE {one_per_key} {absent} ORDER BY l.\"id\", l.rowid",
        plan = plan_table(t),
        keys = select_keys.join(", "),
    )
}

/// The scoped columns a move fills and the legacy expressions that fill them.
fn insert_columns(t: &TableDef, legacy: Side, scoped_version: u32) -> (String, String) {
    let mut cols = Vec::new();
    let mut exprs = Vec::new();
    for c in t.columns {
        let (Some(src), Some(dst)) = (
            t.column_at(c.name, legacy.version),
            t.column_at(c.name, scoped_version),
        ) else {
            continue; // absent at either version: the scoped default applies
        };
        cols.push(ident(dst));
        exprs.push(match c.default_sql {
            Some(d) => format!("COALESCE(l.{}, {d})", ident(src)),
            None => format!("l.{}", ident(src)),
        });
    }
    (cols.join(", "), exprs.join(", "))
}

/// Insert the planned rows into the scoped table (`main`, at `scoped_version`).
fn insert_sql(t: &TableDef, legacy: Side, scoped_version: u32) -> String {
    let (cols, exprs) = insert_columns(t, legacy, scoped_version);
    format!(
        "INSERT OR IGNORE INTO \"main\".{t_name} ({cols}) SELECT {exprs} \
         FROM {plan} AS p JOIN {lt} AS l ON l.rowid = p.legacy_rowid ORDER BY p.rowid",
        t_name = ident(t.name),
        plan = plan_table(t),
        lt = table_ref(legacy, t),
    )
}

/// Into an empty scoped table no plan is needed: every movable legacy row
/// goes in, in legacy order, and the UNIQUE key keeps the first of any
/// duplicates (`OR IGNORE`), as the plan would.
fn insert_all_sql(t: &TableDef, legacy: Side, scoped_version: u32) -> String {
    let (cols, exprs) = insert_columns(t, legacy, scoped_version);
    format!(
        "INSERT OR IGNORE INTO \"main\".{t_name} ({cols}) SELECT {exprs} \
         FROM {lt} AS l WHERE {valid} ORDER BY l.\"id\", l.rowid",
        t_name = ident(t.name),
        lt = table_ref(legacy, t),
        valid = movable(t, "l", legacy.version),
    )
}

/// Drop plan rows whose key did not land (belt and braces: the plan only
/// holds insertable rows), so the plan is exactly what was inserted.
fn refine_plan_sql(t: &TableDef, scoped_version: u32) -> String {
    let pk = plan_key_cols(t);
    let pk: Vec<&str> = pk.iter().map(String::as_str).collect();
    format!(
        "DELETE FROM {plan} WHERE NOT EXISTS (SELECT 1 FROM \"main\".{tn} AS s WHERE {m})",
        plan = plan_table(t),
        tn = ident(t.name),
        m = key_match(
            "s",
            &key_cols(t, scoped_version),
            plan_table(t).as_str(),
            &pk
        ),
    )
}

/// Legacy rows whose key is provably in the scoped DB. In a dry run nothing
/// was inserted, so the plan counts as present too.
fn present_where(t: &TableDef, legacy: Side, scoped: Option<Side>, dry_run: bool) -> String {
    let lk = key_cols(t, legacy.version);
    let mut alts = Vec::new();
    if let Some(s) = scoped.filter(|s| t.exists_at(s.version)) {
        alts.push(in_scoped(t, s, legacy.version));
    }
    if dry_run {
        let pk = plan_key_cols(t);
        let pk: Vec<&str> = pk.iter().map(String::as_str).collect();
        alts.push(format!(
            "EXISTS (SELECT 1 FROM {} AS p WHERE {})",
            plan_table(t),
            key_match("p", &pk, "l", &lk)
        ));
    }
    if alts.is_empty() {
        return "0".to_string();
    }
    format!("{} AND ({})", all_not_null("l", &lk), alts.join(" OR "))
}

// ------------------------------------------------------------------ effects

/// Does `schema.table` enforce its natural key with a (non-partial) unique
/// index over exactly the key columns? Then legacy rows need no dedup pass.
fn key_is_unique(
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

fn count(conn: &Connection, sql: &str, path: &Path, busy: u64) -> Result<u64, Error> {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
        .map_err(|e| Error::sqlite(path, e, busy))
}

/// Does `path` have a `-<suffix>` file next to it (`wal`, `journal`)?
fn side_file_exists(path: &Path, suffix: &str) -> bool {
    let mut side = path.as_os_str().to_owned();
    side.push(format!("-{suffix}"));
    Path::new(&side).exists()
}

fn wal_file_exists(path: &Path) -> bool {
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
    let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| Error::sqlite(path, e, busy))?;
    conn.pragma_update(None, "query_only", true)
        .map_err(|e| Error::sqlite(path, e, busy))?;
    conn.busy_timeout(crate::lock::busy_duration(busy))
        .map_err(|e| Error::sqlite(path, e, busy))?;
    Ok(conn)
}

/// A read that failed because the DB holds an interrupted write (a hot
/// journal a reader may not roll back) says so.
fn read_error(path: &Path, e: Error) -> Error {
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
    conn.busy_timeout(crate::lock::busy_duration(busy))
        .and_then(|()| {
            conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
                r.get::<_, i64>(0)
            })
        })
        .map(|_| ())
        .map_err(|e| Error::sqlite(path, e, busy))
}

/// A `file:` URI for ATTACH that opens `path` read-only. SQLite URIs need
/// only `%`, `?` and `#` escaped in the path.
fn read_only_uri(path: &Path) -> String {
    let mut s = String::from("file:");
    for ch in path.to_string_lossy().chars() {
        match ch {
            '%' => s.push_str("%25"),
            '?' => s.push_str("%3f"),
            '#' => s.push_str("%23"),
            c => s.push(c),
        }
    }
    s.push_str("?mode=ro");
    s
}

/// The URI the dry run attaches `path` with: read-only, or, while no `-wal`
/// exists, read-write (see [`open_read_only`]; the dry run's SQL writes only
/// temp tables).
fn dry_run_uri(path: &Path) -> String {
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
    pub rows: Vec<(&'static str, u64)>,
}

/// Fingerprint and count a queue DB, read-only. `Ok(None)` when it does not exist.
pub fn inspect(path: &Path, busy_timeout_ms: u64) -> Result<Option<DbFacts>, Error> {
    let started = std::time::Instant::now();
    inspect_inner(path, busy_timeout_ms).map_err(|e| e.waited(started.elapsed()))
}

fn inspect_inner(path: &Path, busy_timeout_ms: u64) -> Result<Option<DbFacts>, Error> {
    if !path.exists() {
        return Ok(None);
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
                &format!("SELECT count(*) FROM {}", ident(t.name)),
                path,
                busy_timeout_ms,
            )?
        } else {
            0
        };
        rows.push((t.name, n));
    }
    Ok(Some(DbFacts { version, rows }))
}

/// Copy a DB consistently into `dir` (mode 0600), named after `label`.
fn backup(
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
            [partial.to_string_lossy()],
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
        .and_then(|()| conn.execute("VACUUM main INTO ?1", [target.to_string_lossy()]))
        .map(|_| ())
        .map_err(|e| Error::sqlite(source, e, busy))
}

/// Move every movable legacy row into the scoped DB. See the module docs.
pub fn move_rows(
    legacy_path: &Path,
    scoped_path: &Path,
    opts: &MoveOptions,
    observer: &mut dyn Observer,
) -> Result<MoveReport, Error> {
    let busy = opts.busy_timeout_ms;
    if !opts.dry_run {
        for path in [legacy_path, scoped_path] {
            if path.exists() {
                recover(path, busy)?;
            }
        }
    }
    // Legacy first, read-only: a file that is not a DB or has an unknown
    // schema is refused before anything is created or changed.
    let legacy = inspect(legacy_path, busy)?;
    let scoped_before = inspect(scoped_path, busy)?;
    if let Some(f) = &scoped_before
        && !opts.schema.accepts(f.version)
    {
        return Err(Error::SchemaTooNew {
            path: scoped_path.to_path_buf(),
            version: f.version,
            release_version: opts.schema.version,
        });
    }
    let mut report = MoveReport {
        legacy_version: legacy.as_ref().map(|f| f.version),
        scoped_version_before: scoped_before.as_ref().map(|f| f.version),
        scoped_version: scoped_before.as_ref().map(|f| f.version),
        atomic: true,
        ..MoveReport::default()
    };
    let legacy_rows: u64 = legacy.iter().flat_map(|f| f.rows.iter().map(|r| r.1)).sum();
    report.tables = ALL
        .iter()
        .map(|t| {
            let before = legacy
                .as_ref()
                .and_then(|f| f.rows.iter().find(|r| r.0 == t.name))
                .map_or(0, |r| r.1);
            TableCounts {
                table: t.name,
                legacy_before: before,
                left_in_legacy: before,
                ..TableCounts::default()
            }
        })
        .collect();
    let Some(legacy) = legacy else {
        return Ok(report);
    };
    if opts.dry_run {
        return dry_run(legacy_path, scoped_path, legacy.version, report, busy);
    }
    if legacy_rows == 0 && scoped_before.is_none() {
        // Nothing to move and no scoped DB to upgrade: create nothing.
        return Ok(report);
    }
    if let Some(dir) = &opts.backup_dir {
        let lconn = open_read_only(legacy_path, busy)?;
        report
            .backups
            .push(backup(&lconn, "main", dir, "legacy-queue", busy)?);
        if scoped_before.is_some() {
            let sconn = open_read_only(scoped_path, busy)?;
            report
                .backups
                .push(backup(&sconn, "main", dir, "scoped-queue", busy)?);
        }
    }

    // A daemon may create the scoped DB meanwhile: then move into it as it is.
    if scoped_before.is_none()
        && legacy_rows > 0
        && let Some(done) = move_into_new(
            legacy_path,
            scoped_path,
            report.clone(),
            observer,
            (opts.schema.version, busy),
        )?
    {
        return Ok(done);
    }

    let mut conn = open_scoped(scoped_path, busy)?;
    let upgrade = schema::upgrade_to(&mut conn, scoped_path, opts.schema.version)?;
    report.scoped_version = Some(upgrade.to);
    report.changed = upgrade.changed() || scoped_before.is_none();
    observer.checkpoint(Step::SchemaUpgraded)?;
    if legacy_rows == 0 {
        return Ok(report);
    }
    let mv = Move::attach(&conn, legacy_path, scoped_path, upgrade.to, busy)?;
    let result = (|| -> Result<(), Error> {
        mv.begin(&conn)?;
        // Decided under the locks: nobody can switch a journal mode now.
        report.atomic = mv.journal_modes_allow_atomic(&conn)?;
        mv.insert_phase(&conn, &mut report, observer)?;
        // Audit lines and their commit marker, before anything commits.
        mv.seal(&conn, &[], observer)?;
        if !report.atomic {
            // WAL: the two files cannot commit atomically together. Commit the
            // scoped side first; the legacy delete follows (at-least-once: a
            // crash in between leaves duplicates the next run removes).
            mv.commit(&conn)?;
            observer.checkpoint(Step::ScopedCommitted)?;
            mv.begin(&conn)?;
        }
        // Atomic mode has held both write locks since the insert.
        mv.delete_phase(&conn, report.atomic, &mut report, observer)?;
        mv.commit(&conn)?;
        observer.checkpoint(Step::Committed)
    })();
    if let Err(e) = result {
        // A failed statement leaves the transaction open: roll it back so
        // both files stay as they were (or, in WAL, as the scoped commit left them).
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e);
    }
    mv.mark_changed(&mut report);
    Ok(report)
}

/// Fast path into a scoped DB that does not exist yet: build it complete in a
/// temp file beside it with no per-statement syncing, fsync it once, link it
/// into place (never over a DB a daemon created meanwhile), then delete from
/// legacy what is provably in it — scoped first, legacy second, as in WAL
/// mode. A crash before the link leaves legacy untouched; after it, the next
/// run finds every key present and only deletes. `Ok(None)`: the scoped DB
/// appeared meanwhile; nothing was changed.
fn move_into_new(
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
    let tmp = dir.join(format!("{prefix}{}-{stamp}.tmp", std::process::id()));
    crate::fsutil::create_private_empty(&tmp)?;
    let built = (|| -> Result<(Connection, Move, i64), Error> {
        let mut conn = Connection::open(&tmp).map_err(|e| Error::sqlite(&tmp, e, busy))?;
        conn.busy_timeout(crate::lock::busy_duration(busy))
            .and_then(|_| {
                // A temp file nobody else sees: no journal, one fsync at the end.
                conn.execute_batch(
                    "PRAGMA main.journal_mode = OFF; PRAGMA main.synchronous = OFF; \
                     PRAGMA cache_size = -16384; PRAGMA temp.cache_size = -16384;",
                )
            })
            .map_err(|e| Error::sqlite(&tmp, e, busy))?;
        let upgrade = schema::upgrade_to(&mut conn, &tmp, target)?;
        observer.checkpoint(Step::SchemaUpgraded)?;
        let mv = Move::attach(&conn, legacy_path, &tmp, upgrade.to, busy)?;
        // Each table commits on its own (the file is private until linked), so
        // a helper thread can write its pages back while the next one builds;
        // the fsync before the link is then short.
        let (kick, kicks) = std::sync::mpsc::channel::<()>();
        let sync_path = tmp.clone();
        let syncer = std::thread::spawn(move || {
            for () in kicks {
                if let Ok(f) = std::fs::File::open(&sync_path) {
                    let _ = f.sync_data();
                }
            }
        });
        let mut sources = Vec::new();
        // Secondary indexes are built once after the load (a sort) rather
        // than row by row; their SQL is kept verbatim, so the schema is the
        // one the migrations wrote.
        let secondary: Vec<String> = {
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
            rows.into_iter().map(|(_, sql)| sql).collect()
        };
        let built = (|| -> Result<i64, Error> {
            mv.begin(&conn)?;
            // The legacy state the inserts start from: unchanged later means
            // no other connection has committed to legacy since.
            let seen = legacy_data_version(&conn).map_err(|e| mv.on_legacy(e))?;
            for (i, t) in mv.tables.iter().enumerate() {
                if i > 0 {
                    mv.begin(&conn)?;
                }
                sources.push(mv.insert_all(&conn, t, &mut report, observer)?);
                mv.commit(&conn)?;
                let _ = kick.send(());
            }
            for sql in &secondary {
                conn.execute_batch(sql).map_err(|e| mv.on_scoped(e))?;
            }
            Ok(seen)
        })();
        drop(kick);
        let _ = syncer.join();
        let seen = match built {
            Ok(seen) => seen,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        };
        // The file is still private: every row in it is one this run moved.
        mv.seal(&conn, &sources, observer)?;
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&tmp, e))?;
        Ok((conn, mv, seen))
    })();
    let (conn, mv, seen) = match built {
        Ok(b) => b,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    // Lock before the link: from the moment a daemon can see the scoped DB,
    // our write lock on it keeps the daemon from draining the new rows
    // before they are audited (their lines are true whatever happens to
    // legacy next: the rows are durable in scoped).
    if let Err(e) = mv.begin(&conn) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // hard_link never replaces: a scoped DB a daemon created meanwhile wins.
    let linked = std::fs::hard_link(&tmp, scoped_path);
    let _ = std::fs::remove_file(&tmp);
    let linked = match linked {
        Ok(()) => crate::fsutil::sync_dir(dir),
        // AlreadyExists: a daemon created it meanwhile. Anything else (a file
        // system without hard links): the general path creates it in place.
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
            observer.audit_void();
            return Ok(None);
        }
    };
    report.scoped_version = Some(mv.scoped_version);
    report.changed = true;
    report.atomic = false;

    // Second phase, same connection (its `main` is now the scoped DB's inode):
    // delete from legacy what is provably in scoped (audited before the link).
    let result = (|| -> Result<(), Error> {
        linked?;
        observer.checkpoint(Step::ScopedCommitted)?;
        let unchanged = legacy_data_version(&conn).map_err(|e| mv.on_legacy(e))? == seen;
        mv.delete_phase(&conn, unchanged, &mut report, observer)?;
        mv.commit(&conn)?;
        observer.checkpoint(Step::Committed)
    })();
    if let Err(e) = result {
        let _ = conn.execute_batch("ROLLBACK");
        return Err(e);
    }
    mv.mark_changed(&mut report);
    Ok(Some(report))
}

/// Temp files of runs killed before their link hold only copies: remove
/// those whose process (the pid in their name) is gone. A live run's temp
/// file is never touched.
fn remove_stale_temps(dir: &Path, prefix: &str) {
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
        if pid.is_some_and(|p| !crate::owner::pid_alive(p)) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Where a table's audit keys are read once its rows are durable in scoped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuditFrom {
    /// The plan temp table: exactly the rows inserted.
    Plan,
    /// A scoped table that was empty: its rows up to `max_id` are the moved
    /// ones (a daemon's later rows get larger ids; read under the write lock,
    /// so none is drained meanwhile).
    NewScoped { max_id: i64 },
}

/// `PRAGMA legacy.data_version`: changes when another connection commits to legacy.
fn legacy_data_version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA legacy.data_version", [], |r| r.get(0))
}

/// One move's fixed parts: the legacy DB attached as `legacy` to a
/// connection whose `main` is the scoped DB, and the tables to move.
struct Move {
    legacy_path: PathBuf,
    scoped_path: PathBuf,
    legacy_side: Side<'static>,
    /// The scoped DB's version once upgraded (the release's, or beyond it).
    scoped_version: u32,
    tables: Vec<&'static TableDef>,
    busy: u64,
}

impl Move {
    fn attach(
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

    fn scoped_side(&self) -> Side<'static> {
        Side {
            schema: "main",
            version: self.scoped_version,
        }
    }

    fn on_scoped(&self, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.scoped_path, e, self.busy)
    }

    fn on_legacy(&self, e: rusqlite::Error) -> Error {
        Error::sqlite(&self.legacy_path, e, self.busy)
    }

    /// Rollback journal on both files: one transaction commits both atomically.
    fn journal_modes_allow_atomic(&self, conn: &Connection) -> Result<bool, Error> {
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

    /// Write locks on both files up front; the busy timeout waits for a daemon.
    fn begin(&self, conn: &Connection) -> Result<(), Error> {
        let started = std::time::Instant::now();
        conn.execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.on_locked_pair(e).waited(started.elapsed()))
    }

    fn commit(&self, conn: &Connection) -> Result<(), Error> {
        let started = std::time::Instant::now();
        conn.execute_batch("COMMIT")
            .map_err(|e| self.on_locked_pair(e).waited(started.elapsed()))
    }

    /// An error of a statement over both files: when it is a lock, name the
    /// file another process holds (probed without waiting).
    fn on_locked_pair(&self, e: rusqlite::Error) -> Error {
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

    fn count(&self, conn: &Connection, sql: &str) -> Result<u64, Error> {
        count(conn, sql, &self.legacy_path, self.busy)
    }

    /// Plan and insert every table into the existing scoped DB (`main`).
    fn insert_phase(
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
    fn delete_phase(
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
    fn seal(
        &self,
        conn: &Connection,
        sources: &[AuditFrom],
        observer: &mut dyn Observer,
    ) -> Result<(), Error> {
        self.audit(conn, sources, observer)?;
        let Some(marker) = observer.seal_audit()? else {
            return Ok(());
        };
        let prefix = crate::journal::MARKER_PREFIX;
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

    fn mark_changed(&self, report: &mut MoveReport) {
        let moved: u64 = report
            .tables
            .iter()
            .map(|c| c.inserted + c.deleted_from_legacy)
            .sum();
        report.changed |= moved > 0;
    }

    /// One audit line per moved row, once the rows are durable in scoped.
    fn audit(
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
    fn insert_all(
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
fn write_locked(path: &Path) -> bool {
    let Ok(conn) = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE) else {
        return false;
    };
    let busy = conn.execute_batch("BEGIN IMMEDIATE").is_err();
    let _ = conn.execute_batch("ROLLBACK");
    busy
}

fn open_scoped(path: &Path, busy: u64) -> Result<Connection, Error> {
    if let Some(dir) = path.parent() {
        crate::fsutil::create_private_dir_all(dir)?;
    }
    let existed = path.exists();
    if !existed {
        crate::fsutil::create_private_empty(path)?;
    }
    let conn = Connection::open(path).map_err(|e| Error::sqlite(path, e, busy))?;
    conn.busy_timeout(crate::lock::busy_duration(busy))
        .map_err(|e| Error::sqlite(path, e, busy))?;
    // A 16 MiB page cache (per attached DB) keeps a typical move's index
    // pages resident; rows still stream, so memory stays flat at any size.
    conn.execute_batch(
        "PRAGMA cache_size = -16384; PRAGMA temp.cache_size = -16384; PRAGMA main.synchronous = FULL",
    )
        .map_err(|e| Error::sqlite(path, e, busy))?;
    Ok(conn)
}

/// Stream the plan's keys (what was inserted) to the observer, in order.
/// Each key is rendered as JSON into one reused buffer (BLOBs as hex): no
/// row is held, and nothing is allocated per row.
fn emit_audit(
    conn: &Connection,
    t: &TableDef,
    source: AuditFrom,
    observer: &mut dyn Observer,
    path: &Path,
    busy: u64,
) -> Result<(), Error> {
    use rusqlite::types::ValueRef;
    let sq = |e| Error::sqlite(path, e, busy);
    let (sql, up_to) = match source {
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
    };
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

/// The same plan against read-only attachments: counts, no writes.
fn dry_run(
    legacy_path: &Path,
    scoped_path: &Path,
    legacy_version: u32,
    mut report: MoveReport,
    busy: u64,
) -> Result<MoveReport, Error> {
    let conn = Connection::open_in_memory().map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    conn.busy_timeout(crate::lock::busy_duration(busy))
        .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    conn.execute("ATTACH DATABASE ?1 AS legacy", [dry_run_uri(legacy_path)])
        .map_err(|e| Error::sqlite(legacy_path, e, busy))?;
    let scoped = match report.scoped_version_before {
        Some(v) => {
            conn.execute("ATTACH DATABASE ?1 AS scoped", [dry_run_uri(scoped_path)])
                .map_err(|e| Error::sqlite(scoped_path, e, busy))?;
            Some(Side {
                schema: "scoped",
                version: v,
            })
        }
        None => None,
    };
    let legacy = Side {
        schema: "legacy",
        version: legacy_version,
    };
    for t in ALL.iter().filter(|t| t.exists_at(legacy_version)) {
        let Some(counts) = report.tables.iter_mut().find(|c| c.table == t.name) else {
            continue;
        };
        let sq = |e| Error::sqlite(legacy_path, e, busy);
        let unique = key_is_unique(&conn, "legacy", t, legacy_version).map_err(sq)?;
        conn.execute_batch(&plan_sql(t, legacy, scoped, unique))
            .map_err(sq)?;
        counts.inserted = count(
            &conn,
            &format!("SELECT count(*) FROM {}", plan_table(t)),
            legacy_path,
            busy,
        )?;
        let present = count(
            &conn,
            &format!(
                "SELECT count(*) FROM {} AS l WHERE {}",
                table_ref(legacy, t),
                present_where(t, legacy, scoped, true)
            ),
            legacy_path,
            busy,
        )?;
        counts.deleted_from_legacy = present;
        counts.already_present = present.saturating_sub(counts.inserted);
        // legacy_before came from another connection: a daemon may have added rows.
        counts.left_in_legacy = counts.legacy_before.saturating_sub(present);
    }
    report.scoped_version = report.scoped_version_before;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::tables::{BODY_UPLOAD_QUEUE, QUEUE};

    #[test]
    fn insert_maps_renamed_columns_and_skips_absent_ones() {
        let sql = insert_sql(
            &BODY_UPLOAD_QUEUE,
            Side {
                schema: "legacy",
                version: 2,
            },
            LATEST,
        );
        assert!(sql.contains("l.\"feature_slug\""), "{sql}");
        assert!(sql.contains("l.\"mission_key\""), "{sql}");
        assert!(
            sql.contains("COALESCE(l.\"hash_algorithm\", 'sha256')"),
            "{sql}"
        );
        let sql = insert_sql(
            &QUEUE,
            Side {
                schema: "legacy",
                version: 2,
            },
            LATEST,
        );
        assert!(!sql.contains("coalesce_key"), "{sql}");
        let sql = insert_sql(
            &QUEUE,
            Side {
                schema: "legacy",
                version: 3,
            },
            LATEST,
        );
        assert!(sql.contains("\"coalesce_key\""), "{sql}");
    }

    #[test]
    fn read_only_uri_escapes_uri_specials() {
        assert_eq!(
            read_only_uri(Path::new("/a b/q%1?#.db")),
            "file:/a b/q%251%3f%23.db?mode=ro"
        );
    }

    #[test]
    fn plan_without_scoped_table_has_no_existence_probe() {
        let sql = plan_sql(
            &BODY_UPLOAD_QUEUE,
            Side {
                schema: "legacy",
                version: 4,
            },
            Some(Side {
                schema: "scoped",
                version: 1,
            }),
            true,
        );
        assert!(!sql.contains("EXISTS"), "{sql}");
        assert!(
            !sql.contains("GROUP BY"),
            "a unique legacy key needs no dedup: {sql}"
        );
    }
}
