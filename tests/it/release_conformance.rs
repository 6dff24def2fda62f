//! Our release model gives the answers each release's own code gave, for
//! every fact captured.
//!
//! `fixtures/releases/<X>/facts.json` were recorded by running spec-kitty-cli
//! X's own functions (`scripts/release-fixtures`). This suite walks every
//! captured release (no list of releases here) and compares each fact with
//! what our code derives for the same inputs: the queue DB the release
//! selects, its owner-record and gate views, its verdicts, blocking fields,
//! remediation hints, root rule, generation, the DDL it creates (against our
//! migrations and our fingerprints), the body-queue column names, the schema
//! versions it opens and what it does to them, and the owner file.
//!
//! Every fact is read through a checker ([`facts::Facts`]) that records what
//! was compared; a leaf of any release's facts that no check compared fails
//! the suite, so a new or changed fact cannot pass unnoticed. Only prose
//! (`PROSE`) is exempt. `a_changed_fact_fails_the_suite` proves it by
//! mutating facts. No network: the fixtures are text in the repo.

mod facts;
mod queue;
mod schema;
mod store;

use std::panic::{AssertUnwindSafe, catch_unwind};

use facts::{Facts, Node};
use serde_json::{Value, json};
use sk_boundary::Home;
use sk_boundary::doctor::identity::{self, AuthScope, ForegroundIdentity};
use sk_boundary::doctor::owner::{OwnerRecord, RedactedOwner};
use sk_boundary::field::Field;
use sk_boundary::login::Env;
use sk_boundary::login::session::HostUser;
use sk_boundary::login::session::test_support::write_session;
use sk_boundary::release::{GateField, Profile, RootRule, Version, profile_for};

/// Prose, not facts: how each fact was measured and what differs from the
/// design notes (derived from the facts it sits beside), and the list of
/// placeholders the capture wrote. Every other key is compared.
const PROSE: &[&str] = &["/notes", "/normalised"];

pub fn profile(release: &str) -> &'static Profile {
    profile_for(&Version::parse(release).unwrap()).unwrap()
}

pub fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

/// The oldest captured release of the same capture script (queue-DB or
/// project-store releases): its fixed inputs, identity names and pair names
/// are every release's, as the capture scripts define them.
/// `owner`: the oldest with an owner record (whose pairs are the reference).
/// Is this scope case (name and inputs) one of the identities the capture
/// script feeds every release of its kind (`queue`: a queue-DB release)?
pub fn assert_capture_identity(f: &Facts, case: &Node, name: &str, queue: bool) {
    let i = case.raw().pointer("/inputs").unwrap().clone();
    let same = reference(queue)["scopes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == name && r["inputs"] == i);
    assert!(
        same,
        "{} {name}: not one of the capture's identities",
        f.release
    );
}

pub fn reference(queue: bool) -> &'static Value {
    reference_of(queue, false)
}

pub fn reference_of(queue: bool, owner: bool) -> &'static Value {
    static REFS: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    let refs = REFS.get_or_init(|| {
        let all = facts::all();
        let pick = |queue: bool, owner: bool| {
            let f = all
                .iter()
                .find(|f| {
                    let p = profile(&f.release);
                    p.has_queue_dbs() == queue && (!owner || !p.blocking.is_empty())
                })
                .unwrap();
            serde_json::from_slice(&std::fs::read(f.dir.join("facts.json")).unwrap()).unwrap()
        };
        vec![pick(true, false), pick(true, true), pick(false, true)]
    });
    match (queue, owner) {
        (true, false) => &refs[0],
        (true, true) => &refs[1],
        (false, _) => &refs[2],
    }
}

/// Every check, for one release.
fn check_release(f: &Facts) {
    let p = profile(&f.release);
    // Cheap checks first (the mutation test relies on it).
    check_release_rules(f, p);
    check_owner_and_verdicts(f, p);
    if p.has_queue_dbs() {
        schema::check_ddl(f, p);
        schema::check_schema_probe(f, p);
        queue::check_scopes(f, p);
        queue::check_scope_sources(f, p);
    } else {
        store::check(f, p);
    }
}

/// Runs every check of every captured release; a panic or an unchecked
/// fact of any release is a failure, all of them reported.
fn failures(releases: &[Facts]) -> Vec<String> {
    let mut out = Vec::new();
    for f in releases {
        for prose in PROSE {
            f.at(&prose[1..]);
        }
        let run = catch_unwind(AssertUnwindSafe(|| check_release(f)));
        if let Err(e) = run {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            out.push(format!("{}: {msg}", f.release));
            continue;
        }
        let left = f.unchecked();
        if !left.is_empty() {
            out.push(format!("{}: facts no check compared: {left:?}", f.release));
        }
    }
    out
}

#[test]
fn every_captured_fact_of_every_release_is_ours() {
    let releases = facts::all();
    assert!(!releases.is_empty(), "no fixtures/releases/*/facts.json");
    let failed = failures(&releases);
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

/// Change one fact, see the suite fail: for the newest captured release of
/// each generation, the first fact of every top-level key and every fact of
/// the first identity, pair, owner record, DDL, schema probe and remediation
/// (the checks reach those first, so each run stops early).
#[test]
fn a_changed_fact_fails_the_suite() {
    let mut by_generation = std::collections::BTreeMap::new();
    for f in facts::all() {
        by_generation.insert(f.at("generation").to_string(), f.dir.clone());
    }
    // Our own panics here are expected: keep them off the output.
    let me = std::thread::current().id();
    let previous = std::sync::Arc::new(std::panic::take_hook());
    let hook = previous.clone();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() != me {
            hook(info)
        }
    }));
    let mut tried = 0;
    let mut missed = Vec::new();
    for dir in by_generation.values() {
        let load = || {
            let v = serde_json::from_slice(&std::fs::read(dir.join("facts.json")).unwrap());
            Facts::from_value(dir.clone(), v.unwrap())
        };
        let mut last_top = String::new();
        for leaf in load().leaves() {
            let top = leaf.split('/').nth(1).unwrap_or_default().to_string();
            let first = top != last_top;
            last_top = top;
            let early = [
                "/scopes/0/",
                "/mismatch/0/",
                "/owner/",
                "/ddl/",
                "/schema/",
                "/remediation/",
            ]
            .iter()
            .any(|p| leaf.starts_with(p));
            let prose = PROSE.iter().any(|p| leaf.starts_with(p))
                || store::STORE_PROSE
                    .iter()
                    .any(|p| leaf.starts_with(&format!("/{p}")));
            if !(first || early) || prose {
                continue;
            }
            let mut f = load();
            let v = f.value_mut().pointer_mut(&leaf).unwrap();
            *v = mutated(v);
            if failures(std::slice::from_ref(&f)).is_empty() {
                missed.push(format!("{} {leaf}", f.release));
            }
            tried += 1;
        }
    }
    let _ = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| previous(info)));
    assert!(missed.is_empty(), "changed, still passes: {missed:?}");
    assert!(tried >= 100, "{tried}");
}

fn mutated(v: &Value) -> Value {
    match v {
        Value::Null => json!("changed"),
        Value::Bool(b) => json!(!b),
        Value::Number(n) => json!(n.as_i64().unwrap_or(0) + 1),
        Value::String(s) if s.is_empty() => json!("changed"),
        Value::String(s) => json!(format!("{s}x")),
        Value::Array(_) => json!(["changed"]),
        Value::Object(_) => json!({"changed": true}),
    }
}

/// Release, generation, root, blocking fields, remediation.
fn check_release_rules(f: &Facts, p: &Profile) {
    let r = f.root();
    assert_eq!(r.at("release"), f.release.as_str(), "release");
    assert_eq!(r.at("generation"), p.generation.as_str(), "generation");
    assert_eq!(
        r.child("root").at("spec_kitty_home_env_honoured"),
        p.root == RootRule::EnvThenUserHome,
        "SPEC_KITTY_HOME"
    );
    let blocking: Vec<&str> = p.blocking.iter().map(|f| f.as_str()).collect();
    let want = r.at("blocking_fields");
    if blocking.is_empty() {
        assert!(want.is_null(), "blocking_fields: none in our profile");
    } else {
        assert_eq!(want, &json!(blocking), "blocking_fields");
    }
    for f in &blocking {
        assert!(Field::from_name(f).is_some(), "{f}");
    }
    check_remediation(&r.child("remediation"), p);
}

/// The commands and the hints, field by field (`GateField::hint` is ours).
fn check_remediation(rem: &Node, p: &Profile) {
    let Some(ours) = p.remediation else {
        assert!(
            rem.value().is_null(),
            "{}: the release offers remediation",
            rem.path()
        );
        return;
    };
    if rem.has("hints") {
        // Queue generations: the commands, and `_REMEDIATION_HINTS` whole.
        assert_eq!(rem.at("restart_daemon"), ours.restart_daemon);
        assert_eq!(
            rem.at("relogin"),
            ours.relogin.replace(" && ", " then ").as_str()
        );
        let hints = rem.child("hints");
        let mut keys = hints.keys();
        keys.sort();
        let mut want: Vec<&str> = p.gate.iter().map(|g| g.as_str()).collect();
        want.sort();
        assert_eq!(keys, want, "hint keys are the gate's fields");
        for g in p.gate {
            assert_eq!(hints.at(g.as_str()), g.hint(), "hint for {}", g.as_str());
        }
    } else {
        // Project store: the three distinct hint sentences.
        assert_eq!(rem.at("restart_daemon"), GateField::PackageVersion.hint());
        assert_eq!(rem.at("relogin"), GateField::TeamOrUser.hint());
        assert_eq!(rem.at("server_url"), GateField::ServerUrl.hint());
        assert!(
            GateField::PackageVersion
                .hint()
                .contains(ours.restart_daemon)
        );
        for cmd in ours.relogin.split(" && ") {
            assert!(GateField::TeamOrUser.hint().contains(cmd), "{cmd}");
        }
    }
}

/// A home as the capture script wrote it for one identity (reads every input).
pub fn home_for(inputs: &Node) -> (tempfile::TempDir, Home) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path().join(".spec-kitty"));
    std::fs::create_dir_all(home.root()).unwrap();
    if let Some(url) = inputs.str("config_server_url") {
        std::fs::write(home.config(), format!("[sync]\nserver_url = {url:?}\n")).unwrap();
    }
    let user = inputs.str("user").unwrap();
    let team = inputs.str("team");
    let creds_url = inputs.str("credentials_server_url");
    inputs.at("saas_url_env");
    match inputs.str("source").unwrap() {
        "credentials" => write_credentials(&home, user, team, creds_url),
        "session" => {
            assert!(creds_url.is_none(), "a session case has no credentials");
            session_login(&home, user, team)
        }
        other => panic!("unknown source {other}"),
    }
    (dir, home)
}

pub fn write_credentials(home: &Home, user: &str, team: Option<&str>, url: Option<&str>) {
    let mut text = format!("[user]\nusername = {user:?}\n");
    if let Some(team) = team {
        text.push_str(&format!("team_slug = {team:?}\n"));
    }
    if let Some(url) = url {
        text.push_str(&format!("[server]\nurl = {url:?}\n"));
    }
    std::fs::write(home.credentials(), text).unwrap();
}

/// A session whose private team (when `team` is set) is `team`.
pub fn session_login(home: &Home, user: &str, team: Option<&str>) {
    let teams = match team {
        Some(t) => format!(
            r#"[{{"id": {t:?}, "name": "n", "role": "owner", "is_private_teamspace": true}}]"#
        ),
        None => {
            r#"[{"id": "shared", "name": "n", "role": "member", "is_private_teamspace": false}]"#
                .to_string()
        }
    };
    let plaintext = format!(r#"{{"email": {user:?}, "teams": {teams}}}"#);
    write_session(home, &HostUser::current(), plaintext.as_bytes()).unwrap();
}

pub fn env_for(inputs: &Node, profile: &'static Profile) -> Env {
    Env {
        saas_enabled: false,
        saas_url: inputs.str("saas_url_env").map(str::to_string),
        profile,
    }
}

/// `path` relative to the home's root (as the fixtures give queue paths).
pub fn relative(home: &Home, path: &str) -> String {
    std::path::Path::new(path)
        .strip_prefix(home.root())
        .map_or_else(|_| path.to_string(), |p| p.to_string_lossy().into_owned())
}

fn foreground(v: &Node) -> ForegroundIdentity {
    let opt = |k: &str| v.str(k).map(str::to_string);
    ForegroundIdentity {
        package_version: opt("package_version"),
        executable_path: opt("executable_path"),
        source_checkout_path: opt("source_checkout_path"),
        server_url: opt("server_url"),
        auth_scope: match v.str("auth_scope") {
            Some(sc) => AuthScope::Scope(sc.to_string()),
            None => AuthScope::NoScope,
        },
        auth_principal: opt("auth_principal"),
        auth_team: opt("auth_team"),
        queue_db_path: opt("queue_db_path"),
    }
}

/// The release's owner record, read by our own reader. Placeholders the
/// capture put in for run-time values become valid values of that field.
fn owner_record(v: &Node) -> OwnerRecord {
    let mut raw = v.value().clone();
    if raw["started_at"] == "<TIMESTAMP>" {
        raw["started_at"] = json!("2026-01-01T00:00:00+00:00");
    }
    OwnerRecord::from_json(&raw).unwrap_or_else(|e| panic!("{}: {e}", v.path()))
}

/// An owner record as a pair gives it (no token), read by our reader.
fn owner(v: &Node) -> RedactedOwner {
    let mut raw = v.value().clone();
    if raw["started_at"] == "<TIMESTAMP>" {
        raw["started_at"] = json!("2026-01-01T00:00:00+00:00");
    }
    RedactedOwner::from_json(&raw).unwrap_or_else(|e| panic!("{}: {e}", v.path()))
}

/// The owner record the release wrote, the pairs it judged, and its gate.
fn check_owner_and_verdicts(f: &Facts, p: &'static Profile) {
    let r = f.root();
    let pairs = r.child("mismatch").items();
    if p.blocking.is_empty() {
        assert!(
            r.at("owner").is_null(),
            "owner record in a release without one"
        );
        assert_eq!(r.at("mismatch"), &json!([]), "mismatch pairs");
        assert!(r.at("owner_normalised").is_null());
        return;
    }
    assert!(pairs.len() >= 10, "mismatch pairs: {}", pairs.len());
    let reference = reference_of(p.has_queue_dbs(), true);
    let names: Vec<&Value> = reference["mismatch"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| &x["name"])
        .collect();
    assert_eq!(pairs.len(), names.len(), "the capture's pairs");
    // The record fields the capture fixes (fixtures/releases/README.md).
    let fixed = if p.has_queue_dbs() {
        json!({"pid": 424242, "port": 9417, "started_at": "2026-01-01T00:00:00+00:00"})
    } else {
        json!({"pid": 424242, "port": 9400, "started_at": "<TIMESTAMP>", "token": "<TOKEN>"})
    };
    const IDENTITY: [&str; 8] = [
        "package_version",
        "executable_path",
        "source_checkout_path",
        "server_url",
        "auth_principal",
        "auth_team",
        "auth_scope",
        "queue_db_path",
    ];
    let ref_pairs = reference["mismatch"].as_array().unwrap();
    for ((pair, want_name), ref_pair) in pairs.iter().zip(names).zip(ref_pairs) {
        let name = pair.at("name");
        assert_eq!(name, want_name, "the capture's pairs, in its order");
        let o = pair.child("owner");
        for (k, v) in fixed.as_object().unwrap() {
            // The capture's fixed values, or the pair's own variation of them.
            let want = if name == "identical" {
                v
            } else {
                &ref_pair["owner"][k]
            };
            assert_eq!(o.at(k), want, "{name}: owner {k}");
        }
        // The foreground the capture compared: the owner record's identity
        // (queue releases: one home for every pair; store: the identical pair).
        if p.has_queue_dbs() || name == "identical" {
            let fgn = pair.child("foreground");
            for k in IDENTITY {
                assert_eq!(fgn.at(k), &r.raw()["owner"][k], "{name}: foreground {k}");
                if name == "identical" {
                    assert_eq!(o.at(k), &r.raw()["owner"][k], "{name}: owner {k}");
                }
            }
        }
        let fg = foreground(&pair.child("foreground"));
        let own = owner(&pair.child("owner"));
        let rows = identity::compare_view(&fg, &own, p);
        let ours: Vec<&str> = identity::mismatched_fields(&rows)
            .into_iter()
            .map(|f| f.as_str())
            .collect();
        assert_eq!(
            ours,
            *pair.at("mismatched_fields").as_array().unwrap(),
            "{name}"
        );
        let gate = pair.at("preflight_mismatched_fields");
        if gate.is_null() {
            continue;
        }
        let g = identity::GateForeground {
            package_version: fg.package_version.clone(),
            executable_path: fg.executable_path.clone(),
            source_path: fg.source_checkout_path.clone(),
            server_url: fg.server_url.clone(),
            team_or_user: identity::team_or_user(
                fg.auth_principal.as_deref(),
                fg.auth_team.as_deref(),
            ),
            queue_db_path: fg.queue_db_path.clone(),
        };
        let ours: Vec<&str> = identity::gate_mismatches(p, &g, &own)
            .iter()
            .map(|f| f.as_str())
            .collect();
        assert_eq!(ours, *gate.as_array().unwrap(), "gate {name}");
    }
    if p.has_queue_dbs() {
        queue::check_owner_record(f, p);
    } else {
        store::check_owner_record(f, p);
    }
}

/// The queue caps of the release model are the ones each queue-DB release's
/// own writers showed when driven (`fixtures/releases/X/caps.json`,
/// `capture_caps.py`): the default cap, that `[sync] max_queue_size` moves
/// it (the body queue's only where it is not hard-coded), and what a write
/// at the cap does (events: the oldest evicted; bodies: the new one refused).
#[test]
fn the_queue_caps_in_the_release_model_are_the_ones_driven() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let (mut checked, mut queue_db_releases) = (0, 0);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let release = dir.file_name().unwrap().to_str().unwrap().to_string();
        let profile = profile_for(&Version::parse(&release).unwrap()).unwrap();
        let path = dir.join("caps.json");
        if profile.has_queue_dbs() {
            queue_db_releases += 1;
        } else {
            assert!(
                profile.queue_caps.is_none(),
                "{release}: caps without queue DBs"
            );
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/release-fixtures {release})",
                path.display()
            )
        });
        let f: Value = serde_json::from_str(&text).unwrap();
        let caps = profile
            .queue_caps
            .unwrap_or_else(|| panic!("{release}: no queue_caps"));
        let at = |q: &str, k: &str| f[q][k].as_u64().unwrap();
        let driven = f["driven_cap"].as_i64().unwrap();
        assert_eq!(f["release"], release.as_str());
        assert_eq!(f["config_key"], "[sync] max_queue_size");
        assert_eq!(caps.events(None), at("events", "default_cap"), "{release}");
        assert_eq!(
            caps.events(Some(driven)),
            at("events", "configured_cap"),
            "{release}"
        );
        assert_eq!(caps.bodies(None), at("bodies", "default_cap"), "{release}");
        assert_eq!(
            caps.bodies(Some(driven)),
            at("bodies", "configured_cap"),
            "{release}"
        );
        assert_eq!(
            f["bodies"]["follows_config"].as_bool().unwrap(),
            caps.body_fixed.is_none(),
            "{release}"
        );
        let driven = driven as usize;
        for (q, behaviour) in [("events", "evict-oldest"), ("bodies", "refuse-new")] {
            let run = &f[q]["at_cap"];
            assert_eq!(run["behaviour"], behaviour, "{release} {q}: {run}");
            assert_eq!(
                run["kept"].as_array().unwrap().len(),
                driven,
                "{release} {q}"
            );
            assert!(
                run["calls"].as_u64().unwrap() as usize > driven,
                "{release} {q}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, queue_db_releases);
    assert!(checked >= 20, "only {checked} releases driven");
}
