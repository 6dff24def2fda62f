//! Scope string, its hash, and foreground scope resolution (`docs/home.md`, `docs/session.md`).

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{self, Config, Credentials};
use crate::error::Error;
use crate::home::Home;
use crate::session;

/// `<server>|<user>|<team>`, each part trimmed and lowercased; the server part
/// also loses trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    server: String,
    user: String,
    team: String,
}

impl Scope {
    pub fn new(server: &str, user: &str, team: &str) -> Scope {
        let server = server.trim().to_lowercase();
        Scope {
            server: server.trim_end_matches('/').to_string(),
            user: user.trim().to_lowercase(),
            team: team.trim().to_lowercase(),
        }
    }

    /// Parse an explicit `--scope` value: three `|`-separated parts, none empty
    /// after normalisation.
    pub fn parse(s: &str) -> Result<Scope, Error> {
        let parts: Vec<&str> = s.split('|').collect();
        let [server, user, team] = parts.as_slice() else {
            return Err(Error::BadScope {
                value: s.to_string(),
            });
        };
        let scope = Scope::new(server, user, team);
        if scope.server.is_empty() || scope.user.is_empty() || scope.team.is_empty() {
            return Err(Error::BadScope {
                value: s.to_string(),
            });
        }
        Ok(scope)
    }

    pub fn server(&self) -> &str {
        &self.server
    }
    pub fn user(&self) -> &str {
        &self.user
    }
    pub fn team(&self) -> &str {
        &self.team
    }

    /// First 16 lowercase hex chars of SHA-256 of the scope string (UTF-8).
    pub fn hash16(&self) -> String {
        let digest = Sha256::digest(self.to_string().as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        hex[..16].to_string()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}|{}", self.server, self.user, self.team)
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

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
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    /// `path: message`, or the message alone when it names the path already.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.message.contains(&self.path) {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Resolve the foreground scope as the CLI does: `--scope` wins; else the
/// session store (only when SaaS sync is enabled); else the `credentials`
/// file; else none.
pub fn resolve(home: &Home, flag: Option<&Scope>, saas_enabled: bool) -> Resolution {
    let mut diagnostics = Vec::new();
    let config = match config::read_config(&home.config()) {
        Ok(c) => c,
        Err(e) => {
            diagnostics.push(Diagnostic {
                path: home.config().display().to_string(),
                message: e.to_string(),
            });
            Config::default()
        }
    };
    let server_url = config.server_url.clone();
    if let Some(scope) = flag {
        return Resolution {
            scope: Some(ResolvedScope {
                scope: scope.clone(),
                source: ScopeSource::Flag,
                principal: scope.user().to_string(),
                team: scope.team().to_string(),
            }),
            server_url,
            diagnostics,
        };
    }
    if saas_enabled {
        match session::read_identity(home) {
            Ok(Some(identity)) => match identity.private_team_id() {
                Some(team) => {
                    return Resolution {
                        scope: Some(ResolvedScope {
                            scope: Scope::new(&server_url, &identity.email, &team),
                            source: ScopeSource::Session,
                            principal: identity.email.clone(),
                            team,
                        }),
                        server_url,
                        diagnostics,
                    };
                }
                None => diagnostics.push(Diagnostic {
                    path: home.session_json().display().to_string(),
                    message: "the session has no private teamspace, so it names no scope; \
                              pass --scope to choose one"
                        .to_string(),
                }),
            },
            Ok(None) => {}
            Err(e) => diagnostics.push(Diagnostic {
                path: home.session_json().display().to_string(),
                message: e.to_string(),
            }),
        }
    }
    match config::read_credentials(&home.credentials()) {
        Ok(Some(creds)) => {
            if let Some(resolved) = scope_from_credentials(&creds, &server_url) {
                // The login was made against the credentials' server: that is
                // the server this foreground talks to.
                let server_url = creds
                    .server_url
                    .clone()
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or(server_url);
                return Resolution {
                    scope: Some(resolved),
                    server_url,
                    diagnostics,
                };
            }
            diagnostics.push(Diagnostic {
                path: home.credentials().display().to_string(),
                message: "the credentials file has no [user] username, so it names no scope"
                    .to_string(),
            });
        }
        Ok(None) => {}
        Err(e) => diagnostics.push(Diagnostic {
            path: home.credentials().display().to_string(),
            message: e.to_string(),
        }),
    }
    Resolution {
        scope: None,
        server_url,
        diagnostics,
    }
}

/// Scope from an older CLI's `credentials` file: its own `[server] url` when
/// present (the login was made against it), else the configured server; team
/// absent → `no-team`.
pub fn scope_from_credentials(creds: &Credentials, config_server: &str) -> Option<ResolvedScope> {
    let user = creds.username.as_deref().filter(|u| !u.trim().is_empty())?;
    let team = creds
        .team_slug
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or("no-team");
    let server = creds
        .server_url
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or(config_server);
    Some(ResolvedScope {
        scope: Scope::new(server, user, team),
        source: ScopeSource::Credentials,
        principal: user.to_string(),
        team: team.to_string(),
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
        assert_eq!(s.hash16().len(), 16);
        assert_eq!(s.hash16(), "a52dd81bfd5e4e66");
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
        let r = scope_from_credentials(&creds, "https://S.test/").unwrap();
        assert_eq!(r.scope.to_string(), "https://s.test|ann@x.io|no-team");
        assert_eq!(r.source, ScopeSource::Credentials);
        let none = Credentials {
            username: Some("  ".into()),
            ..creds
        };
        assert!(scope_from_credentials(&none, "s").is_none());
    }

    mod with_session {
        use super::*;
        use crate::session::HostUser;
        use crate::session::test_support::write_session;

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
                "[user]\nusername = \"old@example.com\"\nteam_slug = \"old-team\"\n",
            )
            .unwrap();
            write_session(&home, &HostUser::current(), PLAINTEXT.as_bytes()).unwrap();
            (dir, home)
        }

        #[test]
        fn saas_enabled_takes_the_session_normalised() {
            let (_d, home) = home();
            let r = resolve(&home, None, true);
            assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
            let s = r.scope.unwrap();
            assert_eq!(s.source, ScopeSource::Session);
            assert_eq!(
                s.scope.to_string(),
                "https://sync.example.test|robert@example.com|priv-id-7"
            );
            assert_eq!(s.team, "Priv-ID-7");
        }

        #[test]
        fn saas_disabled_ignores_the_session() {
            let (_d, home) = home();
            let r = resolve(&home, None, false);
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
            let r = resolve(&home, Some(&flag), true);
            assert_eq!(r.scope.unwrap().source, ScopeSource::Flag);
        }

        #[test]
        fn refused_session_is_a_diagnostic_and_credentials_still_resolve() {
            use std::os::unix::fs::PermissionsExt;
            let (_d, home) = home();
            std::fs::set_permissions(home.session_json(), std::fs::Permissions::from_mode(0o644))
                .unwrap();
            let r = resolve(&home, None, true);
            assert_eq!(r.scope.unwrap().source, ScopeSource::Credentials);
            assert_eq!(r.diagnostics.len(), 1, "{:?}", r.diagnostics);
            assert!(r.diagnostics[0].message.contains("chmod 600"));
            assert!(!r.diagnostics[0].message.contains("SECRET-TOKEN-123"));
        }
    }
}
