//! A fact read from disk or from the kernel, or why it could not be: a
//! failed read is a value ([`Seen::Unreadable`]), never a zero or an empty
//! set, so whoever decides from it can tell "none" from "not known".
//!
//! Owns: the type. Never reads anything itself. Contract: `docs/architecture.md`
//! ("The survey").

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A read that failed: the file (or kernel table) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    pub path: PathBuf,
    pub why: String,
}

impl Unreadable {
    pub fn new(path: &Path, why: impl fmt::Display) -> Unreadable {
        Unreadable {
            path: path.to_path_buf(),
            why: why.to_string(),
        }
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} could not be read: {}",
            crate::path_text::escaped(&self.path),
            self.why
        )
    }
}

/// A fact as far as it could be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen<T> {
    Known(T),
    /// The read failed: the file and why.
    Unreadable(Unreadable),
    /// This platform cannot tell at all (e.g. which processes hold a file,
    /// off Linux): what is not known.
    NotOnThisPlatform(&'static str),
}

impl<T> Seen<T> {
    /// `result` of reading `path`, as a fact.
    pub fn read<E: fmt::Display>(path: &Path, result: Result<T, E>) -> Seen<T> {
        match result {
            Ok(v) => Seen::Known(v),
            Err(e) => Seen::Unreadable(Unreadable::new(path, e)),
        }
    }

    pub fn known(&self) -> Option<&T> {
        match self {
            Seen::Known(v) => Some(v),
            _ => None,
        }
    }

    /// The failed read, if this is one.
    pub fn unreadable(&self) -> Option<&Unreadable> {
        match self {
            Seen::Unreadable(u) => Some(u),
            _ => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Seen<U> {
        match self {
            Seen::Known(v) => Seen::Known(f(v)),
            Seen::Unreadable(u) => Seen::Unreadable(u),
            Seen::NotOnThisPlatform(what) => Seen::NotOnThisPlatform(what),
        }
    }

    /// This fact read further (`f` may fail in its turn).
    pub fn and_then<U>(self, f: impl FnOnce(T) -> Seen<U>) -> Seen<U> {
        match self {
            Seen::Known(v) => f(v),
            Seen::Unreadable(u) => Seen::Unreadable(u),
            Seen::NotOnThisPlatform(what) => Seen::NotOnThisPlatform(what),
        }
    }

    /// The fact, or `T`'s zero/empty when it is not known; the failed read
    /// goes into `unreadable` first, so it is kept even where a caller still
    /// decides from the zero. Every call is a place that still degrades a
    /// failed read to zero (issue 29, "no write from an incomplete survey"):
    /// grep for it.
    pub fn known_or_default(self, unreadable: &mut Vec<Unreadable>) -> T
    where
        T: Default,
    {
        match self {
            Seen::Known(v) => v,
            Seen::Unreadable(u) => {
                unreadable.push(u);
                T::default()
            }
            Seen::NotOnThisPlatform(_) => T::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_read_is_kept_where_it_still_degrades_to_zero() {
        let path = Path::new("/h/projects/p/sync/sync.db");
        let ok: Seen<u64> = Seen::read(path, Ok::<u64, String>(7));
        let bad: Seen<u64> = Seen::read(path, Err("file is not a database"));
        assert_eq!(ok.known(), Some(&7));
        assert_eq!(bad.known(), None);
        assert_eq!(
            bad.unreadable().map(ToString::to_string).as_deref(),
            Some("/h/projects/p/sync/sync.db could not be read: file is not a database")
        );
        let mut lost = Vec::new();
        assert_eq!(ok.known_or_default(&mut lost), 7);
        assert!(lost.is_empty());
        assert_eq!(bad.map(|n| n + 1).known_or_default(&mut lost), 0);
        assert_eq!(lost, vec![Unreadable::new(path, "file is not a database")]);
        let untold: Seen<Vec<u32>> = Seen::NotOnThisPlatform("open files");
        assert_eq!(untold.known_or_default(&mut lost), Vec::<u32>::new());
        assert_eq!(lost.len(), 1, "not a failed read");
    }
}
