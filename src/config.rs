//! `config.toml` and the older CLIs' `credentials` file (DESIGN §1).

use std::io::ErrorKind;
use std::path::Path;

use serde::Deserialize;

use crate::error::Error;

/// The server the CLI talks to when `config.toml` names none.
pub const DEFAULT_SERVER_URL: &str = "https://spec-kitty-dev.fly.dev";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub server_url: String,
    pub max_queue_size: Option<i64>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            server_url: DEFAULT_SERVER_URL.to_string(),
            max_queue_size: None,
        }
    }
}

#[derive(Debug, Deserialize, Default)]
struct ConfigFile {
    #[serde(default)]
    sync: SyncSection,
}

#[derive(Debug, Deserialize, Default)]
struct SyncSection {
    server_url: Option<String>,
    max_queue_size: Option<i64>,
}

/// Fields of `credentials` that name the scope. Tokens in that file are never read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub username: Option<String>,
    pub team_slug: Option<String>,
    pub server_url: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct CredentialsFile {
    #[serde(default)]
    user: UserSection,
    #[serde(default)]
    server: ServerSection,
}

#[derive(Debug, Deserialize, Default)]
struct UserSection {
    username: Option<String>,
    team_slug: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
struct ServerSection {
    url: Option<String>,
}

/// Read a text file, `None` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::Malformed {
                path: path.to_path_buf(),
                detail: "it is not UTF-8 text".to_string(),
            }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Parse `text` as TOML whose `sections` must be tables. serde would read a
/// section written as an array (`user = ["ann", "x"]`) positionally into its
/// struct; the CLI would not, so neither do we.
fn parse_toml<T: for<'de> Deserialize<'de>>(
    path: &Path,
    text: &str,
    sections: &[&str],
) -> Result<T, Error> {
    let malformed = |detail: String| Error::Malformed {
        path: path.to_path_buf(),
        detail: format!("it is not valid TOML of the expected shape: {detail}"),
    };
    let doc: toml::Table = toml::from_str(text).map_err(|e| malformed(e.message().to_string()))?;
    for section in sections {
        if doc.get(*section).is_some_and(|v| !v.is_table()) {
            return Err(malformed(format!("{section} must be a [{section}] table")));
        }
    }
    T::deserialize(toml::Value::Table(doc)).map_err(|e| malformed(e.message().to_string()))
}

/// `config.toml`; an absent file or key gives the defaults.
pub fn read_config(path: &Path) -> Result<Config, Error> {
    let Some(text) = read_optional(path)? else {
        return Ok(Config::default());
    };
    let file: ConfigFile = parse_toml(path, &text, &["sync"])?;
    Ok(Config {
        server_url: file
            .sync
            .server_url
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string()),
        max_queue_size: file.sync.max_queue_size,
    })
}

/// `credentials`, `None` when the file does not exist.
pub fn read_credentials(path: &Path) -> Result<Option<Credentials>, Error> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    let file: CredentialsFile = parse_toml(path, &text, &["user", "server"])?;
    Ok(Some(Credentials {
        username: file.user.username,
        team_slug: file.user.team_slug,
        server_url: file.server.url,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_when_absent_or_keyless() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        assert_eq!(read_config(&p).unwrap(), Config::default());
        std::fs::write(&p, "[sync]\nmax_queue_size = 5\n").unwrap();
        let c = read_config(&p).unwrap();
        assert_eq!(c.server_url, DEFAULT_SERVER_URL);
        assert_eq!(c.max_queue_size, Some(5));
    }

    #[test]
    fn credentials_parse_and_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("credentials");
        assert_eq!(read_credentials(&p).unwrap(), None);
        std::fs::write(
            &p,
            "[user]\nusername = \"a@b\"\ntoken = \"secret\"\n[server]\nurl = \"https://s\"\n",
        )
        .unwrap();
        let c = read_credentials(&p).unwrap().unwrap();
        assert_eq!(c.username.as_deref(), Some("a@b"));
        assert_eq!(c.team_slug, None);
        assert_eq!(c.server_url.as_deref(), Some("https://s"));
        std::fs::write(&p, "[user\nusername=").unwrap();
        let err = read_credentials(&p).unwrap_err().to_string();
        assert!(err.contains(&p.display().to_string()), "{err}");
        std::fs::write(&p, "[user]\nusername = 3\n").unwrap();
        assert!(read_credentials(&p).is_err());
    }
}
