//! A spec-kitty-cli version number, as its dist-info and owner records spell it.

use std::cmp::Ordering;
use std::fmt;

/// `X.Y[.Z[.W]]` with an optional pre-release/dev suffix (`3.2.6.2`,
/// `4.0.0rc1`). Ordered numerically; a suffixed version sorts before the
/// same numbers without one (`4.0.0rc1` < `4.0.0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Version {
    parts: [u32; 4],
    suffix: Option<String>,
    text: String,
}

impl Version {
    /// Parse a version; `None` when `s` is not version-shaped (at most 32
    /// characters, 2–4 numeric parts, an optional alphanumeric suffix).
    pub fn parse(s: &str) -> Option<Version> {
        let text = s.trim();
        if text.is_empty() || text.len() > 32 {
            return None;
        }
        let end = text
            .char_indices()
            .find(|&(i, c)| !(c.is_ascii_digit() || (c == '.' && i > 0)))
            .map_or(text.len(), |(i, _)| i);
        let (numbers, suffix) = text.split_at(end);
        let numbers = numbers.trim_end_matches('.');
        let suffix = suffix.trim_start_matches(['.', '-', '_']);
        if !suffix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '+')
        {
            return None;
        }
        let mut parts = [0u32; 4];
        let mut n = 0;
        for piece in numbers.split('.') {
            if n == 4 || piece.is_empty() {
                return None;
            }
            parts[n] = piece.parse().ok()?;
            n += 1;
        }
        if n < 2 {
            return None;
        }
        Some(Version {
            parts,
            suffix: (!suffix.is_empty()).then(|| suffix.to_string()),
            text: text.to_string(),
        })
    }

    /// The version as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Pre-release, dev or local suffix (`rc1`, `a1`, `dev0`), if any.
    pub fn is_prerelease(&self) -> bool {
        self.suffix.is_some()
    }

    /// The numeric parts, padded with zeros.
    pub(crate) fn parts(&self) -> [u32; 4] {
        self.parts
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Version) -> Ordering {
        self.parts
            .cmp(&other.parts)
            // A suffixed version precedes the plain one.
            .then_with(|| match (&self.suffix, &other.suffix) {
                (None, None) => Ordering::Equal,
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (Some(a), Some(b)) => a.cmp(b),
            })
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
        assert!(v("4.0.0rc3").is_prerelease());
        assert!(v("4.2.0a1").is_prerelease());
        assert!(!v("3.2.7").is_prerelease());
    }

    #[test]
    fn refuses_what_is_not_a_version() {
        for s in [
            "",
            "3",
            "x.y",
            "3..2",
            "1.2.3.4.5",
            "3.2.7; rm -rf /",
            "ghp_secrettokenvalue",
            "99999999999.1",
            &"1.".repeat(40),
        ] {
            assert!(Version::parse(s).is_none(), "{s:?}");
        }
    }

    #[test]
    fn orders_numerically_with_prereleases_first() {
        assert!(v("3.2.10") > v("3.2.9"));
        assert!(v("3.2.6.1") > v("3.2.6"));
        assert!(v("3.2.6.2") < v("3.2.7"));
        assert!(v("4.0.0rc1") < v("4.0.0"));
        assert!(v("3.0.3") < v("3.1.0"));
    }
}
