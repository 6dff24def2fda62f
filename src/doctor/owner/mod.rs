//! The daemon owner record `sync/daemon/owner.json` (`docs/daemon.md`).
//!
//! * [`read`] is strict and never panics: a file is [`OwnerRead::Absent`],
//!   [`OwnerRead::Present`] or [`OwnerRead::Malformed`]. Reasons name the field
//!   and the JSON type found, never a value, so a planted token cannot leak
//!   through an error message.
//! * [`write()`] is the only place the token is ever serialized (daemons and tests
//!   need it on disk). Every other output goes through [`OwnerRecord`]'s
//!   `Serialize` (token skipped), [`OwnerRecord::redacted_json`] or
//!   [`RedactedOwner`].
//! * Orphan and retire decisions are pure ([`is_orphan`], [`plan_retire`]);
//!   the effects ([`pid_alive`](crate::process::pid_alive), [`executable_exists`], [`retire`]) only look at
//!   the file system and remove files. Nothing here ever signals a process.
//!
//! Decision on unknown fields: extra keys are *allowed* (a newer daemon may add
//! a field and must not be reported as malformed by an older doctor); their
//! names — never their values — are listed in [`FileFacts::unknown_fields`] so
//! the caller can warn. Decision on I/O: a missing file is `Absent`; any other
//! I/O error (permission denied, a directory in the way) is an
//! [`Error::Io`](crate::error::Error::Io) — it is a runtime error of the machine, not a fact about the
//! record's content.

use std::fmt;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

mod retire;
pub use retire::{
    DaemonState, Refusal, Removal, RetirePlan, StaleState, parse_state_file, plan_retire, retire,
    retire_state, stale_state,
};

mod normalise;
pub use normalise::{as_the_release_reads, pure_path, python_resolve, same_pure_path};

mod file;
pub use file::{FileFacts, OwnerRead, parse, read, write};

/// A secret string (the daemon's token). Its `Debug` and `Display` print
/// `[redacted]`; it has no `Serialize` impl, so it cannot end up in JSON output
/// by accident. [`Secret::expose`] is the one way to the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }
    /// The secret value. Only for the atomic writer and for talking to the daemon.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The daemon owner record, exactly the fields of `docs/daemon.md`, with its
/// token as `T`: [`OwnerRecord`] holds the [`Secret`], [`RedactedOwner`]
/// nothing (the view for output, and what a health response's `owner` is
/// parsed into). One type, so the field list is written once.
///
/// `Serialize` skips `token` whatever it is: serializing a record for output
/// is always safe. Only [`write()`] puts the token on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(bound = "")]
pub struct Owner<T> {
    pub pid: i64,
    pub port: u16,
    #[serde(skip)]
    pub token: T,
    pub package_version: String,
    pub executable_path: String,
    pub source_checkout_path: String,
    pub server_url: String,
    pub auth_principal: Option<String>,
    pub auth_team: Option<String>,
    pub auth_scope: Option<String>,
    pub queue_db_path: String,
    /// ISO-8601 / RFC 3339 timestamp in UTC (validated on read and write).
    pub started_at: String,
}

/// The record as on disk, token included.
pub type OwnerRecord = Owner<Secret>;

/// Every field of the owner record but the token.
pub type RedactedOwner = Owner<()>;

impl<T> Owner<T> {
    /// The same record with another token.
    fn with_token<U>(self, token: U) -> Owner<U> {
        Owner {
            pid: self.pid,
            port: self.port,
            token,
            package_version: self.package_version,
            executable_path: self.executable_path,
            source_checkout_path: self.source_checkout_path,
            server_url: self.server_url,
            auth_principal: self.auth_principal,
            auth_team: self.auth_team,
            auth_scope: self.auth_scope,
            queue_db_path: self.queue_db_path,
            started_at: self.started_at,
        }
    }
}

/// The on-disk shape, token included. Private: only [`write()`] uses it.
#[derive(Serialize)]
struct OnDisk<'a> {
    pid: i64,
    port: u16,
    token: &'a str,
    package_version: &'a str,
    executable_path: &'a str,
    source_checkout_path: &'a str,
    server_url: &'a str,
    auth_principal: Option<&'a str>,
    auth_team: Option<&'a str>,
    auth_scope: Option<&'a str>,
    queue_db_path: &'a str,
    started_at: &'a str,
}

/// The keys of the record, in `docs/daemon.md` order.
pub const FIELDS: [&str; 12] = [
    "pid",
    "port",
    "token",
    "package_version",
    "executable_path",
    "source_checkout_path",
    "server_url",
    "auth_principal",
    "auth_team",
    "auth_scope",
    "queue_db_path",
    "started_at",
];

impl Owner<Secret> {
    /// The record without its token (a `package_version` that is not
    /// version-shaped shown as [`NOT_A_VERSION`]).
    pub fn redacted(&self) -> RedactedOwner {
        let mut r = self.clone().with_token(());
        r.package_version = version_shaped(&r.package_version);
        r
    }

    /// The record as a JSON object for output: every field but `token`.
    pub fn redacted_json(&self) -> Value {
        serde_json::to_value(self.redacted()).unwrap_or(Value::Null)
    }

    /// Parse a JSON value strictly. The error is a sanitized reason (field name
    /// and JSON type, never a value).
    pub fn from_json(value: &Value) -> Result<OwnerRecord, String> {
        let obj = value
            .as_object()
            .ok_or_else(|| format!("expected a JSON object, found {}", json_type(value)))?;
        let token = req_str(obj, "token")?;
        Ok(RedactedOwner::from_json(value)?.with_token(Secret(token)))
    }

    fn on_disk(&self) -> OnDisk<'_> {
        OnDisk {
            pid: self.pid,
            port: self.port,
            token: self.token.expose(),
            package_version: &self.package_version,
            executable_path: &self.executable_path,
            source_checkout_path: &self.source_checkout_path,
            server_url: &self.server_url,
            auth_principal: self.auth_principal.as_deref(),
            auth_team: self.auth_team.as_deref(),
            auth_scope: self.auth_scope.as_deref(),
            queue_db_path: &self.queue_db_path,
            started_at: &self.started_at,
        }
    }
}

impl Owner<()> {
    /// Parse every field but `token` (which is neither required nor kept).
    /// Same strictness and sanitized reasons as [`OwnerRecord::from_json`].
    pub fn from_json(value: &Value) -> Result<RedactedOwner, String> {
        let obj = value
            .as_object()
            .ok_or_else(|| format!("expected a JSON object, found {}", json_type(value)))?;
        let started_at = req_str(obj, "started_at")?;
        if !is_utc_timestamp(&started_at) {
            return Err("field `started_at`: expected an ISO-8601 timestamp in UTC \
                 (e.g. 2026-04-01T12:00:00Z)"
                .to_string());
        }
        Ok(Owner {
            pid: req_int(obj, "pid")?,
            port: req_port(obj, "port")?,
            token: (),
            package_version: version_shaped(&req_str(obj, "package_version")?),
            executable_path: req_str(obj, "executable_path")?,
            source_checkout_path: req_str(obj, "source_checkout_path")?,
            server_url: req_str(obj, "server_url")?,
            auth_principal: req_opt_str(obj, "auth_principal")?,
            auth_team: req_opt_str(obj, "auth_team")?,
            auth_scope: req_opt_str(obj, "auth_scope")?,
            queue_db_path: req_str(obj, "queue_db_path")?,
            started_at,
        })
    }
}

/// Shown instead of a `package_version` that does not look like a version.
pub const NOT_A_VERSION: &str = "<not a version>";

/// `s` when it is shaped like a version (`3.1.4`, `4.0.0rc1`, `3.2.0.dev1+g1`,
/// at most 32 characters), else [`NOT_A_VERSION`]: a record could carry
/// anything there, a secret included, and output never echoes it.
pub fn version_shaped(s: &str) -> String {
    let mut rest = s;
    let digits = |r: &str| r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let ok = s.len() <= 32 && {
        let mut n = digits(rest);
        let mut good = n > 0;
        rest = &rest[n..];
        while good && rest.starts_with('.') && digits(&rest[1..]) > 0 {
            n = digits(&rest[1..]);
            rest = &rest[1 + n..];
        }
        good &= rest
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || ".+-".contains(c));
        good
    };
    if ok {
        s.to_string()
    } else {
        NOT_A_VERSION.to_string()
    }
}

/// Why the owner record cannot be trusted as the daemon's own, beyond its mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustIssue {
    /// Another user owns the record.
    Owner { path: String, uid: u32, me: u32 },
    /// A directory holding it is writable by group or others (so another
    /// user could replace the record).
    Writable { dir: String, mode: u32 },
}

impl TrustIssue {
    /// In words.
    pub fn text(&self) -> String {
        match self {
            TrustIssue::Owner { path, uid, me } => {
                format!(
                    "{path} is owned by uid {uid}, not by you (uid {me}): another user wrote it"
                )
            }
            TrustIssue::Writable { dir, mode } => format!(
                "its directory {dir} is writable by group or others (mode {mode:04o}): another user could replace the record"
            ),
        }
    }
}

/// Why the owner record cannot be trusted as the daemon's own, beyond its
/// mode: another user owns it, or a directory holding it is writable by
/// group or others (so another user could replace it). Empty when fine.
pub fn file_trust_issues(path: &Path, home_root: &Path) -> Vec<TrustIssue> {
    use std::os::unix::fs::MetadataExt;
    let mut issues = Vec::new();
    let me = rustix::process::geteuid().as_raw();
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.uid() != me
    {
        issues.push(TrustIssue::Owner {
            path: crate::path_text::text(path),
            uid: meta.uid(),
            me,
        });
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if let Ok(meta) = std::fs::metadata(d)
            && meta.mode() & 0o022 != 0
        {
            issues.push(TrustIssue::Writable {
                dir: crate::path_text::text(d),
                mode: meta.mode() & 0o7777,
            });
        }
        if d == home_root {
            break;
        }
        dir = d.parent();
    }
    issues
}

/// `started_at` must be RFC 3339 (the ISO-8601 profile Python's
/// `datetime.isoformat()` and `Z`-suffixed stamps both satisfy) with offset 0.
pub fn is_utc_timestamp(s: &str) -> bool {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(s, &Rfc3339).is_ok_and(|t| t.offset().is_utc())
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field<'a>(obj: &'a Map<String, Value>, name: &str) -> Result<&'a Value, String> {
    obj.get(name)
        .ok_or_else(|| format!("missing field `{name}`"))
}

fn req_str(obj: &Map<String, Value>, name: &str) -> Result<String, String> {
    match field(obj, name)? {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!(
            "field `{name}`: expected a string, found {}",
            json_type(other)
        )),
    }
}

fn req_opt_str(obj: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    match field(obj, name)? {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Null => Ok(None),
        other => Err(format!(
            "field `{name}`: expected a string or null, found {}",
            json_type(other)
        )),
    }
}

fn req_int(obj: &Map<String, Value>, name: &str) -> Result<i64, String> {
    let v = field(obj, name)?;
    v.as_i64().ok_or_else(|| match v {
        Value::Number(_) => {
            format!("field `{name}`: expected an integer, found a non-integer number")
        }
        other => format!(
            "field `{name}`: expected an integer, found {}",
            json_type(other)
        ),
    })
}

fn req_port(obj: &Map<String, Value>, name: &str) -> Result<u16, String> {
    let n = req_int(obj, name)?;
    u16::try_from(n).map_err(|_| format!("field `{name}`: expected an integer in 0..=65535"))
}

/// Orphan (`docs/daemon.md`): the record exists but its pid is not alive, or its
/// executable does not exist.
pub fn is_orphan(pid_alive: bool, executable_exists: bool) -> bool {
    !pid_alive || !executable_exists
}

/// Does the recorded executable exist (following symlinks)?
pub fn executable_exists(path: &str) -> bool {
    !path.is_empty() && Path::new(path).exists()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::error::Error;
    use crate::home::Home;
    use crate::process::pid_alive;

    pub const TOKEN: &str = "tok-PLANTED-7f3a9c";

    pub fn sample() -> OwnerRecord {
        OwnerRecord {
            pid: 4242,
            port: 9400,
            token: Secret::new(TOKEN),
            package_version: "3.1.4".into(),
            executable_path: "/venv/bin/python3".into(),
            source_checkout_path: "/venv/lib/python3.11".into(),
            server_url: "https://sync.example.test".into(),
            auth_principal: Some("ann@example.test".into()),
            auth_team: Some("team-a".into()),
            auth_scope: Some("https://sync.example.test|ann@example.test|team-a".into()),
            queue_db_path: "/home/.spec-kitty/queues/queue-0123456789abcdef.db".into(),
            started_at: "2026-04-01T12:00:00.123456+00:00".into(),
        }
    }

    fn sample_json() -> Value {
        serde_json::from_slice(&serde_json::to_vec(&sample().on_disk()).unwrap()).unwrap()
    }

    fn mode_of(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_record_too_large_or_not_a_file_is_malformed_with_its_mode() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("owner.json");
        std::fs::write(&big, vec![b' '; crate::fsutil::READ_CAP as usize + 1]).unwrap();
        match read(&big).unwrap() {
            OwnerRead::Malformed { reason, mode } => {
                assert!(reason.contains("larger than"), "{reason}");
                assert!(mode.is_some());
            }
            other => panic!("{other:?}"),
        }
        let fifo = dir.path().join("fifo.json");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        match read(&fifo).unwrap() {
            OwnerRead::Malformed { reason, mode } => {
                assert_eq!(reason, "it is not a regular file");
                assert_eq!(mode, Some(0o600));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            read(&dir.path().join("absent.json")).unwrap(),
            OwnerRead::Absent
        );
    }

    #[test]
    fn round_trip_write_read_and_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path().join("home"));
        let path = home.owner_record();
        write(&path, &sample()).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(path.parent().unwrap()), 0o700);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(TOKEN), "daemons need the token on disk");
        match read(&path).unwrap() {
            OwnerRead::Present(rec, facts) => {
                assert_eq!(rec, sample());
                assert_eq!(rec.token.expose(), TOKEN);
                assert_eq!(facts.mode, 0o600);
                assert!(!facts.permissions_too_open());
                assert!(facts.unknown_fields.is_empty());
            }
            other => panic!("{other:?}"),
        }
        // Overwrite in place; no temp files left behind.
        let mut second = sample();
        second.pid = 7;
        write(&path, &second).unwrap();
        assert!(matches!(read(&path).unwrap(), OwnerRead::Present(r, _) if r.pid == 7));
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("owner.json")]);
    }

    #[test]
    fn absent_and_open_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner.json");
        assert_eq!(read(&path).unwrap(), OwnerRead::Absent);
        std::fs::write(&path, serde_json::to_vec(&sample_json()).unwrap()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        match read(&path).unwrap() {
            OwnerRead::Present(_, facts) => {
                assert_eq!(facts.mode, 0o644);
                assert!(facts.permissions_too_open());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn token_never_in_debug_display_or_output_json() {
        let rec = sample();
        let outputs = [
            format!("{rec:?}"),
            format!("{}", rec.token),
            serde_json::to_string(&rec).unwrap(),
            rec.redacted_json().to_string(),
            format!("{:?}", rec.redacted()),
        ];
        for out in outputs {
            assert!(!out.contains(TOKEN), "{out}");
        }
        assert!(rec.redacted_json().get("token").is_none());
        assert_eq!(rec.redacted_json()["pid"], 4242);
    }

    fn malformed_reason(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("owner.json");
        std::fs::write(&path, bytes).unwrap();
        match read(&path).unwrap() {
            OwnerRead::Malformed { reason, mode } => {
                assert!(mode.is_some());
                assert!(!reason.contains(TOKEN), "{reason}");
                assert!(!reason.contains("PLANTED"), "{reason}");
                reason
            }
            other => panic!("expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn malformed_variants_never_panic_nor_leak_the_token() {
        // Invalid JSON, with the token right where the syntax breaks.
        let r = malformed_reason(format!("{{\"token\": \"{TOKEN}\" \"pid\": 1}}").as_bytes());
        assert!(r.contains("not valid JSON"), "{r}");
        let r = malformed_reason(format!("{{\"token\": \"{TOKEN}").as_bytes());
        assert!(r.contains("ends early"), "{r}");
        malformed_reason(b"");
        malformed_reason(b"\xff\xfe garbage");
        malformed_reason(b"[1,2]");
        malformed_reason(b"null");

        // Wrong types: the token where a number belongs, and a number token.
        let mut v = sample_json();
        v["pid"] = Value::String(TOKEN.into());
        let r = malformed_reason(v.to_string().as_bytes());
        assert_eq!(r, "field `pid`: expected an integer, found a string");
        let mut v = sample_json();
        v["token"] = Value::from(12);
        assert!(malformed_reason(v.to_string().as_bytes()).contains("`token`"));
        let mut v = sample_json();
        v["port"] = Value::from(70000);
        assert!(malformed_reason(v.to_string().as_bytes()).contains("`port`"));
        let mut v = sample_json();
        v["pid"] = Value::from(1.5);
        assert!(malformed_reason(v.to_string().as_bytes()).contains("`pid`"));
        let mut v = sample_json();
        v["package_version"] = Value::Null;
        assert!(malformed_reason(v.to_string().as_bytes()).contains("`package_version`"));
        let mut v = sample_json();
        v["started_at"] = Value::String("2026-04-01T12:00:00+02:00".into());
        assert!(malformed_reason(v.to_string().as_bytes()).contains("`started_at`"));

        // Every missing field is reported by name.
        for name in FIELDS {
            let mut v = sample_json();
            v.as_object_mut().unwrap().remove(name);
            let r = malformed_reason(v.to_string().as_bytes());
            assert_eq!(r, format!("missing field `{name}`"));
        }
    }

    #[test]
    fn null_scope_principal_team_are_valid_and_unknown_keys_are_listed() {
        let mut v = sample_json();
        v["auth_scope"] = Value::Null;
        v["auth_principal"] = Value::Null;
        v["auth_team"] = Value::Null;
        v["future_field"] = Value::String(TOKEN.into());
        let (rec, unknown) = parse(v.to_string().as_bytes()).unwrap();
        assert_eq!(rec.auth_scope, None);
        assert_eq!(unknown, vec!["future_field".to_string()]);
    }

    #[test]
    fn write_refuses_a_non_utc_timestamp() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = sample();
        rec.started_at = "yesterday".into();
        let err = write(&dir.path().join("owner.json"), &rec).unwrap_err();
        assert!(matches!(err, Error::OwnerWrite { .. }));
        assert!(!err.to_string().contains(TOKEN));
        assert!(is_utc_timestamp("2026-04-01T12:00:00Z"));
    }

    #[test]
    fn liveness_without_signals() {
        assert!(pid_alive(i64::from(std::process::id())));
        assert!(!pid_alive(0));
        assert!(!pid_alive(-1));
        assert!(!pid_alive(i64::from(i32::MAX) + 1));
        // A child we spawned and reaped is gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = i64::from(child.id());
        child.wait().unwrap();
        assert!(!pid_alive(pid));
        // pid 1 belongs to another user (root) here or is ours: alive either way.
        assert!(pid_alive(1));
    }

    #[test]
    fn orphan_predicate() {
        assert!(!is_orphan(true, true));
        assert!(is_orphan(false, true));
        assert!(is_orphan(true, false));
        assert!(is_orphan(false, false));
        assert!(!executable_exists(""));
        assert!(!executable_exists("/nonexistent/sk-boundary/python3"));
        assert!(executable_exists(
            std::env::current_exe().unwrap().to_str().unwrap()
        ));
    }

    #[test]
    fn state_file_parsing_skips_the_token() {
        let s = parse_state_file("http://127.0.0.1:9400\n9400\nsecret\n4242\n");
        assert_eq!(s.port, Some(9400));
        assert_eq!(s.pid, Some(4242));
        assert!(!format!("{s:?}").contains("secret"));
        let s = parse_state_file("http://127.0.0.1:9400\n9400\nsecret\n");
        assert_eq!(s.pid, None);
        assert_eq!(parse_state_file(""), DaemonState::default());
    }

    #[test]
    fn retire_plan_decisions() {
        let home = Home::at("/r");
        let rec = sample();
        assert_eq!(
            plan_retire(&home, &rec, true, true, None),
            RetirePlan::Refuse(Refusal::Live { pid: 4242 })
        );
        let same = "u\n9400\nt\n4242\n";
        let other = "u\n9400\nt\n999\n";
        match plan_retire(&home, &rec, false, true, Some(same)) {
            RetirePlan::Remove(r) => {
                assert_eq!(r.owner_record, home.owner_record());
                assert_eq!(r.state_file, Some(home.daemon_state()));
            }
            p => panic!("{p:?}"),
        }
        match plan_retire(&home, &rec, false, true, Some(other)) {
            RetirePlan::Remove(r) => assert_eq!(r.state_file, None),
            p => panic!("{p:?}"),
        }
        match plan_retire(&home, &rec, false, false, None) {
            RetirePlan::Remove(r) => assert_eq!(r.state_file, None),
            p => panic!("{p:?}"),
        }
        // Alive but executable gone: orphan record removed, state file kept.
        match plan_retire(&home, &rec, true, false, Some(same)) {
            RetirePlan::Remove(r) => assert_eq!(r.state_file, None),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn retire_removes_record_and_matching_state_file_only() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        write(&home.owner_record(), &sample()).unwrap();
        std::fs::write(home.daemon_state(), "u\n9400\nt\n4242\n").unwrap();
        let RetirePlan::Remove(removal) =
            plan_retire(&home, &sample(), false, true, Some("u\n9400\nt\n4242\n"))
        else {
            panic!()
        };
        let removed = retire(&removal).unwrap();
        assert_eq!(removed, vec![home.owner_record(), home.daemon_state()]);
        assert!(!home.owner_record().exists());
        assert!(!home.daemon_state().exists());
        // Second run: nothing left to do, no error.
        assert!(retire(&removal).unwrap().is_empty());

        // A state file naming another pid stays.
        write(&home.owner_record(), &sample()).unwrap();
        std::fs::write(home.daemon_state(), "u\n9400\nt\n999\n").unwrap();
        let RetirePlan::Remove(removal) =
            plan_retire(&home, &sample(), false, true, Some("u\n9400\nt\n999\n"))
        else {
            panic!()
        };
        assert_eq!(retire(&removal).unwrap(), vec![home.owner_record()]);
        assert!(home.daemon_state().exists());
    }

    #[test]
    fn retire_refuses_when_the_record_changed_meanwhile() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        write(&home.owner_record(), &sample()).unwrap();
        let RetirePlan::Remove(removal) = plan_retire(&home, &sample(), false, true, None) else {
            panic!()
        };
        let mut newer = sample();
        newer.pid = 5000;
        write(&home.owner_record(), &newer).unwrap();
        assert!(matches!(retire(&removal), Err(Error::OwnerChanged { .. })));
        assert!(home.owner_record().exists());
    }
}
