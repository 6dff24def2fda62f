//! The run context both tools start from: which spec-kitty release is
//! installed, where its home is, and the environment it reads. Resolved once,
//! from the flags and the process environment (effects: it reads the
//! entry point's dist-info and the owner record, and runs nothing).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::doctor::identity::{self, Install};
use crate::doctor::owner::{self, OwnerRead};
use crate::error::Error;
use crate::home::Home;
use crate::login::Env;
use crate::release::{self, Candidates, Detection, Profile, ReleaseView, RootRule};

/// What the binaries pass in.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    /// `--home DIR`.
    pub home: Option<PathBuf>,
    /// `--release X.Y.Z`.
    pub release: Option<String>,
    /// `--spec-kitty PATH`.
    pub spec_kitty: Option<PathBuf>,
    /// `$PATH`, `$HOME`, `$SPEC_KITTY_HOME`.
    pub path_var: Option<OsString>,
    pub user_home: Option<OsString>,
    pub spec_kitty_home: Option<OsString>,
}

impl ContextOptions {
    /// The flags given, with the process environment.
    pub fn from_process(
        home: Option<PathBuf>,
        release: Option<String>,
        spec_kitty: Option<PathBuf>,
    ) -> ContextOptions {
        ContextOptions {
            home,
            release,
            spec_kitty,
            path_var: std::env::var_os("PATH"),
            user_home: std::env::var_os("HOME"),
            spec_kitty_home: std::env::var_os("SPEC_KITTY_HOME"),
        }
    }
}

/// The resolved context.
#[derive(Debug, Clone)]
pub struct Context {
    pub home: Home,
    pub detection: Detection,
    /// The profile every rule follows: the detected release's, else the
    /// default one (and then nothing may be written).
    pub profile: &'static Profile,
    /// What discovery of the installed CLI found.
    pub install: Install,
    /// Notes for the user: an ignored `SPEC_KITTY_HOME`, an unknown release.
    pub notes: Vec<String>,
}

impl Context {
    /// `release` as the outputs show it.
    pub fn release_view(&self) -> ReleaseView {
        self.detection
            .release()
            .map_or_else(ReleaseView::unknown, release::Release::view)
    }

    /// The environment scope resolution reads, under this release.
    pub fn env(&self) -> Env {
        Env::from_process(self.profile)
    }
}

/// The owner record's `package_version`, if a readable record is there.
fn owner_version(root: &Path) -> Option<String> {
    match owner::read(&Home::at(root).owner_record()) {
        Ok(OwnerRead::Present(record, _)) => Some(record.package_version),
        _ => None,
    }
}

/// Resolve the context: discovery, detection, then the home by the
/// release's own root rule (`--home` always wins).
pub fn resolve(opts: &ContextOptions) -> Result<Context, Error> {
    let install = identity::discover(opts.spec_kitty.as_deref(), opts.path_var.as_deref())?;
    let explicit = opts.spec_kitty.is_some();
    let mut candidates = Candidates {
        flag: opts.release.clone(),
        spec_kitty: install.package_version.clone().filter(|_| explicit),
        path: install.package_version.clone().filter(|_| !explicit),
        owner_record: None,
    };
    let env_home = opts.spec_kitty_home.clone().filter(|v| !v.is_empty());
    if candidates.flag.is_none() && install.package_version.is_none() {
        // Last resort: the daemon's record, in the homes a release could use.
        let roots = [
            opts.home.clone(),
            env_home.clone().map(PathBuf::from),
            opts.user_home
                .clone()
                .filter(|v| !v.is_empty())
                .map(|h| Home::default_root(Path::new(&h))),
        ];
        candidates.owner_record = roots.iter().flatten().find_map(|r| owner_version(r));
    }
    let detection = release::detect(&candidates);
    let profile = detection
        .release()
        .map_or(release::DEFAULT_PROFILE, |r| r.profile);
    let mut notes = Vec::new();
    // Unknown release: honour SPEC_KITTY_HOME as current releases do.
    let rule = detection
        .release()
        .map_or(RootRule::EnvThenUserHome, |r| r.profile.root);
    let honoured = match rule {
        RootRule::EnvThenUserHome => env_home.clone(),
        RootRule::UserHome => {
            if let (Some(v), None, Some(r)) = (&env_home, &opts.home, detection.release()) {
                notes.push(format!(
                    "SPEC_KITTY_HOME={} is ignored: spec-kitty {} keeps its home in ~/.spec-kitty",
                    Path::new(v).display(),
                    r.version
                ));
            }
            None
        }
    };
    let home = Home::resolve(opts.home.as_deref(), honoured, opts.user_home.clone())?;
    if let Some(why) = detection.why_unknown() {
        notes.push(why);
    }
    Ok(Context {
        home,
        detection,
        profile,
        install,
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(release: &str, sk_home: Option<&str>) -> ContextOptions {
        ContextOptions {
            release: Some(release.to_string()),
            path_var: Some(OsString::new()),
            user_home: Some("/u".into()),
            spec_kitty_home: sk_home.map(OsString::from),
            ..ContextOptions::default()
        }
    }

    #[test]
    fn spec_kitty_home_follows_the_release() {
        let old = resolve(&opts("3.2.2", Some("/sk"))).unwrap();
        assert_eq!(old.home.root(), Path::new("/u/.spec-kitty"));
        assert!(old.notes[0].contains("SPEC_KITTY_HOME=/sk is ignored"));
        let new = resolve(&opts("3.2.3", Some("/sk"))).unwrap();
        assert_eq!(new.home.root(), Path::new("/sk"));
        assert!(new.notes.is_empty());
    }

    #[test]
    fn no_release_is_said() {
        let mut o = opts("x", None);
        o.release = None;
        let c = resolve(&o).unwrap();
        assert!(c.detection.release().is_none());
        assert_eq!(c.release_view(), ReleaseView::unknown());
        assert!(c.notes.iter().any(|n| n.contains("--release")));
    }
}
