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
//! beforehand ([`ForegroundIdentity::canonicalized`],
//! [`canonicalized_owner`]), so the rows show the values actually compared.

use std::ffi::OsStr;
use std::io::{ErrorKind, Read};
use std::path::{Component, Path, PathBuf};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::doctor::owner::{OwnerRecord, RedactedOwner};
use crate::error::Error;
use crate::field::Field;
use crate::home::Home;
use crate::login::{Env, Resolution, ScopeSource};
use crate::release::{GateField, Profile, ScopeRule, ServerRule};
use crate::scope::Scope;

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

/// The field names of [`ForegroundIdentity`], in output order.
pub const FOREGROUND_FIELDS: [&str; 8] = [
    "package_version",
    "executable_path",
    "source_checkout_path",
    "server_url",
    "auth_scope",
    "auth_principal",
    "auth_team",
    "queue_db_path",
];

impl ForegroundIdentity {
    /// Names of the fields whose value is unknown.
    pub fn unknown_fields(&self) -> Vec<&'static str> {
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
        FOREGROUND_FIELDS
            .iter()
            .zip(unknown)
            .filter_map(|(name, u)| u.then_some(*name))
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

/// The owner record's view with its three path fields canonicalized (effect).
pub fn canonicalized_owner(owner: &OwnerRecord) -> RedactedOwner {
    let mut r = owner.redacted();
    r.executable_path = canonical_for_compare(&r.executable_path);
    r.source_checkout_path = canonical_for_compare(&r.source_checkout_path);
    r.queue_db_path = canonical_for_compare(&r.queue_db_path);
    r
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
// Discovery of the installed CLI.

/// What discovery of the installed CLI found, with a note per unknown field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Install {
    pub entry_point: Option<PathBuf>,
    pub interpreter: Option<PathBuf>,
    pub site_packages: Option<PathBuf>,
    pub package_version: Option<String>,
    pub source_checkout_path: Option<PathBuf>,
    /// Why a field stayed unknown (for the doctor's warnings).
    pub notes: Vec<String>,
}

impl Install {
    /// The identity fields discovery provides (the rest unknown).
    pub fn identity(&self) -> ForegroundIdentity {
        ForegroundIdentity {
            package_version: self.package_version.clone(),
            executable_path: self
                .interpreter
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            source_checkout_path: self
                .source_checkout_path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            ..ForegroundIdentity::default()
        }
    }
}

/// The first executable regular file `name` in the `PATH`-style list
/// `path_var`. Empty entries are skipped (not the current directory).
pub fn find_on_path(name: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let path_var = path_var?;
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable_file(candidate))
}

#[cfg(unix)]
fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable_file(p: &Path) -> bool {
    p.is_file()
}

/// Discover the installed CLI: `explicit` (`--spec-kitty PATH`) or
/// `spec-kitty` on `path_var`. An explicit path that cannot be read is an
/// error (the user named it); everything else degrades to unknown fields with
/// notes.
pub fn discover(explicit: Option<&Path>, path_var: Option<&OsStr>) -> Result<Install, Error> {
    let mut install = Install::default();
    let entry = match explicit {
        Some(p) => {
            let meta = std::fs::metadata(p).map_err(|e| Error::EntryPoint {
                path: p.to_path_buf(),
                detail: if e.kind() == ErrorKind::NotFound {
                    "no such file".to_string()
                } else {
                    e.to_string()
                },
            })?;
            if !meta.is_file() {
                return Err(Error::EntryPoint {
                    path: p.to_path_buf(),
                    detail: "not a regular file".to_string(),
                });
            }
            p.to_path_buf()
        }
        None => match find_on_path("spec-kitty", path_var) {
            Some(p) => p,
            None => {
                install.notes.push(
                    "spec-kitty was not found on PATH; pass --spec-kitty PATH or --foreground FILE"
                        .to_string(),
                );
                return Ok(install);
            }
        },
    };
    install.entry_point = Some(entry.clone());

    let head = match read_head(&entry) {
        Ok(h) => h,
        Err(e) => {
            if explicit.is_some() {
                return Err(Error::EntryPoint {
                    path: entry,
                    detail: e.to_string(),
                });
            }
            install
                .notes
                .push(format!("{}: cannot read it: {e}", entry.display()));
            return Ok(install);
        }
    };
    let Some(interp) = interpreter_from_script(&head, path_var) else {
        install.notes.push(format!(
            "{}: no usable #! line naming a Python interpreter",
            entry.display()
        ));
        return Ok(install);
    };
    install.interpreter = Some(interp.clone());
    site_facts(&interp, &mut install);
    Ok(install)
}

/// The first 8 KiB of a file (enough for the `#!` line and pip's
/// long-shebang `exec` trampoline).
fn read_head(p: &Path) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let (file, _) = crate::fsutil::open_regular(p)
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .ok_or(std::io::ErrorKind::NotFound)?;
    file.take(8192).read_to_end(&mut buf)?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// The interpreter an entry-point script names (pure but for the `PATH`
/// lookup of `env`'s program):
/// * `#!/venv/bin/python3 [args]` → `/venv/bin/python3`;
/// * `#!/usr/bin/env [-S] [VAR=x] python3 [args]` → `python3` looked up on `path_var`;
/// * pip's trampoline for long or spaced paths:
///   `#!/bin/sh` then `'''exec' "/long path/python3" "$0" "$@"` → that path.
pub fn interpreter_from_script(script: &str, path_var: Option<&OsStr>) -> Option<PathBuf> {
    let mut lines = script.lines();
    let first = lines.next()?.strip_prefix("#!")?.trim();
    let mut words = first.split_whitespace();
    let program = words.next()?;
    let base = Path::new(program).file_name()?.to_str()?;
    if base == "env" {
        let name = words.find(|w| !w.starts_with('-') && !w.contains('='))?;
        return if name.contains('/') {
            Some(PathBuf::from(name))
        } else {
            find_on_path(name, path_var)
        };
    }
    if base == "sh" || base == "bash" {
        let exec = lines.next()?.trim().strip_prefix("'''exec' ")?;
        let rest = exec.strip_prefix('"')?;
        let end = rest.find('"')?;
        return Some(PathBuf::from(&rest[..end]));
    }
    Some(PathBuf::from(program))
}

/// Fill version and source path from the interpreter's site-packages.
fn site_facts(interp: &Path, install: &mut Install) {
    // The prefix is lexical: a venv's python is often a symlink to the base
    // interpreter, and resolving it would leave the venv.
    let Some(prefix) = interp.parent().and_then(Path::parent) else {
        install.notes.push(format!(
            "{}: cannot tell the interpreter's prefix",
            interp.display()
        ));
        return;
    };
    let sites = site_packages_candidates(prefix);
    let found = sites
        .iter()
        .find_map(|site| dist_info(site).map(|d| (site, d)));
    let Some((site, dist)) = found else {
        install.notes.push(format!(
            "no spec_kitty_cli-<version>.dist-info under {}/lib/python3.*/site-packages",
            prefix.display()
        ));
        return;
    };
    install.site_packages = Some(site.clone());
    install.package_version = version_of(&dist);
    if install.package_version.is_none() {
        install.notes.push(format!(
            "{}: no version in its name or METADATA",
            dist.display()
        ));
    }
    match find_specify_cli(site, &dist) {
        Some(pkg) => {
            install.source_checkout_path =
                pkg.parent().and_then(Path::parent).map(Path::to_path_buf);
        }
        None => install.notes.push(format!(
            "specify_cli/ not found in {} (nor via direct_url.json or a .pth file)",
            site.display()
        )),
    }
}

/// `<prefix>/lib{,64}/python3*/{site,dist}-packages`, sorted.
fn site_packages_candidates(prefix: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for lib in ["lib", "lib64"] {
        let Ok(entries) = std::fs::read_dir(prefix.join(lib)) else {
            continue;
        };
        let mut pys: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
            .map(|e| e.path())
            .collect();
        pys.sort();
        for py in pys {
            for leaf in ["site-packages", "dist-packages"] {
                let site = py.join(leaf);
                if site.is_dir() {
                    out.push(site);
                }
            }
        }
    }
    out
}

const DIST_PREFIX: &str = "spec_kitty_cli-";
const DIST_SUFFIX: &str = ".dist-info";

/// The `spec_kitty_cli-<version>.dist-info` directory in `site`, if one.
/// Several (a broken upgrade) → the last in sorted order, which is the
/// newest only by chance: the version is then still read from that one.
fn dist_info(site: &Path) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(site)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_lowercase();
            name.starts_with(DIST_PREFIX) && name.ends_with(DIST_SUFFIX)
        })
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found.pop()
}

/// METADATA's `Version:` line, else the version in the directory name.
fn version_of(dist: &Path) -> Option<String> {
    if let Ok(meta) = std::fs::read_to_string(dist.join("METADATA")) {
        let v = meta
            .lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| l.strip_prefix("Version:"))
            .map(str::trim)
            .filter(|v| !v.is_empty());
        if let Some(v) = v {
            return Some(v.to_string());
        }
    }
    let name = dist.file_name()?.to_str()?;
    let v = &name[DIST_PREFIX.len()..name.len().checked_sub(DIST_SUFFIX.len())?];
    (!v.is_empty()).then(|| v.to_string())
}

/// The `specify_cli` package directory: in site-packages (regular install),
/// else in the checkout named by `direct_url.json` (`file://` URL of an
/// editable install: `<url>/src/specify_cli` or `<url>/specify_cli`), else in
/// a directory listed by a spec-kitty `.pth` file.
fn find_specify_cli(site: &Path, dist: &Path) -> Option<PathBuf> {
    let direct = site.join("specify_cli");
    if direct.is_dir() {
        return Some(direct);
    }
    let in_checkout = |root: &Path| {
        [
            root.join("src").join("specify_cli"),
            root.join("specify_cli"),
        ]
        .into_iter()
        .find(|p| p.is_dir())
    };
    if let Some(root) = direct_url_path(dist)
        && let Some(p) = in_checkout(&root)
    {
        return Some(p);
    }
    let entries = std::fs::read_dir(site).ok()?;
    let mut pths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().to_lowercase());
            name.is_some_and(|n| {
                n.ends_with(".pth") && (n.contains("spec_kitty") || n.contains("spec-kitty"))
            })
        })
        .collect();
    pths.sort();
    pths.iter().find_map(|pth| {
        let text = std::fs::read_to_string(pth).ok()?;
        text.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with("import"))
            .find_map(|l| {
                let dir = Path::new(l);
                let p = dir.join("specify_cli");
                p.is_dir().then_some(p)
            })
    })
}

/// The local path of `direct_url.json`'s `file://` URL, if any.
fn direct_url_path(dist: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(dist.join("direct_url.json")).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    let url = v.get("url")?.as_str()?;
    let rest = url.strip_prefix("file://")?;
    // file:///abs → "/abs"; file://localhost/abs → "/abs".
    let rest = rest.strip_prefix("localhost").unwrap_or(rest);
    if !rest.starts_with('/') {
        return None;
    }
    Some(PathBuf::from(percent_decode(rest)?))
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

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
    if env.profile.scope == ScopeRule::NulDigest {
        return project_store_identity(home, resolution, env);
    }
    let Some(r) = &resolution.scope else {
        return ForegroundIdentity {
            server_url: Some(resolution.server_url.clone()),
            auth_scope: AuthScope::NoScope,
            queue_db_path: Some(home.legacy_queue().to_string_lossy().into_owned()),
            ..ForegroundIdentity::default()
        };
    };
    let (server, scope) = match env.profile.server {
        ServerRule::Config => (resolution.server_url.clone(), r.scope.clone()),
        ServerRule::EnvThenConfig => {
            let server = target_server_url(env.saas_url.as_deref(), &resolution.server_url);
            let rule = match env.profile.scope {
                ScopeRule::NulDigest => ScopeRule::NulDigest,
                ScopeRule::Piped | ScopeRule::PipedAscii => ScopeRule::PipedAscii,
            };
            let derived = Scope::with_rule(rule, &server, &r.scope.user(), &r.scope.team());
            (server, derived)
        }
    };
    ForegroundIdentity {
        server_url: Some(server),
        auth_scope: AuthScope::Scope(scope.to_string()),
        auth_principal: Some(r.principal.clone()),
        auth_team: Some(r.team.clone()),
        queue_db_path: Some(home.scoped_queue(&scope).to_string_lossy().into_owned()),
        ..ForegroundIdentity::default()
    }
}

/// 3.2.6+ (`compute_foreground_identity` of 3.2.7): the session's email and
/// private team as written, the scope their NUL-joined digest (non-ASCII as
/// `_u%04x_` before lowercasing), the queue path named by the digest even
/// with no session (user and team then empty; `auth_scope` null).
fn project_store_identity(home: &Home, resolution: &Resolution, env: &Env) -> ForegroundIdentity {
    let server = target_server_url(env.saas_url.as_deref(), &resolution.server_url);
    let (user, team) = match &resolution.scope {
        Some(r) => (
            r.scope.raw_user().to_string(),
            r.scope.raw_team().to_string(),
        ),
        None => (String::new(), String::new()),
    };
    let scope = Scope::with_rule(ScopeRule::NulDigest, &server, &user, &team);
    ForegroundIdentity {
        server_url: Some(server),
        auth_scope: match &resolution.scope {
            Some(_) => AuthScope::Scope(scope.to_string()),
            None => AuthScope::NoScope,
        },
        auth_principal: resolution.scope.as_ref().map(|_| user.clone()),
        auth_team: resolution.scope.as_ref().map(|_| team.clone()),
        queue_db_path: Some(home.scoped_queue(&scope).to_string_lossy().into_owned()),
        ..ForegroundIdentity::default()
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
// `--foreground FILE`.

/// One field of a `--foreground` file: not given, given as null (unknown), or a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Override {
    #[default]
    Keep,
    Unknown,
    Value(String),
}

/// A parsed `--foreground` file. Each field overrides discovery when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForegroundOverride {
    pub package_version: Override,
    pub executable_path: Override,
    pub source_checkout_path: Override,
    pub server_url: Override,
    /// `""` means "known: no scope"; null means unknown.
    pub auth_scope: Override,
    pub auth_principal: Override,
    pub auth_team: Override,
    pub queue_db_path: Override,
}

/// Read a `--foreground` file: a JSON object with any of the eight fields,
/// each a string or null. Unknown keys are refused (a typo would otherwise
/// silently keep the discovered value).
pub fn read_override(path: &Path) -> Result<ForegroundOverride, Error> {
    let bad = |detail: String| Error::BadForegroundFile {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = crate::fsutil::read_regular(path, crate::fsutil::READ_CAP)?
        .map(|(bytes, _)| bytes)
        .ok_or_else(|| Error::io(path, std::io::ErrorKind::NotFound.into()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    parse_override(&v).map_err(bad)
}

/// [`read_override`] on a parsed value (pure).
pub fn parse_override(v: &Value) -> Result<ForegroundOverride, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| "expected a JSON object of foreground fields".to_string())?;
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| !FOREGROUND_FIELDS.contains(k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown field(s) {}; the fields are {}",
            unknown.join(", "),
            FOREGROUND_FIELDS.join(", ")
        ));
    }
    let get = |name: &str| -> Result<Override, String> {
        match obj.get(name) {
            None => Ok(Override::Keep),
            Some(Value::Null) => Ok(Override::Unknown),
            Some(Value::String(s)) => Ok(Override::Value(s.clone())),
            Some(_) => Err(format!("field `{name}`: expected a string or null")),
        }
    };
    Ok(ForegroundOverride {
        package_version: get("package_version")?,
        executable_path: get("executable_path")?,
        source_checkout_path: get("source_checkout_path")?,
        server_url: get("server_url")?,
        auth_scope: get("auth_scope")?,
        auth_principal: get("auth_principal")?,
        auth_team: get("auth_team")?,
        queue_db_path: get("queue_db_path")?,
    })
}

impl ForegroundOverride {
    /// Apply to a discovered identity, field by field (pure).
    pub fn apply(&self, mut fg: ForegroundIdentity) -> ForegroundIdentity {
        fn set(field: &mut Option<String>, o: &Override) {
            match o {
                Override::Keep => {}
                Override::Unknown => *field = None,
                Override::Value(v) => *field = Some(v.clone()),
            }
        }
        set(&mut fg.package_version, &self.package_version);
        set(&mut fg.executable_path, &self.executable_path);
        set(&mut fg.source_checkout_path, &self.source_checkout_path);
        set(&mut fg.server_url, &self.server_url);
        set(&mut fg.auth_principal, &self.auth_principal);
        set(&mut fg.auth_team, &self.auth_team);
        set(&mut fg.queue_db_path, &self.queue_db_path);
        match &self.auth_scope {
            Override::Keep => {}
            Override::Unknown => fg.auth_scope = AuthScope::Unknown,
            Override::Value(v) if v.trim().is_empty() => fg.auth_scope = AuthScope::NoScope,
            Override::Value(v) => fg.auth_scope = AuthScope::Scope(v.clone()),
        }
        fg
    }
}

// ---------------------------------------------------------------------------
// Comparison.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldStatus {
    Match,
    Mismatch,
    Unknown,
    Info,
}

/// One row of the coherence table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRow {
    pub field: String,
    pub foreground: Option<String>,
    pub daemon: Option<String>,
    pub status: FieldStatus,
    pub blocking: bool,
}

/// Compare the foreground with the daemon's owner record (pure), as the
/// release of `profile` does; see [`compare_view`].
pub fn compare(
    foreground: &ForegroundIdentity,
    owner: &OwnerRecord,
    profile: &Profile,
) -> Vec<FieldRow> {
    compare_view(foreground, &owner.redacted(), profile)
}

/// The comparison on a token-free owner view (pure), as
/// `owner.mismatched_fields` of the installed release does it:
///
/// * Every compared field: exact string equality (the releases measured
///   compare `daemon_value != fg_value`; a trailing `/`, a case difference or
///   a symlinked path is a mismatch for them, so it is one here).
/// * `auth_scope`: unknown foreground → unknown; known none vs null → match;
///   none vs a scope (either way) → mismatch.
/// * Any other unknown foreground value → `unknown`, not a mismatch.
/// * Fields the release does not block on are `info` rows, never blocking.
pub fn compare_view(
    fg: &ForegroundIdentity,
    owner: &RedactedOwner,
    profile: &Profile,
) -> Vec<FieldRow> {
    Field::ALL
        .into_iter()
        .map(|field| {
            let (f, d) = values(fg, owner, field);
            let blocking = profile.is_blocking(field);
            let status = if !blocking {
                FieldStatus::Info
            } else if field == Field::AuthScope {
                match (&fg.auth_scope, &owner.auth_scope) {
                    (AuthScope::Unknown, _) => FieldStatus::Unknown,
                    (AuthScope::NoScope, None) => FieldStatus::Match,
                    (AuthScope::Scope(f), Some(d)) if f == d => FieldStatus::Match,
                    _ => FieldStatus::Mismatch,
                }
            } else {
                match (&f, &d) {
                    (None, _) => FieldStatus::Unknown,
                    (Some(f), Some(d)) if f == d => FieldStatus::Match,
                    _ => FieldStatus::Mismatch,
                }
            };
            FieldRow {
                field: field.as_str().to_string(),
                foreground: f,
                daemon: d,
                status,
                blocking,
            }
        })
        .collect()
}

/// The foreground's and the daemon's value of `field`.
fn values(
    fg: &ForegroundIdentity,
    owner: &RedactedOwner,
    field: Field,
) -> (Option<String>, Option<String>) {
    match field {
        Field::PackageVersion => (
            fg.package_version.clone(),
            Some(owner.package_version.clone()),
        ),
        Field::ExecutablePath => (
            fg.executable_path.clone(),
            Some(owner.executable_path.clone()),
        ),
        Field::SourceCheckoutPath => (
            fg.source_checkout_path.clone(),
            Some(owner.source_checkout_path.clone()),
        ),
        Field::ServerUrl => (fg.server_url.clone(), Some(owner.server_url.clone())),
        Field::AuthScope => (
            fg.auth_scope.as_deref().map(str::to_string),
            owner.auth_scope.clone(),
        ),
        Field::QueueDbPath => (fg.queue_db_path.clone(), Some(owner.queue_db_path.clone())),
        Field::Pid => (None, Some(owner.pid.to_string())),
        Field::Port => (None, Some(owner.port.to_string())),
        Field::StartedAt => (None, Some(owner.started_at.clone())),
        Field::AuthPrincipal => (fg.auth_principal.clone(), owner.auth_principal.clone()),
        Field::AuthTeam => (fg.auth_team.clone(), owner.auth_team.clone()),
    }
}

/// The foreground as the release's preflight gate sees it
/// (`preflight._build_mismatches`). `None`: unknown, never a mismatch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateForeground {
    pub package_version: Option<String>,
    pub executable_path: Option<String>,
    pub source_path: Option<String>,
    pub server_url: Option<String>,
    pub team_or_user: Option<String>,
    pub queue_db_path: Option<String>,
}

/// `<principal>/<team>`, or the principal alone when the team is empty.
pub fn team_or_user(principal: Option<&str>, team: Option<&str>) -> Option<String> {
    let p = principal?;
    Some(match team.filter(|t| !t.is_empty()) {
        Some(t) => format!("{p}/{t}"),
        None => p.to_string(),
    })
}

/// The gate's view of the foreground (pure): the owner view `fg`, except
/// that 3.2.4+ take a session login as written (raw case, not trimmed) for
/// `team_or_user` and for the queue path they derive (measured:
/// `preflight_view` in fixtures/releases/3.2.4+).
pub fn gate_foreground(
    home: &Home,
    fg: &ForegroundIdentity,
    resolution: &Resolution,
    env: &Env,
) -> GateForeground {
    let mut g = GateForeground {
        package_version: fg.package_version.clone(),
        executable_path: fg.executable_path.clone(),
        source_path: fg.source_checkout_path.clone(),
        server_url: fg.server_url.clone(),
        team_or_user: team_or_user(fg.auth_principal.as_deref(), fg.auth_team.as_deref()),
        queue_db_path: fg.queue_db_path.clone(),
    };
    let raw_session = env.profile.server == ServerRule::EnvThenConfig;
    if let Some(r) = resolution
        .scope
        .as_ref()
        .filter(|r| r.source == ScopeSource::Session)
        && raw_session
    {
        let (user, team) = (r.scope.raw_user(), r.scope.raw_team());
        g.team_or_user = team_or_user(Some(user), Some(team));
        if env.profile.scope != ScopeRule::NulDigest
            && let Some(server) = &fg.server_url
        {
            let derived = Scope::with_rule(ScopeRule::PipedAscii, server, user, team);
            g.queue_db_path = Some(home.scoped_queue(&derived).to_string_lossy().into_owned());
        }
    }
    g
}

/// The gate fields that differ (pure), as the release's gate compares them:
/// exact strings; an unknown foreground value is not a mismatch.
pub fn gate_mismatches(
    profile: &Profile,
    g: &GateForeground,
    owner: &RedactedOwner,
) -> Vec<GateField> {
    let daemon_tu = team_or_user(owner.auth_principal.as_deref(), owner.auth_team.as_deref());
    profile
        .gate
        .iter()
        .copied()
        .filter(|field| {
            let (f, d) = match field {
                GateField::PackageVersion => (&g.package_version, Some(&owner.package_version)),
                GateField::ExecutablePath => (&g.executable_path, Some(&owner.executable_path)),
                GateField::SourcePath => (&g.source_path, Some(&owner.source_checkout_path)),
                GateField::ServerUrl => (&g.server_url, Some(&owner.server_url)),
                GateField::TeamOrUser => (&g.team_or_user, daemon_tu.as_ref()),
                GateField::QueueDbPath => (&g.queue_db_path, Some(&owner.queue_db_path)),
            };
            f.as_ref().is_some_and(|f| Some(f) != d)
        })
        .collect()
}

/// The blocking fields that mismatch (for a `daemon_mismatch` problem).
pub fn mismatched_fields(rows: &[FieldRow]) -> Vec<&str> {
    rows.iter()
        .filter(|r| r.blocking && r.status == FieldStatus::Mismatch)
        .map(|r| r.field.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login::{ResolvedScope, ScopeSource};
    use std::os::unix::fs::PermissionsExt;

    fn write_exec(p: &Path, text: &str) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// A fake venv install under `root`: returns (bin dir, interpreter).
    fn fake_install(root: &Path) -> (PathBuf, PathBuf) {
        let bin = root.join("venv/bin");
        let python = bin.join("python3");
        write_exec(&python, "");
        let site = root.join("venv/lib/python3.11/site-packages");
        std::fs::create_dir_all(site.join("spec_kitty_cli-3.1.4.dist-info")).unwrap();
        std::fs::create_dir_all(site.join("specify_cli")).unwrap();
        std::fs::write(site.join("specify_cli/__init__.py"), "").unwrap();
        write_exec(
            &bin.join("spec-kitty"),
            &format!(
                "#!{}\nimport sys\nfrom specify_cli import main\nsys.exit(main())\n",
                python.display()
            ),
        );
        (bin, python)
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
            Some(home.scoped_queue(&scope).to_string_lossy().into_owned())
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
            assert_eq!(mismatched_fields(&rows), vec![field.as_str()]);
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
        let principal = rows.iter().find(|r| r.field == "auth_principal").unwrap();
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
            vec!["auth_scope"]
        );
        let mut o = owner();
        o.auth_scope = None;
        assert_eq!(
            mismatched_fields(&compare_p(&coherent(), &o)),
            vec!["auth_scope"]
        );
        let rows = compare_p(&fg, &o);
        let row = rows.iter().find(|r| r.field == "auth_scope").unwrap();
        assert_eq!(row.status, FieldStatus::Match);
        fg.auth_scope = AuthScope::Unknown;
        let rows = compare_p(&fg, &o);
        let row = rows.iter().find(|r| r.field == "auth_scope").unwrap();
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
            vec!["executable_path"]
        );
        // The foreground's interpreter is symlink-resolved, as the release
        // resolves its own (`_canonical_executable_path`).
        let rows = compare_view(&fg.canonicalized(), &canonicalized_owner(&o), P);
        assert!(mismatched_fields(&rows).is_empty(), "{rows:?}");
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
                "executable_path",
                "source_checkout_path",
                "server_url",
                "auth_principal",
                "auth_team",
                "queue_db_path"
            ]
        );
        let json = serde_json::to_value(&fg).unwrap();
        assert_eq!(json["auth_scope"], Value::Null);
        let merged = ForegroundIdentity::default().or(fg.clone());
        assert_eq!(merged, fg);
    }
}
