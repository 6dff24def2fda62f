//! The owner record as a file: read strictly (capped, regular files only,
//! reasons that never quote a value) and written atomically (0600, the only
//! place the token is serialised).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;

use super::{FIELDS, OwnerRecord, is_utc_timestamp};

/// owner.json larger than this is malformed (it is a dozen short fields).
const MAX_RECORD_BYTES: u64 = crate::fsutil::READ_CAP;

/// Facts about the file itself (not its content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFacts {
    /// Permission bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Keys the record has beyond `docs/daemon.md` (names only; values are never kept).
    pub unknown_fields: Vec<String>,
}

impl FileFacts {
    /// Group or others may access the file: the doctor reports
    /// `owner_record_permissions` (it holds a token).
    pub fn permissions_too_open(&self) -> bool {
        self.mode & 0o077 != 0
    }
}

/// What [`read`] found.
// Read once per run: boxing the record would only make matching clumsier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerRead {
    Absent,
    Present(OwnerRecord, FileFacts),
    /// The file exists but is not a valid record. `reason` never holds a value
    /// from the file. `mode` is known whenever the file could be opened.
    Malformed {
        reason: String,
        mode: Option<u32>,
    },
}

/// Read and validate the owner record at `path`. Never panics on content.
pub fn read(path: &Path) -> Result<OwnerRead, Error> {
    // Opened without blocking (a FIFO has no writer to wait for), checked on
    // the open file, read up to the cap (fsutil). A file that is not a
    // regular one, or too large, is a malformed record, not an error.
    let (bytes, meta) = match crate::fsutil::read_regular(path, MAX_RECORD_BYTES) {
        Ok(Some(found)) => found,
        Ok(None) => return Ok(OwnerRead::Absent),
        Err(e @ (Error::NotRegularFile { .. } | Error::TooLarge { .. })) => {
            let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
            let reason = match e {
                Error::NotRegularFile { .. } => "it is not a regular file".to_string(),
                _ => format!("it is larger than {MAX_RECORD_BYTES} bytes"),
            };
            return Ok(OwnerRead::Malformed {
                reason,
                mode: Some(file_mode(&meta)),
            });
        }
        Err(e) => return Err(e),
    };
    let mode = file_mode(&meta);
    Ok(match parse(&bytes) {
        Ok((record, unknown_fields)) => OwnerRead::Present(
            record,
            FileFacts {
                mode,
                unknown_fields,
            },
        ),
        Err(reason) => OwnerRead::Malformed {
            reason,
            mode: Some(mode),
        },
    })
}

/// Parse owner.json bytes: the record and the names of unknown keys, or a
/// sanitized reason.
pub fn parse(bytes: &[u8]) -> Result<(OwnerRecord, Vec<String>), String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| sanitize_json_error(&e))?;
    let record = OwnerRecord::from_json(&value)?;
    let unknown = value
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| !FIELDS.contains(&k.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Ok((record, unknown))
}

/// A serde_json error as category and position only: some serde_json messages
/// quote input, and owner.json holds a token.
fn sanitize_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let at = format!("line {}, column {}", e.line(), e.column());
    match e.classify() {
        Category::Eof => format!("it is not valid JSON: the text ends early ({at}); truncated?"),
        Category::Syntax => format!("it is not valid JSON (syntax error at {at})"),
        Category::Data => format!("it is not valid JSON of the expected shape (at {at})"),
        Category::Io => "it could not be read as JSON".to_string(),
    }
}

fn file_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

/// Write `record` atomically to `path`: a temp file in the same directory
/// (created 0600), write, fsync, chmod 0600, rename over `path`, fsync the
/// directory. Missing parent directories are created 0700. This is the only
/// place the token is serialized.
pub fn write(path: &Path, record: &OwnerRecord) -> Result<(), Error> {
    if !is_utc_timestamp(&record.started_at) {
        return Err(Error::OwnerWrite {
            path: path.to_path_buf(),
            detail: "started_at is not an ISO-8601 timestamp in UTC".to_string(),
        });
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    crate::fsutil::create_private_dir_all(&dir)?;
    let mut bytes =
        serde_json::to_vec_pretty(&record.on_disk()).map_err(|e| Error::OwnerWrite {
            path: path.to_path_buf(),
            detail: format!("cannot encode the record ({:?} error)", e.classify()),
        })?;
    bytes.push(b'\n');

    let mut tmp = tempfile::Builder::new()
        .prefix(".owner.json.")
        .suffix(".tmp")
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    let tmp_path = tmp.path().to_path_buf();
    set_private(tmp.as_file(), &tmp_path)?;
    tmp.write_all(&bytes).map_err(|e| Error::io(&tmp_path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(&tmp_path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    crate::fsutil::sync_dir(&dir)
}

fn set_private(file: &std::fs::File, path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .map_err(|e| Error::io(path, e))
}
