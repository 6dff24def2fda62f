//! Our release profiles give the answers each release's own code gave.
//!
//! `fixtures/releases/<X>/facts.json` were recorded by running spec-kitty-cli
//! X's own functions (`scripts/release-fixtures`). For every release and every
//! recorded identity this suite rebuilds the same home in a temp dir and
//! checks: the queue DB the release selects, the owner-record view its
//! `compute_foreground_identity` derives, its `mismatched_fields` verdicts,
//! its blocking fields, remediation, root rule, generation and the schema
//! versions it can open. No network: the fixtures are text in the repo.

use std::path::{Path, PathBuf};

use serde_json::Value;
use sk_boundary::Home;
use sk_boundary::doctor::identity::{self, AuthScope, ForegroundIdentity};
use sk_boundary::doctor::owner::RedactedOwner;
use sk_boundary::field::Field;
use sk_boundary::login::session::HostUser;
use sk_boundary::login::session::test_support::write_session;
use sk_boundary::login::{self, Env};
use sk_boundary::release::{Generation, Profile, RootRule, Version, profile_for};

fn releases() -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path().join("facts.json");
        if path.exists() {
            let facts: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((facts["release"].as_str().unwrap().to_string(), facts));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 7, "expected the seven captured releases");
    out
}

fn profile(release: &str) -> &'static Profile {
    profile_for(&Version::parse(release).unwrap()).unwrap()
}

fn s(v: &Value) -> Option<&str> {
    v.as_str()
}

/// A home as the capture script wrote it for one identity.
fn home_for(inputs: &Value) -> (tempfile::TempDir, Home) {
    let dir = tempfile::tempdir().unwrap();
    let home = Home::at(dir.path().join(".spec-kitty"));
    std::fs::create_dir_all(home.root()).unwrap();
    if let Some(url) = s(&inputs["config_server_url"]) {
        std::fs::write(home.config(), format!("[sync]\nserver_url = {url:?}\n")).unwrap();
    }
    let user = s(&inputs["user"]).unwrap();
    match s(&inputs["source"]).unwrap() {
        "credentials" => {
            let mut text = format!("[user]\nusername = {user:?}\n");
            if let Some(team) = s(&inputs["team"]) {
                text.push_str(&format!("team_slug = {team:?}\n"));
            }
            if let Some(url) = s(&inputs["credentials_server_url"]) {
                text.push_str(&format!("[server]\nurl = {url:?}\n"));
            }
            std::fs::write(home.credentials(), text).unwrap();
        }
        _ => {
            let teams = match s(&inputs["team"]) {
                Some(t) => format!(
                    r#"[{{"id": {t:?}, "name": "n", "role": "owner", "is_private_teamspace": true}}]"#
                ),
                None => r#"[{"id": "shared", "name": "n", "role": "member", "is_private_teamspace": false}]"#
                    .to_string(),
            };
            let plaintext = format!(r#"{{"email": {user:?}, "teams": {teams}}}"#);
            write_session(&home, &HostUser::current(), plaintext.as_bytes()).unwrap();
        }
    }
    (dir, home)
}

fn env_for(inputs: &Value, profile: &'static Profile) -> Env {
    Env {
        saas_enabled: false,
        saas_url: s(&inputs["saas_url_env"]).map(str::to_string),
        profile,
    }
}

fn relative(home: &Home, path: &str) -> String {
    Path::new(path)
        .strip_prefix(home.root())
        .map_or_else(|_| path.to_string(), |p| p.to_string_lossy().into_owned())
}

#[test]
fn generation_root_blocking_and_remediation_are_the_releases() {
    for (release, facts) in releases() {
        let p = profile(&release);
        assert_eq!(p.generation.as_str(), facts["generation"], "{release}");
        assert_eq!(
            p.root == RootRule::EnvThenUserHome,
            facts["root"]["spec_kitty_home_env_honoured"] == true,
            "{release}: SPEC_KITTY_HOME"
        );
        let blocking: Vec<&str> = p.blocking.iter().map(|f| f.as_str()).collect();
        match facts["blocking_fields"].as_array() {
            Some(want) => assert_eq!(blocking, *want, "{release}"),
            None => assert!(blocking.is_empty(), "{release}"),
        }
        match (&facts["remediation"], p.remediation) {
            (Value::Null, None) => {}
            (r, Some(ours)) => {
                // The release's own sentence names the same commands.
                let restart = r["restart_daemon"].as_str().unwrap();
                assert!(
                    restart.contains(ours.restart_daemon),
                    "{release}: {restart}"
                );
                let relogin = r["relogin"].as_str().unwrap().replace('`', "");
                for cmd in ours.relogin.split(" && ") {
                    assert!(relogin.contains(cmd), "{release}: {relogin} lacks {cmd}");
                }
            }
            (r, None) => panic!("{release}: the release offers {r}"),
        }
    }
}

/// Every recorded identity of every queue-DB release, rebuilt as the home
/// the capture made, with its environment and our resolution: `check` gets
/// (case label, the case, the home, the env, the resolution). Returns how
/// many cases ran.
fn each_identity(mut check: impl FnMut(&str, &Value, &Home, &Env, &login::Resolution)) -> usize {
    let mut n = 0;
    for (release, facts) in releases() {
        let p = profile(&release);
        if !p.has_queue_dbs() {
            continue;
        }
        for case in facts["scopes"].as_array().unwrap() {
            let label = format!("{release} {}", case["name"].as_str().unwrap());
            let (_d, home) = home_for(&case["inputs"]);
            let env = env_for(&case["inputs"], p);
            let r = login::resolve(&home, None, &env);
            check(&label, case, &home, &env, &r);
            n += 1;
        }
    }
    n
}

#[test]
fn the_queue_db_each_release_selects() {
    let checked = each_identity(|label, case, home, _, r| {
        let ours = match &r.scope {
            Some(found) => relative(home, &home.scoped_queue(&found.scope).to_string_lossy()),
            None => "queue.db".to_string(),
        };
        assert_eq!(ours, case["selected_db"], "{label}: {:?}", r.diagnostics);
        if let Some(scope) = s(&case["scope"]) {
            let found = r.scope.as_ref().unwrap();
            assert_eq!(found.scope.to_string(), scope, "{label}");
        }
    });
    assert!(checked >= 60, "{checked}");
}

#[test]
fn the_owner_view_each_release_derives() {
    let mut checked = 0;
    each_identity(|ctx, case, home, env, r| {
        let Some(view) = case.get("owner_view") else {
            return;
        };
        let fg = identity::from_resolution(home, r, env);
        assert_eq!(fg.server_url.as_deref(), s(&view["server_url"]), "{ctx}");
        assert_eq!(fg.auth_scope.as_deref(), s(&view["auth_scope"]), "{ctx}");
        assert_eq!(
            relative(home, fg.queue_db_path.as_deref().unwrap()),
            view["queue_db_path"],
            "{ctx}"
        );
        assert_eq!(
            fg.auth_principal.as_deref(),
            s(&view["auth_principal"]),
            "{ctx}"
        );
        assert_eq!(fg.auth_team.as_deref(), s(&view["auth_team"]), "{ctx}");
        checked += 1;
    });
    assert!(checked >= 30, "{checked}");
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

fn foreground(v: &Value) -> ForegroundIdentity {
    let opt = |k: &str| v[k].as_str().map(str::to_string);
    ForegroundIdentity {
        package_version: opt("package_version"),
        executable_path: opt("executable_path"),
        source_checkout_path: opt("source_checkout_path"),
        server_url: opt("server_url"),
        auth_scope: match v["auth_scope"].as_str() {
            Some(sc) => AuthScope::Scope(sc.to_string()),
            None => AuthScope::NoScope,
        },
        auth_principal: opt("auth_principal"),
        auth_team: opt("auth_team"),
        queue_db_path: opt("queue_db_path"),
    }
}

fn owner(v: &Value) -> RedactedOwner {
    RedactedOwner {
        token: (),
        pid: v["pid"].as_i64().unwrap(),
        port: v["port"].as_u64().unwrap() as u16,
        package_version: text(v, "package_version"),
        executable_path: text(v, "executable_path"),
        source_checkout_path: text(v, "source_checkout_path"),
        server_url: text(v, "server_url"),
        auth_principal: v["auth_principal"].as_str().map(str::to_string),
        auth_team: v["auth_team"].as_str().map(str::to_string),
        auth_scope: v["auth_scope"].as_str().map(str::to_string),
        queue_db_path: text(v, "queue_db_path"),
        started_at: text(v, "started_at"),
    }
}

#[test]
fn mismatch_verdicts_are_the_releases_own() {
    let mut checked = 0;
    for (release, facts) in releases() {
        let p = profile(&release);
        for pair in facts["mismatch"].as_array().into_iter().flatten() {
            let rows =
                identity::compare_view(&foreground(&pair["foreground"]), &owner(&pair["owner"]), p);
            let ours = identity::mismatched_fields(&rows);
            assert_eq!(
                ours,
                *pair["mismatched_fields"].as_array().unwrap(),
                "{release} {}",
                pair["name"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 36, "{checked}");
}

#[test]
fn schema_versions_each_release_opens() {
    for (release, facts) in releases() {
        let p = profile(&release);
        let Some(target) = p.schema else { continue };
        for v in 3..=5u32 {
            let opens = facts["schema"][format!("opens_v{v}")] == "ok";
            let ours = v == target || p.reads_schemas.contains(&v);
            assert_eq!(ours, opens, "{release} V{v}");
        }
    }
}

/// Field names are one enum; the fixtures use the same spelling.
#[test]
fn blocking_fields_are_owner_fields() {
    for (release, facts) in releases() {
        for f in facts["blocking_fields"].as_array().into_iter().flatten() {
            assert!(
                Field::from_name(f.as_str().unwrap()).is_some(),
                "{release} {f}"
            );
        }
    }
    let _ = PathBuf::new();
    let _ = Generation::DbV5;
}

/// 3.2.7's owner record, as its own writer wrote it for a session login,
/// is what we derive for the same home: no false mismatch on 3.2.6+.
#[test]
fn project_store_owner_view_is_the_releases() {
    let facts = releases()
        .into_iter()
        .find(|(r, _)| r == "3.2.7")
        .unwrap()
        .1;
    let inputs = serde_json::json!({
        "config_server_url": "https://Sync.Example.test/", "credentials_server_url": null,
        "saas_url_env": null, "source": "session", "team": "Team-A", "user": "Robert@Example.com"
    });
    let (_d, home) = home_for(&inputs);
    let env = env_for(&inputs, profile("3.2.7"));
    let fg = identity::from_resolution(&home, &login::resolve(&home, None, &env), &env);
    let owner = &facts["owner"];
    assert_eq!(fg.server_url.as_deref(), s(&owner["server_url"]));
    assert_eq!(fg.auth_scope.as_deref(), s(&owner["auth_scope"]));
    assert_eq!(fg.auth_principal.as_deref(), s(&owner["auth_principal"]));
    assert_eq!(fg.auth_team.as_deref(), s(&owner["auth_team"]));
    let want = owner["queue_db_path"]
        .as_str()
        .unwrap()
        .replace("<HOME>/.spec-kitty/", "");
    assert_eq!(relative(&home, fg.queue_db_path.as_deref().unwrap()), want);
    // Every recorded identity hashes as 3.2.7 hashes it.
    for case in facts["scopes"].as_array().unwrap() {
        let i = &case["inputs"];
        let (Some(user), Some(team)) = (s(&i["user"]), s(&i["team"])) else {
            continue;
        };
        let server = identity::target_server_url(
            s(&i["saas_url_env"]),
            s(&i["config_server_url"]).unwrap_or("https://spec-kitty-dev.fly.dev"),
        );
        let ours = sk_boundary::Scope::with_rule(
            sk_boundary::release::ScopeRule::NulDigest,
            &server,
            user,
            team,
        );
        assert_eq!(ours.to_string(), case["scope"], "{}", case["name"]);
    }
}

#[test]
fn the_gate_sees_what_the_releases_gate_sees() {
    let mut checked = 0;
    each_identity(|ctx, case, home, env, r| {
        let Some(view) = case.get("preflight_view") else {
            return;
        };
        if view["server_url"].is_null() {
            return; // no identity: the gate refuses on authentication
        }
        let fg = identity::from_resolution(home, r, env);
        let g = identity::gate_foreground(home, &fg, r, env);
        assert_eq!(g.server_url.as_deref(), s(&view["server_url"]), "{ctx}");
        assert_eq!(g.team_or_user.as_deref(), s(&view["team_or_user"]), "{ctx}");
        assert_eq!(
            relative(home, g.queue_db_path.as_deref().unwrap()),
            view["queue_db_path"],
            "{ctx}"
        );
        checked += 1;
    });
    assert!(checked >= 25, "{checked}");
}

#[test]
fn gate_verdicts_are_the_releases_own() {
    let mut checked = 0;
    for (release, facts) in releases() {
        let p = profile(&release);
        for pair in facts["mismatch"].as_array().into_iter().flatten() {
            let Some(want) = pair.get("preflight_mismatched_fields") else {
                continue;
            };
            let fg = &pair["foreground"];
            let g = identity::GateForeground {
                package_version: s(&fg["package_version"]).map(str::to_string),
                executable_path: s(&fg["executable_path"]).map(str::to_string),
                source_path: s(&fg["source_checkout_path"]).map(str::to_string),
                server_url: s(&fg["server_url"]).map(str::to_string),
                team_or_user: identity::team_or_user(s(&fg["auth_principal"]), s(&fg["auth_team"])),
                queue_db_path: s(&fg["queue_db_path"]).map(str::to_string),
            };
            let ours: Vec<&str> = identity::gate_mismatches(p, &g, &owner(&pair["owner"]))
                .iter()
                .map(|f| f.as_str())
                .collect();
            assert_eq!(
                ours,
                *want.as_array().unwrap(),
                "{release} {}",
                pair["name"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 36, "{checked}");
}
