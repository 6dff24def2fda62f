//! spec-kitty 3.2.6+ project stores, their legacy sources and the cutover,
//! read-only (facts of 3.2.7 pinned by `fixtures/releases/3.2.7/`).
//!
//! Layout: `projects/<uuid>/sync/sync.db` (WAL), one per project; the layout
//! mode of the machine is `projects/.layout-generation.json` (`mode`: legacy,
//! cutover_pending, project_only; absent = legacy); each cutover keeps
//! `projects/.migration/<id>/manifest.json`. `queue.db` and
//! `queues/queue-<hex>.db` are only cutover sources. Nothing here writes: a
//! store is opened read-only and its journal mode is never touched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::db::schema::tables;
use crate::home::Home;
use crate::seen::{Seen, Unreadable};
use crate::survey::json::json_file;
use crate::survey::layout::{CutoverPhase, LayoutMode};

/// One project store and its pending work, as the release counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectStore {
    pub project_uuid: String,
    pub path: String,
    pub journal_entries: u64,
    /// `outbox_tasks`: events not yet `synced` nor `terminal_failed`.
    pub pending_events: u64,
    /// `body_upload_tasks` not yet `uploaded` nor `terminal_failed`.
    pub pending_body_uploads: u64,
    /// Events in a sealed consent epoch with no finished outbox task: the
    /// release's sealed history (`history_disclosure::_cohort_rows`), which
    /// it delivers only through `spec-kitty sync project-store-history`.
    pub sealed_history: u64,
    /// Of `sealed_history`, the rows the release's upload accepts: re-encoded
    /// by sk-migrate's cutover as the release's canonical JSON of the event
    /// and not refused by it (its record, [`crate::survey::history`]). The
    /// release uploads the confirmed cohort whole, or none of it.
    pub sealed_deliverable: u64,
    /// Journal entries the release's own journal cannot decode
    /// (`event_journal/journal.py::_event_from_document` wants an object
    /// with `payload_encoding` `base64`): while any is there the release's
    /// `sync status` fails with "journal payload document has an
    /// unsupported encoding".
    pub undecodable_journal: u64,
    /// Why it could not be read, if it could not.
    pub unreadable: Option<String>,
}

/// A legacy queue DB the release's discovery picks as a cutover source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegacySource {
    pub path: String,
    pub rows: u64,
    /// Rows of queued work some cutover covered (stored or quarantined), by
    /// natural key (`survey::carried`); absent when not classified.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carried: Option<u64>,
    /// Rows of queued work no store holds and no cutover covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub late: Option<u64>,
}

/// One cutover manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cutover {
    pub migration_id: String,
    pub path: String,
    pub phase: CutoverPhase,
    pub total_rows: u64,
    /// Quarantined rows of queued work by reason.
    pub quarantine: BTreeMap<String, u64>,
    /// Failure-log rows it set aside (always `incompatible_row`: not work).
    pub failure_log_quarantined: u64,
    /// The source paths it copied.
    pub sources: Vec<String>,
    pub failure: Option<String>,
}

/// One original source as `sources.json` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStamp {
    pub path: String,
    pub size: u64,
    pub mtime_ns: i128,
    pub sha256: String,
}

/// `sources.json`: what a verified cutover carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Carried {
    pub migration_id: String,
    pub sources: Vec<SourceStamp>,
}

/// Outside `projects/`: the release refuses sources under it.
/// Does `path` still look as `s` recorded it (size and mtime; cheap)?
pub fn unchanged(s: &SourceStamp) -> bool {
    let Ok(meta) = std::fs::metadata(&s.path) else {
        return false;
    };
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    // Same size and time: unchanged. A copied or touched file keeps its
    // bytes but not its time: then the content decides.
    meta.len() == s.size
        && (mtime_ns == s.mtime_ns || file_sha256(Path::new(&s.path)).is_ok_and(|h| h == s.sha256))
}

/// SHA-256 of a file's bytes, hex.
pub fn file_sha256(path: &Path) -> Result<String, crate::error::Error> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let io = |e| crate::error::Error::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Every `sources.json` under the home (read-only; for sk-doctor). One
/// that cannot be read goes into `unreadable` and covers nothing.
pub fn carried(home: &Home, unreadable: &mut Vec<Unreadable>) -> Vec<Carried> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(home.cutover_work_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let file = home.cutover_work(entry.file_name()).carried_record();
        let record = json_file(&file)
            .and_then(|v| Seen::read(&file, v.map(serde_json::from_value::<Carried>).transpose()));
        if let Some(c) = record.known_or_default(unreadable) {
            out.push(c);
        }
    }
    out
}

/// The project uuid of the checkout at or above `dir`, as 3.2.7 finds it:
/// `$SPECIFY_REPO_ROOT`, else the nearest directory upwards holding
/// `.kittify/config.yaml`; its `project.uuid`, lowercased. `None`: no
/// project identity resolves (the release's gate then refuses).
pub fn checkout_project(dir: &Path, repo_root_env: Option<&Path>) -> Option<String> {
    let root = match repo_root_env {
        Some(r) => r.to_path_buf(),
        None => dir
            .ancestors()
            .find(|d| d.join(".kittify/config.yaml").is_file())?
            .to_path_buf(),
    };
    let text = crate::fsutil::read_text(&root.join(".kittify/config.yaml"))
        .ok()
        .flatten()?;
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).ok()?;
    let uuid = docs.first()?["project"]["uuid"]
        .as_str()?
        .trim()
        .to_lowercase();
    (!uuid.is_empty()).then_some(uuid)
}

/// Everything the doctor shows of a project-store home.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreFacts {
    pub layout_mode: LayoutMode,
    pub stores: Vec<ProjectStore>,
    pub legacy_sources: Vec<LegacySource>,
    pub cutovers: Vec<Cutover>,
    /// What verified `sk-migrate run` cutovers carried (`sources.json`).
    #[serde(skip)]
    pub carried: Vec<Carried>,
    /// Who holds a legacy source open, by its path (the process holding it:
    /// pid, executable, release), when known.
    #[serde(skip)]
    pub legacy_writers: BTreeMap<String, String>,
    /// What could not be read while these facts were gathered (a store, a
    /// manifest, a source, the process table), each with why. Not in the
    /// JSON yet: the counts above still read such a file as zero
    /// (issue 29, phase 2).
    #[serde(skip)]
    pub unreadable: Vec<Unreadable>,
}

/// Open a store or source read-only (never writes, never changes its journal mode).
pub(crate) fn open_ro(path: &Path) -> rusqlite::Result<Connection> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

fn count(conn: &Connection, sql: &str) -> rusqlite::Result<u64> {
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as u64)
}

/// Does the database have a table named `table`?
pub(crate) fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
        [table],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Rows of `table`, or the error that kept them from being counted.
pub(crate) fn count_rows(conn: &Connection, table: &str) -> rusqlite::Result<u64> {
    conn.query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n.max(0) as u64)
}

/// A JSON file, if it exists and reads.
// TODO(issue 29, phase 2): every caller reads an unreadable file as an
// absent one; they are to take [`json_file`] and refuse on `Unreadable`.
pub(crate) fn read_json(path: &Path) -> Option<serde_json::Value> {
    json_file(path).known_or_default(&mut Vec::new())
}

/// The machine-wide layout mode (`legacy` when the file is absent or names
/// no mode).
pub fn layout_mode(home: &Home) -> Seen<LayoutMode> {
    json_file(&home.layout_record()).map(|v| {
        v.and_then(|v| v["mode"].as_str().map(LayoutMode::from_name))
            .unwrap_or_default()
    })
}

fn store(
    uuid: &str,
    path: PathBuf,
    records: &BTreeMap<String, std::collections::BTreeSet<String>>,
    unreadable: &mut Vec<Unreadable>,
) -> ProjectStore {
    let mut s = ProjectStore {
        project_uuid: uuid.to_string(),
        path: path.display().to_string(),
        journal_entries: 0,
        pending_events: 0,
        pending_body_uploads: 0,
        sealed_history: 0,
        sealed_deliverable: 0,
        undecodable_journal: 0,
        unreadable: None,
    };
    match open_ro(&path) {
        Ok(conn) => {
            // TODO(issue 29, phase 2): a count that fails (a store of
            // random bytes, a locked one) is still shown as 0; the failure
            // is kept in `unreadable`.
            let mut seen = |read| Seen::read(&path, read).known_or_default(unreadable);
            s.journal_entries = seen(count(&conn, "SELECT count(*) FROM journal_entries"));
            s.pending_events = seen(count(
                &conn,
                "SELECT count(*) FROM outbox_tasks WHERE task_kind = 'event' \
                 AND state NOT IN ('synced', 'terminal_failed')",
            ));
            s.pending_body_uploads = seen(count(
                &conn,
                "SELECT count(*) FROM body_upload_tasks \
                 WHERE state NOT IN ('uploaded', 'terminal_failed')",
            ));
            s.sealed_history = seen(count(
                &conn,
                "SELECT count(*) FROM journal_entries AS j JOIN consent_epochs AS e \
                 ON e.project_uuid = j.project_uuid AND e.epoch_id = j.epoch_id \
                 WHERE e.state = 'sealed' AND NOT EXISTS (SELECT 1 FROM outbox_tasks AS o \
                 WHERE o.project_uuid = j.project_uuid AND o.journal_entry_id = j.entry_id \
                 AND o.state IN ('complete', 'terminal_refused', 'purged', 'canceled'))",
            ));
            s.sealed_deliverable = seen(super::history::deliverable_sealed(&conn, records));
            s.undecodable_journal = seen(undecodable(&conn));
        }
        Err(e) => s.unreadable = Some(e.to_string()),
    }
    s
}

/// Does the release's journal decode this `payload_json` (pure)? Its rule
/// (`_event_from_document`, 3.2.6–3.2.7): a JSON object whose
/// `payload_encoding` is `base64` and whose `payload` is a string.
pub fn journal_document_decodes(text: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(text).is_ok_and(|v| {
        v.is_object() && v["payload_encoding"] == "base64" && v["payload"].is_string()
    })
}

fn undecodable(conn: &Connection) -> rusqlite::Result<u64> {
    let mut st = conn.prepare("SELECT payload_json FROM journal_entries")?;
    let mut n = 0;
    for text in st.query_map([], |r| r.get::<_, String>(0))? {
        n += u64::from(!journal_document_decodes(&text?));
    }
    Ok(n)
}

/// Every project store of the home: (project uuid, `sync/sync.db`), sorted.
pub fn store_dbs(home: &Home) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(home.projects_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name().to_string_lossy().into_owned();
        let db = home.project_store(entry.file_name());
        if !name.starts_with('.') && db.is_file() {
            out.push((name, db));
        }
    }
    out.sort();
    out
}

/// `queue.db`, then `queues/queue-<lowercase hex>.db` sorted: 3.2.7's discovery.
pub fn discover_sources(home: &Home) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if home.legacy_queue().is_file() {
        out.push(home.legacy_queue());
    }
    let mut scoped: Vec<PathBuf> = std::fs::read_dir(home.queues_dir())
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("queue-")
                .and_then(|n| n.strip_suffix(".db"))
                .is_some_and(|h| {
                    !h.is_empty()
                        && h.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                })
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    scoped.sort();
    out.extend(scoped);
    out
}

/// Rows of the queue tables a source has (a table it lacks holds none).
fn source_rows(path: &Path) -> Seen<u64> {
    let counted = open_ro(path).and_then(|conn| {
        let mut n = 0;
        for t in tables::ALL {
            if has_table(&conn, t.name())? {
                n += count_rows(&conn, t.name())?;
            }
        }
        Ok(n)
    });
    Seen::read(path, counted)
}

/// One cutover manifest; `Known(None)` when the directory holds none.
fn cutover(id: &str, path: PathBuf) -> Seen<Option<Cutover>> {
    json_file(&path).map(|m| m.map(|m| manifest(id, &path, &m)))
}

/// What a manifest says (pure).
fn manifest(id: &str, path: &Path, m: &serde_json::Value) -> Cutover {
    let mut quarantine = BTreeMap::new();
    let mut failure_log = 0;
    for q in m["quarantine"].as_array().into_iter().flatten() {
        if q["table"] == tables::BODY_UPLOAD_FAILURE_LOG.name() {
            // Every failure-log row is `incompatible_row` for the release:
            // a diagnostic, never work to deliver.
            failure_log += 1;
            continue;
        }
        let reason = q["reason"].as_str().unwrap_or("unknown").to_string();
        *quarantine.entry(reason).or_insert(0) += 1;
    }
    Cutover {
        migration_id: m["migration_id"].as_str().unwrap_or(id).to_string(),
        path: path.display().to_string(),
        phase: CutoverPhase::from_name(m["phase"].as_str().unwrap_or("unknown")),
        total_rows: m["total_rows"].as_u64().unwrap_or(0),
        quarantine,
        failure_log_quarantined: failure_log,
        sources: m["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["path"].as_str().map(str::to_string))
            .collect(),
        failure: m["failure"].as_str().map(str::to_string),
    }
}

/// Gather the project-store facts of `home`. Reads only.
///
/// TODO(issue 29, phase 2): what cannot be read is kept in `unreadable`,
/// but still counts as nothing here: a store's counts as 0, a source's rows
/// as 0 (so it is not pending), a manifest or record as absent, the layout
/// record as `legacy`.
pub fn gather(home: &Home) -> StoreFacts {
    let mut unreadable = Vec::new();
    let records = super::history::records(home, &mut unreadable);
    let stores: Vec<ProjectStore> = store_dbs(home)
        .into_iter()
        .map(|(name, db)| store(&name, db, &records, &mut unreadable))
        .collect();
    let mut cutovers = Vec::new();
    for entry in std::fs::read_dir(home.migrations_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let id = entry.file_name().to_string_lossy().into_owned();
        let manifest = home.migration(entry.file_name()).manifest();
        if let Some(c) = cutover(&id, manifest).known_or_default(&mut unreadable) {
            cutovers.push(c);
        }
    }
    cutovers.sort_by(|a, b| a.migration_id.cmp(&b.migration_id));
    let legacy_sources = discover_sources(home)
        .into_iter()
        .map(|p| LegacySource {
            rows: source_rows(&p).known_or_default(&mut unreadable),
            path: p.display().to_string(),
            carried: None,
            late: None,
        })
        .collect();
    StoreFacts {
        layout_mode: layout_mode(home).known_or_default(&mut unreadable),
        stores,
        legacy_sources,
        cutovers,
        carried: carried(home, &mut unreadable),
        legacy_writers: BTreeMap::new(),
        unreadable,
    }
}

/// The sources holding rows that no complete cutover copied (pure): not
/// named by a complete manifest, nor by the `sources.json` of a verified
/// `sk-migrate run` whose cutover is complete (while the file is unchanged).
pub fn pending_sources(facts: &StoreFacts) -> Vec<&LegacySource> {
    let complete = |id: &str| {
        facts
            .cutovers
            .iter()
            .any(|c| c.migration_id == id && c.phase == CutoverPhase::Complete)
    };
    facts
        .legacy_sources
        .iter()
        .filter(|s| s.rows > 0)
        .filter(|s| {
            !facts
                .cutovers
                .iter()
                .any(|c| c.phase == CutoverPhase::Complete && c.sources.contains(&s.path))
        })
        .filter(|s| {
            !facts.carried.iter().any(|c| {
                complete(&c.migration_id)
                    && c.sources
                        .iter()
                        .any(|st| st.path == s.path && unchanged(st))
            })
        })
        .collect()
}

/// The release's own command that carries `sources` across (pure).
pub fn cutover_command(sources: &[&LegacySource], migration_id: &str) -> String {
    let mut cmd = String::from("spec-kitty sync project-store-migrate");
    for s in sources {
        cmd.push_str(&format!(" --source '{}'", s.path.replace('\'', "'\\''")));
    }
    cmd.push_str(&format!(" --migration-id {migration_id}"));
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(path: &str, rows: u64) -> LegacySource {
        LegacySource {
            path: path.into(),
            rows,
            carried: None,
            late: None,
        }
    }

    #[test]
    fn sources_a_complete_cutover_copied_are_not_pending() {
        let mut f = StoreFacts {
            legacy_sources: vec![src("/h/queue.db", 3), src("/h/queues/queue-ab.db", 0)],
            ..StoreFacts::default()
        };
        assert_eq!(pending_sources(&f).len(), 1);
        f.cutovers.push(Cutover {
            migration_id: "m1".into(),
            path: "/h/projects/.migration/m1/manifest.json".into(),
            phase: CutoverPhase::Failed,
            total_rows: 3,
            quarantine: BTreeMap::new(),
            failure_log_quarantined: 0,
            sources: vec!["/h/queue.db".into()],
            failure: Some("x".into()),
        });
        assert_eq!(
            pending_sources(&f).len(),
            1,
            "a failed cutover covers nothing"
        );
        f.cutovers[0].phase = CutoverPhase::Complete;
        assert!(pending_sources(&f).is_empty());
    }

    #[test]
    fn the_checkout_project_is_found_upwards() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("repo/src/deep");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::create_dir_all(dir.path().join("repo/.kittify")).unwrap();
        assert_eq!(checkout_project(&deep, None), None);
        std::fs::write(
            dir.path().join("repo/.kittify/config.yaml"),
            "project:\n  uuid: 11111111-2222-4333-8444-55555555555A\n  slug: x\n",
        )
        .unwrap();
        assert_eq!(
            checkout_project(&deep, None).as_deref(),
            Some("11111111-2222-4333-8444-55555555555a")
        );
        std::fs::write(dir.path().join("repo/.kittify/config.yaml"), "project: [").unwrap();
        assert_eq!(checkout_project(&deep, None), None);
    }

    #[test]
    fn only_base64_payload_documents_decode_as_the_release_reads_them() {
        assert!(journal_document_decodes(
            r#"{"event_id":"e","payload":"e30=","payload_encoding":"base64"}"#
        ));
        // What the cutover stores: the legacy event JSON.
        assert!(!journal_document_decodes(
            r#"{"event_id":"e","payload":{"wp":"WP01"}}"#
        ));
        assert!(!journal_document_decodes(
            r#"{"event_id":"e","payload":"e30=","payload_encoding":"utf-8"}"#
        ));
        assert!(!journal_document_decodes("[1]"));
        assert!(!journal_document_decodes("not json"));
    }

    #[test]
    fn the_command_names_every_source_quoted() {
        let a = src("/h/queue.db", 1);
        let b = src("/h/it's/queue-ab.db", 1);
        assert_eq!(
            cutover_command(&[&a, &b], "sk-1"),
            "spec-kitty sync project-store-migrate --source '/h/queue.db' --source '/h/it'\\''s/queue-ab.db' --migration-id sk-1"
        );
    }

    /// Phase 1 of issue 29: the counts still read as zero, but every
    /// failed read is kept, naming the file.
    #[test]
    fn what_cannot_be_read_is_kept_with_the_file_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let store = home.project_store("0a1b");
        std::fs::create_dir_all(store.parent().unwrap()).unwrap();
        std::fs::write(&store, vec![0x5a; 4096]).unwrap();
        let manifest = home.migration("m1").manifest();
        std::fs::create_dir_all(manifest.parent().unwrap()).unwrap();
        std::fs::write(&manifest, "{\"phase\": ").unwrap();
        std::fs::write(home.legacy_queue(), vec![0x5a; 4096]).unwrap();
        let f = gather(&home);
        assert_eq!(f.stores.len(), 1);
        assert_eq!(f.stores[0].pending_events, 0);
        assert!(f.cutovers.is_empty());
        assert_eq!(f.legacy_sources[0].rows, 0);
        let named: Vec<&Path> = f.unreadable.iter().map(|u| u.path.as_path()).collect();
        for path in [&store, &manifest, &home.legacy_queue()] {
            assert!(named.contains(&path.as_path()), "{path:?} in {named:?}");
        }
        let covered = crate::survey::carried::covered(&home);
        let named: Vec<&Path> = covered
            .unreadable
            .iter()
            .map(|u| u.path.as_path())
            .collect();
        assert!(named.contains(&store.as_path()), "{named:?}");
        assert!(named.contains(&manifest.as_path()), "{named:?}");
    }

    #[test]
    fn discovery_takes_lowercase_hex_queue_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        std::fs::create_dir_all(home.queues_dir().join("queue-dd.db")).unwrap();
        for f in [
            "queue-ab12.db",
            "queue-AB.db",
            "queue-xyz.db",
            "queue-ab12.db-wal",
            "queue-.db",
        ] {
            std::fs::write(home.queues_dir().join(f), "").unwrap();
        }
        std::fs::write(home.legacy_queue(), "").unwrap();
        let found: Vec<String> = discover_sources(&home)
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(found, ["queue.db", "queue-ab12.db"]);
    }
}
