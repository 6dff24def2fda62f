//! Queue-DB states: legacy rows (and stranded missions), rows that wait
//! for room under the release's cap, a table the installed release lacks,
//! a queue DB of no known shape, and a missing login.

use std::path::Path;

use super::{Case, clears, no_user_step, on};
use crate::harness::{self as e2e, Trial};

pub fn trials() -> Vec<Trial> {
    vec![
        on("3.2.5", "legacy_rows", legacy_rows),
        on("3.2.5", "stranded_setup_plan", stranded_setup_plan),
        on("3.2.5", "legacy_rows_wait_for_room", wait_for_room),
        on("3.0.3", "unmovable_legacy_rows", unmovable),
        on("3.2.5", "unknown_schema", unknown_schema),
        on("3.2.7", "auth_required", auth_required),
    ]
}

fn legacy_rows(venv: &Path) {
    let mut c = Case::new(venv);
    c.write_legacy(3, 2, 0);
    clears(&mut c, "legacy_rows", &[], &mut no_user_step);
}

fn stranded_setup_plan(venv: &Path) {
    let mut c = Case::new(venv);
    c.write_legacy(1, 3, 0);
    clears(&mut c, "stranded_setup_plan", &[], &mut no_user_step);
}

/// 3.2.5's own `OfflineQueue` fills the scoped queue (the login's) to 9
/// of a cap of 10 set in config.toml; 3 legacy events wait for room.
fn wait_for_room(venv: &Path) {
    let mut c = Case::new(venv);
    // The login first; the scoped rows next (3.2.5's own OfflineQueue()
    // moves legacy rows into the scoped queue when it opens it, so the
    // legacy rows come last).
    c.write_legacy(0, 0, 0);
    std::fs::write(c.root.join("config.toml"), "[sync]\nmax_queue_size = 10\n").unwrap();
    c.python(
        venv,
        "import specify_cli.sync.queue as q\n\
         o = q.OfflineQueue()\n\
         for i in range(9):\n\
         \x20   assert o.queue_event({'event_id': 'room-%d' % i, 'event_type': 'WPStatusChanged',\n\
         \x20       'aggregate_id': 'WP01', 'aggregate_type': 'WorkPackage', 'payload': {},\n\
         \x20       'timestamp': '2026-03-04T05:06:00+00:00'}) is not False\n",
        &[],
    );
    c.write_legacy(3, 0, 100);
    clears(&mut c, "legacy_rows_wait_for_room", &[], &mut |c, what| {
        // "raise `max_queue_size` in the `[sync]` table of F to at least N, …"
        let n: u64 = what
            .split("to at least ")
            .nth(1)
            .and_then(|r| r.split([',', ' ']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no number in {what:?}"));
        assert!(what.contains(&c.root.join("config.toml").display().to_string()));
        std::fs::write(
            c.root.join("config.toml"),
            format!("[sync]\nmax_queue_size = {n}\n"),
        )
        .unwrap();
    });
}

/// 3.2.5's own body queue records a permanent failure in the legacy
/// `queue.db` (V5's `body_upload_failure_log`); 3.0.3's `OfflineQueue`
/// makes the scoped DB (V3, without that table). The fix installs a
/// release whose DBs have it: the trial puts 3.2.5 first on PATH.
fn unmovable(venv: &Path) {
    let newer = e2e::venv("3.2.5")
        .expect("the 3.2.5 venv is the release installed by the fix (scripts/release-fixtures --venvs-only 3.2.5)");
    let mut c = Case::new(venv);
    c.write_legacy(0, 1, 0);
    c.python(
        &newer,
        "import sys\nfrom pathlib import Path\nimport specify_cli.sync.body_queue as bq\n\
         b = bq.OfflineBodyUploadQueue(db_path=Path(sys.argv[1]))\n\
         for t in b.drain(10):\n\
         \x20   b.record_permanent_failure(t, 'HTTP 422: rejected')\n\
         \x20   b.mark_failed_permanent(t.row_id, 'HTTP 422')\n\
         assert b.failure_count() == 1 and b.size() == 0\n",
        &[c.root.join("queue.db").to_str().unwrap()],
    );
    c.python(
        venv,
        "import specify_cli.sync.queue as q\n\
         q.OfflineQueue().queue_event({'event_id': 'v3-1', 'event_type': 'WPStatusChanged',\n\
         \x20   'aggregate_id': 'WP01', 'aggregate_type': 'WorkPackage', 'payload': {},\n\
         \x20   'timestamp': '2026-03-04T05:06:00+00:00'})\n",
        &[],
    );
    clears(&mut c, "unmovable_legacy_rows", &[], &mut |c, what| {
        assert!(
            what.starts_with("install spec-kitty 3.2.0 or later"),
            "{what}"
        );
        c.path_front = Some(newer.join("bin"));
        c.venv = newer.clone();
    });
}

/// A `queue.db` no release writes (another program's tables), beside a
/// login: nothing reads it until it is out of the queue's path.
fn unknown_schema(venv: &Path) {
    let mut c = Case::new(venv);
    c.write_legacy(1, 0, 0);
    let legacy = c.root.join("queue.db");
    std::fs::remove_file(&legacy).unwrap();
    let conn = rusqlite::Connection::open(&legacy).unwrap();
    conn.execute_batch(
        "CREATE TABLE queue (id INTEGER PRIMARY KEY, blob BLOB NOT NULL, lane TEXT NOT NULL); \
         INSERT INTO queue (blob, lane) VALUES (x'00', 'a');",
    )
    .unwrap();
    drop(conn);
    clears(&mut c, "unknown_schema", &[], &mut no_user_step);
    assert!(
        c.root.join("queue.db.unknown-schema").is_file(),
        "kept aside"
    );
}

/// SaaS sync on, no login: the fix is the release's own `spec-kitty auth
/// login`, run verbatim; the browser it opens is the user's, played by
/// `fake_browser.py` against the loopback fake of the hosted side.
fn auth_required(venv: &Path) {
    let mut c = Case::new(venv);
    let fake = super::stores::Fake::start(&c);
    c.env
        .push(("SPEC_KITTY_ENABLE_SAAS_SYNC".into(), "1".into()));
    let browser =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/release_fixtures/fake_browser.py");
    c.env.push((
        "BROWSER".into(),
        format!(
            "{} {} %s",
            venv.join("bin/python").display(),
            browser.display()
        )
        .into(),
    ));
    let set = c
        .cmd(venv.join("bin/spec-kitty"))
        .args(["sync", "server", &fake.url])
        .output()
        .unwrap();
    super::ok(&set, "sync server");
    clears(&mut c, "auth_required", &[], &mut no_user_step);
    let doc = c.doctor(&[]);
    assert_eq!(doc["foreground"]["auth_principal"], "cut.doc@example.test");
}
