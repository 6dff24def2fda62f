//! Typed library errors. Each names the path concerned and what to do.

use std::path::{Path, PathBuf};

use crate::path_text::escaped;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "cannot find the spec-kitty home: HOME is not set; pass --home DIR or set SPEC_KITTY_HOME"
    )]
    NoHome,

    #[error("invalid scope {value:?}: expected <server>|<user>|<team>, none of them empty")]
    BadScope { value: String },

    #[error("{}: {source}", escaped(path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: {detail}", escaped(path))]
    Malformed { path: PathBuf, detail: String },

    #[error(
        "{} is not a SQLite database ({detail}); it was left unchanged. Move it aside if it is not spec-kitty's queue",
        escaped(path)
    )]
    NotADatabase { path: PathBuf, detail: String },

    /// `timeout_ms` is the time really waited (measured where the lock was
    /// met), not merely the configured timeout.
    #[error(
        "{} is locked by another process (the sync daemon?) and stayed locked for {timeout_ms} ms; nothing was changed. Try again when it is idle, or raise --busy-timeout",
        escaped(path)
    )]
    Locked { path: PathBuf, timeout_ms: u64 },

    #[error(
        "{} is a {kind}, not a regular file; it was not read. Replace it with the file spec-kitty expects, or remove it",
        escaped(path)
    )]
    NotRegularFile { path: PathBuf, kind: &'static str },

    #[error(
        "{} is larger than {cap} bytes, far more than such a file ever holds; it was not read. Inspect it, then remove or replace it",
        escaped(path)
    )]
    TooLarge { path: PathBuf, cap: u64 },

    #[error(
        "{} is a symbolic link; this tool never creates or appends to a file through a link. Remove the link (or replace it with the file itself) and run again",
        escaped(path)
    )]
    Symlink { path: PathBuf },

    #[error(
        "{} is a symbolic link leading outside the spec-kitty home {} (to {}); nothing was changed. Move the data into the home, or pass --home at the real location",
        escaped(path),
        escaped(root),
        escaped(target)
    )]
    SymlinkOutsideHome {
        path: PathBuf,
        root: PathBuf,
        target: PathBuf,
    },

    #[error(
        "{}: the spec-kitty home does not exist (or is not a directory); nothing was read or written. Check --home",
        escaped(path)
    )]
    HomeMissing { path: PathBuf },

    #[error(
        "the spec-kitty home {} belongs to {owner} (uid {uid}, gid {gid}) and this process runs as uid {euid}: what sk-migrate creates (the scoped DB, queues/, the journal, SQLite's side files) would belong to uid {euid}, and {owner}'s own spec-kitty could not open its queue. Nothing was written. Run it as the home's owner: sudo -u {owner} sk-migrate run (or log in as {owner})",
        escaped(path)
    )]
    ForeignHome {
        path: PathBuf,
        owner: String,
        uid: u32,
        gid: u32,
        euid: u32,
    },

    #[error("another sk-migrate run{} is working on the home {} and did not finish within {waited_ms} ms; nothing was changed. Wait for it to finish, or raise --busy-timeout", holder.map(|p| format!(" (pid {p})")).unwrap_or_default(), escaped(path))]
    RunInProgress {
        path: PathBuf,
        holder: Option<u32>,
        waited_ms: u64,
    },

    #[error(
        "{} holds an interrupted write (a hot journal) that only a writer may roll back; nothing was changed. Any spec-kitty command, or `sk-migrate run`, recovers it",
        escaped(path)
    )]
    NeedsRecovery { path: PathBuf },

    #[error(
        "{} has a queue schema sk-migrate does not know ({detail}); it was left unchanged. Upgrade sk-boundary, or report the schema",
        escaped(path)
    )]
    UnknownSchema { path: PathBuf, detail: String },

    #[error(
        "{} is a V{version} queue DB, which the installed spec-kitty (it reads V{release_version}) cannot open; nothing was moved. Run the spec-kitty release that wrote it, or name it with --release",
        escaped(path)
    )]
    SchemaTooNew {
        path: PathBuf,
        version: u32,
        release_version: u32,
    },

    #[error(
        "{what}: {why}. Nothing was written; name the spec-kitty release you run with --release X.Y.Z (or --spec-kitty PATH)"
    )]
    ReleaseUnknown { what: String, why: String },

    #[error("{}", message)]
    ReleaseLayout { message: String },

    #[error(
        "cutover {migration_id} failed ({reason}); its manifest is {}. spec-kitty never resumes a failed migration id, and a new id re-checks the same destination rows, so sk-migrate stops here: inspect the rows named above (spec-kitty sync project-store-status --migration-id {migration_id} --json)",
        escaped(manifest)
    )]
    CutoverFailed {
        migration_id: String,
        manifest: PathBuf,
        reason: String,
    },

    #[error(
        "cutover {migration_id} was interrupted ({detail}; the manifest is at phase {phase}); run again to resume: `sk-migrate run` resumes the same migration id. Nothing was lost; the sources are unchanged"
    )]
    CutoverInterrupted {
        migration_id: String,
        phase: String,
        detail: String,
    },

    #[error(
        "spec-kitty refused cutover {migration_id} ({reason}); its manifest is at phase {phase}, not failed, so the id stays usable. The sources are unchanged"
    )]
    CutoverRefused {
        migration_id: String,
        phase: String,
        reason: String,
    },

    #[error(
        "{count} late legacy row(s) could not be carried into a project store yet: {detail}. They stay in their sources; run `sk-migrate run` again"
    )]
    LateRowsNotCarried { count: usize, detail: String },

    #[error(
        "cutover {migration_id} could not be verified: {detail}. The sources are unchanged; nothing was deleted"
    )]
    CutoverUnverified {
        migration_id: String,
        detail: String,
    },

    #[error("{}: SQLite error: {source}", escaped(path))]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },

    #[error(
        "{}: schema migration failed: {detail}; the database was left as it was before the failed step",
        escaped(path)
    )]
    Migration { path: PathBuf, detail: String },

    #[error("--spec-kitty {}: {detail}", escaped(path))]
    EntryPoint { path: PathBuf, detail: String },

    #[error("--foreground {}: {detail}", escaped(path))]
    BadForegroundFile { path: PathBuf, detail: String },

    #[error("{}: {detail}; the owner record was not written", escaped(path))]
    OwnerWrite { path: PathBuf, detail: String },

    #[error(
        "{} changed since the retirement was planned (a daemon may have started); nothing was removed. Run the command again",
        escaped(path)
    )]
    OwnerChanged { path: PathBuf },

    /// The encrypted session store could not be used (`docs/session.md`).
    #[error(transparent)]
    Session(#[from] SessionError),

    /// SIGINT or SIGTERM arrived; the run stopped at a safe point
    /// (`crate::interrupt`). Exit 130 or 143.
    #[error(transparent)]
    Interrupted(#[from] crate::interrupt::Interrupted),

    /// A root run would execute code another user can change: what, whose,
    /// and how to go on (`crate::trust::Dubious`).
    #[error("{message}")]
    DubiousOwnership { message: String },
}

/// Why the encrypted session store (`auth/session.json`) names no identity.
/// Messages never carry secret material: no plaintext, key or token, only
/// paths, sizes and what to do.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(
        "{} is accessible by group or others (mode {mode:04o}); spec-kitty refuses such a session file and so does this tool. Fix: chmod 600 {}",
        escaped(path),
        crate::path_text::shell_word(path)
    )]
    Permissions { path: PathBuf, mode: u32 },

    #[error(
        "{} is missing, so the session in {} cannot be decrypted; log in again with spec-kitty, or pass --scope",
        escaped(salt),
        escaped(session)
    )]
    SaltMissing { salt: PathBuf, session: PathBuf },

    #[error(
        "{} holds {len} bytes, expected a 16-byte salt, so the session cannot be decrypted; log in again with spec-kitty, or pass --scope",
        escaped(path)
    )]
    SaltLength { path: PathBuf, len: u64 },

    #[error(
        "{}: session format version {version} is not supported (this tool reads version 2); upgrade sk-boundary, or pass --scope",
        escaped(path)
    )]
    UnsupportedVersion { path: PathBuf, version: String },

    #[error(
        "{} is not a valid spec-kitty session file ({detail}); log in again with spec-kitty, or pass --scope",
        escaped(path)
    )]
    Malformed { path: PathBuf, detail: String },

    #[error(
        "{} cannot be decrypted with this host's and user's key: the session was probably copied from another host or user. Log in again with spec-kitty, or pass --scope",
        escaped(path)
    )]
    Decryption { path: PathBuf },

    #[error(
        "{}: the decrypted session has no email, so it names no user; log in again with spec-kitty, or pass --scope",
        escaped(path)
    )]
    NoEmail { path: PathBuf },

    #[error(
        "{} has no session.json but holds {entries}: the session is probably kept in the OS keyring, which this tool cannot read (or you logged out). Pass --scope, or log in again with spec-kitty",
        escaped(dir)
    )]
    NotInFile { dir: PathBuf, entries: String },
}

impl Error {
    /// A lock error met after waiting `waited`: report the time really
    /// waited rather than the configured timeout. Other errors pass through.
    pub fn waited(self, waited: std::time::Duration) -> Error {
        match self {
            Error::Locked { path, .. } => Error::Locked {
                path,
                timeout_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
            },
            other => other,
        }
    }

    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Classify a SQLite error on `path`: a busy/locked DB and a file that is
    /// not a database get their own variants, so users get a remedy.
    pub fn sqlite(path: &Path, source: rusqlite::Error, busy_timeout_ms: u64) -> Error {
        use rusqlite::ErrorCode;
        match source.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => Error::Locked {
                path: path.to_path_buf(),
                timeout_ms: busy_timeout_ms,
            },
            Some(ErrorCode::NotADatabase) => Error::NotADatabase {
                path: path.to_path_buf(),
                detail: source.to_string(),
            },
            _ => Error::Sqlite {
                path: path.to_path_buf(),
                source,
            },
        }
    }
}
