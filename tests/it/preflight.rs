//! `sk-doctor preflight` and the queue resolver (issue: setup-plan guarantee).

use crate::common::*;
use serde_json::Value;
use sk_boundary::migrate::observe::Quiet;
use sk_boundary::migrate::queue;

fn preflight(h: &TestHome, saas: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let mut cmd = h.cmd("sk-doctor");
    if let Some(v) = saas {
        cmd.env("SPEC_KITTY_ENABLE_SAAS_SYNC", v);
    }
    let out = cmd.args(["--no-probe", "preflight"]).args(args).assert();
    let o = out.get_output();
    (
        o.status.code().unwrap(),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

#[test]
fn saas_enabled_without_scope_refuses_citing_missing_auth_and_writes_nothing() {
    for value in ["1", "true", "YES", " on ", "True", "oN"] {
        let h = TestHome::new();
        h.legacy("legacy_v5");
        let before = tree_hash(h.root());
        let (code, _, err) = preflight(&h, Some(value), &[]);
        assert_eq!(code, 2, "{value:?}");
        assert!(err.contains("missing authentication"), "{value:?}: {err}");
        assert!(err.contains("SaaS sync cannot be guaranteed"), "{err}");
        assert!(err.contains("spec-kitty auth login"), "{err}");
        assert_eq!(tree_hash(h.root()), before, "{value:?}");
    }
}

#[test]
fn saas_off_without_scope_is_fine_unless_auth_is_required() {
    for value in [Some("0"), Some("false"), Some(""), Some("no"), None] {
        let h = TestHome::new();
        h.legacy("legacy_v5");
        let (code, out, _) = preflight(&h, value, &[]);
        assert_eq!(code, 0, "{value:?}");
        assert!(out.contains("ok"), "{out}");
        let (code, _, err) = preflight(&h, value, &["--require-auth"]);
        assert_eq!(code, 2, "{value:?}");
        assert!(err.contains("missing authentication"), "{err}");
    }
}

#[test]
fn scope_and_coherent_boundary_may_proceed() {
    let c = coherent();
    let out = c.doctor(&["preflight", "--require-auth"]).success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("ok"));
    let out = c.doctor(&["preflight", "--json"]).success();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["ok"], true);
}

#[test]
fn scope_and_legacy_rows_refuse_naming_sk_migrate_and_the_missions() {
    let c = coherent();
    c.h.legacy("legacy_v4");
    let out = c.doctor(&["preflight"]).code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("fix: sk-migrate --spec-kitty") && err.contains(" run\n"),
        "{err}"
    );
    assert!(
        err.contains("042-sync-boundary") && err.contains("043-other"),
        "{err}"
    );
}

#[test]
fn scope_and_daemon_mismatch_refuse_naming_the_fields() {
    let c = coherent();
    c.rewrite(|r| {
        r.package_version = "3.0.2".into();
        r.server_url = "https://old.example.test".into();
    });
    let out = c.doctor(&["preflight"]).code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("package_version") && err.contains("server_url"),
        "{err}"
    );
    assert!(!err.contains("executable_path"), "{err}");
}

#[test]
fn worst_case_fits_25_lines_of_80_columns() {
    let c = coherent();
    // Six mismatched fields, an orphan (dead pid, missing executable), an
    // unsafe record, and no authentication at all.
    let dead = dead_pid();
    c.rewrite(|r| {
        r.pid = dead;
        r.package_version = "2.9.17-dev.3+g0123abcd".into();
        r.executable_path = "/tmp/spec-kitty-pr-1187-rebase-attempt-2/.venv/bin/python3.11".into();
        r.source_checkout_path = "/tmp/spec-kitty-pr-1187-rebase-attempt-2".into();
        r.server_url = "https://spec-kitty-staging.example.test/".into();
        r.auth_scope =
            Some("https://spec-kitty-staging.example.test|someone.else@example.com|team-b".into());
        r.queue_db_path = "/home/someone/.spec-kitty/queues/queue-0123456789abcdef.db".into();
    });
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        c.h.home.owner_record(),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::remove_file(c.h.home.credentials()).unwrap();
    c.h.legacy("legacy_v5");
    let out =
        c.h.cmd("sk-doctor")
            .env("SPEC_KITTY_ENABLE_SAAS_SYNC", "1")
            .args(["--no-probe", "--spec-kitty"])
            .arg(&c.entry)
            .args(["preflight", "--require-auth"])
            .assert()
            .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    // Rows on an 80-column terminal: long lines wrap.
    let rows: usize = err
        .lines()
        .map(|l| l.chars().count().max(1).div_ceil(80))
        .sum();
    assert!(rows <= 25, "{rows} rows:\n{err}");
    for code in [
        "auth_required",
        "daemon_mismatch",
        "orphan_daemon",
        "owner_record_permissions",
    ] {
        assert!(err.contains(code), "{code} missing:\n{err}");
    }
}

#[test]
fn the_resolver_moves_first_for_writers_and_never_for_readers() {
    // Authenticated: scoped path, legacy emptied.
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let w = queue::writer_queue(
        &h.home,
        None,
        &sk_boundary::login::Env::default(),
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(w.path, h.scoped_path());
    assert!(w.scoped);
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
    assert_eq!(count(&h.scoped_path(), "body_upload_queue"), 4);
    // Unauthenticated: legacy path, nothing moved.
    let h = TestHome::new();
    h.legacy("legacy_v5");
    let before = tree_hash(h.root());
    let w = queue::writer_queue(
        &h.home,
        None,
        &sk_boundary::login::Env::default(),
        &mut Quiet,
    )
    .unwrap();
    assert_eq!(w.path, h.home.legacy_queue());
    assert!(w.moved.is_none());
    assert_eq!(tree_hash(h.root()), before);
    // Read-only variant: the scoped path, and nothing changes.
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let before = tree_hash(h.root());
    assert_eq!(
        queue::reader_queue(&h.home, None, &sk_boundary::login::Env::default()),
        h.scoped_path()
    );
    assert_eq!(tree_hash(h.root()), before);
}

#[test]
fn queue_path_command_prints_the_writer_queue() {
    let h = TestHome::new();
    h.login().legacy("legacy_v5");
    let out = h
        .cmd("sk-migrate")
        .args(["queue-path", "--read-only"])
        .assert()
        .success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        h.scoped_path().display().to_string()
    );
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 4);
    let out = h.cmd("sk-migrate").args(["queue-path"]).assert().success();
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        h.scoped_path().display().to_string()
    );
    assert_eq!(count(&h.home.legacy_queue(), "queue"), 0);
}

/// Only the move opens the legacy DB for writing: every writable open and
/// every ATTACH in the sources is in the places listed here.
#[test]
fn only_the_move_opens_the_legacy_db_for_writing() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    let mut stack = vec![src.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    // (file, pattern) pairs allowed to exist; anything else is a writer.
    let allowed_writers = [
        ("migrate/merge/moves.rs", "Connection::open(path)"), // open_scoped: the scoped DB
        // write_locked: a probe that takes no lock and writes nothing
        (
            "migrate/merge/moves.rs",
            "OpenFlags::SQLITE_OPEN_READ_WRITE",
        ),
        ("migrate/merge/into_new.rs", "Connection::open(tmp)"), // the new scoped DB's temp file
        // open_read_only: read-write only so a WAL DB's -wal/-shm go on close;
        // `query_only` (asserted below) refuses every write.
        ("db/mod.rs", "OpenFlags::SQLITE_OPEN_READ_WRITE"),
        // recover: rolls back a hot journal, as any spec-kitty open does
        ("db/mod.rs", "Connection::open(path)"),
        ("fixture.rs", "Connection::open(db)"), // materialising fixtures
        // the cutover's private snapshot DB; sources are only read (snapshot copies)
        ("migrate/cutover/snapshot.rs", "Connection::open(&snapshot)"),
        // wait_behind: queues behind another process's write lock on one
        // file, takes it and lets go at once (BEGIN IMMEDIATE, ROLLBACK):
        // part of the move's lock taking, writes nothing
        ("migrate/merge/take.rs", "OpenFlags::SQLITE_OPEN_READ_WRITE"),
    ];
    let mut offenders = vec![];
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let name = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let code: String = text.split("#[cfg(test)]").next().unwrap_or("").to_string();
        for (i, line) in code.lines().enumerate() {
            let writable_open =
                line.contains("Connection::open(") || line.contains("SQLITE_OPEN_READ_WRITE");
            if writable_open
                && !allowed_writers
                    .iter()
                    .any(|(file, pat)| name == *file && line.contains(pat))
            {
                offenders.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
            let attaches_legacy = line.contains("AS legacy") && line.contains("ATTACH");
            if attaches_legacy && !name.starts_with("migrate/merge/") {
                offenders.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "legacy DB possibly opened for writing outside the move:\n{}",
        offenders.join("\n")
    );
    // And the move's writable ATTACH of legacy is the one in move_rows.
    let merge: String = [
        "db/mod.rs",
        "migrate/merge/moves.rs",
        "migrate/merge/dry_run.rs",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(src.join(f)).unwrap())
    .collect();
    assert!(merge.contains("conn.pragma_update(None, \"query_only\", true)"));
    assert_eq!(
        merge.matches("ATTACH DATABASE ?1 AS legacy").count(),
        2,
        "one for the move (Move::attach) + one for the dry run"
    );
    // The dry run's attachment: `mode=ro`, or `mode=rw` only so a WAL DB's
    // side files go on close; its SQL writes temp tables only.
    assert!(merge.contains("[dry_run_uri(legacy_path)]"));
}

#[test]
fn the_auth_problem_names_why_no_login_resolved_and_nothing_else() {
    let h = TestHome::new();
    std::fs::write(h.home.credentials(), "[user]\nusername = 3\n").unwrap();
    let out = h
        .cmd("sk-doctor")
        .env("PATH", "/nonexistent")
        .args(["--no-probe", "preflight", "--require-auth", "--json"])
        .assert()
        .code(2);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    let auth = &json["problems"][0];
    assert_eq!(auth["code"], "auth_required");
    let message = auth["message"].as_str().unwrap();
    assert!(message.contains("credentials"), "{message}");
    // Discovery of the CLI is not about authentication.
    assert!(!message.contains("spec-kitty was not found"), "{message}");
}

/// The gate is the release's (`preflight._build_mismatches`), not the owner
/// check: it ignores `auth_scope` and compares the checkout and the
/// principal/team, with the release's own remediation (measured:
/// fixtures/releases/3.2.*/facts.json, `preflight_mismatched_fields`).
#[test]
fn preflight_refuses_exactly_on_the_releases_gate_fields() {
    let c = coherent();
    // auth_scope alone: the owner check says mismatch, the gate lets it pass.
    c.rewrite(|r| r.auth_scope = Some("https://x.test|other@x.test|t".into()));
    let (_, code) = c.json(&["--check"]);
    assert_eq!(code, 2);
    c.doctor(&["preflight"]).success();
    // The checkout differs: informational for the owner check, refused by the gate.
    c.rewrite(|r| r.source_checkout_path = "/tmp/spec-kitty-old".into());
    let (_, code) = c.json(&["--check"]);
    assert_eq!(code, 0);
    let out = c.doctor(&["preflight", "--json"]).code(2);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        json["problems"][0]["fields"],
        serde_json::json!(["daemon_source_path"])
    );
    let fix = json["problems"][0]["remediation"].as_str().unwrap();
    assert!(fix.contains("spec-kitty doctor restart-daemon"), "{fix}");
    assert!(!fix.contains("kill"), "{fix}");
    // Another principal: team_or_user, with the release's re-login hint.
    c.rewrite(|r| r.auth_principal = Some("someone@else.test".into()));
    let out = c.doctor(&["preflight", "--json"]).code(2);
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(
        json["problems"][0]["fields"],
        serde_json::json!(["daemon_team_or_user"])
    );
    assert!(
        json["problems"][0]["remediation"]
            .as_str()
            .unwrap()
            .contains("spec-kitty auth logout")
    );
}
