//! Foreground scope resolution: which scope the installed release would use
//! for this home and environment (`docs/home.md`, `docs/session.md`).

use std::fmt;

use serde::Serialize;

use crate::home::Home;
use crate::login::config::{self, Config, Credentials};
use crate::login::session;
use crate::release::{IdentityRule, Profile, ScopeRule};

use crate::scope::Scope;

/// `SPEC_KITTY_ENABLE_SAAS_SYNC` is on when its trimmed, case-folded value is
/// one of `1`, `true`, `yes`, `on`.
pub fn saas_sync_enabled(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.trim().to_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// [`saas_sync_enabled`] for the process environment.
pub fn saas_sync_enabled_from_env() -> bool {
    saas_sync_enabled(std::env::var("SPEC_KITTY_ENABLE_SAAS_SYNC").ok().as_deref())
}

/// Where a resolved scope came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeSource {
    Flag,
    Session,
    Credentials,
}

impl fmt::Display for ScopeSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ScopeSource::Flag => "--scope",
            ScopeSource::Session => "session",
            ScopeSource::Credentials => "credentials",
        })
    }
}

/// The foreground's authenticated identity, as far as it resolves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedScope {
    pub scope: Scope,
    pub source: ScopeSource,
    /// The principal (user/email) as written in its source, before normalisation.
    pub principal: String,
    pub team: String,
}

/// Outcome of scope resolution: the scope when one resolves, the server URL in
/// force, and every diagnostic met on the way (unreadable files, refused
/// session). Diagnostics never stop resolution; the caller decides.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    pub scope: Option<ResolvedScope>,
    pub server_url: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// A problem met while resolving, with the file it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub path: crate::path_text::PathText,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `path: message`, or the message alone when it names the path already.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.contains(&self.path.to_string()) {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// What scope resolution reads besides the home: the environment and the
/// installed release's rules.
#[derive(Debug, Clone)]
pub struct Env {
    /// `SPEC_KITTY_ENABLE_SAAS_SYNC` is on.
    pub saas_enabled: bool,
    /// `SPEC_KITTY_SAAS_URL`, as set.
    pub saas_url: Option<String>,
    pub profile: &'static Profile,
}

impl Env {
    /// The environment of a 3.2.0 CLI with SaaS sync as given (tests, defaults).
    pub fn with_saas(saas_enabled: bool) -> Env {
        Env {
            saas_enabled,
            saas_url: None,
            profile: crate::release::DEFAULT_PROFILE,
        }
    }

    /// The process environment, under `profile`.
    pub fn from_process(profile: &'static Profile) -> Env {
        Env {
            saas_enabled: saas_sync_enabled_from_env(),
            saas_url: std::env::var("SPEC_KITTY_SAAS_URL").ok(),
            profile,
        }
    }
}

impl Default for Env {
    fn default() -> Env {
        Env::with_saas(false)
    }
}

/// Resolve the foreground's queue scope as the installed release does:
/// `--scope` wins; else the release's identity sources in order; else none.
pub fn resolve(home: &Home, flag: Option<&Scope>, env: &Env) -> Resolution {
    let mut diagnostics = Vec::new();
    let config = match config::read_config(&home.config()) {
        Ok(c) => c,
        Err(e) => {
            diagnostics.push(Diagnostic {
                path: home.config().into(),
                message: e.to_string(),
            });
            Config::default()
        }
    };
    let server_url = config.server_url.clone();
    let rule = env.profile.scope;
    let done = |scope: Option<ResolvedScope>, diagnostics| Resolution {
        scope,
        server_url: server_url.clone(),
        diagnostics,
    };
    if let Some(scope) = flag {
        let scope = scope.under(rule);
        return done(
            Some(ResolvedScope {
                principal: scope.user(),
                team: scope.team(),
                scope,
                source: ScopeSource::Flag,
            }),
            diagnostics,
        );
    }
    // 3.2.x reads the session whether or not SaaS sync is enabled (measured:
    // fixtures/releases/3.2.*/facts.json, `scope_sources_measurements`).
    let (session, credentials) = match env.profile.identity {
        IdentityRule::Credentials => (false, true),
        IdentityRule::SessionThenCredentials => (true, true),
        IdentityRule::Session => (true, false),
    };
    if session && let Some(found) = from_session(home, &server_url, rule, &mut diagnostics) {
        return done(Some(found), diagnostics);
    }
    if credentials && let Some(found) = from_credentials(home, rule, &mut diagnostics) {
        return done(Some(found), diagnostics);
    }
    done(None, diagnostics)
}

fn from_session(
    home: &Home,
    server_url: &str,
    rule: ScopeRule,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<ResolvedScope> {
    match session::read_identity(home) {
        Ok(Some(identity)) => match identity.private_team_id() {
            Some(team) => {
                let scope = Scope::with_rule(rule, server_url, &identity.email, &team);
                Some(ResolvedScope {
                    principal: scope.user(),
                    team: scope.team(),
                    scope,
                    source: ScopeSource::Session,
                })
            }
            None => {
                diagnostics.push(Diagnostic {
                    path: home.session_json().into(),
                    message: "the session has no private teamspace, so it names no scope; \
                              pass --scope to choose one"
                        .to_string(),
                });
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            diagnostics.push(Diagnostic {
                path: home.session_json().into(),
                message: e.to_string(),
            });
            None
        }
    }
}

fn from_credentials(
    home: &Home,
    rule: ScopeRule,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<ResolvedScope> {
    let path = home.credentials();
    let creds = match config::read_credentials(&path) {
        Ok(Some(creds)) => creds,
        Ok(None) => return None,
        Err(e) => {
            diagnostics.push(Diagnostic {
                path: path.into(),
                message: e.to_string(),
            });
            return None;
        }
    };
    let found = scope_from_credentials(&creds).map(|mut r| {
        r.scope = r.scope.under(rule);
        r
    });
    if found.is_none() {
        diagnostics.push(Diagnostic {
            path: path.into(),
            message:
                "the credentials file needs both [user] username and [server] url to name a scope"
                    .to_string(),
        });
    }
    found
}

/// Scope from an older CLI's `credentials` file, as every release reads it
/// (`read_queue_scope_from_credentials`): `[user] username` and `[server]
/// url` are both required; team absent → `no-team`.
pub fn scope_from_credentials(creds: &Credentials) -> Option<ResolvedScope> {
    let user = creds.username.as_deref().filter(|u| !u.trim().is_empty())?;
    let server = creds
        .server_url
        .as_deref()
        .filter(|s| !s.trim().is_empty())?;
    let team = creds
        .team_slug
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("no-team");
    let scope = Scope::new(server, user, team);
    Some(ResolvedScope {
        principal: scope.user(),
        team: scope.team(),
        scope,
        source: ScopeSource::Credentials,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_as_the_design_example() {
        let s = Scope::new("https://Sync.Example.test/", "Robert@Example.com", "Team-A");
        assert_eq!(
            s.to_string(),
            "https://sync.example.test|robert@example.com|team-a"
        );
    }

    #[test]
    fn hash_is_first_16_hex_of_sha256() {
        // sha256("a|b|c"), computed independently with `sha256sum`.
        let s = Scope::new("a", "b", "c");
        assert_eq!(s.file_hash().len(), 16);
        assert_eq!(s.file_hash(), "a52dd81bfd5e4e66");
    }

    #[test]
    fn parse_needs_three_non_empty_parts() {
        assert!(Scope::parse("a|b").is_err());
        assert!(Scope::parse("a|b|c|d").is_err());
        assert!(Scope::parse("a| |c").is_err());
        assert_eq!(Scope::parse(" A/ |B|C ").unwrap().to_string(), "a|b|c");
    }

    #[test]
    fn saas_values() {
        for v in ["1", "true", "YES", " on ", "True"] {
            assert!(saas_sync_enabled(Some(v)), "{v:?}");
        }
        for v in ["0", "false", "", "no", "off", "enabled"] {
            assert!(!saas_sync_enabled(Some(v)), "{v:?}");
        }
        assert!(!saas_sync_enabled(None));
    }

    #[test]
    fn credentials_scope_defaults_team_and_server() {
        let creds = Credentials {
            username: Some("Ann@X.io".into()),
            team_slug: None,
            server_url: None,
        };
        // Every release measured needs [server] url (fixtures/releases).
        assert!(scope_from_credentials(&creds).is_none());
        let creds = Credentials {
            server_url: Some("https://S.test/".into()),
            ..creds
        };
        let r = scope_from_credentials(&creds).unwrap();
        assert_eq!(r.scope.to_string(), "https://s.test|ann@x.io|no-team");
        assert_eq!(r.source, ScopeSource::Credentials);
        let none = Credentials {
            username: Some("  ".into()),
            ..creds
        };
        assert!(scope_from_credentials(&none).is_none());
    }

    mod with_session {
        use super::*;
        use crate::login::session::HostUser;
        use crate::login::session::test_support::write_session;

        const PLAINTEXT: &str = r#"{"email": " Robert@Example.com ", "access_token": "SECRET-TOKEN-123",
            "teams": [{"id": "Team-A", "name": "A", "role": "member", "is_private_teamspace": false},
                      {"id": "Priv-ID-7", "name": "Me", "role": "owner", "is_private_teamspace": true}]}"#;

        /// A home with config, an older CLI's credentials file, and a session
        /// encrypted for this host and user (the key `read_identity` derives).
        fn home() -> (tempfile::TempDir, Home) {
            let dir = tempfile::tempdir().unwrap();
            let home = Home::at(dir.path());
            std::fs::write(
                home.config(),
                "[sync]\nserver_url = \"https://Sync.Example.test/\"\n",
            )
            .unwrap();
            std::fs::write(
                home.credentials(),
                "[user]\nusername = \"old@example.com\"\nteam_slug = \"old-team\"\n[server]\nurl = \"https://Sync.Example.test/\"\n",
            )
            .unwrap();
            write_session(&home, &HostUser::current(), PLAINTEXT.as_bytes()).unwrap();
            (dir, home)
        }

        #[test]
        fn saas_enabled_takes_the_session_normalised() {
            let (_d, home) = home();
            let r = resolve(&home, None, &Env::with_saas(true));
            assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
            let s = r.scope.unwrap();
            assert_eq!(s.source, ScopeSource::Session);
            assert_eq!(
                s.scope.to_string(),
                "https://sync.example.test|robert@example.com|priv-id-7"
            );
            assert_eq!(s.team, "priv-id-7");
        }

        #[test]
        fn a_credentials_only_release_ignores_the_session() {
            let (_d, home) = home();
            let env = Env {
                profile: crate::release::profile_for(
                    &crate::release::Version::parse("3.1.10").unwrap(),
                )
                .unwrap(),
                ..Env::with_saas(true)
            };
            let r = resolve(&home, None, &env);
            assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
            let s = r.scope.unwrap();
            assert_eq!(s.source, ScopeSource::Credentials);
            assert_eq!(
                s.scope.to_string(),
                "https://sync.example.test|old@example.com|old-team"
            );
        }

        #[test]
        fn flag_wins_over_the_session() {
            let (_d, home) = home();
            let flag = Scope::parse("https://x.test|u@x.test|t").unwrap();
            let r = resolve(&home, Some(&flag), &Env::with_saas(true));
            assert_eq!(r.scope.unwrap().source, ScopeSource::Flag);
        }

        #[test]
        fn refused_session_is_a_diagnostic_and_credentials_still_resolve() {
            use std::os::unix::fs::PermissionsExt;
            let (_d, home) = home();
            std::fs::set_permissions(home.session_json(), std::fs::Permissions::from_mode(0o644))
                .unwrap();
            let r = resolve(&home, None, &Env::with_saas(true));
            assert_eq!(r.scope.unwrap().source, ScopeSource::Credentials);
            assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
            assert!(r.diagnostics[0].message.contains("chmod 600"));
            assert!(!r.diagnostics[0].message.contains("SECRET-TOKEN-123"));
        }
    }
}
