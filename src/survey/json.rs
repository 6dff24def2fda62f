//! The JSON files of a home the survey reads (the release's layout record
//! and manifests, our cutover records), each as a [`Seen`].

use std::path::Path;

use crate::seen::Seen;

/// A JSON file: `Known(None)` when it does not exist; one that cannot be
/// read or is not JSON is [`Seen::Unreadable`].
pub fn json_file(path: &Path) -> Seen<Option<serde_json::Value>> {
    let text = match crate::fsutil::read_text(path) {
        Ok(text) => text,
        Err(e) => return Seen::read(path, Err(e)),
    };
    Seen::read(path, text.map(|t| serde_json::from_str(&t)).transpose())
}
