//! The spec-kitty home: its root and every path in it (`docs/home.md`).

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

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
    /// non-empty (the root itself), else `$HOME/.spec-kitty`; the caller
    /// passes the environment in. The root is a full path however it was
    /// spelled ([`full_path`]: against the current directory, `.` and `..`
    /// folded), so every path shown or written as JSON is one.
    pub fn resolve(
        flag: Option<&Path>,
        spec_kitty_home: Option<OsString>,
        home: Option<OsString>,
    ) -> Result<Home, Error> {
        let root = if let Some(dir) = flag {
            dir.to_path_buf()
        } else if let Some(dir) = spec_kitty_home.filter(|v| !v.is_empty()) {
            PathBuf::from(dir)
        } else {
            match home.filter(|v| !v.is_empty()) {
                Some(h) => Home::default_root(Path::new(&h)),
                None => return Err(Error::NoHome),
            }
        };
        Ok(Home::at(full_path(&root)))
    }

    /// The root a release uses under a user's home directory when
    /// `SPEC_KITTY_HOME` is unset: `<user home>/.spec-kitty`.
    pub fn default_root(user_home: &Path) -> PathBuf {
        user_home.join(".spec-kitty")
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
        self.root.join(LEGACY_QUEUE_FILE)
    }
    /// Late legacy rows the release rejected when `sk-migrate run` carried
    /// them through its live writers (3.2.6+): `{"quarantine": [{"table",
    /// "key", "reason", "source_path"}]}`, written by the cutover, read by
    /// sk-doctor's ledger so both count them as quarantined.
    pub fn late_quarantine_record(&self) -> PathBuf {
        self.cutover_work_dir().join("late").join("quarantine.json")
    }
    /// 3.2.6+: one directory per project (`<uuid>/sync/sync.db`) and the
    /// release's layout and cutover records.
    pub fn projects_dir(&self) -> PathBuf {
        self.root.join("projects")
    }
    /// 3.2.6+: the project store of project `uuid`.
    pub fn project_store(&self, uuid: impl AsRef<Path>) -> PathBuf {
        self.projects_dir().join(uuid).join("sync").join("sync.db")
    }
    /// 3.2.6+: the machine-wide layout mode (`{"mode", "migration_id"}`).
    pub fn layout_record(&self) -> PathBuf {
        self.projects_dir().join(".layout-generation.json")
    }
    /// 3.2.6+: the release's cutovers, one directory per migration id.
    pub fn migrations_dir(&self) -> PathBuf {
        self.projects_dir().join(".migration")
    }
    /// 3.2.6+: the release's cutover `id` (`projects/.migration/<id>/`).
    pub fn migration(&self, id: impl AsRef<Path>) -> Migration {
        Migration {
            dir: self.migrations_dir().join(id),
        }
    }
    /// `sk-migrate run`'s work on 3.2.6+ cutovers (outside `projects/`:
    /// the release refuses sources under it).
    pub fn cutover_work_dir(&self) -> PathBuf {
        self.root.join("sk-migrate-cutover")
    }
    /// `sk-migrate run`'s work on cutover `id`.
    pub fn cutover_work(&self, id: impl AsRef<Path>) -> CutoverWork {
        CutoverWork {
            dir: self.cutover_work_dir().join(id),
        }
    }
    /// Cutover `id`'s work being built aside, renamed into place when done.
    pub fn cutover_building(&self, id: &str) -> CutoverWork {
        CutoverWork {
            dir: self.cutover_work_dir().join(format!(".{id}.building")),
        }
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
    /// The encrypted session and its salt (a session kept in the OS keyring
    /// leaves other files here).
    pub fn auth_dir(&self) -> PathBuf {
        self.root.join("auth")
    }
    pub fn session_json(&self) -> PathBuf {
        self.auth_dir().join("session.json")
    }
    pub fn session_salt(&self) -> PathBuf {
        self.auth_dir().join("session.salt")
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
    /// Legacy rows whose key was stored with another payload, kept whole
    /// before the move deleted them (JSON lines, appended).
    pub fn migrate_divergent(&self) -> PathBuf {
        self.root.join("sk-migrate.divergent.jsonl")
    }
    /// Torn journal fragments, kept as evidence.
    pub fn migrate_journal_torn(&self) -> PathBuf {
        self.root.join("sk-migrate.journal.torn")
    }
    /// Refuse a home whose root another user owns (`sudo sk-migrate run` on
    /// a user's home): everything a run creates would be this process's, and
    /// the owner's spec-kitty could not open it. Checked before anything is
    /// written; a missing root is not refused (nothing will be created in it).
    pub fn require_owned_by_caller(&self) -> Result<(), Error> {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(&self.root) else {
            return Ok(());
        };
        let euid = rustix::process::geteuid().as_raw();
        if meta.uid() == euid {
            return Ok(());
        }
        Err(Error::ForeignHome {
            path: self.root.clone(),
            owner: user_name(meta.uid()).unwrap_or_else(|| format!("#{}", meta.uid())),
            uid: meta.uid(),
            gid: meta.gid(),
            euid,
        })
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

/// The name of the legacy queue DB in the root.
pub const LEGACY_QUEUE_FILE: &str = "queue.db";

/// A release cutover's directory (`projects/.migration/<id>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    dir: PathBuf,
}

impl Migration {
    pub fn path(&self) -> &Path {
        &self.dir
    }
    /// The release's manifest of the cutover (`phase`, `sources`, `quarantine`).
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }
    /// The release's copy of source `n` (in the manifest's `sources` order).
    pub fn source_snapshot(&self, n: usize) -> PathBuf {
        self.dir.join("snapshots").join(format!("source-{n}.db"))
    }
}

/// `sk-migrate run`'s work on one cutover (`sk-migrate-cutover/<id>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutoverWork {
    dir: PathBuf,
}

impl CutoverWork {
    /// The work laid out in `dir` (the dry run's, in its scratch copy).
    pub fn at(dir: impl Into<PathBuf>) -> CutoverWork {
        CutoverWork { dir: dir.into() }
    }
    pub fn path(&self) -> &Path {
        &self.dir
    }
    /// The consolidated snapshot of the sources the release cuts over.
    pub fn snapshot(&self) -> PathBuf {
        self.dir.join("snapshot.db")
    }
    /// The stamps of the sources the snapshot was built from.
    pub fn stamps(&self) -> PathBuf {
        self.dir.join("stamps.json")
    }
    /// What re-encoding the snapshot's history did (`survey::history`).
    pub fn history_record(&self) -> PathBuf {
        self.dir.join("history.json")
    }
    /// What a verified cutover carried (`survey::stores::Carried`).
    pub fn carried_record(&self) -> PathBuf {
        self.dir.join("sources.json")
    }
}

/// A file or directory of the home its owner cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub path: PathBuf,
    pub uid: u32,
    pub mode: u32,
    /// "read", "read and write" or "open" (a directory).
    pub lacks: &'static str,
}

/// How deep [`Home::unusable_by_owner`] looks, and how many it names.
const WALK_DEPTH: usize = 4;
const WALK_MAX: usize = 50;

impl Home {
    /// The entries below the root (`WALK_DEPTH` levels, links not followed)
    /// the root's owner (its uid and gid) cannot read, cannot enter (a
    /// directory), or, for the queue DBs and their side files, cannot write:
    /// what a root run leaves behind. The owner's supplementary groups are
    /// not known here, so a file readable through one is still named.
    /// Empty when the root is missing or owned by root.
    pub fn unusable_by_owner(&self) -> Vec<Unusable> {
        use std::os::unix::fs::MetadataExt;
        let Ok(root) = std::fs::metadata(&self.root) else {
            return Vec::new();
        };
        if root.uid() == 0 {
            return Vec::new();
        }
        let (uid, gid) = (root.uid(), root.gid());
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let Ok(meta) = std::fs::symlink_metadata(&path) else {
                    continue;
                };
                if meta.file_type().is_symlink() {
                    continue;
                }
                let bits = access_bits(meta.uid(), meta.gid(), meta.mode(), uid, gid);
                let writes = is_queue_file(&path);
                let lacks = if meta.is_dir() {
                    (bits & 0o5 != 0o5 || (writes && bits & 0o2 == 0)).then_some("open")
                } else if bits & 0o4 == 0 {
                    Some(if writes { "read and write" } else { "read" })
                } else {
                    (writes && bits & 0o2 == 0).then_some("write")
                };
                if let Some(lacks) = lacks {
                    out.push(Unusable {
                        path: path.clone(),
                        uid: meta.uid(),
                        mode: meta.mode() & 0o7777,
                        lacks,
                    });
                    if out.len() >= WALK_MAX {
                        return out;
                    }
                }
                if meta.is_dir() && depth + 1 < WALK_DEPTH {
                    stack.push((path, depth + 1));
                }
            }
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }
}

/// The `rwx` bits (0–7) of `mode` that apply to user `uid`/`gid`.
fn access_bits(file_uid: u32, file_gid: u32, mode: u32, uid: u32, gid: u32) -> u32 {
    if file_uid == uid {
        (mode >> 6) & 7
    } else if file_gid == gid {
        (mode >> 3) & 7
    } else {
        mode & 7
    }
}

/// A file spec-kitty writes as well as reads: `queue.db`, `queues/` and
/// everything in it, their SQLite side files, the run lock and journal.
fn is_queue_file(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name == "queues"
        || name.starts_with(LEGACY_QUEUE_FILE)
        || name.starts_with("sk-migrate.")
        || path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|p| p == "queues")
}

/// The login name of `uid` from `/etc/passwd`, if it has one there.
pub fn user_name(uid: u32) -> Option<String> {
    let text = crate::fsutil::read_text(Path::new("/etc/passwd")).ok()??;
    text.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// `path` made absolute against the current directory, `.` dropped and each
/// `..` applied to what the path before it really is (its links resolved,
/// as the kernel resolves `a/link/..`), so `./x/../y` is `<cwd>/y`. A path
/// with no `..` keeps its links as spelled.
pub fn full_path(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for c in absolute.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if let Ok(real) = std::fs::canonicalize(&out) {
                    out = real;
                }
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_home_is_a_full_path() {
        let cwd = std::env::current_dir().unwrap();
        let h = Home::resolve(None, Some("skh".into()), None).unwrap();
        assert_eq!(h.root(), cwd.join("skh"));
        let h = Home::resolve(Some(Path::new("./nope-x/../y")), None, None).unwrap();
        assert_eq!(h.root(), cwd.join("y"));
        let h = Home::resolve(None, None, Some("rel".into())).unwrap();
        assert_eq!(h.root(), cwd.join("rel/.spec-kitty"));
    }

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
        assert_eq!(
            h.project_store("u1"),
            Path::new("/r/projects/u1/sync/sync.db")
        );
        assert_eq!(
            h.layout_record(),
            Path::new("/r/projects/.layout-generation.json")
        );
        assert_eq!(
            h.migration("m1").manifest(),
            Path::new("/r/projects/.migration/m1/manifest.json")
        );
        assert_eq!(
            h.migration("m1").source_snapshot(2),
            Path::new("/r/projects/.migration/m1/snapshots/source-2.db")
        );
        let work = h.cutover_work("sk-migrate-ab");
        assert_eq!(
            work.snapshot(),
            Path::new("/r/sk-migrate-cutover/sk-migrate-ab/snapshot.db")
        );
        assert_eq!(
            work.carried_record(),
            Path::new("/r/sk-migrate-cutover/sk-migrate-ab/sources.json")
        );
        assert_eq!(
            h.cutover_building("sk-migrate-ab").history_record(),
            Path::new("/r/sk-migrate-cutover/.sk-migrate-ab.building/history.json")
        );
        assert_eq!(
            h.late_quarantine_record(),
            Path::new("/r/sk-migrate-cutover/late/quarantine.json")
        );
    }
}
