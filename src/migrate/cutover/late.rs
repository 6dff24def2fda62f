//! Late rows: rows that reached a legacy source during or after a complete
//! cutover (an older CLI or daemon still writing). Once the layout is
//! `project_only` the release refuses any new migration id, so they are
//! carried through the release's own live writers (`OfflineQueue` and
//! `OfflineBodyUploadQueue` over `ProjectSyncStore(uuid).unit_of_work()`),
//! run in the release's own interpreter by `scripts/carry_late.py` (shipped
//! inside the binary). No SQL of ours writes a project store; the sources
//! are only read. Which rows are late is decided by natural key
//! ([`crate::survey::carried`]); a row the release rejects for good is recorded
//! with its reason in `<root>/sk-migrate-cutover/late/quarantine.json`, so
//! the same state always gets the same answer; a transient failure (a
//! locked store) fails the run and the next run carries the row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use rusqlite::types::ValueRef;
use serde::Serialize;

use crate::db::schema::tables::Table;
use crate::error::Error;
use crate::home::Home;
use crate::survey::carried::{self, LateQuarantine, LateQuarantineRecord, LegacyRow, NaturalKey};

/// The carrying script, run by the release's interpreter.
const SCRIPT: &str = include_str!("../../../scripts/carry_late.py");

/// What carrying the late rows did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LateReport {
    /// Late rows found (in no store, no cutover's quarantine, not ours).
    pub found: u64,
    /// Now in a project store, through the release's writers.
    pub stored: u64,
    /// Rejected by the release, by reason (recorded; never retried blindly).
    pub quarantined: BTreeMap<String, u64>,
    /// The release that wrote them (`importlib.metadata`).
    pub release: Option<String>,
    /// Processes still holding a legacy DB open, with the remedy.
    pub writers: Vec<crate::survey::writers::LegacyWriter>,
}

fn record_path(home: &Home) -> PathBuf {
    home.late_quarantine_record()
}

fn key_json(key: &NaturalKey) -> serde_json::Value {
    match key {
        NaturalKey::Queue { event_id } => serde_json::Value::from(event_id.clone()),
        NaturalKey::BodyUploadQueue { key } => serde_json::Value::from(key.clone()),
    }
}

/// The keys our record quarantined (read-only; the one reader of the
/// format is `survey::carried`, which sk-doctor's ledger uses too).
///
/// TODO(issue 29, phase 2): an unreadable record reads as empty here, and
/// `record` then replaces it with the new entries alone.
pub fn quarantined(home: &Home) -> Vec<LateQuarantine> {
    carried::late_quarantine(home).known_or_default(&mut Vec::new())
}

/// The late rows still to carry: late by natural key and not in our record.
pub(super) fn late_rows(home: &Home, busy: u64) -> Vec<LegacyRow> {
    // A record of a table that is no queue table names no late row.
    let ours: BTreeSet<(Table, String)> = quarantined(home)
        .into_iter()
        .filter_map(|q| Some((Table::from_name(&q.table)?, q.key.to_string())))
        .collect();
    carried::ledger(home, busy)
        .late()
        .filter(|r| !ours.contains(&(r.key.table(), key_json(&r.key).to_string())))
        .cloned()
        .collect()
}

fn text_of(v: ValueRef<'_>) -> serde_json::Value {
    match v {
        ValueRef::Null => serde_json::Value::Null,
        ValueRef::Integer(n) => n.into(),
        ValueRef::Real(f) => f.into(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned().into(),
    }
}

/// The whole row `local_id` of `table` in `source`, as JSON (V3 column
/// names mapped to the release's).
fn read_row(
    source: &Path,
    table: Table,
    local_id: i64,
    busy: u64,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let conn = crate::db::open_read_only(source, busy)?;
    let sq = |e| Error::sqlite(source, e, busy);
    let mut st = conn
        .prepare(&format!(
            "SELECT * FROM {} WHERE id = ?1",
            crate::db::ident(table.as_str())
        ))
        .map_err(sq)?;
    let names: Vec<String> = st.column_names().map(str::to_string).collect();
    st.query_row([local_id], |r| {
        let mut m = serde_json::Map::new();
        for (i, n) in names.iter().enumerate() {
            let name = match n.as_str() {
                "feature_slug" => "mission_slug",
                "mission_key" => "mission_type",
                other => other,
            };
            m.insert(name.to_string(), text_of(r.get_ref(i)?));
        }
        Ok(m)
    })
    .map_err(sq)
}

/// The script's input: every late row, whole.
fn payload(rows: &[LegacyRow], busy: u64) -> Result<serde_json::Value, Error> {
    let mut events = Vec::new();
    let mut bodies = Vec::new();
    for r in rows {
        let mut m = read_row(&r.source, r.key.table(), r.local_id, busy)?;
        m.insert("source".into(), r.source.display().to_string().into());
        match &r.key {
            NaturalKey::Queue { event_id } => {
                m.insert("event_id".into(), event_id.clone().into());
                events.push(serde_json::Value::Object(m));
            }
            NaturalKey::BodyUploadQueue { .. } => bodies.push(serde_json::Value::Object(m)),
        }
    }
    Ok(serde_json::json!({"events": events, "bodies": bodies}))
}

/// Run the script in the release's interpreter; its JSON answer.
fn run_script(
    python: &Path,
    root: &Path,
    input: &serde_json::Value,
) -> Result<serde_json::Value, Error> {
    let entry = |detail: String| Error::EntryPoint {
        path: python.to_path_buf(),
        detail,
    };
    let mut cmd = Command::new(python);
    cmd.args(["-I", "-c", SCRIPT])
        .env("SPEC_KITTY_HOME", root)
        .env("SPEC_KITTY_NO_AUTO_CUTOVER", "1");
    let out = super::child::run(
        &mut cmd,
        Some(input.to_string().as_bytes()),
        "the release's writers (late rows)",
        |e| entry(format!("cannot run the release's interpreter: {e}")),
    )?;
    if !out.status.success() {
        return Err(entry(format!(
            "the release's writer exited with {}: {}",
            out.status,
            super::tail_of(&String::from_utf8_lossy(&out.stderr))
        )));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| entry(format!("its answer is not JSON ({e})")))
}

/// Merge new quarantine entries into our record (atomically replaced).
fn record(home: &Home, new: Vec<LateQuarantine>) -> Result<(), Error> {
    if new.is_empty() {
        return Ok(());
    }
    let mut all = quarantined(home);
    for q in new {
        if !all.iter().any(|a| a.table == q.table && a.key == q.key) {
            all.push(q);
        }
    }
    let path = record_path(home);
    let dir = path.parent().unwrap_or(home.root());
    crate::fsutil::create_private_dir_all(dir)?;
    let text = serde_json::to_string_pretty(&LateQuarantineRecord { quarantine: all })
        .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    super::write_atomic(dir, &path, &text)
}

/// Outcomes of the script's answer (pure): stored count, quarantine
/// entries, transient errors.
pub(super) fn outcomes(answer: &serde_json::Value) -> (u64, Vec<LateQuarantine>, Vec<String>) {
    let mut stored = 0;
    let mut quarantine = Vec::new();
    let mut errors = Vec::new();
    for r in answer["results"].as_array().into_iter().flatten() {
        let reason = r["reason"]
            .as_str()
            .unwrap_or("no reason given")
            .to_string();
        match r["outcome"].as_str() {
            Some("stored") => stored += 1,
            Some("quarantined") => quarantine.push(LateQuarantine {
                table: r["table"].as_str().unwrap_or_default().to_string(),
                key: r["key"].clone(),
                reason,
                source_path: r["source"].as_str().map(str::to_string),
            }),
            _ => errors.push(format!("{} {}: {reason}", r["table"], r["key"])),
        }
    }
    (stored, quarantine, errors)
}

/// Carry every late row into its project store with the release's writers,
/// then check by natural key that each is stored or recorded.
pub(super) fn carry(home: &Home, python: Option<&Path>, busy: u64) -> Result<LateReport, Error> {
    let rows = late_rows(home, busy);
    let mut report = LateReport {
        found: rows.len() as u64,
        // TODO(issue 29, phase 2): where the process table cannot be read
        // (or this platform cannot tell) the list is empty, not "unknown".
        writers: crate::survey::writers::legacy_writers(home).known_or_default(&mut Vec::new()),
        ..LateReport::default()
    };
    if rows.is_empty() {
        return Ok(report);
    }
    let python = python.ok_or_else(|| Error::EntryPoint {
        path: PathBuf::from("spec-kitty"),
        detail: "late rows must go through the release's own writers, and its interpreter (the #! line of the installed spec-kitty) was not found; pass --spec-kitty PATH".into(),
    })?;
    let answer = run_script(python, home.root(), &payload(&rows, busy)?)?;
    report.release = answer["version"].as_str().map(str::to_string);
    let (stored, quarantine, errors) = outcomes(&answer);
    report.stored = stored;
    for q in &quarantine {
        let reason = q.reason.split(':').next().unwrap_or_default().to_string();
        *report.quarantined.entry(reason).or_insert(0) += 1;
    }
    record(home, quarantine)?;
    if !errors.is_empty() {
        return Err(Error::LateRowsNotCarried {
            count: errors.len(),
            detail: errors.into_iter().take(5).collect::<Vec<_>>().join("; "),
        });
    }
    let missing = late_rows(home, busy);
    let carried_now: BTreeSet<&NaturalKey> = rows.iter().map(|r| &r.key).collect();
    let still: Vec<String> = missing
        .iter()
        .filter(|r| carried_now.contains(&r.key))
        .take(5)
        .map(|r| format!("{} {}", r.key.table(), r.key.display()))
        .collect();
    if !still.is_empty() {
        return Err(Error::LateRowsNotCarried {
            count: still.len(),
            detail: format!(
                "the release's writer answered, yet no store holds: {}",
                still.join("; ")
            ),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_split_stored_quarantined_and_transient() {
        let a = serde_json::json!({"results": [
            {"table": "queue", "key": "e1", "outcome": "stored"},
            {"table": "queue", "key": "e2", "outcome": "quarantined", "reason": "missing_project_uuid", "source": "/h/queue.db"},
            {"table": "body_upload_queue", "key": ["p"], "outcome": "error", "reason": "OperationalError: database is locked"}
        ]});
        let (stored, q, errors) = outcomes(&a);
        assert_eq!(stored, 1);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].reason, "missing_project_uuid");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("locked"), "{errors:?}");
    }

    #[test]
    fn the_record_keeps_each_key_once_and_its_first_reason() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        let q = |reason: &str| LateQuarantine {
            table: "queue".into(),
            key: "e2".into(),
            reason: reason.into(),
            source_path: None,
        };
        record(&home, vec![q("missing_project_uuid")]).unwrap();
        record(&home, vec![q("other")]).unwrap();
        let all = quarantined(&home);
        assert_eq!(all, vec![q("missing_project_uuid")]);
    }

    #[test]
    fn the_shipped_script_uses_the_release_writers_and_no_sql_writes() {
        assert!(SCRIPT.contains("OfflineQueue(unit, authority).queue_event"));
        assert!(SCRIPT.contains("OfflineBodyUploadQueue(unit, authority).enqueue"));
        for w in ["INSERT", "UPDATE ", "DELETE"] {
            assert!(!SCRIPT.contains(w), "{w}");
        }
    }
}
