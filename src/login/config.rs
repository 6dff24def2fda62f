//! `config.toml` and the older CLIs' `credentials` file (`docs/home.md`).

use std::path::Path;

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

/// Fields of `credentials` that name the scope. Tokens in that file are never read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    pub username: Option<String>,
    pub team_slug: Option<String>,
    pub server_url: Option<String>,
}

/// Read a text file, `None` when it does not exist. Never blocks on a FIFO,
/// never reads a device or a file over [`crate::fsutil::READ_CAP`].
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, Error> {
    crate::fsutil::read_text(path)
}

/// A parsed TOML document, read field by field with the types the CLI
/// expects. serde's struct mapping is not used on purpose: it would read a
/// section written as an array positionally and a datetime as a string.
struct Doc<'a> {
    path: &'a Path,
    table: toml::Table,
}

impl<'a> Doc<'a> {
    fn parse(path: &'a Path, text: &str) -> Result<Doc<'a>, Error> {
        let table = toml::from_str(text).map_err(|e: toml::de::Error| Error::Malformed {
            path: path.to_path_buf(),
            detail: format!("it is not valid TOML: {}", e.message().trim()),
        })?;
        Ok(Doc { path, table })
    }

    fn malformed(&self, detail: String) -> Error {
        Error::Malformed {
            path: self.path.to_path_buf(),
            detail,
        }
    }

    /// `[section] key`, `None` when the section or key is absent.
    fn get(&self, section: &str, key: &str) -> Result<Option<&toml::Value>, Error> {
        match self.table.get(section) {
            None => Ok(None),
            Some(toml::Value::Table(t)) => Ok(t.get(key)),
            Some(_) => Err(self.malformed(format!("{section} must be a [{section}] table"))),
        }
    }

    fn string(&self, section: &str, key: &str) -> Result<Option<String>, Error> {
        match self.get(section, key)? {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.malformed(format!(
                "[{section}] {key} must be a string, not {}",
                v.type_str()
            ))),
        }
    }

    fn integer(&self, section: &str, key: &str) -> Result<Option<i64>, Error> {
        match self.get(section, key)? {
            None => Ok(None),
            Some(toml::Value::Integer(n)) => Ok(Some(*n)),
            Some(v) => Err(self.malformed(format!(
                "[{section}] {key} must be an integer, not {}",
                v.type_str()
            ))),
        }
    }
}

/// `config.toml`; an absent file or key gives the defaults.
pub fn read_config(path: &Path) -> Result<Config, Error> {
    let Some(text) = read_optional(path)? else {
        return Ok(Config::default());
    };
    let doc = Doc::parse(path, &text)?;
    Ok(Config {
        server_url: doc
            .string("sync", "server_url")?
            .filter(|s| !s.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_SERVER_URL.to_string()),
        max_queue_size: doc.integer("sync", "max_queue_size")?,
    })
}

/// `credentials`, `None` when the file does not exist.
pub fn read_credentials(path: &Path) -> Result<Option<Credentials>, Error> {
    let Some(text) = read_optional(path)? else {
        return Ok(None);
    };
    let doc = Doc::parse(path, &text)?;
    Ok(Some(Credentials {
        username: doc.string("user", "username")?,
        team_slug: doc.string("user", "team_slug")?,
        server_url: doc.string("server", "url")?,
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
        // A TOML datetime is not a user name (serde would read it as one).
        std::fs::write(&p, "[user]\nusername = 1979-05-27T07:32:00Z\n").unwrap();
        assert!(read_credentials(&p).is_err());
        std::fs::write(&p, "user = [\"ann\", \"team-x\"]\n").unwrap();
        assert!(read_credentials(&p).is_err());
    }
}
