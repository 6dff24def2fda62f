//! The encrypted session store through the binaries (issue 6's acceptance list):
//! scope from the session when SaaS sync is on, its diagnostics, and secrets
//! that never come out.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::*;
use serde_json::Value;
use sk_boundary::Scope;
use sk_boundary::db::schema::tables::ALL;
use sk_boundary::login::session::HostUser;
use sk_boundary::login::session::test_support::{write_private, write_session};

const SECRET_A: &str = "SESSION-SECRET-aaa";
const SECRET_B: &str = "SESSION-SECRET-bbb";
/// The scope the session names, normalised by hand (not by `Scope::new`).
const SESSION_SCOPE: &str = "https://sync.example.test|robert@example.com|priv-team-7";

/// A shared team first, then the private teamspace the scope must take.
const TEAMS: &str = r#"[
    {"id": "Team-Shared", "name": "Shared", "role": "member", "is_private_teamspace": false},
    {"id": "Priv-Team-7", "name": "Robert", "role": "owner", "is_private_teamspace": true}
]"#;
const NO_PRIVATE_TEAM: &str =
    r#"[{"id": "Team-Shared", "name": "Shared", "role": "member", "is_private_teamspace": false}]"#;

fn plaintext(teams: &str) -> String {
    format!(
        r#"{{"email": "Robert@Example.com", "access_token": "{SECRET_A}",
            "refresh_token": "{SECRET_B}", "user_id": 7, "teams": {teams},
            "expires_at": "2026-05-01T00:00:00Z"}}"#
    )
}

fn session_scope() -> Scope {
    Scope::new(
        "https://Sync.Example.test/",
        "Robert@Example.com",
        "Priv-Team-7",
    )
}

/// A home with a configured server and the V5 legacy fixture; no
/// credentials file, no session yet.
fn base_home() -> TestHome {
    let h = TestHome::new();
    std::fs::write(
        h.home.config(),
        "[sync]\nserver_url = \"https://Sync.Example.test/\"\n",
    )
    .unwrap();
    h.legacy("legacy_v5");
    h
}

/// [`base_home`] plus a session encrypted for `host` holding `teams`.
fn session_home_for(host: &HostUser, teams: &str) -> TestHome {
    let h = base_home();
    write_session(&h.home, host, plaintext(teams).as_bytes()).unwrap();
    h
}

/// [`base_home`] plus a session this host and user can open.
fn session_home() -> TestHome {
    session_home_for(&HostUser::current(), TEAMS)
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Run `bin` in `h` with `SPEC_KITTY_ENABLE_SAAS_SYNC` set to `saas` (unset: `None`).
fn run(h: &TestHome, saas: Option<&str>, bin: &str, args: &[&str]) -> Out {
    let mut cmd = h.cmd(bin);
    if let Some(v) = saas {
        cmd.env("SPEC_KITTY_ENABLE_SAAS_SYNC", v);
    }
    let out = cmd.args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !stderr.contains("panicked"),
        "{bin} {args:?} panicked: {stderr}"
    );
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr,
    }
}

fn saas_on(h: &TestHome, bin: &str, args: &[&str]) -> Out {
    run(h, Some("1"), bin, args)
}

fn assert_no_secret(what: &str, text: &str) {
    for s in [SECRET_A, SECRET_B] {
        assert!(!text.contains(s), "{s} leaked in {what}: {text}");
    }
}

/// Every row of every table (all columns but `id`), sorted per table.
fn rows_without_id(path: &Path) -> Vec<(String, Vec<String>)> {
    ALL.iter()
        .map(|t| {
            let mut rows: Vec<String> = rows(path, t.name())
                .into_iter()
                .map(|mut r| {
                    r.remove("id");
                    format!("{r:?}")
                })
                .collect();
            rows.sort();
            (t.name().to_string(), rows)
        })
        .collect()
}

#[test]
fn saas_on_session_scope_moves_legacy_rows_into_its_db() {
    let h = session_home();
    let before = rows_without_id(&h.home.legacy_queue());
    assert!(before.iter().all(|(_, r)| !r.is_empty()), "{before:?}");
    assert!(!h.home.credentials().exists());

    let out = saas_on(&h, "sk-migrate", &["run", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["status"], "migrated", "{json:#}");
    assert_eq!(json["scope"], SESSION_SCOPE);
    assert_eq!(session_scope().to_string(), SESSION_SCOPE);
    let scoped = h.home.scoped_queue(&session_scope());
    assert_eq!(json["scoped_db"], scoped.display().to_string());
    assert!(scoped.exists());
    // Every legacy row is now in the session scope's DB, and gone from legacy.
    assert_eq!(rows_without_id(&scoped), before);
    for t in ALL {
        assert_eq!(count(&h.home.legacy_queue(), t.name()), 0, "{}", t.name());
    }
    // The only scoped DB is the session's.
    let dbs: Vec<_> = std::fs::read_dir(h.home.queues_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(dbs, [scoped.file_name().unwrap()]);
}

/// 3.2.x reads the session whatever `SPEC_KITTY_ENABLE_SAAS_SYNC` says
/// (measured: fixtures/releases/3.2.*/facts.json), so the move follows it;
/// 3.1 reads only `credentials`, so under 3.1 the session is not read.
#[test]
fn the_session_is_read_as_the_release_reads_it() {
    for saas in [None, Some("0")] {
        let h = session_home();
        let out = run(&h, saas, "sk-migrate", &["run", "--json"]);
        assert_eq!(out.code, 0, "{saas:?}: {}", out.stderr);
        assert_eq!(out.json()["scope"], SESSION_SCOPE, "{saas:?}");
    }
    let h = session_home();
    let before = tree_hash(h.root());
    let root = h.root().display().to_string();
    let out = run(
        &h,
        Some("1"),
        "sk-migrate",
        &["--home", &root, "--release", "3.1.10", "run", "--json"],
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.json()["status"], "no_scope");
    assert!(!out.stderr.contains("session"), "{}", out.stderr);
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn session_goes_ahead_of_credentials_in_3_2() {
    let h = session_home();
    h.login();
    let json = saas_on(&h, "sk-migrate", &["run", "--dry-run", "--json"]).json();
    assert_eq!(json["status"], "dry_run");
    assert_eq!(json["scope"], SESSION_SCOPE);
    let json = run(&h, Some("0"), "sk-migrate", &["run", "--dry-run", "--json"]).json();
    assert_eq!(json["scope"], SESSION_SCOPE);
    // A release that reads only credentials (3.1) takes the credentials' scope.
    let root = h.root().display().to_string();
    let json = run(
        &h,
        Some("1"),
        "sk-migrate",
        &[
            "--home",
            &root,
            "--release",
            "3.1.10",
            "run",
            "--dry-run",
            "--json",
        ],
    )
    .json();
    assert_eq!(json["scope"], h.scope().to_string());
    // --scope wins over both.
    let flag = "https://flag.example.test|f@example.test|t";
    let json = saas_on(
        &h,
        "sk-migrate",
        &["run", "--dry-run", "--json", "--scope", flag],
    )
    .json();
    assert_eq!(json["scope"], flag);
}

#[test]
fn doctor_shows_the_session_scope_and_its_source() {
    let h = session_home();
    let before = tree_hash(h.root());
    let out = saas_on(&h, "sk-doctor", &["--json", "--no-probe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["foreground"]["auth_scope"], SESSION_SCOPE, "{json:#}");
    let codes: Vec<&str> = json["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(!codes.contains(&"auth_required"), "{codes:?}");
    // A scope resolves, so the legacy fixture's rows are stranded.
    assert!(codes.contains(&"legacy_rows"), "{codes:?}");

    let out = saas_on(&h, "sk-doctor", &["--no-probe"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains(&format!("scope: {SESSION_SCOPE} (from session)")),
        "{}",
        out.stdout
    );
    assert_eq!(tree_hash(h.root()), before, "sk-doctor never writes");
}

/// A home whose session cannot name a scope, and what the tools must say.
struct Broken {
    name: &'static str,
    home: TestHome,
    expect: Vec<String>,
}

fn broken_homes() -> Vec<Broken> {
    let me = HostUser::current();
    let mut out = Vec::new();

    let elsewhere = HostUser {
        hostname: format!("{}-elsewhere", me.hostname),
        uid: me.uid,
    };
    out.push(Broken {
        name: "written on another host",
        home: session_home_for(&elsewhere, TEAMS),
        expect: vec!["probably copied from another host or user".into()],
    });

    let other_uid = HostUser {
        hostname: me.hostname.clone(),
        uid: me.uid.wrapping_add(1),
    };
    out.push(Broken {
        name: "written by another user",
        home: session_home_for(&other_uid, TEAMS),
        expect: vec!["probably copied from another host or user".into()],
    });

    let h = session_home();
    write_private(&h.home.session_salt(), &[7u8; 15]).unwrap();
    out.push(Broken {
        name: "15-byte salt",
        home: h,
        expect: vec![
            "holds 15 bytes, expected a 16-byte salt".into(),
            "session.salt".into(),
        ],
    });

    let h = session_home();
    std::fs::remove_file(h.home.session_salt()).unwrap();
    let salt = h.home.session_salt().display().to_string();
    out.push(Broken {
        name: "missing salt",
        home: h,
        expect: vec![format!("{salt} is missing")],
    });

    let h = session_home();
    let mut env: Value =
        serde_json::from_slice(&std::fs::read(h.home.session_json()).unwrap()).unwrap();
    env["version"] = 3.into();
    write_private(&h.home.session_json(), env.to_string().as_bytes()).unwrap();
    out.push(Broken {
        name: "version 3",
        home: h,
        expect: vec!["session format version 3 is not supported".into()],
    });

    let h = session_home();
    std::fs::set_permissions(
        h.home.session_json(),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let session = h.home.session_json().display().to_string();
    out.push(Broken {
        name: "mode 0644",
        home: h,
        expect: vec!["mode 0644".into(), format!("chmod 600 {session}")],
    });

    out.push(Broken {
        name: "no private teamspace",
        home: session_home_for(&me, NO_PRIVATE_TEAM),
        expect: vec!["no private teamspace".into()],
    });
    out
}

#[test]
fn each_unusable_session_is_a_clear_non_fatal_diagnostic_and_writes_nothing() {
    for b in broken_homes() {
        let h = &b.home;
        let name = b.name;
        let session = h.home.session_json().display().to_string();
        let before = tree_hash(h.root());

        let out = saas_on(h, "sk-migrate", &["run", "--json"]);
        assert_eq!(out.code, 0, "{name}: {}", out.stderr);
        let json = out.json();
        assert_eq!(json["status"], "no_scope", "{name}: {json:#}");
        assert!(
            out.stderr
                .lines()
                .any(|l| l.starts_with("sk-migrate: warning: ") && l.contains(&session)),
            "{name}: {}",
            out.stderr
        );
        for e in &b.expect {
            assert!(
                out.stderr.contains(e),
                "{name}: want {e:?} in {}",
                out.stderr
            );
        }
        assert_no_secret(name, &out.stdout);
        assert_no_secret(name, &out.stderr);

        let out = saas_on(h, "sk-doctor", &["--check", "--no-probe", "--json"]);
        assert_eq!(out.code, 2, "{name}: {}", out.stderr);
        let json = out.json();
        let codes: Vec<&str> = json["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["auth_required"], "{name}: {json:#}");
        assert_eq!(json["foreground"]["auth_scope"], Value::Null, "{name}");
        let warnings: Vec<&str> = json["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        let warning = warnings
            .iter()
            .find(|w| w.contains(&session))
            .unwrap_or_else(|| panic!("{name}: no session warning in {warnings:?}"));
        for e in &b.expect {
            assert!(
                warning.contains(e.as_str()),
                "{name}: want {e:?} in {warning}"
            );
        }
        assert_no_secret(name, &out.stdout);
        assert_no_secret(name, &out.stderr);

        // Human output carries it too (wrapped: compare with whitespace collapsed).
        let out = saas_on(h, "sk-doctor", &["--check", "--no-probe"]);
        assert_eq!(out.code, 2, "{name}");
        let flat = out.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        for e in &b.expect {
            assert!(
                flat.contains(e.as_str()),
                "{name}: want {e:?} in {}",
                out.stdout
            );
        }

        assert_eq!(tree_hash(h.root()), before, "{name}: the home changed");
    }
}

#[test]
fn planted_tokens_appear_in_no_output_and_no_file() {
    let a = session_home();
    let b = session_home();
    let mut outputs = Vec::new();
    let mut take = |h: &TestHome, bin: &str, args: &[&str]| {
        let out = saas_on(h, bin, args);
        outputs.push((format!("{bin} {args:?}"), out));
    };
    take(&a, "sk-migrate", &["run", "--json", "-v"]);
    take(&b, "sk-migrate", &["run", "-v"]);
    for h in [&a, &b] {
        take(h, "sk-migrate", &["status"]);
        take(h, "sk-migrate", &["status", "--json"]);
        take(h, "sk-migrate", &["run", "-v"]);
        take(h, "sk-doctor", &["--no-probe"]);
        take(h, "sk-doctor", &["--no-probe", "--json"]);
        take(h, "sk-doctor", &["--no-probe", "--check"]);
        take(h, "sk-doctor", &["--no-probe", "preflight"]);
        take(h, "sk-doctor", &["--no-probe", "preflight", "--json"]);
    }
    // Before the move, preflight refuses (legacy rows) and prints to stderr.
    let c = session_home();
    take(&c, "sk-doctor", &["--no-probe", "preflight"]);
    take(&c, "sk-doctor", &["--no-probe", "preflight", "--json"]);

    // The runs really used the session: they moved rows and said so.
    let (_, first) = &outputs[0];
    assert_eq!(first.json()["status"], "migrated");
    assert!(first.stderr.contains("moved queue"), "{}", first.stderr);
    let (_, human) = &outputs[1];
    assert!(human.stdout.contains(SESSION_SCOPE), "{}", human.stdout);
    assert!(
        human.stderr.contains("moved body_upload_queue"),
        "{}",
        human.stderr
    );
    assert!(
        outputs
            .iter()
            .any(|(_, o)| o.stderr.contains("sk-migrate run") && o.code == 2),
        "a preflight should have refused on the legacy rows"
    );
    for (what, out) in &outputs {
        assert_no_secret(&format!("{what} stdout"), &out.stdout);
        assert_no_secret(&format!("{what} stderr"), &out.stderr);
    }

    for h in [&a, &b, &c] {
        let journal = h.home.migrate_journal();
        if h.home.root() != c.home.root() {
            let text = std::fs::read_to_string(&journal).unwrap();
            assert!(text.contains(SESSION_SCOPE), "{text}");
            assert_no_secret("the journal", &text);
        }
        // Nor in any file the tools left (DBs, journal, ...), as bytes.
        for (rel, _) in tree_hash(h.root()) {
            let bytes = std::fs::read(h.root().join(&rel)).unwrap();
            for s in [SECRET_A, SECRET_B] {
                assert!(
                    !bytes.windows(s.len()).any(|w| w == s.as_bytes()),
                    "{s} in {rel}"
                );
            }
        }
    }
}
