//! The identity fields that the foreground CLI and the daemon's owner record
//! share, by name. One enum instead of strings spelled out in several places.

use std::fmt;

use serde::Serialize;

/// A field of the coherence table, in its output order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Field {
    PackageVersion,
    ExecutablePath,
    SourceCheckoutPath,
    ServerUrl,
    AuthScope,
    QueueDbPath,
    Pid,
    Port,
    StartedAt,
    AuthPrincipal,
    AuthTeam,
}

impl Field {
    /// Every field, in the table's row order.
    pub const ALL: [Field; 11] = [
        Field::PackageVersion,
        Field::ExecutablePath,
        Field::SourceCheckoutPath,
        Field::ServerUrl,
        Field::AuthScope,
        Field::QueueDbPath,
        Field::Pid,
        Field::Port,
        Field::StartedAt,
        Field::AuthPrincipal,
        Field::AuthTeam,
    ];

    /// The fields a foreground identity has (the daemon-only ones excluded).
    pub const FOREGROUND: [Field; 8] = [
        Field::PackageVersion,
        Field::ExecutablePath,
        Field::SourceCheckoutPath,
        Field::ServerUrl,
        Field::AuthScope,
        Field::AuthPrincipal,
        Field::AuthTeam,
        Field::QueueDbPath,
    ];

    /// The name in owner records, JSON and `--foreground` files.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::PackageVersion => "package_version",
            Field::ExecutablePath => "executable_path",
            Field::SourceCheckoutPath => "source_checkout_path",
            Field::ServerUrl => "server_url",
            Field::AuthScope => "auth_scope",
            Field::QueueDbPath => "queue_db_path",
            Field::Pid => "pid",
            Field::Port => "port",
            Field::StartedAt => "started_at",
            Field::AuthPrincipal => "auth_principal",
            Field::AuthTeam => "auth_team",
        }
    }

    /// The names of `fields`, joined by `, `.
    pub fn joined(fields: &[Field]) -> String {
        fields
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The field named `name`, if any.
    pub fn from_name(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for f in Field::ALL {
            assert_eq!(Field::from_name(f.as_str()), Some(f));
        }
        assert_eq!(Field::from_name("token"), None);
    }
}
