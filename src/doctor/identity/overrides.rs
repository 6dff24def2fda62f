//! `--foreground FILE`: the foreground identity given as a file instead of resolved.

use std::path::Path;

use serde_json::Value;

use crate::error::Error;

use crate::field::Field;

use super::{AuthScope, ForegroundIdentity};

// `--foreground FILE`.

/// One field of a `--foreground` file: not given, given as null (unknown), or a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Override {
    #[default]
    Keep,
    Unknown,
    Value(String),
}

/// A parsed `--foreground` file. Each field overrides discovery when given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForegroundOverride {
    pub package_version: Override,
    pub executable_path: Override,
    pub source_checkout_path: Override,
    pub server_url: Override,
    /// `""` means "known: no scope"; null means unknown.
    pub auth_scope: Override,
    pub auth_principal: Override,
    pub auth_team: Override,
    pub queue_db_path: Override,
}

/// Read a `--foreground` file: a JSON object with any of the eight fields,
/// each a string or null. Unknown keys are refused (a typo would otherwise
/// silently keep the discovered value).
pub fn read_override(path: &Path) -> Result<ForegroundOverride, Error> {
    let bad = |detail: String| Error::BadForegroundFile {
        path: path.to_path_buf(),
        detail,
    };
    let bytes = crate::fsutil::read_regular(path, crate::fsutil::READ_CAP)?
        .map(|(bytes, _)| bytes)
        .ok_or_else(|| Error::io(path, std::io::ErrorKind::NotFound.into()))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
        bad(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    parse_override(&v).map_err(bad)
}

/// [`read_override`] on a parsed value (pure).
pub fn parse_override(v: &Value) -> Result<ForegroundOverride, String> {
    let obj = v
        .as_object()
        .ok_or_else(|| "expected a JSON object of foreground fields".to_string())?;
    let unknown: Vec<&str> = obj
        .keys()
        .map(String::as_str)
        .filter(|k| Field::from_name(k).is_none_or(|f| !Field::FOREGROUND.contains(&f)))
        .collect();
    if !unknown.is_empty() {
        return Err(format!(
            "unknown field(s) {}; the fields are {}",
            unknown.join(", "),
            Field::FOREGROUND.map(Field::as_str).join(", ")
        ));
    }
    let get = |name: &str| -> Result<Override, String> {
        match obj.get(name) {
            None => Ok(Override::Keep),
            Some(Value::Null) => Ok(Override::Unknown),
            Some(Value::String(s)) => Ok(Override::Value(s.clone())),
            Some(_) => Err(format!("field `{name}`: expected a string or null")),
        }
    };
    Ok(ForegroundOverride {
        package_version: get("package_version")?,
        executable_path: get("executable_path")?,
        source_checkout_path: get("source_checkout_path")?,
        server_url: get("server_url")?,
        auth_scope: get("auth_scope")?,
        auth_principal: get("auth_principal")?,
        auth_team: get("auth_team")?,
        queue_db_path: get("queue_db_path")?,
    })
}

impl ForegroundOverride {
    /// Apply to a discovered identity, field by field (pure).
    pub fn apply(&self, mut fg: ForegroundIdentity) -> ForegroundIdentity {
        fn set(field: &mut Option<String>, o: &Override) {
            match o {
                Override::Keep => {}
                Override::Unknown => *field = None,
                Override::Value(v) => *field = Some(v.clone()),
            }
        }
        set(&mut fg.package_version, &self.package_version);
        set(&mut fg.executable_path, &self.executable_path);
        set(&mut fg.source_checkout_path, &self.source_checkout_path);
        set(&mut fg.server_url, &self.server_url);
        set(&mut fg.auth_principal, &self.auth_principal);
        set(&mut fg.auth_team, &self.auth_team);
        set(&mut fg.queue_db_path, &self.queue_db_path);
        match &self.auth_scope {
            Override::Keep => {}
            Override::Unknown => fg.auth_scope = AuthScope::Unknown,
            Override::Value(v) if v.trim().is_empty() => fg.auth_scope = AuthScope::NoScope,
            Override::Value(v) => fg.auth_scope = AuthScope::Scope(v.clone()),
        }
        fg
    }
}
