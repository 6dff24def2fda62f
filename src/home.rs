//! The spec-kitty home: its root and every path in it (`docs/home.md`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::scope::Scope;

/// The root directory of a spec-kitty installation and the paths below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// A home rooted exactly at `root` (no resolution).
    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    /// Resolve the root: `--home` if given, else `$SPEC_KITTY_HOME` when set and
    /// non-empty (the root itself), else `$HOME/.spec-kitty`. Pure: the caller
    /// passes the environment in.
    pub fn resolve(
        flag: Option<&Path>,
        spec_kitty_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Result<Home, Error> {
        if let Some(dir) = flag {
            return Ok(Home::at(dir));
        }
        if let Some(dir) = spec_kitty_home.filter(|v| !v.is_empty()) {
            return Ok(Home::at(dir));
        }
        match home.filter(|v| !v.is_empty()) {
            Some(h) => Ok(Home::at(PathBuf::from(h).join(".spec-kitty"))),
            None => Err(Error::NoHome),
        }
    }

    /// [`Home::resolve`] with the process environment.
    pub fn from_env(flag: Option<&Path>) -> Result<Home, Error> {
        Home::resolve(
            flag,
            std::env::var_os("SPEC_KITTY_HOME"),
            std::env::var_os("HOME"),
        )
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Legacy (pre-scope) queue DB; the active queue when no scope resolves.
    pub fn legacy_queue(&self) -> PathBuf {
        self.root.join("queue.db")
    }
    pub fn queues_dir(&self) -> PathBuf {
        self.root.join("queues")
    }
    /// Scoped queue DB: `queues/queue-<first 16 hex of sha256(scope)>.db`.
    pub fn scoped_queue(&self, scope: &Scope) -> PathBuf {
        self.queues_dir()
            .join(format!("queue-{}.db", scope.file_hash()))
    }
    pub fn active_queue_scope(&self) -> PathBuf {
        self.root.join("active_queue_scope")
    }
    pub fn credentials(&self) -> PathBuf {
        self.root.join("credentials")
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.toml")
    }
    pub fn session_json(&self) -> PathBuf {
        self.root.join("auth").join("session.json")
    }
    pub fn session_salt(&self) -> PathBuf {
        self.root.join("auth").join("session.salt")
    }
    pub fn owner_record(&self) -> PathBuf {
        self.root.join("sync").join("daemon").join("owner.json")
    }
    pub fn daemon_state(&self) -> PathBuf {
        self.root.join("sync-daemon")
    }
    pub fn daemon_lock(&self) -> PathBuf {
        self.root.join("sync-daemon.lock")
    }
    pub fn daemon_log(&self) -> PathBuf {
        self.root.join("sync-daemon.log")
    }
    /// Audit journal of `sk-migrate run`: one JSON line per migrated row.
    pub fn migrate_journal(&self) -> PathBuf {
        self.root.join("sk-migrate.journal.jsonl")
    }
    /// Audit lines of a run not yet in the journal (see `journal`).
    pub fn migrate_journal_pending(&self) -> PathBuf {
        self.root.join("sk-migrate.journal.pending")
    }
    /// Torn journal fragments, kept as evidence.
    pub fn migrate_journal_torn(&self) -> PathBuf {
        self.root.join("sk-migrate.journal.torn")
    }
    /// An explicitly named root must exist and be a directory.
    pub fn require_existing(&self) -> Result<(), Error> {
        match std::fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => Ok(()),
            _ => Err(Error::HomeMissing {
                path: self.root.clone(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_wins_over_environment() {
        let h = Home::resolve(Some(Path::new("/x")), Some("/y".into()), Some("/z".into())).unwrap();
        assert_eq!(h.root(), Path::new("/x"));
    }

    #[test]
    fn spec_kitty_home_is_the_root_itself_when_non_empty() {
        let h = Home::resolve(None, Some("/y".into()), Some("/z".into())).unwrap();
        assert_eq!(h.root(), Path::new("/y"));
        let h = Home::resolve(None, Some("".into()), Some("/z".into())).unwrap();
        assert_eq!(h.root(), Path::new("/z/.spec-kitty"));
    }

    #[test]
    fn no_home_at_all_is_an_error() {
        assert!(matches!(
            Home::resolve(None, None, None),
            Err(Error::NoHome)
        ));
    }

    #[test]
    fn every_path_is_under_the_root() {
        let h = Home::at("/r");
        let scope = Scope::new("https://Sync.Example.test/", "Robert@Example.com", "Team-A");
        assert_eq!(h.legacy_queue(), Path::new("/r/queue.db"));
        assert_eq!(
            h.scoped_queue(&scope),
            Path::new("/r/queues").join(format!("queue-{}.db", scope.file_hash()))
        );
        assert_eq!(h.owner_record(), Path::new("/r/sync/daemon/owner.json"));
        assert_eq!(h.session_json(), Path::new("/r/auth/session.json"));
        assert_eq!(h.session_salt(), Path::new("/r/auth/session.salt"));
        assert_eq!(h.daemon_state(), Path::new("/r/sync-daemon"));
        assert_eq!(h.credentials(), Path::new("/r/credentials"));
        assert_eq!(h.config(), Path::new("/r/config.toml"));
    }
}
