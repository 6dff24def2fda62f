//! The queue scope as a value: its parts, the release's rule that normalises
//! them, and the hash that names the scoped queue file (`docs/home.md`).
//! Which scope the foreground resolves to is `crate::login::resolve`.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::release::ScopeRule;

/// The authenticated identity a queue scope is built from, and the rule of
/// the installed release that builds it ([`ScopeRule`]).
///
/// The parts are kept as given; the rule normalises them: for
/// [`ScopeRule::Piped`] `<server>|<user>|<team>`, each part trimmed and
/// lowercased, the server part without trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    server: String,
    user: String,
    team: String,
    rule: ScopeRule,
}

/// Every non-ASCII character as `_u%04x_` (3.2.4+ `target_authority._ascii_token`).
fn ascii_token(value: &str) -> String {
    if value.is_ascii() {
        return value.to_string();
    }
    value
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("_u{:04x}_", u32::from(c))
            }
        })
        .collect()
}

impl Scope {
    /// A scope by the piped rule of 3.2.0–3.2.3 and older.
    pub fn new(server: &str, user: &str, team: &str) -> Scope {
        Scope::with_rule(ScopeRule::Piped, server, user, team)
    }

    /// A scope built by `rule`.
    pub fn with_rule(rule: ScopeRule, server: &str, user: &str, team: &str) -> Scope {
        Scope {
            server: server.to_string(),
            user: user.to_string(),
            team: team.to_string(),
            rule,
        }
    }

    /// The same identity under another release's rule.
    pub fn under(&self, rule: ScopeRule) -> Scope {
        Scope {
            rule,
            ..self.clone()
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
        if scope.server().is_empty() || scope.user().is_empty() || scope.team().is_empty() {
            return Err(Error::BadScope {
                value: s.to_string(),
            });
        }
        Ok(scope)
    }

    fn part(&self, raw: &str) -> String {
        match self.rule {
            ScopeRule::Piped => raw.trim().to_lowercase(),
            ScopeRule::PipedAscii | ScopeRule::NulDigest => ascii_token(raw).trim().to_lowercase(),
        }
    }

    /// The normalised server part (no trailing `/`).
    pub fn server(&self) -> String {
        self.part(&self.server).trim_end_matches('/').to_string()
    }
    /// The normalised user part.
    pub fn user(&self) -> String {
        self.part(&self.user)
    }
    /// The normalised team part.
    pub fn team(&self) -> String {
        self.part(&self.team)
    }
    /// The user as given (the principal before normalisation).
    pub fn raw_user(&self) -> &str {
        &self.user
    }
    /// The team as given.
    pub fn raw_team(&self) -> &str {
        &self.team
    }
    pub fn rule(&self) -> ScopeRule {
        self.rule
    }

    /// The hex that names the scoped DB file `queues/queue-<hex>.db`: the
    /// first 16 of SHA-256 of the piped scope string, or the whole digest.
    pub fn file_hash(&self) -> String {
        match self.rule {
            ScopeRule::Piped | ScopeRule::PipedAscii => {
                let digest = Sha256::digest(self.to_string().as_bytes());
                hex::encode(&digest[..8])
            }
            ScopeRule::NulDigest => self.to_string(),
        }
    }
}

impl fmt::Display for Scope {
    /// The scope string as the release writes it (owner `auth_scope`,
    /// `active_queue_scope`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.rule {
            ScopeRule::Piped | ScopeRule::PipedAscii => {
                write!(f, "{}|{}|{}", self.server(), self.user(), self.team())
            }
            ScopeRule::NulDigest => {
                let material = format!("{}\0{}\0{}", self.server(), self.user(), self.team());
                f.write_str(&hex::encode(Sha256::digest(material.as_bytes())))
            }
        }
    }
}

impl Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
