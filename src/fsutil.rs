//! Files that hold state: created owner-only and never through a symbolic
//! link; read without blocking, only when regular, and size-capped.
//!
//! Every file the tools read (config, credentials, session, salt, owner
//! record, daemon state file, `--foreground`, entry points) goes through
//! [`read_regular`] / [`open_regular`]: a FIFO, device, socket or directory
//! is refused at once (the open is `O_NONBLOCK`, so a FIFO with no writer
//! cannot hang it), and so is a file larger than its cap.
//! Every file the tools create or append ([`open_private_append`],
//! [`create_private_new`], [`create_private_empty`]) is opened with
//! `O_NOFOLLOW` and mode 0600.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::Error;

/// The cap for the small text files of a home (config, credentials, session,
/// owner record, state files, `--foreground`): 1 MiB.
pub const READ_CAP: u64 = 1 << 20;

const NOFOLLOW: i32 = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
const NONBLOCK: i32 = rustix::fs::OFlags::NONBLOCK.bits() as i32;

/// What a non-regular file is, for messages.
pub fn kind_of(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        "directory"
    } else if t.is_fifo() {
        "FIFO (named pipe)"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_socket() {
        "socket"
    } else if t.is_symlink() {
        "symbolic link"
    } else {
        "regular file"
    }
}

/// Open `path` for reading without blocking and check (on the open file)
/// that it is a regular file. `Ok(None)` when it does not exist.
pub fn open_regular(path: &Path) -> Result<Option<(File, Metadata)>, Error> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => {
            return Ok(None);
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        });
    }
    Ok(Some((file, meta)))
}

/// Read a regular file of at most `cap` bytes; `Ok(None)` when it does not
/// exist. The metadata is the open file's (`fstat`).
pub fn read_regular(path: &Path, cap: u64) -> Result<Option<(Vec<u8>, Metadata)>, Error> {
    let Some((file, meta)) = open_regular(path)? else {
        return Ok(None);
    };
    let too_large = || Error::TooLarge {
        path: path.to_path_buf(),
        cap,
    };
    if meta.len() > cap {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > cap {
        return Err(too_large());
    }
    Ok(Some((bytes, meta)))
}

/// A UTF-8 text file of at most [`READ_CAP`] bytes, `None` when it does not exist.
pub fn read_text(path: &Path) -> Result<Option<String>, Error> {
    let Some((bytes, _)) = read_regular(path, READ_CAP)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .map_err(|_| Error::Malformed {
            path: path.to_path_buf(),
            detail: "it is not UTF-8 text".to_string(),
        })
}

/// A symbolic link at `path` is refused ([`Error::Symlink`]).
pub fn refuse_symlink(path: &Path) -> Result<(), Error> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(Error::Symlink {
            path: path.to_path_buf(),
        }),
        _ => Ok(()),
    }
}

/// Where `path` really leads when it is a symbolic link (or lies in a
/// linked directory) that escapes `root`: `Some(target)`. A dangling link
/// escapes by definition (its target is shown as written).
pub fn escapes_root(root: &Path, path: &Path) -> Option<PathBuf> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_symlink() {
        return None;
    }
    let real_root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    match fs::canonicalize(path) {
        Ok(target) if target.starts_with(&real_root) => None,
        Ok(target) => Some(target),
        Err(_) => Some(fs::read_link(path).unwrap_or_default()),
    }
}

/// Refuse `path` when it is a symbolic link leading outside `root`.
pub fn check_inside(root: &Path, path: &Path) -> Result<(), Error> {
    match escapes_root(root, path) {
        None => Ok(()),
        Some(target) => Err(Error::SymlinkOutsideHome {
            path: path.to_path_buf(),
            root: root.to_path_buf(),
            target,
        }),
    }
}

/// Map an open error: `O_NOFOLLOW` on a link fails with `ELOOP`.
fn open_error(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
        return Error::Symlink {
            path: path.to_path_buf(),
        };
    }
    Error::io(path, e)
}

/// Create `path` as a new file (mode 0600, never through a link); fails when
/// anything exists there.
pub fn create_private_new(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(NOFOLLOW)
        .open(path)
        .map_err(|e| open_error(path, e))
}

/// Create `path` as an empty file with mode 0600; an existing regular file
/// is kept, a symbolic link is refused.
pub fn create_private_empty(path: &Path) -> Result<(), Error> {
    match create_private_new(path) {
        Ok(_) => Ok(()),
        Err(Error::Io { source, .. }) if source.kind() == ErrorKind::AlreadyExists => {
            refuse_symlink(path)
        }
        Err(e) => Err(e),
    }
}

/// Create `dir` and its missing parents with mode 0700.
pub fn create_private_dir_all(dir: &Path) -> Result<(), Error> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io(dir, e))
}

/// Open `path` for appending, creating it with mode 0600; never through a
/// symbolic link, never anything but a regular file.
pub fn open_private_append(path: &Path) -> Result<File, Error> {
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .custom_flags(NOFOLLOW | NONBLOCK)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::NotRegularFile {
            path: path.to_path_buf(),
            kind: kind_of(&meta),
        });
    }
    Ok(file)
}

/// Open an existing regular file for reading and writing (truncating,
/// appending), never through a link. `Ok(None)` when it does not exist.
pub fn open_private_rw(path: &Path) -> Result<Option<File>, Error> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(NOFOLLOW | NONBLOCK)
        .open(path)
    {
        Ok(f) => {
            let meta = f.metadata().map_err(|e| Error::io(path, e))?;
            if !meta.is_file() {
                return Err(Error::NotRegularFile {
                    path: path.to_path_buf(),
                    kind: kind_of(&meta),
                });
            }
            Ok(Some(f))
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(open_error(path, e)),
    }
}

/// Are `a` and `b` one file (same device and inode, links followed): a
/// hard link, a bind mount, a link? `false` when either is missing.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => false,
    }
}

/// fsync a regular file (nothing when it does not exist): its data reaches
/// the disk now, not inside a later commit.
pub fn sync_file(path: &Path) -> Result<(), Error> {
    match open_regular(path)? {
        Some((file, _)) => file.sync_all().map_err(|e| Error::io(path, e)),
        None => Ok(()),
    }
}

/// fsync a directory, so a rename or link in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), Error> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_file_flushes_a_regular_file_and_refuses_anything_else() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("queue.db");
        sync_file(&p).unwrap();
        std::fs::write(&p, b"rows").unwrap();
        sync_file(&p).unwrap();
        let fifo = dir.path().join("fifo.db");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        let err = sync_file(&fifo).unwrap_err().to_string();
        assert!(err.contains("fifo.db"), "{err}");
        assert!(sync_file(dir.path()).is_err());
    }

    #[test]
    fn a_fifo_is_refused_at_once_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        rustix::fs::mkfifoat(rustix::fs::CWD, &p, rustix::fs::Mode::from_raw_mode(0o600)).unwrap();
        let err = read_text(&p).unwrap_err().to_string();
        assert!(err.contains("FIFO") && err.contains("config.toml"), "{err}");
    }

    #[test]
    fn oversized_and_device_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'x'; 20]).unwrap();
        assert!(matches!(
            read_regular(&p, 10),
            Err(Error::TooLarge { cap: 10, .. })
        ));
        assert!(read_regular(&p, 20).unwrap().is_some());
        let err = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotRegularFile {
                    kind: "character device",
                    ..
                }
            ),
            "{err}"
        );
        assert!(read_text(&dir.path().join("absent")).unwrap().is_none());
    }

    #[test]
    fn appends_and_creations_never_follow_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        let link = dir.path().join("journal");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(matches!(
            open_private_append(&link),
            Err(Error::Symlink { .. })
        ));
        assert!(matches!(
            create_private_empty(&link),
            Err(Error::Symlink { .. })
        ));
        assert!(!outside.exists(), "a dangling link created its target");
        let f = dir.path().join("f");
        open_private_append(&f).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn links_inside_the_root_are_fine_outside_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("home");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("queues")).unwrap();
        check_inside(&root, &root.join("queues")).unwrap();
        std::os::unix::fs::symlink(dir.path(), root.join("away")).unwrap();
        let err = check_inside(&root, &root.join("away")).unwrap_err();
        assert!(matches!(err, Error::SymlinkOutsideHome { .. }), "{err}");
    }
}
