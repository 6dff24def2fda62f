//! The owner record as the release holds it after reading it: the fields
//! its `DaemonOwnerRecord.__post_init__` rewrites (the release model's
//! `Profile::owner_resolved_on_read`) are resolved as Python's
//! `Path(raw).resolve()` resolves them, with the same fallback to the raw
//! string (`_canonical_executable_path`). Everything the table, `--check`
//! and preflight compare is this view, not the bytes on disk.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::{OwnerRecord, RedactedOwner};
use crate::field::Field;
use crate::release::Profile;

/// The record as the release of `profile` reads it (effect: it resolves
/// symbolic links on this machine, as the release does).
pub fn as_the_release_reads(record: &OwnerRecord, profile: &Profile) -> RedactedOwner {
    let mut r = record.redacted();
    for field in profile.owner_resolved_on_read {
        let value = match field {
            Field::ExecutablePath => &mut r.executable_path,
            Field::SourceCheckoutPath => &mut r.source_checkout_path,
            Field::QueueDbPath => &mut r.queue_db_path,
            _ => continue,
        };
        *value = python_resolve(value);
    }
    r
}

/// `str(Path(raw).resolve())` of CPython 3.11 (`posixpath.realpath`, not
/// strict), falling back to `raw` where `_canonical_executable_path` does:
/// an unreadable link, a symlink loop (`RuntimeError`), no current
/// directory. Missing components are kept as written; `..` is applied to
/// the path resolved so far, after its links (not lexically beforehand).
pub fn python_resolve(raw: &str) -> String {
    let start = if raw.starts_with('/') {
        PathBuf::from("/")
    } else {
        match std::env::current_dir() {
            Ok(cwd) => cwd,
            Err(_) => return raw.to_string(),
        }
    };
    let mut seen = HashMap::new();
    let Ok((path, _)) = join_realpath(start, OsStr::new(raw), &mut seen) else {
        return raw.to_string();
    };
    let eloop = rustix::io::Errno::LOOP.raw_os_error();
    if let Err(e) = std::fs::metadata(&path)
        && e.raw_os_error() == Some(eloop)
    {
        return raw.to_string();
    }
    path.to_string_lossy().into_owned()
}

/// `posixpath._joinrealpath`: `(path, ok)`, `ok` false after a loop.
fn join_realpath(
    mut path: PathBuf,
    rest: &OsStr,
    seen: &mut HashMap<PathBuf, Option<PathBuf>>,
) -> std::io::Result<(PathBuf, bool)> {
    let bytes = rest.as_bytes();
    if bytes.starts_with(b"/") {
        path = PathBuf::from("/");
    }
    let names: Vec<&[u8]> = bytes
        .split(|b| *b == b'/')
        .filter(|n| !n.is_empty() && *n != b".")
        .collect();
    let remaining = |i: usize| -> PathBuf {
        let rest: Vec<&[u8]> = names[i + 1..].to_vec();
        PathBuf::from(OsStr::from_bytes(&rest.join(&b'/')))
    };
    for (i, name) in names.iter().enumerate() {
        if *name == b".." {
            path.pop();
            continue;
        }
        let newpath = path.join(OsStr::from_bytes(name));
        let is_link = std::fs::symlink_metadata(&newpath)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false);
        if !is_link {
            path = newpath;
            continue;
        }
        match seen.get(&newpath) {
            Some(Some(done)) => {
                path = done.clone();
                continue;
            }
            Some(None) => return Ok((join_rest(newpath, remaining(i)), false)),
            None => {}
        }
        seen.insert(newpath.clone(), None);
        let target = std::fs::read_link(&newpath)?;
        let (resolved, ok) = join_realpath(path, target.as_os_str(), seen)?;
        if !ok {
            return Ok((join_rest(resolved, remaining(i)), false));
        }
        seen.insert(newpath, Some(resolved.clone()));
        path = resolved;
    }
    Ok((path, true))
}

fn join_rest(path: PathBuf, rest: PathBuf) -> PathBuf {
    if rest.as_os_str().is_empty() {
        path
    } else {
        path.join(rest)
    }
}

/// `str(PurePosixPath(raw))`: what the release's preflight gate compares a
/// path field as (`Path(record.queue_db_path)`): repeated and trailing `/`
/// and `.` components dropped, a leading `//` kept, `..` kept, `""` is `.`.
pub fn pure_path(raw: &str) -> String {
    let root = if raw.starts_with("//") && !raw.starts_with("///") {
        "//"
    } else if raw.starts_with('/') {
        "/"
    } else {
        ""
    };
    let parts: Vec<&str> = raw
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if root.is_empty() && parts.is_empty() {
        return ".".to_string();
    }
    format!("{root}{}", parts.join("/"))
}

/// A path that is only compared, never opened, as `Path` shows it.
pub fn same_pure_path(a: &str, b: &str) -> bool {
    pure_path(a) == pure_path(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pure_paths_are_shown_as_python_shows_them() {
        assert_eq!(pure_path("/a//b/./c/"), "/a/b/c");
        assert_eq!(pure_path("//a/b"), "//a/b");
        assert_eq!(pure_path("///a"), "/a");
        assert_eq!(pure_path("/a/../b"), "/a/../b");
        assert_eq!(pure_path(""), ".");
        assert_eq!(pure_path("./x/"), "x");
    }

    #[test]
    fn links_resolve_before_parent_components() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir_all(root.join("real/venv/bin")).unwrap();
        std::fs::write(root.join("real/venv/bin/python3"), "").unwrap();
        std::os::unix::fs::symlink(root.join("real/venv"), root.join("v")).unwrap();
        std::os::unix::fs::symlink("python3", root.join("real/venv/bin/python")).unwrap();
        let resolved = python_resolve(&root.join("v/bin/python").to_string_lossy());
        assert_eq!(
            resolved,
            root.join("real/venv/bin/python3").to_string_lossy()
        );
        // `v/..` is the parent of the link's target, not `root`.
        let up = python_resolve(&root.join("v/../venv/missing").to_string_lossy());
        assert_eq!(up, root.join("real/venv/missing").to_string_lossy());
        // A loop falls back to the raw string, as `_canonical_executable_path` does.
        std::os::unix::fs::symlink(root.join("b"), root.join("a")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("b")).unwrap();
        let raw = root.join("a/python").to_string_lossy().into_owned();
        assert_eq!(python_resolve(&raw), raw);
    }
}
