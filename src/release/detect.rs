//! Which release is installed: `--release` > `--spec-kitty`'s dist-info >
//! `spec-kitty` on `PATH` > the owner record's `package_version`. Pure: the
//! caller reads the candidates (see `identity::discover`, `owner::read`).

use std::fmt;

use serde::Serialize;

use super::{Release, Unsupported, Version, profile_for};

/// Where the release's version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseSource {
    /// `--release X.Y.Z`.
    Flag,
    /// The dist-info beside `--spec-kitty PATH`'s interpreter.
    SpecKitty,
    /// The dist-info of `spec-kitty` found on `PATH`.
    Path,
    /// The daemon owner record's `package_version` (last resort).
    OwnerRecord,
}

impl fmt::Display for ReleaseSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReleaseSource::Flag => "--release",
            ReleaseSource::SpecKitty => "--spec-kitty",
            ReleaseSource::Path => "spec-kitty on PATH",
            ReleaseSource::OwnerRecord => "the daemon's owner record",
        })
    }
}

/// The version each source offers (`None`: that source has none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidates {
    pub flag: Option<String>,
    pub spec_kitty: Option<String>,
    pub path: Option<String>,
    pub owner_record: Option<String>,
}

/// The outcome of detection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    Known(Release),
    /// A version was found, but this build has no profile for it.
    Unsupported {
        version: Version,
        source: ReleaseSource,
        why: Unsupported,
    },
    /// No source named a version.
    Unknown,
}

impl Detection {
    pub fn release(&self) -> Option<&Release> {
        match self {
            Detection::Known(r) => Some(r),
            _ => None,
        }
    }

    /// Why no profile applies, for messages; `None` when one does.
    pub fn why_unknown(&self) -> Option<String> {
        match self {
            Detection::Known(_) => None,
            Detection::Unsupported {
                version,
                source,
                why: Unsupported::Prerelease,
            } => Some(format!(
                "spec-kitty {version} (from {source}) is a pre-release or yanked build whose rules this build does not know"
            )),
            Detection::Unsupported {
                version, source, ..
            } => Some(format!(
                "spec-kitty {version} (from {source}) is not a release this build knows (it knows {})",
                super::SUPPORTED_RANGE
            )),
            Detection::Unknown => Some(
                "no spec-kitty release found (no --release, no --spec-kitty, no spec-kitty on PATH, no owner record)"
                    .to_string(),
            ),
        }
    }
}

/// Decide the release from the candidates, first source that names a
/// version-shaped value wins (pure).
pub fn detect(c: &Candidates) -> Detection {
    let ordered = [
        (&c.flag, ReleaseSource::Flag),
        (&c.spec_kitty, ReleaseSource::SpecKitty),
        (&c.path, ReleaseSource::Path),
        (&c.owner_record, ReleaseSource::OwnerRecord),
    ];
    for (value, source) in ordered {
        let Some(version) = value.as_deref().and_then(Version::parse) else {
            continue;
        };
        return match profile_for(&version) {
            Ok(profile) => Detection::Known(Release {
                version,
                source,
                profile,
            }),
            Err(why) => Detection::Unsupported {
                version,
                source,
                why,
            },
        };
    }
    Detection::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn some(s: &str) -> Option<String> {
        Some(s.to_string())
    }

    #[test]
    fn the_first_source_with_a_version_wins() {
        let all = Candidates {
            flag: some("3.0.3"),
            spec_kitty: some("3.1.10"),
            path: some("3.2.5"),
            owner_record: some("3.2.7"),
        };
        let d = detect(&all);
        let r = d.release().unwrap();
        assert_eq!(
            (r.version.as_str(), r.source),
            ("3.0.3", ReleaseSource::Flag)
        );
        let d = detect(&Candidates {
            flag: None,
            ..all.clone()
        });
        assert_eq!(d.release().unwrap().source, ReleaseSource::SpecKitty);
        let d = detect(&Candidates {
            flag: None,
            spec_kitty: None,
            ..all.clone()
        });
        assert_eq!(d.release().unwrap().source, ReleaseSource::Path);
        let d = detect(&Candidates {
            owner_record: some("3.2.7"),
            ..Candidates::default()
        });
        assert_eq!(d.release().unwrap().source, ReleaseSource::OwnerRecord);
    }

    #[test]
    fn values_that_are_not_versions_are_skipped() {
        let d = detect(&Candidates {
            path: some("not a version"),
            owner_record: some("3.2.0"),
            ..Candidates::default()
        });
        assert_eq!(d.release().unwrap().source, ReleaseSource::OwnerRecord);
    }

    #[test]
    fn nothing_or_an_unknown_version_is_said_plainly() {
        assert_eq!(detect(&Candidates::default()), Detection::Unknown);
        let d = detect(&Candidates {
            flag: some("3.2.9"),
            ..Candidates::default()
        });
        assert!(matches!(
            d,
            Detection::Unsupported {
                why: Unsupported::Unknown,
                ..
            }
        ));
        assert!(d.why_unknown().unwrap().contains("3.2.9"));
        assert!(
            Detection::Unknown
                .why_unknown()
                .unwrap()
                .contains("--release")
        );
    }
}
