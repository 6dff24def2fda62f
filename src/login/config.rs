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
        max_queue_size: doc.get("sync", "max_queue_size")?.and_then(as_python_int),
    })
}

/// `[sync] max_queue_size` as the queue-DB releases read it
/// (`queue.get_max_queue_size`): `None` (their default) when the file is
/// absent or cannot be read (they catch `OSError` and decoding errors), is
/// not TOML, or holds no such key or one `int()` refuses. A `sync` that is
/// not a table makes the release's own read fail, so it writes nothing
/// either: `None` as well.
pub fn max_queue_size(path: &Path) -> Option<i64> {
    let text = read_optional(path).ok()??;
    let doc = Doc::parse(path, &text).ok()?;
    doc.get("sync", "max_queue_size")
        .ok()?
        .and_then(as_python_int)
}

/// Python's `int(value)` of a TOML value, `None` where it raises
/// (`TypeError`/`ValueError`, which the releases catch): an integer as it
/// is, a float truncated, a boolean 0 or 1, a string of decimal digits
/// (with sign, surrounding blanks and single `_` between digits).
fn as_python_int(v: &toml::Value) -> Option<i64> {
    match v {
        toml::Value::Integer(n) => Some(*n),
        toml::Value::Float(f) if f.is_finite() => Some(f.trunc() as i64),
        toml::Value::Boolean(b) => Some(i64::from(*b)),
        toml::Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
            let well_formed = !digits.is_empty()
                && !digits.starts_with('_')
                && !digits.ends_with('_')
                && !digits.contains("__")
                && digits.chars().all(|c| c.is_ascii_digit() || c == '_');
            if !well_formed {
                return None;
            }
            t.replace('_', "").parse().ok()
        }
        _ => None,
    }
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

    /// `[sync] max_queue_size` as `int(value)` reads it in the release;
    /// where that raises, or the file is not TOML, the release's default.
    #[test]
    fn max_queue_size_is_read_as_the_release_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.toml");
        assert_eq!(max_queue_size(&p), None);
        for (value, read) in [
            ("500", Some(500)),
            ("-3", Some(-3)),
            ("5.9", Some(5)),
            ("true", Some(1)),
            ("\" 1_000 \"", Some(1000)),
            ("\"+7\"", Some(7)),
            ("\"1__0\"", None),
            ("\"ten\"", None),
            ("\"\"", None),
            ("[1]", None),
            ("nan", None),
        ] {
            std::fs::write(&p, format!("[sync]\nmax_queue_size = {value}\n")).unwrap();
            assert_eq!(max_queue_size(&p), read, "{value}");
        }
        for unreadable in [
            &b"[sync\nmax_queue_size = 5"[..],
            b"sync = 5\n",
            b"\xff\xfe",
        ] {
            std::fs::write(&p, unreadable).unwrap();
            assert_eq!(max_queue_size(&p), None);
        }
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
