//! Discovery of the installed CLI: the entry point on PATH, its interpreter, site-packages and dist-info (`docs/releases.md`).

use std::ffi::OsStr;
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::path_text::escaped;

use super::ForegroundIdentity;

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
            executable_path: self.interpreter.as_ref().map(|p| crate::path_text::text(p)),
            source_checkout_path: self
                .source_checkout_path
                .as_ref()
                .map(|p| crate::path_text::text(p)),
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

pub(super) fn is_executable_file(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
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
                .push(format!("{}: cannot read it: {e}", escaped(&entry)));
            return Ok(install);
        }
    };
    let Some(interp) = interpreter_from_script(&head, path_var) else {
        install.notes.push(format!(
            "{}: no usable #! line naming a Python interpreter",
            escaped(&entry)
        ));
        return Ok(install);
    };
    install.interpreter = Some(interp.clone());
    site_facts(&interp, &mut install);
    Ok(install)
}

/// The first 8 KiB of a file (enough for the `#!` line and pip's
/// long-shebang `exec` trampoline).
pub(super) fn read_head(p: &Path) -> std::io::Result<String> {
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
pub(super) fn site_facts(interp: &Path, install: &mut Install) {
    // The prefix is lexical: a venv's python is often a symlink to the base
    // interpreter, and resolving it would leave the venv.
    let Some(prefix) = interp.parent().and_then(Path::parent) else {
        install.notes.push(format!(
            "{}: cannot tell the interpreter's prefix",
            escaped(interp)
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
            escaped(prefix)
        ));
        return;
    };
    install.site_packages = Some(site.clone());
    install.package_version = version_of(&dist);
    if install.package_version.is_none() {
        install.notes.push(format!(
            "{}: no version in its name or METADATA",
            escaped(&dist)
        ));
    }
    match find_specify_cli(site, &dist) {
        Some(pkg) => {
            install.source_checkout_path =
                pkg.parent().and_then(Path::parent).map(Path::to_path_buf);
        }
        None => install.notes.push(format!(
            "specify_cli/ not found in {} (nor via direct_url.json or a .pth file)",
            escaped(site)
        )),
    }
}

/// `<prefix>/lib{,64}/python3*/{site,dist}-packages`, sorted.
pub(super) fn site_packages_candidates(prefix: &Path) -> Vec<PathBuf> {
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

pub(super) const DIST_PREFIX: &str = "spec_kitty_cli-";
pub(super) const DIST_SUFFIX: &str = ".dist-info";

/// The `spec_kitty_cli-<version>.dist-info` directory in `site`, if one.
/// Several (a broken upgrade) → the last in sorted order, which is the
/// newest only by chance: the version is then still read from that one.
pub(super) fn dist_info(site: &Path) -> Option<PathBuf> {
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
pub(super) fn version_of(dist: &Path) -> Option<String> {
    if let Ok(Some(meta)) = crate::fsutil::read_text(&dist.join("METADATA")) {
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
pub(super) fn find_specify_cli(site: &Path, dist: &Path) -> Option<PathBuf> {
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
        let text = crate::fsutil::read_text(pth).ok()??;
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
pub(super) fn direct_url_path(dist: &Path) -> Option<PathBuf> {
    let text = crate::fsutil::read_text(&dist.join("direct_url.json")).ok()??;
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

pub(super) fn percent_decode(s: &str) -> Option<String> {
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
