//! The queue DBs of a home as the survey reads them: the legacy and the
//! scoped DB (fingerprint and counts, [`crate::db::inspect`]), whether the
//! two names are one file, the legacy rows no move takes under the
//! installed release, and the missions of the legacy body uploads. Reads only.

use std::path::{Path, PathBuf};

use crate::db::schema::tables::{ALL, BODY_UPLOAD_QUEUE, Table};
use crate::db::{DbFacts, count, ident, open_read_only, read_error};
use crate::error::Error;

/// One queue DB as read.
#[derive(Debug)]
pub struct QueueDb {
    pub path: PathBuf,
    /// What [`crate::db::inspect`] read: `Ok(None)` when the file does not
    /// exist. A failed read is kept as the error it was, for each tool to
    /// judge: sk-doctor reports it, `sk-migrate status` fails with it.
    pub read: Result<Option<DbFacts>, Error>,
}

impl QueueDb {
    /// Fingerprint and count the DB at `path` (read-only).
    pub fn read(path: PathBuf, busy: u64) -> QueueDb {
        let read = crate::db::inspect(&path, busy);
        QueueDb { path, read }
    }

    /// Its facts, when it exists and was read.
    pub fn facts(&self) -> Option<&DbFacts> {
        self.read.as_ref().ok().and_then(Option::as_ref)
    }
}

/// The legacy and scoped DB are one file (device and inode): for people.
pub fn same_file_diagnostic(legacy: &Path, scoped: &Path) -> crate::login::Diagnostic {
    crate::login::Diagnostic {
        path: scoped.into(),
        message: format!(
            "{} and {} are the same file (same device and inode: a hard link or a bind mount); \
             its rows are already in the scoped queue, so nothing is stranded and nothing moves",
            crate::path_text::escaped(legacy),
            crate::path_text::escaped(scoped)
        ),
    }
}

/// Why legacy rows cannot move into a scoped DB (`docs/problems.md`,
/// `unmovable_legacy_rows`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum Unmovable {
    /// The scoped DB the release keeps (schema `target`) has no such table:
    /// a release whose queue DBs are at `since` or later reads them.
    TableMissing { since: u32, target: u32 },
    /// A natural-key or required column is NULL: no scoped DB takes the row.
    NullKey,
}

/// Rows of one legacy table no move can take, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnmovableRows {
    pub table: Table,
    pub rows: u64,
    #[serde(flatten)]
    pub why: Unmovable,
}

/// The rows of the legacy DB at `path` (found at `facts`) a move into a
/// scoped DB at schema `target` leaves in legacy, per table and reason
/// (read-only): every row of a table `target` lacks, and rows whose key or
/// a column the scoped table requires is NULL. The move's own rule
/// (`migrate::merge`, `left_in_legacy`).
pub fn unmovable(
    path: &Path,
    facts: &DbFacts,
    target: u32,
    busy: u64,
) -> Result<Vec<UnmovableRows>, Error> {
    let mut out = Vec::new();
    let mut conn = None;
    for (t, (_, n)) in ALL.iter().zip(&facts.rows) {
        if *n == 0 || !t.exists_at(facts.version) {
            continue;
        }
        if !t.exists_at(target) {
            out.push(UnmovableRows {
                table: t.table,
                rows: *n,
                why: Unmovable::TableMissing {
                    since: t.since,
                    target,
                },
            });
            continue;
        }
        let null: Vec<String> = t
            .required_at(facts.version)
            .into_iter()
            .map(|c| format!("{} IS NULL", ident(c)))
            .collect();
        if null.is_empty() {
            continue;
        }
        if conn.is_none() {
            conn = Some(open_read_only(path, busy).map_err(|e| read_error(path, e))?);
        }
        let Some(c) = conn.as_ref() else { continue };
        let sql = format!(
            "SELECT count(*) FROM {} WHERE {}",
            ident(t.name()),
            null.join(" OR ")
        );
        let rows = count(c, &sql, path, busy)?;
        if rows > 0 {
            out.push(UnmovableRows {
                table: t.table,
                rows,
                why: Unmovable::NullKey,
            });
        }
    }
    Ok(out)
}

/// The schema a move writes the scoped DB at: the release's own, or an
/// existing scoped DB's newer version the release still reads.
pub fn move_target(schema: u32, reads: &[u32], scoped_version: Option<u32>) -> u32 {
    match scoped_version {
        Some(v) if v > schema && reads.contains(&v) => v,
        _ => schema,
    }
}

/// Legacy rows a move would take: all of them but the unmovable ones.
pub fn movable_rows(facts: &DbFacts, unmovable: &[UnmovableRows]) -> u64 {
    let stuck: u64 = unmovable.iter().map(|u| u.rows).sum();
    facts
        .rows
        .iter()
        .map(|r| r.1)
        .sum::<u64>()
        .saturating_sub(stuck)
}

/// Legacy body uploads per mission slug (V2–V3 `feature_slug` mapped), in
/// slug order; none for a DB at `version` without the column.
pub fn missions(path: &Path, version: u32, busy: u64) -> Result<Vec<(String, u64)>, Error> {
    let Some(slug) = BODY_UPLOAD_QUEUE.column_at("mission_slug", version) else {
        return Ok(Vec::new());
    };
    let conn = open_read_only(path, busy)?;
    let sq = |e| Error::sqlite(path, e, busy);
    // Grouped by (project, slug) so SQLite streams the namespace index in
    // order instead of sorting; the few groups are folded per slug here.
    let mut stmt = conn
        .prepare(&format!(
            "SELECT coalesce(CAST(\"{slug}\" AS TEXT), '(none)'), count(*) FROM body_upload_queue \
             GROUP BY project_uuid, \"{slug}\""
        ))
        .map_err(sq)?;
    let mut per_slug: std::collections::BTreeMap<String, u64> = Default::default();
    let mut rows = stmt.query([]).map_err(sq)?;
    while let Some(row) = rows.next().map_err(sq)? {
        let slug: String = row.get(0).map_err(sq)?;
        let n: i64 = row.get(1).map_err(sq)?;
        *per_slug.entry(slug).or_default() += n.max(0) as u64;
    }
    Ok(per_slug.into_iter().collect())
}
