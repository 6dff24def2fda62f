//! A spec-kitty-cli version number, as its dist-info and owner records spell it.
//!
//! Parsed and ordered as PEP 440 by `pep440_rs` (the parser uv was built on):
//! four-part releases (`3.2.6.1`), pre-releases (`4.0.0rc1`, `4.2.0a1`), post
//! (`3.2.7.post1`) and dev (`3.3.0.dev2`) releases, local labels. This crate
//! only narrows what it accepts from a file or a flag: at most 32 characters,
//! two to four release numbers that fit a `u32`, no epoch.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

/// A version: PEP 440 ordered (`4.0.0rc1` < `4.0.0` < `4.0.0.post1`,
/// `3.2.6` < `3.2.6.1` < `3.2.7`), equal when PEP 440 says so (`3.2` ==
/// `3.2.0`), shown as given.
#[derive(Debug, Clone)]
pub struct Version {
    pep440: pep440_rs::Version,
    parts: [u32; 4],
    text: String,
}

impl Version {
    /// Parse a version; `None` when `s` is not a PEP 440 version of the
    /// shape releases use (at most 32 characters, 2–4 release numbers, no
    /// epoch).
    pub fn parse(s: &str) -> Option<Version> {
        let text = s.trim();
        if text.is_empty() || text.len() > 32 || !text.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        let pep440 = pep440_rs::Version::from_str(text).ok()?;
        let release = pep440.release();
        if pep440.epoch() != 0 || !(2..=4).contains(&release.len()) {
            return None;
        }
        let mut parts = [0u32; 4];
        for (p, n) in parts.iter_mut().zip(release) {
            *p = u32::try_from(*n).ok()?;
        }
        Some(Version {
            pep440,
            parts,
            text: text.to_string(),
        })
    }

    /// The version as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A pre-release (`a`, `b`, `rc`) or dev release.
    pub fn is_prerelease(&self) -> bool {
        self.pep440.any_prerelease()
    }

    /// A final release: no pre, dev, post or local part (the only kind the
    /// release table has rows for).
    pub fn is_final(&self) -> bool {
        !self.pep440.any_prerelease() && !self.pep440.is_post() && !self.pep440.is_local()
    }

    /// The release numbers, padded with zeros.
    pub(crate) fn parts(&self) -> [u32; 4] {
        self.parts
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Version) -> bool {
        self.pep440 == other.pep440
    }
}

impl Eq for Version {}

impl Hash for Version {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.pep440.hash(state);
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.pep440.cmp(&other.pep440)
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Version) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn parses_release_shapes() {
        assert_eq!(v("3.2.7").parts(), [3, 2, 7, 0]);
        assert_eq!(v("3.2.6.2").parts(), [3, 2, 6, 2]);
        assert_eq!(v(" 2.1 ").parts(), [2, 1, 0, 0]);
        assert_eq!(v(" 2.1 ").as_str(), "2.1");
        assert!(v("4.0.0rc3").is_prerelease());
        assert!(v("4.2.0a1").is_prerelease());
        assert!(v("3.3.0.dev2").is_prerelease());
        assert!(!v("3.2.7.post1").is_prerelease());
        assert!(!v("3.2.7.post1").is_final());
        assert!(!v("3.2.7+local.1").is_final());
        assert!(!v("3.2.7").is_prerelease());
        assert!(v("3.2.7").is_final());
        assert!(v("3.2.6.1").is_final());
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for s in [
            "",
            "3",
            "x.y",
            "3..2",
            "1.2.3.4.5",
            "1!3.2.7",
            "v3.2.7",
            "3.2.7; rm -rf /",
            "ghp_secrettokenvalue",
            "99999999999.1",
            &"1.".repeat(40),
        ] {
            assert!(Version::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn orders_as_pep_440() {
        assert!(v("3.2.10") > v("3.2.9"));
        assert!(v("3.2.6.1") > v("3.2.6"));
        assert!(v("3.2.6.2") < v("3.2.7"));
        assert!(v("4.0.0rc1") < v("4.0.0"));
        assert!(v("4.0.0a1") < v("4.0.0b1"));
        assert!(v("4.0.0b1") < v("4.0.0rc1"));
        assert!(v("4.0.0.dev1") < v("4.0.0a1"));
        assert!(v("3.2.7") < v("3.2.7.post1"));
        assert!(v("3.2.7.post1") < v("3.2.7.1"));
        assert!(v("3.0.3") < v("3.1.0"));
        assert_eq!(v("3.2"), v("3.2.0"));
        assert_eq!(v("4.0.0RC1"), v("4.0.0rc1"));
    }
}
