//! Queue-DB generations (2.1 – 3.2.5): the scope and queue DB each identity
//! selects, the views the owner record and the gate derive, the identity
//! sources, and the owner record the release wrote.

use sk_boundary::Scope;
use sk_boundary::doctor::identity;
use sk_boundary::login::config::DEFAULT_SERVER_URL;
use sk_boundary::login::{self, Env};
use sk_boundary::release::{ForegroundRule, IdentityRule, Profile};

use super::facts::{Facts, Node};
use super::{env_for, home_for, owner_record, relative, s, session_login, write_credentials};

/// Every recorded identity: rebuilt as the home the capture made, resolved
/// by us, compared with every view the release recorded for it.
pub fn check_scopes(f: &Facts, p: &'static Profile) {
    let cases = f.root().child("scopes").items();
    assert!(cases.len() >= 16, "scopes: {}", cases.len());
    for case in &cases {
        let name = case.at("name").as_str().unwrap().to_string();
        super::assert_capture_identity(f, case, &name, true);
        let inputs = case.child("inputs");
        let (_d, home) = home_for(&inputs);
        let env = env_for(&inputs, p);
        let r = login::resolve(&home, None, &env);
        let ctx = format!("{} {name}", f.release);
        let write = case.at("session_write");
        if inputs.raw()["source"] == "session" {
            session_written(write, p, &ctx);
        } else {
            assert!(write.is_null(), "{ctx}: session_write");
        }
        // The queue the release's OfflineQueue selects, its scope and server.
        let selected = match &r.scope {
            Some(found) => relative(&home, &home.scoped_queue(&found.scope).to_string_lossy()),
            None => "queue.db".to_string(),
        };
        assert_eq!(
            case.at("selected_db"),
            selected.as_str(),
            "{ctx}: {:?}",
            r.diagnostics
        );
        let scoped = r.scope.as_ref().map(|_| selected.as_str());
        assert_eq!(case.str("scoped_db"), scoped, "{ctx}: scoped_db");
        let scope = r.scope.as_ref().map(|x| x.scope.to_string());
        assert_eq!(case.str("scope"), scope.as_deref(), "{ctx}: scope");
        let server = r.scope.as_ref().map(|x| x.scope.server());
        assert_eq!(
            case.str("server_url"),
            server.as_deref(),
            "{ctx}: server_url"
        );
        check_views(case, &home, &env, &r, p, &ctx);
    }
}

/// `owner_view`, `preflight_view`, `target_authority`: present exactly in
/// the releases whose profile has an owner record / a gate / the env rule.
fn check_views(
    case: &Node,
    home: &sk_boundary::Home,
    env: &Env,
    r: &login::Resolution,
    p: &'static Profile,
    ctx: &str,
) {
    let fg = identity::from_resolution(home, r, env);
    let view = case.child("owner_view");
    assert_eq!(
        view.raw().is_null(),
        p.blocking.is_empty(),
        "{ctx}: owner_view"
    );
    if !view.raw().is_null() {
        assert_eq!(view.str("server_url"), fg.server_url.as_deref(), "{ctx}");
        assert_eq!(view.str("auth_scope"), fg.auth_scope.as_deref(), "{ctx}");
        let q = relative(home, fg.queue_db_path.as_deref().unwrap());
        assert_eq!(view.at("queue_db_path"), q.as_str(), "{ctx}");
        assert_eq!(
            view.str("auth_principal"),
            fg.auth_principal.as_deref(),
            "{ctx}"
        );
        assert_eq!(view.str("auth_team"), fg.auth_team.as_deref(), "{ctx}");
    }
    let gate = case.child("preflight_view");
    assert_eq!(
        gate.raw().is_null(),
        p.gate.is_empty(),
        "{ctx}: preflight_view"
    );
    if !gate.raw().is_null() {
        let g = identity::gate_foreground(home, &fg, r, env);
        if gate.at("server_url").is_null() {
            // No identity: the gate refuses on authentication, before it
            // names a server or a user.
            assert!(r.scope.is_none(), "{ctx}");
            assert!(gate.at("team_or_user").is_null(), "{ctx}");
        } else {
            assert_eq!(gate.str("server_url"), g.server_url.as_deref(), "{ctx}");
            assert_eq!(gate.str("team_or_user"), g.team_or_user.as_deref(), "{ctx}");
        }
        let q = relative(home, g.queue_db_path.as_deref().unwrap());
        assert_eq!(gate.at("queue_db_path"), q.as_str(), "{ctx}");
    }
    check_target_authority(case, p, ctx);
}

/// `resolve_sync_target(user_id=<raw user>, team_slug=<raw team>)` (3.2.4+):
/// env over config over default, ASCII-escaped parts, no team = empty.
fn check_target_authority(case: &Node, p: &Profile, ctx: &str) {
    let ta = case.child("target_authority");
    assert_eq!(
        ta.raw().is_null(),
        p.foreground != ForegroundRule::TargetAuthority,
        "{ctx}: target_authority"
    );
    if ta.raw().is_null() {
        return;
    }
    let i = case.child("inputs");
    let config = i.str("config_server_url").unwrap_or(DEFAULT_SERVER_URL);
    let env = i.str("saas_url_env");
    let server = identity::target_server_url(env, config);
    assert_eq!(ta.at("resolved_server_url"), server.as_str(), "{ctx}");
    let user = i.str("user").unwrap();
    let team = i.str("team").unwrap_or_default();
    let scope = Scope::with_rule(p.owner_scope, &server, user, team);
    assert_eq!(
        ta.at("derived_queue_scope"),
        scope.to_string().as_str(),
        "{ctx}"
    );
    let file = format!("queues/queue-{}.db", scope.file_hash());
    assert_eq!(ta.at("queue_db_path"), file.as_str(), "{ctx}");
    let overridden = env.is_some_and(|e| {
        identity::target_server_url(None, e) != identity::target_server_url(None, config)
    });
    let mode = if overridden {
        "process_override"
    } else {
        "none"
    };
    assert_eq!(ta.at("override_mode"), mode, "{ctx}");
}

/// Credentials only / a session only / both, SaaS sync on and unset: the
/// source our resolution takes and the queue DB it names.
pub fn check_scope_sources(f: &Facts, p: &'static Profile) {
    let order: &[&str] = match p.identity {
        IdentityRule::Credentials => &["credentials"],
        IdentityRule::SessionThenCredentials => &["session", "credentials"],
        IdentityRule::Session => &["session"],
    };
    assert_eq!(
        f.at("scope_sources"),
        &serde_json::json!(order),
        "scope_sources"
    );
    let m = f.root().child("scope_sources_measurements");
    assert_eq!(m.keys().len(), 6, "scope_sources_measurements");
    for kind in ["credentials-only", "session-only", "both"] {
        for saas in [true, false] {
            let key = format!(
                "{kind}/SPEC_KITTY_ENABLE_SAAS_SYNC={}",
                if saas { "1" } else { "unset" }
            );
            let case = m.child(&key);
            let dir = tempfile::tempdir().unwrap();
            let home = sk_boundary::Home::at(dir.path().join(".spec-kitty"));
            std::fs::create_dir_all(home.root()).unwrap();
            std::fs::write(
                home.config(),
                "[sync]\nserver_url = \"https://Sync.Example.test/\"\n",
            )
            .unwrap();
            if kind != "session-only" {
                let url = Some("https://Sync.Example.test/");
                write_credentials(&home, "cred-user@example.com", Some("cred-team"), url);
            }
            let write = case.at("session_write");
            if kind == "credentials-only" {
                assert!(write.is_null(), "{key}");
            } else {
                session_login(&home, "sess-user@example.com", Some("sess-team"));
                session_written(write, p, &key);
            }
            let env = Env {
                saas_enabled: saas,
                saas_url: None,
                profile: p,
            };
            let r = login::resolve(&home, None, &env);
            let (used, db) = match &r.scope {
                Some(x) => (
                    x.source.to_string(),
                    relative(&home, &home.scoped_queue(&x.scope).to_string_lossy()),
                ),
                None => ("none (legacy queue.db)".to_string(), "queue.db".to_string()),
            };
            assert_eq!(case.at("source_used"), used.as_str(), "{key}");
            assert_eq!(case.at("selected_db"), db.as_str(), "{key}");
        }
    }
}

/// How the capture wrote a session: into the file store our reader reads
/// (3.1.2+ have one; only 3.2+ take their scope from it), or not at all.
fn session_written(write: &serde_json::Value, p: &Profile, ctx: &str) {
    const FILE_STORE: &str = "written with FileFallbackStorage.write";
    const NO_STORE: &str = "release has no specify_cli.auth.session.StoredSession";
    if p.identity == IdentityRule::Credentials {
        assert!(write == FILE_STORE || write == NO_STORE, "{ctx}: {write}");
    } else {
        assert_eq!(
            write, FILE_STORE,
            "{ctx}: the session store our reader reads"
        );
    }
}

/// The owner record the release's own writer wrote for the ascii-basic
/// credentials identity: read by our reader, every field what we derive
/// (or the capture's fixed inputs).
pub fn check_owner_record(f: &Facts, p: &'static Profile) {
    let r = f.root();
    assert_eq!(
        r.at("owner_normalised"),
        &serde_json::json!([]),
        "nothing rewritten"
    );
    let node = r.child("owner");
    let rec = owner_record(&node);
    let (_d, home) = {
        let dir = tempfile::tempdir().unwrap();
        let home = sk_boundary::Home::at(dir.path().join(".spec-kitty"));
        std::fs::create_dir_all(home.root()).unwrap();
        std::fs::write(
            home.config(),
            "[sync]\nserver_url = \"https://Sync.Example.test/\"\n",
        )
        .unwrap();
        let url = Some("https://Sync.Example.test/");
        write_credentials(&home, "Robert@Example.com", Some("Team-A"), url);
        (dir, home)
    };
    let env = Env {
        saas_enabled: false,
        saas_url: None,
        profile: p,
    };
    let fg = identity::from_resolution(&home, &login::resolve(&home, None, &env), &env);
    assert_eq!(Some(rec.server_url.as_str()), fg.server_url.as_deref());
    assert_eq!(rec.auth_scope.as_deref(), fg.auth_scope.as_deref());
    assert_eq!(rec.auth_principal, fg.auth_principal);
    assert_eq!(rec.auth_team, fg.auth_team);
    let q = fg.queue_db_path.unwrap().replace(
        &home.root().to_string_lossy().into_owned(),
        "<HOME>/.spec-kitty",
    );
    assert_eq!(rec.queue_db_path, q);
    assert_eq!(rec.package_version, f.release);
    // The capture's fixed inputs (fixtures/releases/README.md).
    assert_eq!((rec.pid, rec.port), (424242, 9417));
    assert_eq!(rec.token.expose(), "fixture-token-not-a-secret");
    assert_eq!(rec.started_at, "2026-01-01T00:00:00+00:00");
    // The interpreter, and the directory holding site-packages.
    assert_eq!(rec.executable_path, "<PYTHON>");
    assert_eq!(rec.source_checkout_path, "<VENV>/lib/python3.11");
    let _ = s;
}
