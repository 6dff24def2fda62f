//! Foreground identity (`docs/daemon.md`) and its comparison with the daemon's owner
//! record (`docs/daemon.md`).
//!
//! Discovery never runs Python: the `spec-kitty` entry point names its
//! interpreter on its `#!` line, and the interpreter's `site-packages` holds
//! `spec_kitty_cli-<version>.dist-info` and `specify_cli/`. Every field that
//! cannot be found stays `None` (unknown) with a note saying why; nothing is
//! guessed.
//!
//! Comparison is pure ([`compare`]); path canonicalization is an effect done
//! beforehand ([`ForegroundIdentity::canonicalized`], and the owner record
//! as the release reads it: `owner::as_the_release_reads`), so the rows show
//! the values actually compared.

use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use serde::{Serialize, Serializer};

use crate::field::Field;
use crate::home::Home;
use crate::login::{Env, Resolution};
use crate::release::{ForegroundRule, ServerRule};
use crate::scope::Scope;

mod install;
pub use install::{Install, discover, find_on_path, interpreter_from_script};

mod overrides;
pub use overrides::{ForegroundOverride, Override, parse_override, read_override};

mod compare;
pub use compare::{
    FieldRow, FieldStatus, GateForeground, compare, compare_view, gate_foreground, gate_mismatches,
    mismatched_fields, team_or_user,
};

/// The foreground's scope: unknown, known to be none, or a scope string.
/// `docs/daemon.md`: "auth_scope null vs non-null is a mismatch" — but only when the
/// foreground's side is *known*.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuthScope {
    #[default]
    Unknown,
    /// Resolution ran and found no scope (the legacy queue is active).
    NoScope,
    Scope(String),
}

impl AuthScope {
    pub fn is_unknown(&self) -> bool {
        matches!(self, AuthScope::Unknown)
    }
    /// The scope string, `None` for both unknown and no scope.
    pub fn as_deref(&self) -> Option<&str> {
        match self {
            AuthScope::Scope(s) => Some(s),
            _ => None,
        }
    }
}

/// Serialized as the scope string or `null` (unknown and none alike; the
/// `fields` rows' status tells them apart, and
/// [`ForegroundIdentity::unknown_fields`] lists the unknown ones).
impl Serialize for AuthScope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AuthScope::Scope(v) => s.serialize_str(v),
            _ => s.serialize_none(),
        }
    }
}

/// The identity of the spec-kitty CLI the user runs now. `None` = unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ForegroundIdentity {
    pub package_version: Option<String>,
    pub executable_path: Option<String>,
    pub source_checkout_path: Option<String>,
    pub server_url: Option<String>,
    pub auth_scope: AuthScope,
    pub auth_principal: Option<String>,
    pub auth_team: Option<String>,
    pub queue_db_path: Option<String>,
}

impl ForegroundIdentity {
    /// The fields whose value is unknown, in [`Field::FOREGROUND`] order.
    pub fn unknown_fields(&self) -> Vec<Field> {
        let unknown = [
            self.package_version.is_none(),
            self.executable_path.is_none(),
            self.source_checkout_path.is_none(),
            self.server_url.is_none(),
            self.auth_scope.is_unknown(),
            self.auth_principal.is_none(),
            self.auth_team.is_none(),
            self.queue_db_path.is_none(),
        ];
        Field::FOREGROUND
            .into_iter()
            .zip(unknown)
            .filter_map(|(field, u)| u.then_some(field))
            .collect()
    }

    /// Fill the fields `self` leaves unknown from `other` (field by field).
    pub fn or(self, other: ForegroundIdentity) -> ForegroundIdentity {
        ForegroundIdentity {
            package_version: self.package_version.or(other.package_version),
            executable_path: self.executable_path.or(other.executable_path),
            source_checkout_path: self.source_checkout_path.or(other.source_checkout_path),
            server_url: self.server_url.or(other.server_url),
            auth_scope: if self.auth_scope.is_unknown() {
                other.auth_scope
            } else {
                self.auth_scope
            },
            auth_principal: self.auth_principal.or(other.auth_principal),
            auth_team: self.auth_team.or(other.auth_team),
            queue_db_path: self.queue_db_path.or(other.queue_db_path),
        }
    }

    /// The interpreter and checkout paths made absolute with symlinks
    /// resolved, as the release derives them (`_canonical_executable_path`);
    /// `queue_db_path` stays as the release builds it (effect).
    pub fn canonicalized(&self) -> ForegroundIdentity {
        let canon = |p: &Option<String>| p.as_deref().map(canonical_for_compare);
        ForegroundIdentity {
            executable_path: canon(&self.executable_path),
            source_checkout_path: canon(&self.source_checkout_path),
            ..self.clone()
        }
    }
}

/// A path made absolute (against the current directory) with symlinks
/// resolved as far as the path exists: the longest existing ancestor is
/// canonicalized and the missing rest is appended, `.` and `..` folded
/// lexically. An empty path stays empty.
pub fn canonical_for_compare(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let p = Path::new(path);
    let absolute = if p.is_absolute() {
        p.to_path_buf()
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd.join(p),
            Err(_) => p.to_path_buf(),
        }
    };
    if let Ok(c) = std::fs::canonicalize(&absolute) {
        return c.to_string_lossy().into_owned();
    }
    let lexical = lexical_normalize(&absolute);
    let mut existing = lexical.as_path();
    let mut rest: Vec<&OsStr> = Vec::new();
    loop {
        if let Ok(c) = std::fs::canonicalize(existing) {
            let mut out = c;
            out.extend(rest.iter().rev());
            return out.to_string_lossy().into_owned();
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return lexical.to_string_lossy().into_owned(),
        }
    }
}

fn lexical_normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// ---------------------------------------------------------------------------
// Fields from the home and the scope resolution.

/// `server_url`, the auth fields and `queue_db_path` from a scope resolution,
/// as the installed release's `compute_foreground_identity` derives them
/// (pure). No scope resolved → `auth_scope` is known to be none (not
/// unknown), principal and team unknown, the queue is the legacy DB and the
/// server is config's value as written.
///
/// 3.2.4+ (`target_authority.py`): the server is `SPEC_KITTY_SAAS_URL` over
/// config over the default, trimmed and without trailing `/`; the scope is
/// re-derived from it with every non-ASCII character as `_u%04x_`, and the
/// queue path from that scope. Earlier releases report the queue scope.
pub fn from_resolution(home: &Home, resolution: &Resolution, env: &Env) -> ForegroundIdentity {
    if env.profile.foreground == ForegroundRule::ProjectStore {
        return project_store_identity(home, resolution, env);
    }
    let Some(r) = &resolution.scope else {
        return ForegroundIdentity {
            server_url: Some(resolution.server_url.clone()),
            auth_scope: AuthScope::NoScope,
            queue_db_path: Some(crate::path_text::text(&home.legacy_queue())),
            ..ForegroundIdentity::default()
        };
    };
    let (server, scope) = match env.profile.foreground {
        ForegroundRule::LoginScope => (resolution.server_url.clone(), r.scope.clone()),
        ForegroundRule::TargetAuthority | ForegroundRule::ProjectStore => {
            let server = foreground_server(env, &resolution.server_url);
            let derived = Scope::with_rule(
                env.profile.owner_scope,
                &server,
                &r.scope.user(),
                &r.scope.team(),
            );
            (server, derived)
        }
    };
    ForegroundIdentity {
        server_url: Some(server),
        auth_scope: AuthScope::Scope(scope.to_string()),
        auth_principal: Some(r.principal.clone()),
        auth_team: Some(r.team.clone()),
        queue_db_path: Some(crate::path_text::text(&home.scoped_queue(&scope))),
        ..ForegroundIdentity::default()
    }
}

/// 3.2.6+ (`compute_foreground_identity` of 3.2.7): the session's email and
/// private team as written, the scope their NUL-joined digest (non-ASCII as
/// `_u%04x_` before lowercasing), the queue path named by the digest even
/// with no session (user and team then empty; `auth_scope` null).
fn project_store_identity(home: &Home, resolution: &Resolution, env: &Env) -> ForegroundIdentity {
    let server = foreground_server(env, &resolution.server_url);
    let (user, team) = match &resolution.scope {
        Some(r) => (
            r.scope.raw_user().to_string(),
            r.scope.raw_team().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let scope = Scope::with_rule(env.profile.owner_scope, &server, &user, &team);
    ForegroundIdentity {
        server_url: Some(server),
        auth_scope: match &resolution.scope {
            Some(_) => AuthScope::Scope(scope.to_string()),
            None => AuthScope::NoScope,
        },
        auth_principal: resolution.scope.as_ref().map(|_| user.clone()),
        auth_team: resolution.scope.as_ref().map(|_| team.clone()),
        queue_db_path: Some(crate::path_text::text(&home.scoped_queue(&scope))),
        ..ForegroundIdentity::default()
    }
}

/// The server the foreground reports, by the release's [`ServerRule`].
fn foreground_server(env: &Env, config_url: &str) -> String {
    match env.profile.server {
        ServerRule::Config => config_url.to_string(),
        ServerRule::EnvThenConfig => target_server_url(env.saas_url.as_deref(), config_url),
    }
}

/// The server a 3.2.4+ release syncs to: `SPEC_KITTY_SAAS_URL` when set and
/// not blank, else config's (or the default); trimmed, trailing `/` dropped.
pub fn target_server_url(env_url: Option<&str>, config_url: &str) -> String {
    let norm = |u: &str| u.trim().trim_end_matches('/').to_string();
    env_url
        .map(norm)
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| norm(config_url))
}

// ---------------------------------------------------------------------------
// ---------------------------------------------------------------------------
#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::owner::OwnerRecord;
    use crate::error::Error;
    use crate::field::Field;
    use crate::login::{ResolvedScope, ScopeSource};
    use crate::release::Profile;
    use serde_json::Value;
    use std::os::unix::fs::PermissionsExt;

    fn write_exec(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A fake venv install under `root`: returns (bin dir, interpreter).
    fn fake_install(root: &Path) -> (PathBuf, PathBuf) {
        let (entry, python, _) = crate::fixture::fake_install(root).unwrap();
        (entry.parent().unwrap().to_path_buf(), python)
    }

    #[test]
    fn discovers_a_fake_install_on_path() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, python) = fake_install(dir.path());
        let path_var = std::env::join_paths([dir.path().join("empty"), bin.clone()]).unwrap();
        let install = discover(None, Some(&path_var)).unwrap();
        assert_eq!(install.entry_point, Some(bin.join("spec-kitty")));
        assert_eq!(install.interpreter, Some(python.clone()));
        assert_eq!(install.package_version.as_deref(), Some("3.1.4"));
        assert_eq!(
            install.source_checkout_path,
            Some(dir.path().join("venv/lib/python3.11"))
        );
        assert!(install.notes.is_empty(), "{:?}", install.notes);
        let fg = install.identity();
        assert_eq!(
            fg.executable_path,
            Some(python.to_string_lossy().into_owned())
        );
        assert!(fg.auth_scope.is_unknown());
    }

    #[test]
    fn explicit_entry_point_env_shebang_and_metadata_version() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, python) = fake_install(dir.path());
        let site = dir.path().join("venv/lib/python3.11/site-packages");
        std::fs::write(
            site.join("spec_kitty_cli-3.1.4.dist-info/METADATA"),
            "Metadata-Version: 2.1\nName: spec-kitty-cli\nVersion: 3.1.4.post1\n\nbody\n",
        )
        .unwrap();
        let script = dir.path().join("elsewhere/sk");
        write_exec(&script, "#!/usr/bin/env -S python3 -u\n");
        let path_var = std::env::join_paths([bin]).unwrap();
        let install = discover(Some(&script), Some(&path_var)).unwrap();
        assert_eq!(install.interpreter, Some(python));
        assert_eq!(install.package_version.as_deref(), Some("3.1.4.post1"));
    }

    #[test]
    fn shebang_forms() {
        assert_eq!(
            interpreter_from_script("#!/v/bin/python3 -E -s\n", None),
            Some(PathBuf::from("/v/bin/python3"))
        );
        assert_eq!(
            interpreter_from_script("#! /usr/bin/env /opt/py/bin/python3\n", None),
            Some(PathBuf::from("/opt/py/bin/python3"))
        );
        assert_eq!(
            interpreter_from_script(
                "#!/bin/sh\n'''exec' \"/a long/path/bin/python3\" \"$0\" \"$@\"\n' '''\n",
                None
            ),
            Some(PathBuf::from("/a long/path/bin/python3"))
        );
        assert_eq!(interpreter_from_script("import sys\n", None), None);
        assert_eq!(
            interpreter_from_script("#!/usr/bin/env python3\n", None),
            None
        );
        assert_eq!(interpreter_from_script("", None), None);
    }

    #[test]
    fn editable_install_via_direct_url() {
        let dir = tempfile::tempdir().unwrap();
        let python = dir.path().join("venv/bin/python3");
        write_exec(&python, "");
        let site = dir.path().join("venv/lib/python3.12/site-packages");
        let dist = site.join("spec_kitty_cli-3.2.0.dist-info");
        std::fs::create_dir_all(&dist).unwrap();
        let checkout = dir.path().join("my checkout");
        std::fs::create_dir_all(checkout.join("src/specify_cli")).unwrap();
        let url = format!("file://{}", checkout.to_string_lossy().replace(' ', "%20"));
        std::fs::write(
            dist.join("direct_url.json"),
            serde_json::json!({"url": url, "dir_info": {"editable": true}}).to_string(),
        )
        .unwrap();
        let script = dir.path().join("spec-kitty");
        write_exec(&script, &format!("#!{}\n", python.display()));
        let install = discover(Some(&script), None).unwrap();
        assert_eq!(install.package_version.as_deref(), Some("3.2.0"));
        assert_eq!(install.source_checkout_path, Some(checkout));
    }

    #[test]
    fn missing_pieces_stay_unknown_with_notes() {
        let dir = tempfile::tempdir().unwrap();
        let install = discover(None, Some(dir.path().as_os_str())).unwrap();
        assert_eq!(
            install,
            Install {
                notes: install.notes.clone(),
                ..Install::default()
            }
        );
        assert_eq!(install.notes.len(), 1);

        let script = dir.path().join("spec-kitty");
        write_exec(&script, "#!/nonexistent/bin/python3\n");
        let install = discover(Some(&script), None).unwrap();
        assert_eq!(
            install.interpreter,
            Some(PathBuf::from("/nonexistent/bin/python3"))
        );
        assert_eq!(install.package_version, None);
        assert_eq!(install.source_checkout_path, None);
        assert_eq!(install.notes.len(), 1);

        let err = discover(Some(&dir.path().join("nope")), None).unwrap_err();
        assert!(matches!(err, Error::EntryPoint { .. }));
        assert!(err.to_string().contains("nope"));
    }

    #[test]
    fn foreground_file_overrides_one_field() {
        let dir = tempfile::tempdir().unwrap();
        let (bin, _) = fake_install(dir.path());
        let path_var = std::env::join_paths([bin]).unwrap();
        let discovered = discover(None, Some(&path_var)).unwrap().identity();
        let file = dir.path().join("fg.json");
        std::fs::write(
            &file,
            r#"{"package_version": "2.0.0", "source_checkout_path": null}"#,
        )
        .unwrap();
        let fg = read_override(&file).unwrap().apply(discovered.clone());
        assert_eq!(fg.package_version.as_deref(), Some("2.0.0"));
        assert_eq!(fg.source_checkout_path, None);
        assert_eq!(fg.executable_path, discovered.executable_path);

        std::fs::write(&file, r#"{"auth_scope": ""}"#).unwrap();
        let fg = read_override(&file).unwrap().apply(discovered.clone());
        assert_eq!(fg.auth_scope, AuthScope::NoScope);

        for bad in [
            "{",
            "[]",
            r#"{"pakage_version": "1"}"#,
            r#"{"port": 1}"#,
            r#"{"server_url": 3}"#,
        ] {
            std::fs::write(&file, bad).unwrap();
            let err = read_override(&file).unwrap_err();
            assert!(matches!(err, Error::BadForegroundFile { .. }), "{bad}");
            assert!(err.to_string().contains("fg.json"), "{err}");
        }
        assert!(matches!(
            read_override(&dir.path().join("missing.json")),
            Err(Error::Io { .. })
        ));
    }

    #[test]
    fn fields_from_resolution() {
        let home = Home::at("/h");
        let none = Resolution {
            scope: None,
            server_url: "https://s.test".into(),
            diagnostics: vec![],
        };
        let fg = from_resolution(&home, &none, &Env::default());
        assert_eq!(fg.auth_scope, AuthScope::NoScope);
        assert_eq!(fg.queue_db_path.as_deref(), Some("/h/queue.db"));
        assert_eq!(fg.server_url.as_deref(), Some("https://s.test"));
        let scope = Scope::new("https://s.test", "Ann@X", "T");
        let some = Resolution {
            scope: Some(ResolvedScope {
                scope: scope.clone(),
                source: ScopeSource::Credentials,
                principal: "Ann@X".into(),
                team: "T".into(),
            }),
            ..none
        };
        let fg = from_resolution(&home, &some, &Env::default());
        assert_eq!(fg.auth_scope, AuthScope::Scope(scope.to_string()));
        assert_eq!(
            fg.queue_db_path,
            Some(crate::path_text::text(&home.scoped_queue(&scope)))
        );
        assert_eq!(fg.auth_principal.as_deref(), Some("Ann@X"));
    }

    const P: &Profile = crate::release::DEFAULT_PROFILE;

    fn compare_p(fg: &ForegroundIdentity, o: &OwnerRecord) -> Vec<FieldRow> {
        compare(fg, o, P)
    }

    /// The owner module's sample record: one fixture for both suites.
    fn owner() -> OwnerRecord {
        crate::doctor::owner::tests::sample()
    }

    fn coherent() -> ForegroundIdentity {
        let o = owner();
        ForegroundIdentity {
            package_version: Some(o.package_version),
            executable_path: Some(o.executable_path),
            source_checkout_path: Some(o.source_checkout_path),
            server_url: Some(o.server_url),
            auth_scope: AuthScope::Scope(o.auth_scope.unwrap()),
            auth_principal: o.auth_principal,
            auth_team: o.auth_team,
            queue_db_path: Some(o.queue_db_path),
        }
    }

    fn statuses(rows: &[FieldRow]) -> Vec<(&str, FieldStatus)> {
        rows.iter().map(|r| (r.field.as_str(), r.status)).collect()
    }

    #[test]
    fn coherent_foreground_matches_everywhere() {
        let rows = compare_p(&coherent(), &owner());
        assert_eq!(rows.len(), 11);
        for r in &rows {
            let expected = if r.blocking {
                FieldStatus::Match
            } else {
                FieldStatus::Info
            };
            assert_eq!(r.status, expected, "{r:?}");
        }
        assert!(mismatched_fields(&rows).is_empty());
        let json = serde_json::to_string(&rows).unwrap();
        assert!(json.contains(r#""status":"match""#) && json.contains(r#""status":"info""#));
        assert!(!json.contains("PLANTED"));
    }

    #[test]
    fn each_blocking_field_differing_alone_is_that_mismatch_only() {
        for field in P.blocking.iter().copied() {
            let mut fg = coherent();
            let other = Some("/other".to_string());
            match field {
                Field::PackageVersion => fg.package_version = Some("3.0.0".into()),
                Field::ExecutablePath => fg.executable_path = other,
                Field::ServerUrl => fg.server_url = Some("https://other.test".into()),
                Field::AuthScope => fg.auth_scope = AuthScope::Scope("a|b|c".into()),
                Field::QueueDbPath => fg.queue_db_path = other,
                _ => unreachable!(),
            }
            let rows = compare_p(&fg, &owner());
            assert_eq!(mismatched_fields(&rows), vec![field]);
        }
        // Informational in every release measured: never a mismatch.
        let mut fg = coherent();
        fg.source_checkout_path = Some("/other".into());
        assert!(mismatched_fields(&compare_p(&fg, &owner())).is_empty());
    }

    #[test]
    fn informational_differences_are_info_and_unknown_is_not_mismatch() {
        let mut fg = coherent();
        fg.auth_principal = Some("bob@x".into());
        fg.auth_team = None;
        let rows = compare_p(&fg, &owner());
        assert!(mismatched_fields(&rows).is_empty());
        let principal = rows
            .iter()
            .find(|r| r.field == Field::AuthPrincipal)
            .unwrap();
        assert_eq!(
            (principal.status, principal.blocking),
            (FieldStatus::Info, false)
        );

        let rows = compare_p(&ForegroundIdentity::default(), &owner());
        for (field, status) in statuses(&rows) {
            let f = Field::from_name(field).unwrap();
            if P.is_blocking(f) {
                assert_eq!(status, FieldStatus::Unknown, "{field}");
            } else {
                assert_eq!(status, FieldStatus::Info, "{field}");
            }
        }
    }

    #[test]
    fn auth_scope_none_versus_some() {
        let mut fg = coherent();
        fg.auth_scope = AuthScope::NoScope;
        assert_eq!(
            mismatched_fields(&compare_p(&fg, &owner())),
            vec![Field::AuthScope]
        );
        let mut o = owner();
        o.auth_scope = None;
        assert_eq!(
            mismatched_fields(&compare_p(&coherent(), &o)),
            vec![Field::AuthScope]
        );
        let rows = compare_p(&fg, &o);
        let row = rows.iter().find(|r| r.field == Field::AuthScope).unwrap();
        assert_eq!(row.status, FieldStatus::Match);
        fg.auth_scope = AuthScope::Unknown;
        let rows = compare_p(&fg, &o);
        let row = rows.iter().find(|r| r.field == Field::AuthScope).unwrap();
        assert_eq!(row.status, FieldStatus::Unknown);
    }

    #[test]
    fn symlinked_paths_match_after_canonicalization() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir_all(real.join("bin")).unwrap();
        std::fs::write(real.join("bin/python3"), "").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let mut o = owner();
        o.executable_path = real.join("bin/python3").to_string_lossy().into_owned();
        o.source_checkout_path = real.join("./missing/../src").to_string_lossy().into_owned();
        let mut fg = coherent();
        fg.executable_path = Some(link.join("bin/python3").to_string_lossy().into_owned());
        fg.source_checkout_path = Some(link.join("src").to_string_lossy().into_owned());
        assert_eq!(
            mismatched_fields(&compare_p(&fg, &o)),
            vec![Field::ExecutablePath]
        );
        // The foreground's interpreter is symlink-resolved, as the release
        // resolves its own (`_canonical_executable_path`), and so is the
        // record's on read; the checkout path is compared as written.
        let read = crate::doctor::owner::as_the_release_reads(&o, P);
        let rows = compare_view(&fg.canonicalized(), &read, P);
        assert!(mismatched_fields(&rows).is_empty(), "{rows:?}");
        o.executable_path = link.join("bin/python3").to_string_lossy().into_owned();
        assert_eq!(
            mismatched_fields(&compare_p(&fg.canonicalized(), &o)),
            vec![Field::ExecutablePath],
            "without the release's read, a symlinked record mismatches"
        );
        let read = crate::doctor::owner::as_the_release_reads(&o, P);
        assert!(mismatched_fields(&compare_view(&fg.canonicalized(), &read, P)).is_empty());
    }

    #[test]
    fn canonical_paths() {
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(canonical_for_compare(""), "");
        assert_eq!(
            canonical_for_compare("/nonexistent-sk/a/./b/../c"),
            "/nonexistent-sk/a/c"
        );
        let rel = canonical_for_compare("no-such-dir-sk/x");
        assert_eq!(
            rel,
            std::fs::canonicalize(&cwd)
                .unwrap()
                .join("no-such-dir-sk/x")
                .to_string_lossy()
        );
    }

    #[test]
    fn unknown_fields_are_listed() {
        let fg = ForegroundIdentity {
            package_version: Some("1".into()),
            auth_scope: AuthScope::NoScope,
            ..ForegroundIdentity::default()
        };
        assert_eq!(
            fg.unknown_fields(),
            vec![
                Field::ExecutablePath,
                Field::SourceCheckoutPath,
                Field::ServerUrl,
                Field::AuthPrincipal,
                Field::AuthTeam,
                Field::QueueDbPath,
            ]
        );
        let json = serde_json::to_value(&fg).unwrap();
        assert_eq!(json["auth_scope"], Value::Null);
        let merged = ForegroundIdentity::default().or(fg.clone());
        assert_eq!(merged, fg);
    }
}
