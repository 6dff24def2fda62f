//! `credentials` and `config.toml` of random bytes and random TOML shapes:
//! scope resolution and the migrator never panic, and say what is wrong.
//! A credentials file that cannot be read yields a diagnostic naming it and
//! the run's status `no_scope` with the home byte-identical. (owner.json is
//! covered with the doctor.)
//!
//! 32 cases per property by default; run longer with
//! `PROPTEST_CASES=2000 cargo test --test it garbage_inputs`.

use crate::common::*;
use proptest::prelude::*;
use sk_boundary::login::{self, ScopeSource};
use sk_boundary::migrate::observe::Quiet;
use sk_boundary::migrate::{self, RunOptions, Status};
use toml::{Table, Value};

fn config(default_cases: u32) -> ProptestConfig {
    let mut c = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = default_cases;
    }
    c.failure_persistence = None;
    c
}

// ------------------------------------------------------------------ inputs

const KEYS: &[&str] = &[
    "user",
    "username",
    "team_slug",
    "server",
    "url",
    "sync",
    "server_url",
    "max_queue_size",
    "token",
    "ünï",
    "",
];

fn key() -> BoxedStrategy<String> {
    prop_oneof![
        4 => prop::sample::select(KEYS).prop_map(String::from),
        1 => "\\PC{0,8}",
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        "\\PC{0,16}".prop_map(Value::String),
        Just(Value::String("  ".into())),
        any::<i64>().prop_map(Value::Integer),
        any::<f64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Boolean),
        Just(Value::Datetime("1979-05-27T07:32:00Z".parse().unwrap())),
        Just(Value::Datetime("07:32:00".parse().unwrap())),
    ]
    .boxed()
}

fn value() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..4)
                    .prop_map(|m| Value::Table(m.into_iter().collect())),
            ]
        })
        .boxed()
}

/// A TOML document of random shape over the keys the files use.
fn toml_shape() -> BoxedStrategy<String> {
    prop::collection::btree_map(key(), value(), 0..4)
        .prop_map(|m| {
            let t: Table = m.into_iter().collect();
            toml::to_string(&t).unwrap_or_default()
        })
        .boxed()
}

/// A well-formed credentials file, then cut or spliced with junk.
fn near_credentials() -> BoxedStrategy<Vec<u8>> {
    (
        "\\PC{0,12}",
        prop::option::of("\\PC{0,12}"),
        any::<prop::sample::Index>(),
        prop::collection::vec(any::<u8>(), 0..6),
        0u8..3,
    )
        .prop_map(|(user, team, at, junk, how)| {
            let mut text = format!("[user]\nusername = {user:?}\n");
            if let Some(t) = team {
                text.push_str(&format!("team_slug = {t:?}\n"));
            }
            text.push_str("token = \"SECRET\"\n[server]\nurl = \"https://s.test/\"\n");
            let mut bytes = text.into_bytes();
            let i = at.index(bytes.len() + 1);
            match how {
                0 => bytes.truncate(i),
                1 => {
                    bytes.splice(i..i, junk);
                }
                _ => {}
            }
            bytes
        })
        .boxed()
}

fn file_bytes() -> BoxedStrategy<Option<Vec<u8>>> {
    prop::option::weighted(
        0.9,
        prop_oneof![
            2 => prop::collection::vec(any::<u8>(), 0..200),
            3 => toml_shape().prop_map(String::into_bytes),
            3 => near_credentials(),
        ],
    )
    .boxed()
}

// ------------------------------------------------------------------ oracle

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bad {
    /// Not UTF-8, not TOML, or a field of the wrong type.
    Malformed,
    /// A section (`[user]`, `[server]`, `[sync]`) given as an array. serde
    /// reads a struct from a sequence positionally, so `sync = ["u", 5]` is
    /// accepted as server_url "u": a known quirk of `config.rs` (reported to
    /// the lead; see `#[ignore]`d `a_section_given_as_an_array_is_malformed`).
    /// The property then checks only that nothing panics.
    ArraySection,
}

/// What a file of `bytes` must give, decided without the crate's parser
/// types: `Err` when it is not TOML of the expected shape, else the
/// fields by (section, key, wants an integer).
fn expect(bytes: &[u8], fields: &[(&str, &str, bool)]) -> Result<Vec<Option<Value>>, Bad> {
    let text = std::str::from_utf8(bytes).map_err(|_| Bad::Malformed)?;
    let doc: Table = toml::from_str(text).map_err(|_| Bad::Malformed)?;
    let mut out = Vec::new();
    for (section, field, integer) in fields {
        let v = match doc.get(*section) {
            None => None,
            Some(Value::Table(t)) => t.get(*field).cloned(),
            Some(Value::Array(_)) => return Err(Bad::ArraySection),
            Some(_) => return Err(Bad::Malformed),
        };
        // An "integer" field is read as the release's `int(value)` reads it,
        // its default where that raises: no value of it is malformed.
        match (&v, integer) {
            (None, _) | (Some(Value::String(_)), false) | (Some(_), true) => {}
            _ => return Err(Bad::Malformed),
        }
        out.push(v);
    }
    Ok(out)
}

fn string(v: &Option<Value>) -> Option<&str> {
    match v {
        Some(Value::String(s)) => Some(s.as_str()),
        _ => None,
    }
}

fn check(credentials: Option<&[u8]>, config_toml: Option<&[u8]>, saas: bool) {
    let h = TestHome::new();
    h.legacy("legacy_v1");
    let cred_path = h.home.credentials();
    let conf_path = h.home.config();
    if let Some(b) = credentials {
        std::fs::write(&cred_path, b).unwrap();
    }
    if let Some(b) = config_toml {
        std::fs::write(&conf_path, b).unwrap();
    }
    let cred = credentials.map(|b| {
        expect(
            b,
            &[
                ("user", "username", false),
                ("user", "team_slug", false),
                ("server", "url", false),
            ],
        )
    });
    let conf = config_toml.map(|b| {
        expect(
            b,
            &[
                ("sync", "server_url", false),
                ("sync", "max_queue_size", true),
            ],
        )
    });

    let r = login::resolve(&h.home, None, &login::Env::with_saas(saas));
    let names = |p: &std::path::Path| {
        let p = p.display().to_string();
        r.diagnostics
            .iter()
            .any(|d| d.path == p && !d.message.is_empty())
    };
    if conf != Some(Err(Bad::ArraySection)) {
        assert_eq!(
            names(&conf_path),
            matches!(conf, Some(Err(Bad::Malformed))),
            "config diagnostics {:?}",
            r.diagnostics
        );
    }
    // Every release measured needs both a username and a [server] url.
    let username = match &cred {
        Some(Ok(f)) => string(&f[0])
            .filter(|u| !u.trim().is_empty())
            .filter(|_| string(&f[2]).is_some_and(|s| !s.trim().is_empty())),
        _ => None,
    };
    match (&cred, username) {
        (Some(Err(Bad::ArraySection)), _) => {}
        (Some(Ok(_)), Some(user)) => {
            let s = r.scope.as_ref().expect("valid credentials name a scope");
            assert_eq!(s.source, ScopeSource::Credentials);
            assert_eq!(s.scope.user(), user.trim().to_lowercase());
            assert!(!names(&cred_path), "{:?}", r.diagnostics);
        }
        (Some(_), _) => {
            // Malformed, or no username or server: no scope, and the file is named.
            assert!(r.scope.is_none(), "{:?}", r.scope);
            assert!(names(&cred_path), "no diagnostic: {:?}", r.diagnostics);
        }
        (None, _) => {
            assert!(r.scope.is_none());
            assert!(!names(&cred_path));
        }
    }

    let before = tree_hash(h.root());
    let report = migrate::run(
        &h.home,
        &RunOptions {
            env: login::Env::with_saas(saas),
            ..RunOptions::default()
        },
        &mut Quiet,
    )
    .expect("the run fails on a readable legacy DB");
    if r.scope.is_none() {
        assert_eq!(report.status, Status::NoScope);
        assert_eq!(tree_hash(h.root()), before, "a no-scope run wrote");
        if credentials.is_some() {
            let p = cred_path.display().to_string();
            assert!(report.diagnostics.iter().any(|d| d.path == p));
        }
    } else {
        assert_eq!(report.status, Status::Migrated);
        assert_eq!(report.scope, r.scope.map(|s| s.scope.to_string()));
    }
    // An explicit scope wins over any garbage and the move still works.
    let flagged = migrate::run(
        &h.home,
        &RunOptions {
            scope: Some(h.scope()),
            ..RunOptions::default()
        },
        &mut Quiet,
    )
    .unwrap();
    assert_ne!(flagged.status, Status::NoScope);
}

proptest! {
    #![proptest_config(config(32))]

    #[test]
    fn garbage_credentials_and_config_never_panic_and_are_named(
        credentials in file_bytes(),
        config_toml in file_bytes(),
        saas in any::<bool>(),
    ) {
        check(credentials.as_deref(), config_toml.as_deref(), saas);
    }
}

// ------------------------------------------------------------ fixed cases

#[test]
fn credentials_that_are_not_utf8_are_named_and_give_no_scope() {
    check(Some(b"[user]\nusername = \"\xff\xfe\"\n"), None, false);
}

#[test]
fn credentials_with_a_non_string_username_are_named() {
    check(Some(b"[user]\nusername = 42\n"), None, false);
    check(Some(b"user = \"robert\"\n"), None, false);
    check(Some(b"[[user]]\nusername = \"a\"\n"), None, false);
}

#[test]
fn a_credentials_directory_is_named_not_panicked_on() {
    let h = TestHome::new();
    h.legacy("legacy_v1");
    std::fs::create_dir(h.home.credentials()).unwrap();
    std::fs::write(h.home.config(), "[sync\n").unwrap();
    let r = login::resolve(&h.home, None, &login::Env::default());
    assert!(r.scope.is_none());
    for p in [h.home.credentials(), h.home.config()] {
        let p = p.display().to_string();
        assert!(r.diagnostics.iter().any(|d| d.path == p), "{p}");
    }
    let before = tree_hash(h.root());
    let report = migrate::run(&h.home, &RunOptions::default(), &mut Quiet).unwrap();
    assert_eq!(report.status, Status::NoScope);
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn the_binary_warns_naming_the_credentials_file_and_exits_0() {
    let h = TestHome::new();
    h.legacy("legacy_v1");
    std::fs::write(h.home.credentials(), b"\x00\x01garbage[[[").unwrap();
    let out = h
        .cmd("sk-migrate")
        .args(["run", "--json"])
        .assert()
        .success();
    let json: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["status"], "no_scope");
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains(&h.home.credentials().display().to_string()),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Known issue (config.rs, not fixed here): a section given as an array is
/// read positionally instead of being refused, so this credentials file names
/// the scope `...|ann|team-x` although it has no `[user]` table, and the CLI
/// would not read it so. Un-ignore once `config.rs` refuses it.
#[test]
fn a_section_given_as_an_array_is_malformed() {
    let h = TestHome::new();
    std::fs::write(h.home.credentials(), "user = [\"ann\", \"team-x\"]\n").unwrap();
    let r = login::resolve(&h.home, None, &login::Env::default());
    assert!(r.scope.is_none(), "{:?}", r.scope);
    std::fs::write(h.home.config(), "sync = [\"https://evil.test\", 5]\n").unwrap();
    let r = login::resolve(&h.home, None, &login::Env::default());
    assert_ne!(r.server_url, "https://evil.test");
}

/// Shrunk from the property: a TOML datetime where the user name goes was
/// read as the string "07:32:00" and named a scope.
#[test]
fn a_datetime_user_name_is_malformed_not_a_scope() {
    let h = TestHome::new();
    std::fs::write(
        h.home.credentials(),
        "[user]\nusername = 1979-05-27T07:32:00Z\n",
    )
    .unwrap();
    let r = login::resolve(&h.home, None, &login::Env::default());
    assert!(r.scope.is_none(), "{:?}", r.scope);
    assert!(
        r.diagnostics
            .iter()
            .any(|d| d.message.contains("must be a string")),
        "{:?}",
        r.diagnostics
    );
}
