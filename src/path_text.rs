//! Paths are bytes (`docs/json.md`, "Paths"): how a path that is not
//! plain UTF-8 text (a home under a non-UTF-8 directory name, a newline in
//! a name) reaches a person and a program without losing a byte.
//!
//! * Text for people: [`escaped`], the path as it is, or, when it holds
//!   bytes that are not UTF-8, a control character or a leading `"`, quoted
//!   with Rust's escapes (`"/tmp/h\xFFome\n"`), never with U+FFFD.
//! * A shell word to paste: [`shell_word`].
//! * A path in a `String` field compared as text (the foreground identity,
//!   as spec-kitty records its own): [`text`].
//! * JSON: [`PathText`] serializes a path as a string when it is UTF-8,
//!   else as `{"bytes_hex": "<its bytes in hex>"}`.
//!
//! A leaf: uses nothing of the crate.

use std::borrow::Cow;
use std::fmt;
use std::path::{Path, PathBuf};

/// `path` for a person: unchanged when it is UTF-8 with no control
/// character and no leading `"`, else quoted with escapes (`\xFF`, `\n`,
/// `\"`, `\\`), so every byte can be read back.
pub fn escaped(path: &Path) -> Cow<'_, str> {
    match path.to_str() {
        Some(s) if !s.starts_with('"') && !s.chars().any(char::is_control) => Cow::Borrowed(s),
        _ => Cow::Owned(format!("{path:?}")),
    }
}

/// `path` as a `String` field that must stay one (a value compared as
/// text, as spec-kitty records its own): the path itself when it is UTF-8,
/// else [`escaped`] (never U+FFFD).
pub fn text(path: &Path) -> String {
    match path.to_str() {
        Some(s) => s.to_string(),
        None => escaped(path).into_owned(),
    }
}

/// `path` as one shell word, to paste: unchanged when it has only safe
/// characters; single-quoted when it is UTF-8 text; else `$'…'` with
/// `\xHH` for every byte that is not printable text (bash, zsh, ksh).
pub fn shell_word(path: &Path) -> String {
    let bytes = path.as_os_str().as_encoded_bytes();
    let safe = |b: &u8| b.is_ascii_alphanumeric() || b"/._-+,:@%=".contains(b);
    if let Ok(s) = std::str::from_utf8(bytes) {
        if !s.is_empty() && bytes.iter().all(safe) {
            return s.to_string();
        }
        if !s.chars().any(char::is_control) {
            return format!("'{}'", s.replace('\'', "'\\''"));
        }
    }
    let mut out = String::from("$'");
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\'' => out.push_str("\\'"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let mut buf = [0u8; 4];
                    for b in c.encode_utf8(&mut buf).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('\'');
    out
}

/// A path in a report: shown [`escaped`], serialized losslessly (a JSON
/// string when it is UTF-8, else `{"bytes_hex": "…"}`), and read back from
/// either form.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathText(PathBuf);

impl PathText {
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    pub fn into_path_buf(self) -> PathBuf {
        self.0
    }

    /// The path's bytes, as the file system has them.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_os_str().as_encoded_bytes()
    }
}

impl std::ops::Deref for PathText {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for PathText {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl From<PathBuf> for PathText {
    fn from(p: PathBuf) -> PathText {
        PathText(p)
    }
}

impl From<&Path> for PathText {
    fn from(p: &Path) -> PathText {
        PathText(p.to_path_buf())
    }
}

impl From<&str> for PathText {
    fn from(p: &str) -> PathText {
        PathText(PathBuf::from(p))
    }
}

impl From<&PathBuf> for PathText {
    fn from(p: &PathBuf) -> PathText {
        PathText(p.clone())
    }
}

impl fmt::Display for PathText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escaped(&self.0))
    }
}

impl PartialEq<str> for PathText {
    fn eq(&self, other: &str) -> bool {
        self.0.as_os_str() == other
    }
}

impl PartialEq<String> for PathText {
    fn eq(&self, other: &String) -> bool {
        self.0.as_os_str() == other.as_str()
    }
}

impl PartialEq<&str> for PathText {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_os_str() == *other
    }
}

/// The lossless JSON form of a path that is not UTF-8.
#[derive(serde::Serialize, serde::Deserialize)]
struct Bytes {
    bytes_hex: String,
}

impl serde::Serialize for PathText {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.to_str() {
            Some(text) => s.serialize_str(text),
            None => Bytes {
                bytes_hex: hex::encode(self.as_bytes()),
            }
            .serialize(s),
        }
    }
}

impl<'de> serde::Deserialize<'de> for PathText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PathText, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Bytes(Bytes),
        }
        match Form::deserialize(d)? {
            Form::Text(t) => Ok(PathText(PathBuf::from(t))),
            Form::Bytes(b) => {
                use std::os::unix::ffi::OsStringExt;
                let bytes = hex::decode(&b.bytes_hex).map_err(serde::de::Error::custom)?;
                Ok(PathText(PathBuf::from(std::ffi::OsString::from_vec(bytes))))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    fn odd() -> PathBuf {
        PathBuf::from(OsStr::from_bytes(b"/tmp/h\xffome\nx y"))
    }

    #[test]
    fn a_plain_path_is_shown_as_it_is_an_odd_one_escaped_never_replaced() {
        assert_eq!(escaped(Path::new("/tmp/a b/q.db")), "/tmp/a b/q.db");
        assert_eq!(escaped(&odd()), r#""/tmp/h\xFFome\nx y""#);
        assert_eq!(escaped(Path::new("\"q")), r#""\"q""#);
        assert!(!escaped(&odd()).contains('\u{fffd}'));
    }

    #[test]
    fn a_shell_word_keeps_every_byte() {
        assert_eq!(shell_word(Path::new("/tmp/q.db")), "/tmp/q.db");
        assert_eq!(shell_word(Path::new("/tmp/it's")), r"'/tmp/it'\''s'");
        assert_eq!(shell_word(&odd()), r"$'/tmp/h\xffome\nx y'");
    }

    #[test]
    fn json_carries_a_path_losslessly_and_reads_it_back() {
        let plain = PathText::from(Path::new("/tmp/q.db"));
        assert_eq!(serde_json::to_string(&plain).unwrap(), r#""/tmp/q.db""#);
        let text = serde_json::to_string(&PathText::from(odd())).unwrap();
        assert_eq!(text, r#"{"bytes_hex":"2f746d702f68ff6f6d650a782079"}"#);
        for p in [plain, PathText::from(odd())] {
            let back: PathText = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
            assert_eq!(back, p);
        }
    }
}
