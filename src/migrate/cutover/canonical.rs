//! Re-encoding the snapshot's events the way the release's history upload
//! demands of a sealed row (3.2.6–3.2.7, the profile's
//! `cutover_history_canonical_json`), with the release's own
//! `_canonical_event_json`, run in its interpreter by
//! `scripts/canonical_history.py` (shipped inside the binary). Only our
//! private snapshot, still aside (`.<id>.building/`), is ever touched: the
//! sources stay read-only, and the release's own snapshots, made from ours
//! afterwards, are its evidence. Every row is kept with its natural key,
//! which is checked here, not taken on trust; what was done is recorded
//! for sk-doctor ([`crate::survey::history`]).

use std::path::Path;
use std::process::Command;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::survey::history::HistoryEncoding;

/// The re-encoding script, run by the release's interpreter.
const SCRIPT: &str = include_str!("../../../scripts/canonical_history.py");

/// Row count and a digest of every (id, event_id) of the snapshot's queue,
/// in id order: what re-encoding must leave as it was.
fn keys(snapshot: &Path, busy: u64) -> Result<(u64, String), Error> {
    let sq = |e| Error::sqlite(snapshot, e, busy);
    let conn: Connection = crate::db::open_read_only(snapshot, busy)?;
    let mut st = conn
        .prepare("SELECT id, event_id FROM queue ORDER BY id")
        .map_err(sq)?;
    let mut rows = st.query([]).map_err(sq)?;
    let (mut n, mut h) = (0u64, Sha256::new());
    while let Some(r) = rows.next().map_err(sq)? {
        let id: i64 = r.get(0).map_err(sq)?;
        let key: Option<String> = r.get(1).map_err(sq)?;
        h.update(id.to_le_bytes());
        h.update(key.unwrap_or_default().as_bytes());
        h.update([0]);
        n += 1;
    }
    Ok((n, hex::encode(h.finalize())))
}

/// The script on the interpreter's stdin (`python -I - SNAPSHOT`), so its
/// command line is short and names no release command.
fn run_script(python: &Path, snapshot: &Path, root: &Path) -> Result<std::process::Output, Error> {
    let mut cmd = Command::new(python);
    cmd.args(["-I", "-"])
        .arg(snapshot)
        .env("SPEC_KITTY_HOME", root)
        .env("SPEC_KITTY_NO_AUTO_CUTOVER", "1");
    super::child::run(
        &mut cmd,
        Some(SCRIPT.as_bytes()),
        "the release's history encoder",
        |e| Error::EntryPoint {
            path: python.to_path_buf(),
            detail: format!("cannot run the release's interpreter: {e}"),
        },
    )
}

/// Re-encode the events of `snapshot` (ours, not yet handed over) with the
/// release's encoder; every row and natural key checked to be unchanged.
pub(super) fn reencode(
    python: Option<&Path>,
    snapshot: &Path,
    root: &Path,
    id: &str,
    busy: u64,
) -> Result<HistoryEncoding, Error> {
    let python = python.ok_or_else(|| Error::EntryPoint {
        path: "spec-kitty".into(),
        detail: "this release uploads migrated history only in its own event encoding, which its interpreter (the #! line of the installed spec-kitty) writes, and it was not found; pass --spec-kitty PATH. Nothing was handed to the release".into(),
    })?;
    let entry = |detail: String| Error::EntryPoint {
        path: python.to_path_buf(),
        detail,
    };
    let before = keys(snapshot, busy)?;
    let out = run_script(python, snapshot, root)?;
    if !out.status.success() {
        return Err(entry(format!(
            "the release's encoder exited with {} on {} (nothing was handed to the release; \
             run again: the snapshot is rebuilt from the sources, which were only read): {}",
            out.status,
            crate::path_text::escaped(snapshot),
            super::tail_of(&String::from_utf8_lossy(&out.stderr))
        )));
    }
    let answer: HistoryEncoding = serde_json::from_slice(&out.stdout)
        .map_err(|e| entry(format!("the encoder's answer is not its JSON ({e})")))?;
    let after = keys(snapshot, busy)?;
    if after != before || answer.events != before.0 {
        return Err(Error::CutoverUnverified {
            migration_id: id.to_string(),
            detail: format!(
                "re-encoding {} changed its rows or keys ({} rows before, {} after, {} encoded); nothing was handed to the release",
                crate::path_text::escaped(snapshot),
                before.0,
                after.0,
                answer.events
            ),
        });
    }
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_script_uses_the_release_encoder_and_changes_only_data() {
        assert!(
            SCRIPT.contains(
                "from specify_cli.sync.history_import.upload import _canonical_event_json"
            )
        );
        assert!(SCRIPT.contains("UPDATE queue SET data = ? WHERE id = ?"));
        assert_eq!(SCRIPT.matches("UPDATE").count(), 1);
        for w in ["INSERT", "DELETE", "DROP"] {
            assert!(!SCRIPT.contains(w), "{w}");
        }
    }

    #[test]
    fn without_the_interpreter_nothing_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let snap = dir.path().join("snapshot.db");
        let err = reencode(None, &snap, dir.path(), "sk-migrate-x", 0).unwrap_err();
        assert!(err.to_string().contains("--spec-kitty PATH"), "{err}");
        assert!(!snap.exists());
    }
}
