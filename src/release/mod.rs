//! The release model: which spec-kitty-cli release the user runs, and every
//! rule that differs between releases.
//!
//! [`RELEASES`] is one table, a row per release (plus a range for the
//! uncaptured 0.x – 1.0.x), each a [`Profile`] of plain data that states
//! every rule by which releases differ. The table is data:
//! `src/release/releases.toml`, turned into these constants by `build.rs` (a
//! malformed or incomplete row fails the build), and read as well by
//! `scripts/release-fixtures` (which releases to capture). Every decision
//! elsewhere that depends on the release reads a profile field: no other
//! module compares release versions. Facts come from the releases' own code,
//! pinned by the conformance fixtures in `fixtures/releases/`. A new release
//! is a new row in `releases.toml` plus `scripts/release-fixtures NEW`;
//! [`SUPPORTED_RANGE`], [`NEWEST_KNOWN`], the man pages and the docs' tables
//! are derived from or checked against the table.
//!
//! [`detect`] decides which release is installed; it reads files but never
//! runs the release.

mod detect;
pub mod limits;
mod version;

pub use detect::{Candidates, Detection, ReleaseSource, detect};
pub use version::Version;

use serde::Serialize;

use crate::field::Field;

/// How a release stores queued work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Generation {
    /// 0.x – 1.0.x: `queues/<mission>.jsonl` files, no SQLite.
    #[serde(rename = "jsonl")]
    Jsonl,
    /// 2.1 – 3.0: queue DBs in V3 shape (`feature_slug`, `mission_key`).
    #[serde(rename = "db-v3")]
    DbV3,
    /// 3.1: queue DBs in V4 shape, no failure log.
    #[serde(rename = "db-v4")]
    DbV4,
    /// 3.2.0 – 3.2.5: queue DBs in V5 shape.
    #[serde(rename = "db-v5")]
    DbV5,
    /// 3.2.6+: per-project stores; queue DBs are only cutover inputs.
    #[serde(rename = "project-store")]
    ProjectStore,
}

impl Generation {
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::Jsonl => "jsonl",
            Generation::DbV3 => "db-v3",
            Generation::DbV4 => "db-v4",
            Generation::DbV5 => "db-v5",
            Generation::ProjectStore => "project-store",
        }
    }
}

/// Where the release puts its home.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootRule {
    /// `$HOME/.spec-kitty` only; `SPEC_KITTY_HOME` is ignored.
    UserHome,
    /// `$SPEC_KITTY_HOME` when set and non-empty (the root itself), else
    /// `$HOME/.spec-kitty`.
    EnvThenUserHome,
}

/// Which server URL the release syncs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRule {
    /// config `[sync] server_url`, else the default; a credentials-based
    /// scope uses the credentials' `[server] url`.
    Config,
    /// `SPEC_KITTY_SAAS_URL` (trimmed, trailing `/` dropped) over config
    /// over default, for the scope too (`target_authority.py`).
    EnvThenConfig,
}

/// Where the foreground's authenticated identity comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityRule {
    /// `credentials` only.
    Credentials,
    /// The session store (read whether or not SaaS sync is enabled, as the
    /// 3.2.x CLIs do), else `credentials`.
    SessionThenCredentials,
    /// The session store only (`credentials` is just a logged-in signal).
    Session,
}

/// How the scope string and the scoped DB's file name are built from
/// (server, user, team).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ScopeRule {
    /// `<server>|<user>|<team>`, parts trimmed and lowercased, server
    /// without trailing `/`; file hash = first 16 hex of its SHA-256.
    #[default]
    Piped,
    /// As [`ScopeRule::Piped`], after every non-ASCII character of each part
    /// became `_u%04x_`.
    PipedAscii,
    /// SHA-256 hex (64) of the three normalised parts joined by NUL; the
    /// scope string is the digest and the file hash is all of it.
    NulDigest,
}

/// How the release's `compute_foreground_identity` builds the foreground
/// that the owner record and the gates carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForegroundRule {
    /// The login's own scope (the queue the CLI writes) and config's server.
    LoginScope,
    /// `target_authority.py` (3.2.4, 3.2.5): the server by [`Profile::server`],
    /// the scope re-derived from it by [`Profile::owner_scope`].
    TargetAuthority,
    /// 3.2.6+: the session's user and team as written, the scope by
    /// [`Profile::owner_scope`], a queue path even with no session.
    ProjectStore,
}

/// Whose identity the preflight gate compares with the daemon's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateIdentity {
    /// The foreground identity as the owner check sees it.
    Foreground,
    /// The session's user and team as written (not normalised).
    RawSession,
}

/// The commands the release itself offers to put things right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remediation {
    /// For a daemon that does not match the foreground.
    pub restart_daemon: &'static str,
    /// For a user or team change (the daemon's scope is someone else's).
    pub relogin: &'static str,
}

/// The caps of a release's queue-DB writers, measured by driving them
/// (`fixtures/releases/X/caps.json`, `capture_caps.py`). A move adds legacy
/// rows to the scoped DB: past a cap, the release's own next write evicts
/// the oldest events or refuses a new body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCaps {
    /// The events queue's cap when `config.toml` sets no
    /// `[sync] max_queue_size` (100,000 in every queue-DB release). At its
    /// cap, `queue_event` evicts the oldest events to make room.
    pub default: u32,
    /// The body-upload queue's cap when the release hard-codes it
    /// (`MAX_BODY_QUEUE_SIZE`: 10,000 in 2.1.x – 3.0.x); `None`: the same
    /// setting as the events queue (3.1.0+). At its cap, `enqueue` refuses
    /// new bodies.
    pub body_fixed: Option<u32>,
}

impl QueueCaps {
    /// The events queue's cap, given `[sync] max_queue_size` as the
    /// release reads it (`int(value)`; `None` when unset). A cap of 0 or
    /// less holds nothing.
    pub fn events(&self, max_queue_size: Option<i64>) -> u64 {
        let cap = max_queue_size.unwrap_or(i64::from(self.default));
        u64::try_from(cap).unwrap_or(0)
    }

    /// The body-upload queue's cap (see [`QueueCaps::events`]).
    pub fn bodies(&self, max_queue_size: Option<i64>) -> u64 {
        match self.body_fixed {
            Some(n) => u64::from(n),
            None => self.events(max_queue_size),
        }
    }
}

/// A field the release's preflight gate (`preflight._build_mismatches`)
/// compares; it differs from the owner check (`mismatched_fields`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateField {
    PackageVersion,
    ExecutablePath,
    SourcePath,
    ServerUrl,
    /// `<auth_principal>/<auth_team>` (or the principal alone).
    TeamOrUser,
    QueueDbPath,
}

impl Serialize for GateField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl GateField {
    /// The release's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            GateField::PackageVersion => "daemon_package_version",
            GateField::ExecutablePath => "daemon_executable_path",
            GateField::SourcePath => "daemon_source_path",
            GateField::ServerUrl => "daemon_server_url",
            GateField::TeamOrUser => "daemon_team_or_user",
            GateField::QueueDbPath => "daemon_queue_db_path",
        }
    }

    /// The release's own remediation hint (`_REMEDIATION_HINTS`).
    pub fn hint(self) -> &'static str {
        match self {
            GateField::ServerUrl => {
                "Reauthenticate (`spec-kitty auth login`) or restart the daemon against the matching server."
            }
            GateField::TeamOrUser => {
                "Re-authenticate as the foreground team/user (`spec-kitty auth logout` then `spec-kitty auth login`) and then run `spec-kitty doctor restart-daemon`."
            }
            _ => {
                "Run `spec-kitty doctor restart-daemon` to restart the daemon at the foreground version/source, then verify with `spec-kitty sync status --check`."
            }
        }
    }
}

/// Everything that differs between releases. Plain data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub generation: Generation,
    pub root: RootRule,
    pub server: ServerRule,
    pub identity: IdentityRule,
    /// The rule naming the queue the CLI writes.
    pub scope: ScopeRule,
    /// The rule naming the owner record's `auth_scope` and `queue_db_path`
    /// (equal to `scope` under [`ForegroundRule::LoginScope`]).
    pub owner_scope: ScopeRule,
    pub foreground: ForegroundRule,
    pub gate_identity: GateIdentity,
    /// The rule by which the gate re-derives the queue path from the raw
    /// session, when it does.
    pub gate_queue_scope: Option<ScopeRule>,
    /// The queue-DB schema version the release reads and writes; `None` when
    /// it keeps no queue DB (jsonl, project stores).
    pub schema: Option<u32>,
    /// Queue-DB schema versions the release can open as they are.
    pub reads_schemas: &'static [u32],
    /// The owner-record fields whose mismatch makes the release refuse sync
    /// work (`owner.MISMATCH_FIELDS`); empty when it keeps no owner record.
    pub blocking: &'static [Field],
    /// The owner-record fields the release rewrites when it reads the record
    /// (`DaemonOwnerRecord.__post_init__`: `Path(raw).resolve()`, the raw
    /// string when that fails); compared as rewritten.
    pub owner_resolved_on_read: &'static [Field],
    /// The fields the preflight gate compares (empty: no gate on the daemon).
    pub gate: &'static [GateField],
    pub remediation: Option<Remediation>,
    /// The preflight gate refuses unless the current checkout's project store
    /// is in layout mode `project_only`.
    pub gate_on_layout: bool,
    /// The caps of its queue DBs' writers; `None` when it keeps no queue DB.
    pub queue_caps: Option<QueueCaps>,
    /// The release's history upload (`sync project-store-history --apply`)
    /// takes a sealed row only as the release's own
    /// `history_import/upload.py::_canonical_event_json` of its event, while
    /// its cutover stores the legacy `data` text verbatim: sk-migrate's
    /// cutover re-encodes its snapshot's events with that function, in the
    /// release's interpreter, before the release reads it (3.2.6-3.2.7;
    /// measured by delivery, `tests/system/cutover_delivery.rs`).
    pub cutover_history_canonical_json: bool,
    /// The shortest SQLite busy timeout of the release's own queue-DB
    /// writers (queue writer, body queue, daemon), measured by running them
    /// (`fixtures/releases/X/timeouts.json`, `capture_timeouts.py`): a
    /// writer blocked longer than this loses its write. sk-migrate never
    /// holds a queue DB's write lock while waiting for another one.
    pub writers_busy_timeout_ms: u64,
}

impl Profile {
    /// The longest sk-migrate may hold a queue DB's write lock at a time:
    /// a tenth of [`Profile::writers_busy_timeout_ms`], so a writer that
    /// arrives just as a chunk starts still has nine tenths of its wait.
    pub fn lock_budget_ms(&self) -> u64 {
        (self.writers_busy_timeout_ms / 10).max(1)
    }
    /// Does this release keep its queued work in queue DBs?
    pub fn has_queue_dbs(&self) -> bool {
        self.schema.is_some()
    }
    /// Is `field` blocking in this release?
    pub fn is_blocking(&self, field: Field) -> bool {
        self.blocking.contains(&field)
    }
}

/// One row of the table: the releases `first <= v < below` behave as
/// `profile`; `version` names the release of a captured row (`None` for a
/// range of old releases).
#[derive(Debug, Clone, Copy)]
pub struct Row {
    pub version: Option<&'static str>,
    pub first: [u32; 4],
    pub below: [u32; 4],
    pub profile: Profile,
}

include!(concat!(env!("OUT_DIR"), "/releases.rs"));

/// The profile the library assumes when a caller names none (the table's
/// `default`).
pub const DEFAULT_PROFILE: &Profile = &RELEASES[DEFAULT_ROW].profile;

/// The captured releases of the table, oldest first.
pub fn releases() -> impl Iterator<Item = &'static str> {
    RELEASES.iter().filter_map(|r| r.version)
}

/// The oldest known release whose queue DBs are at `schema` or later (for
/// "a release that reads them"), as `X.Y.Z`.
pub fn first_with_schema(schema: u32) -> Option<String> {
    RELEASES
        .iter()
        .find(|r| r.profile.schema.is_some_and(|s| s >= schema))
        .map(|r| format!("{}.{}.{}", r.first[0], r.first[1], r.first[2]))
}

/// Why a version has no profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsupported {
    /// A pre-release, dev, post, local or yanked build: its rules are not known.
    Prerelease,
    /// Newer than [`NEWEST_KNOWN`] or in a gap of the table.
    Unknown,
}

/// The profile of `version` (pure).
pub fn profile_for(version: &Version) -> Result<&'static Profile, Unsupported> {
    if !version.is_final() || YANKED.contains(&version.as_str()) {
        return Err(Unsupported::Prerelease);
    }
    let p = version.parts();
    RELEASES
        .iter()
        .find(|r| r.first <= p && p < r.below)
        .map(|r| &r.profile)
        .ok_or(Unsupported::Unknown)
}

/// The installed release, where its version came from, and its profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub version: Version,
    pub source: ReleaseSource,
    pub profile: &'static Profile,
}

/// `release` as the JSON outputs show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReleaseView {
    /// The version, or `null` when no release resolved.
    pub version: Option<String>,
    /// `flag`, `spec_kitty`, `path`, `owner_record`, or `null`.
    pub source: Option<ReleaseSource>,
    /// The generation, or `null` when unknown.
    pub generation: Option<Generation>,
}

impl ReleaseView {
    pub fn unknown() -> ReleaseView {
        ReleaseView {
            version: None,
            source: None,
            generation: None,
        }
    }
}

impl Release {
    pub fn view(&self) -> ReleaseView {
        ReleaseView {
            version: Some(self.version.to_string()),
            source: Some(self.source),
            generation: Some(self.profile.generation),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gen_of(s: &str) -> Result<Generation, Unsupported> {
        profile_for(&Version::parse(s).unwrap()).map(|p| p.generation)
    }

    #[test]
    fn generations_follow_the_release_table() {
        assert_eq!(gen_of("0.16.2"), Ok(Generation::Jsonl));
        assert_eq!(gen_of("1.0.3"), Ok(Generation::Jsonl));
        assert_eq!(gen_of("2.1.3"), Ok(Generation::DbV3));
        assert_eq!(gen_of("3.0.3"), Ok(Generation::DbV3));
        assert_eq!(gen_of("3.1.0"), Ok(Generation::DbV4));
        assert_eq!(gen_of("3.1.10"), Ok(Generation::DbV4));
        assert_eq!(gen_of("3.2.0"), Ok(Generation::DbV5));
        assert_eq!(gen_of("3.2.5"), Ok(Generation::DbV5));
        assert_eq!(gen_of("3.2.6"), Ok(Generation::ProjectStore));
        assert_eq!(gen_of("3.2.6.2"), Ok(Generation::ProjectStore));
        assert_eq!(gen_of("3.2.7"), Ok(Generation::ProjectStore));
    }

    #[test]
    fn unknown_and_prereleases_have_no_profile() {
        assert_eq!(gen_of("3.2.8"), Err(Unsupported::Unknown));
        assert_eq!(gen_of("2.0.1"), Err(Unsupported::Unknown));
        assert_eq!(gen_of("4.0.0rc2"), Err(Unsupported::Prerelease));
        assert_eq!(gen_of("4.2.0a1"), Err(Unsupported::Prerelease));
        assert_eq!(gen_of("4.1.5"), Err(Unsupported::Prerelease));
    }

    #[test]
    fn rows_are_ordered_and_disjoint() {
        for w in RELEASES.windows(2) {
            assert!(w[0].first < w[0].below);
            assert!(w[0].below <= w[1].first);
        }
    }

    #[test]
    fn the_supported_range_names_the_newest_known_release() {
        assert!(SUPPORTED_RANGE.ends_with(NEWEST_KNOWN));
        assert!(profile_for(&Version::parse(NEWEST_KNOWN).unwrap()).is_ok());
    }

    #[test]
    fn the_table_has_one_row_per_release_oldest_first() {
        let versions: Vec<Version> = releases().map(|v| Version::parse(v).unwrap()).collect();
        assert_eq!(versions.len(), 28, "2.1.0 … 3.2.7 on the registry");
        assert!(versions.windows(2).all(|w| w[0] < w[1]));
        assert!(versions.iter().all(Version::is_final));
        for r in RELEASES.iter().filter(|r| r.version.is_some()) {
            let v = Version::parse(r.version.unwrap()).unwrap();
            assert_eq!(v.parts(), r.first);
            assert_eq!(profile_for(&v).unwrap(), &r.profile);
        }
        assert_eq!(
            DEFAULT_PROFILE,
            &RELEASES
                .iter()
                .find(|r| r.version == Some("3.2.0"))
                .unwrap()
                .profile
        );
    }

    #[test]
    fn stated_rules_are_consistent() {
        for r in RELEASES {
            let p = &r.profile;
            if p.foreground == ForegroundRule::LoginScope {
                assert_eq!(p.owner_scope, p.scope, "{r:?}");
            }
            assert_eq!(p.has_queue_dbs(), p.schema.is_some());
            if let Some(s) = p.schema {
                assert!(p.reads_schemas.contains(&s), "{r:?}");
            }
            assert_eq!(p.remediation.is_some(), !p.gate.is_empty(), "{r:?}");
            // Only a project-store release has a cutover whose history to
            // re-encode (measured on each: tests/system/cutover_delivery.rs).
            if p.cutover_history_canonical_json {
                assert_eq!(p.generation, Generation::ProjectStore, "{r:?}");
            }
        }
        for v in ["3.2.6", "3.2.6.1", "3.2.6.2", "3.2.7"] {
            let p = profile_for(&Version::parse(v).unwrap()).unwrap();
            assert!(p.cutover_history_canonical_json, "{v}");
        }
    }

    /// The ranges shown to people are derived from the table, or checked
    /// against it here: `--version` (and so the man pages) and the
    /// generation table of docs/releases.md.
    #[test]
    fn man_pages_and_docs_agree_with_the_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for man in ["man/sk-doctor.1", "man/sk-migrate.1"] {
            let text = std::fs::read_to_string(root.join(man)).unwrap();
            assert!(
                text.contains(SUPPORTED_RANGE),
                "{man} does not name {SUPPORTED_RANGE}"
            );
        }
        let docs = std::fs::read_to_string(root.join("docs/releases.md")).unwrap();
        assert!(docs.contains(&format!("spec-kitty {SUPPORTED_RANGE}")));
        for g in [
            Generation::DbV3,
            Generation::DbV4,
            Generation::DbV5,
            Generation::ProjectStore,
        ] {
            let rows: Vec<&str> = RELEASES
                .iter()
                .filter(|r| r.profile.generation == g)
                .filter_map(|r| r.version)
                .collect();
            let range = format!(
                "| {} | {} – {} |",
                g.as_str(),
                rows[0],
                rows[rows.len() - 1]
            );
            assert!(docs.contains(&range), "docs/releases.md lacks `{range}`");
        }
    }
}
