//! Turns the release table `src/release/releases.toml` into Rust constants
//! (`$OUT_DIR/releases.rs`, included by `src/release/mod.rs`), so that a
//! malformed row fails the build rather than a run: every key of a row is
//! required (or declared optional below), unknown keys are refused, enum
//! values become variants the compiler checks, and versions must be plain
//! ascending `N.N[.N[.N]]` releases.

use std::fmt::Write as _;
use std::path::PathBuf;

const TABLE: &str = "src/release/releases.toml";

/// How a key of a row becomes a `Profile` field.
enum Kind {
    /// An enum of `src/release/mod.rs` (value: the kebab-case variant name).
    Enum(&'static str),
    /// An optional enum.
    OptEnum(&'static str),
    /// A list of an enum.
    EnumList(&'static str),
    OptU32,
    /// A number (milliseconds and the like).
    U64,
    U32List,
    Bool,
    /// `{ restart_daemon, relogin }`, optional.
    Remediation,
    /// `{ default, body_fixed (optional) }`, optional.
    QueueCaps,
}

const FIELDS: &[(&str, Kind)] = &[
    ("generation", Kind::Enum("Generation")),
    ("root", Kind::Enum("RootRule")),
    ("server", Kind::Enum("ServerRule")),
    ("identity", Kind::Enum("IdentityRule")),
    ("scope", Kind::Enum("ScopeRule")),
    ("owner_scope", Kind::Enum("ScopeRule")),
    ("foreground", Kind::Enum("ForegroundRule")),
    ("gate_identity", Kind::Enum("GateIdentity")),
    ("gate_queue_scope", Kind::OptEnum("ScopeRule")),
    ("schema", Kind::OptU32),
    ("reads_schemas", Kind::U32List),
    ("blocking", Kind::EnumList("Field")),
    ("owner_resolved_on_read", Kind::EnumList("Field")),
    ("gate", Kind::EnumList("GateField")),
    ("remediation", Kind::Remediation),
    ("gate_on_layout", Kind::Bool),
    ("queue_caps", Kind::QueueCaps),
    ("cutover_history_canonical_json", Kind::Bool),
    ("writers_busy_timeout_ms", Kind::U64),
];

fn main() {
    println!("cargo::rerun-if-changed={TABLE}");
    println!("cargo::rerun-if-changed=build.rs");
    if let Err(e) = run() {
        println!("cargo::error={TABLE}: {e}");
        std::process::exit(1);
    }
}

/// A row being generated: its version (`None` for a range), first version,
/// end (exclusive; filled in for release rows) and `Profile` expression.
type GenRow = (Option<String>, [u32; 4], Option<[u32; 4]>, String);

fn run() -> Result<(), String> {
    let text = std::fs::read_to_string(TABLE).map_err(|e| e.to_string())?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| e.to_string())?;
    for key in table.keys() {
        if !["release", "range", "yanked", "default"].contains(&key.as_str()) {
            return Err(format!("unknown top-level key `{key}`"));
        }
    }
    let mut rows: Vec<GenRow> = Vec::new();
    for r in array(&table, "range")? {
        let first = parts(str_of(r, "first")?)?;
        let below = parts(str_of(r, "below")?)?;
        rows.push((None, first, Some(below), profile(r, &["first", "below"])?));
    }
    let releases = array(&table, "release")?;
    if releases.is_empty() {
        return Err("no [[release]] rows".into());
    }
    for r in releases {
        let v = str_of(r, "version")?;
        rows.push((
            Some(v.to_owned()),
            parts(v)?,
            None,
            profile(r, &["version"])?,
        ));
    }
    // A release row covers up to the next row; the newest its own X.Y.Z line.
    let n = rows.len();
    for i in 0..n {
        if rows[i].2.is_none() {
            let below = match rows.get(i + 1) {
                Some(next) => next.1,
                None => {
                    let p = rows[i].1;
                    [p[0], p[1], p[2] + 1, 0]
                }
            };
            rows[i].2 = Some(below);
        }
    }
    for w in rows.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if !(a.1 < b.1 && a.2.is_some_and(|below| below <= b.1)) {
            return Err(format!(
                "rows out of order or overlapping at {:?} / {:?}",
                a.0.as_deref().unwrap_or("range"),
                b.0.as_deref().unwrap_or("range")
            ));
        }
    }
    let yanked: Vec<String> = match table.get("yanked") {
        None => Vec::new(),
        Some(v) => v
            .as_array()
            .ok_or("`yanked` is not a list")?
            .iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or("`yanked` holds a non-string")
            })
            .collect::<Result<_, _>>()?,
    };
    let first = rows.iter().find_map(|r| r.0.clone()).ok_or("no release")?;
    let newest = rows
        .iter()
        .rev()
        .find_map(|r| r.0.clone())
        .ok_or("no release")?;
    let first_line = first.strip_suffix(".0").unwrap_or(&first);
    let default = str_of(&table, "default")?;
    let default_row = rows
        .iter()
        .position(|r| r.0.as_deref() == Some(default))
        .ok_or(format!("`default = {default:?}` names no [[release]] row"))?;

    let mut out = String::new();
    out.push_str("// Generated by build.rs from src/release/releases.toml; edit that file.\n\n");
    out.push_str(
        "/// Every known release and range, oldest first (`src/release/releases.toml`).\n",
    );
    out.push_str("pub const RELEASES: &[Row] = &[\n");
    for (version, first, below, profile) in &rows {
        let below = below.ok_or("row without an end")?;
        let _ = writeln!(
            out,
            "    Row {{ version: {version:?}, first: {first:?}, below: {below:?}, profile: {profile} }},"
        );
    }
    out.push_str("];\n\n");
    let _ = writeln!(
        out,
        "/// Yanked from the registry: no profile.\nconst YANKED: &[&str] = &{yanked:?};\n"
    );
    let _ = writeln!(
        out,
        "/// The newest release whose code the profiles were checked against.\npub const NEWEST_KNOWN: &str = {newest:?};\n"
    );
    let _ = writeln!(
        out,
        "/// The spec-kitty-cli releases this build understands, for `--version`.\npub const SUPPORTED_RANGE: &str = \"{first_line} \u{2013} {newest}\";"
    );
    let _ = writeln!(
        out,
        "\n/// The row of `default` ({default}).\nconst DEFAULT_ROW: usize = {default_row};"
    );
    let dir = PathBuf::from(std::env::var("OUT_DIR").map_err(|e| e.to_string())?);
    std::fs::write(dir.join("releases.rs"), out).map_err(|e| e.to_string())
}

fn array<'a>(t: &'a toml::Table, key: &str) -> Result<Vec<&'a toml::Table>, String> {
    match t.get(key) {
        None => Ok(Vec::new()),
        Some(v) => v
            .as_array()
            .ok_or(format!("`{key}` is not an array of tables"))?
            .iter()
            .map(|r| {
                r.as_table()
                    .ok_or(format!("a `{key}` entry is not a table"))
            })
            .collect(),
    }
}

fn str_of<'a>(t: &'a toml::Table, key: &str) -> Result<&'a str, String> {
    t.get(key)
        .and_then(|v| v.as_str())
        .ok_or(format!("a row has no string `{key}`"))
}

/// `N.N[.N[.N]]` (a final release: no suffix), padded to four parts.
fn parts(v: &str) -> Result<[u32; 4], String> {
    let mut p = [0u32; 4];
    let pieces: Vec<&str> = v.split('.').collect();
    if pieces.is_empty() || pieces.len() > 4 {
        return Err(format!("`{v}` is not N.N[.N[.N]]"));
    }
    for (i, s) in pieces.iter().enumerate() {
        p[i] = s.parse().map_err(|_| format!("`{v}` is not N.N[.N[.N]]"))?;
    }
    Ok(p)
}

/// `db-v3` → `DbV3`.
fn variant(kebab: &str) -> String {
    kebab
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn enum_value(ty: &str, v: &toml::Value, key: &str) -> Result<String, String> {
    let s = v.as_str().ok_or(format!("`{key}` is not a string"))?;
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("`{key} = {s:?}` is not a variant name"));
    }
    Ok(format!("{ty}::{}", variant(s)))
}

/// The `Profile { .. }` expression of a row; every field stated.
fn profile(r: &toml::Table, extra: &[&str]) -> Result<String, String> {
    let name = r
        .get("version")
        .or_else(|| r.get("first"))
        .and_then(|v| v.as_str())
        .unwrap_or("?")
        .to_owned();
    for key in r.keys() {
        if !extra.contains(&key.as_str()) && !FIELDS.iter().any(|(k, _)| k == key) {
            return Err(format!("{name}: unknown key `{key}`"));
        }
    }
    let mut out = String::from("Profile { ");
    for (key, kind) in FIELDS {
        let v = r.get(*key);
        let missing = || format!("{name}: `{key}` is not stated");
        let expr = match kind {
            Kind::Enum(ty) => enum_value(ty, v.ok_or_else(missing)?, key)?,
            Kind::OptEnum(ty) => match v {
                None => "None".into(),
                Some(v) => format!("Some({})", enum_value(ty, v, key)?),
            },
            Kind::EnumList(ty) => {
                let items = v.and_then(|v| v.as_array()).ok_or_else(missing)?;
                let items: Vec<String> = items
                    .iter()
                    .map(|i| enum_value(ty, i, key))
                    .collect::<Result<_, _>>()?;
                format!("&[{}]", items.join(", "))
            }
            Kind::U64 => {
                let n = v.and_then(|v| v.as_integer()).ok_or_else(missing)?;
                u64::try_from(n)
                    .map_err(|_| format!("{name}: `{key}` must not be negative"))?
                    .to_string()
            }
            Kind::OptU32 => match v {
                None => "None".into(),
                Some(v) => format!("Some({})", u32_of(v, key)?),
            },
            Kind::U32List => {
                let items = v.and_then(|v| v.as_array()).ok_or_else(missing)?;
                let items: Vec<String> = items
                    .iter()
                    .map(|i| u32_of(i, key).map(|n| n.to_string()))
                    .collect::<Result<_, _>>()?;
                format!("&[{}]", items.join(", "))
            }
            Kind::Bool => v.and_then(|v| v.as_bool()).ok_or_else(missing)?.to_string(),
            Kind::Remediation => match v {
                None => "None".into(),
                Some(v) => {
                    let t = v
                        .as_table()
                        .ok_or(format!("{name}: `remediation` is not a table"))?;
                    format!(
                        "Some(Remediation {{ restart_daemon: {:?}, relogin: {:?} }})",
                        str_of(t, "restart_daemon")?,
                        str_of(t, "relogin")?
                    )
                }
            },
            Kind::QueueCaps => match v {
                None => "None".into(),
                Some(v) => queue_caps(v, &name)?,
            },
        };
        let _ = write!(out, "{key}: {expr}, ");
    }
    out.push('}');
    Ok(out)
}

/// `{ default = N, body_fixed = M }` → `Some(QueueCaps { .. })`.
fn queue_caps(v: &toml::Value, name: &str) -> Result<String, String> {
    let t = v
        .as_table()
        .ok_or(format!("{name}: `queue_caps` is not a table"))?;
    for key in t.keys() {
        if !["default", "body_fixed"].contains(&key.as_str()) {
            return Err(format!("{name}: unknown key `queue_caps.{key}`"));
        }
    }
    let default = t
        .get("default")
        .ok_or(format!("{name}: `queue_caps.default` is not stated"))?;
    let body_fixed = match t.get("body_fixed") {
        None => "None".to_string(),
        Some(n) => format!("Some({})", u32_of(n, "queue_caps.body_fixed")?),
    };
    Ok(format!(
        "Some(QueueCaps {{ default: {}, body_fixed: {body_fixed} }})",
        u32_of(default, "queue_caps.default")?
    ))
}

fn u32_of(v: &toml::Value, key: &str) -> Result<u32, String> {
    v.as_integer()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(format!("`{key}` holds no unsigned integer"))
}
