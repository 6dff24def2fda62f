//! Issue 18 item 3, "stored, delivered, sealed": can a 3.2.6+ release
//! DELIVER the sealed history its own cutover wrote, after its own preview,
//! confirm and apply? Counted at a loopback fake of the hosted side
//! (`scripts/release_fixtures/fake_hosted.py`), which records every request.
//!
//! Per release (the captured ones of generation `project-store`, under
//! `SK_E2E_ROTATE=1` the day's rotation, tests/system/harness.rs): 3.2.5's own
//! queue code writes a legacy home (`tests/py/cutdoc_home.py`), the release's
//! own `sync project-store-migrate` cuts it over (directly, or through
//! `sk-migrate run`), then the release itself,
//! configured the way it is configured (`sync server <fake>`,
//! `SPEC_KITTY_ENABLE_SAAS_SYNC=1`), goes through its own code paths:
//! `auth login --headless` (device flow against the fake), `sync opt-in`
//! (consent), `sync mode TEAMSPACE`, and `sync project-store-history` preview
//! / confirm / apply (the runtime it opens mints the labelled local
//! admission, `local-nonstrict:<origin>`, as the fake advertises no strict
//! admission).
//!
//! Measured, and pinned here:
//! * **as cut over: none delivered.** Apply exits 1 with every row rejected;
//!   nothing but the login reaches the fake. The release's reason
//!   (`history_refusal.py`, the same path in its interpreter):
//!   [`REFUSAL`]: the upload demands that a sealed row's `payload_json` be
//!   the canonical JSON of the event (sorted keys, compact), the cutover
//!   stored 3.2.5's `json.dumps` text verbatim.
//! * **cut over by `sk-migrate run`**, which re-encodes the events of its
//!   own snapshot with the release's `_canonical_event_json`, in the
//!   release's interpreter (`scripts/canonical_history.py`), before the
//!   release's cutover reads it: every migrated event is preflighted and
//!   delivered, exactly once each; `queue.db` is byte-identical; sk-doctor
//!   said beforehand that the history is deliverable. The release's
//!   `sync status --check` still exits 2 with the same journal error (it
//!   reads base64 documents only), as it does as cut over.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::harness::{self as e2e, Trial};
use serde_json::Value;

const PROJECT: &str = "c0d0c0d0-1111-4222-8333-0000000000c7";

/// The release's own refusal of the cohort its cutover sealed (sk-doctor
/// quotes it in its sealed-history warning).
use sk_boundary::doctor::report::HISTORY_REFUSAL as REFUSAL;

/// Requests of the release's device-flow login.
const LOGIN: [&str; 3] = ["POST /oauth/device", "POST /oauth/token", "GET /api/v1/me"];

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn env_cmd(exe: &Path, home: &Path, cwd: &Path) -> Command {
    let mut c = Command::new(exe);
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("SPEC_KITTY_HOME", home.join(".spec-kitty"))
        .env("SPEC_KITTY_ENABLE_SAAS_SYNC", "1")
        .env("NO_COLOR", "1")
        .current_dir(cwd);
    c
}

fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The JSON object on the first line of stdout (a refused apply prints its
/// counts, then "Migrated history disclosure refused: 1").
fn json(out: &Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().next().unwrap_or("")).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The fake's own bound: only a safety net for a test killed before it
/// drops the fake. A trial under heavy load takes minutes: with a 120 s
/// bound, 3.2.7's re-encoded trial once failed at load ~10 ("server
/// preflight rejected the batch", the last trial of a 700 s run), most
/// likely because the fake had already stopped.
const FAKE_SECONDS: &str = "1800";

/// The fake hosted side: stops when its stdin closes (on drop).
pub struct Fake {
    child: Child,
    pub url: String,
    log: PathBuf,
}

impl Fake {
    /// Started by `python` (any python3), logging its requests in `dir`.
    pub fn start(python: &Path, dir: &Path) -> Fake {
        let log = dir.join("requests.jsonl");
        let mut child = Command::new(python)
            .arg(script("scripts/release_fixtures/fake_hosted.py"))
            .arg("--log")
            .arg(&log)
            .args(["--seconds", FAKE_SECONDS])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let url = ready["url"].as_str().unwrap().to_owned();
        Fake { child, url, log }
    }

    /// Every request so far, as `METHOD PATH`, and the bodies.
    fn requests(&self) -> Vec<(String, Value)> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        assert!(
            !text.contains("fake-access-token") && !text.contains("fake-refresh-token"),
            "a token reached the fake's log"
        );
        text.lines()
            .map(|l| {
                let r: Value = serde_json::from_str(l).unwrap();
                (
                    format!(
                        "{} {}",
                        r["method"].as_str().unwrap(),
                        r["path"].as_str().unwrap()
                    ),
                    r["body"].clone(),
                )
            })
            .collect()
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// Who cut the home over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// The release's own `sync project-store-migrate`.
    Release,
    /// `sk-migrate run` (its snapshot re-encoded, then the release's command).
    SkMigrate,
}

/// What one run measured.
struct Run {
    migrated: Vec<String>,
    preview: Value,
    apply: Output,
    refusal: Option<Value>,
    requests: Vec<(String, Value)>,
    status: Option<Output>,
    /// sk-doctor's sealed-history warning, read before the login.
    doctor_sealed: String,
}

fn event_ids(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event_id"].as_str().unwrap().to_owned())
        .collect()
}

/// sk-doctor's one sealed-history warning about the home (`--no-probe`:
/// it reads, never writes).
fn doctor_sealed(venv: &Path, home: &Path) -> String {
    let out = env_cmd(Path::new(env!("CARGO_BIN_EXE_sk-doctor")), home, home)
        .arg("--spec-kitty")
        .arg(venv.join("bin/spec-kitty"))
        .args(["--no-probe", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let sealed = e2e::sealed_history_warnings(&doc);
    assert_eq!(sealed.len(), 1, "{doc:#}");
    sealed[0].to_owned()
}

/// The cutover of `queue.db`: the release's own command, or `sk-migrate run`
/// (which must leave `queue.db` byte-identical and report the re-encoding).
fn cut_over(cut: Cut, venv: &Path, home: &Path, queue: &Path) {
    let sk = venv.join("bin/spec-kitty");
    if cut == Cut::Release {
        let out = e2e::cutover(env_cmd(&sk, home, home), queue, "deliver-1");
        return ok(&out, "the release's cutover");
    }
    let before = std::fs::read(queue).unwrap();
    let out = env_cmd(Path::new(env!("CARGO_BIN_EXE_sk-migrate")), home, home)
        .arg("--spec-kitty")
        .arg(&sk)
        .args(["run", "--json"])
        .output()
        .unwrap();
    ok(&out, "sk-migrate run");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["status"], "migrated", "{r:#}");
    let h = &r["history"];
    assert_eq!(
        (h["events"].as_u64(), h["reencoded"].as_u64()),
        (Some(4), Some(4)),
        "{r:#}"
    );
    assert_eq!(h["left"], serde_json::json!({}), "{r:#}");
    assert_eq!(h["not_deliverable"], serde_json::json!({}), "{r:#}");
    assert_eq!(std::fs::read(queue).unwrap(), before, "queue.db untouched");
}

/// 3.2.5 writes, the home is cut over (`cut`), then the release logs in at
/// the fake, consents, previews, confirms, applies.
fn run(venv: &Path, cut: Cut) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("h");
    let root = home.join(".spec-kitty");
    std::fs::create_dir_all(&root).unwrap();
    let legacy = e2e::venv("3.2.5").expect(
        "the 3.2.5 venv writes the legacy home (scripts/release-fixtures --venvs-only 3.2.5)",
    );
    let out = env_cmd(&legacy.join("bin/python"), &home, &home)
        .arg(script("tests/py/cutdoc_home.py"))
        .arg("--root")
        .arg(&root)
        .args(["--events", "4", "--bodies", "1"])
        .output()
        .unwrap();
    ok(&out, "3.2.5 writes the legacy home");
    let migrated: Vec<String> = json(&out)["event_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    let queue = root.join("queue.db");
    let python = venv.join("bin/python");
    cut_over(cut, venv, &home, &queue);
    let doctor_sealed = doctor_sealed(venv, &home);
    let sk = venv.join("bin/spec-kitty");
    let release = |cwd: &Path, args: &[&str]| env_cmd(&sk, &home, cwd).args(args).output().unwrap();

    let checkout = home.join("repo");
    std::fs::create_dir_all(checkout.join(".kittify")).unwrap();
    std::fs::write(
        checkout.join(".kittify/config.yaml"),
        format!("project:\n  uuid: {PROJECT}\n  slug: cutdoc\n"),
    )
    .unwrap();
    let fake = Fake::start(&python, dir.path());
    let c = checkout.as_path();
    ok(&release(c, &["sync", "server", &fake.url]), "sync server");
    ok(
        &release(c, &["auth", "login", "--headless"]),
        "auth login --headless",
    );
    ok(&release(c, &["sync", "opt-in"]), "sync opt-in");
    // Event-sync mode TEAMSPACE, which apply demands, is the mode an unset
    // `[event_sync]` table means (`_load_event_sync_config`): not set here.
    let out = release(c, &["sync", "project-store-history", "--json"]);
    ok(&out, "history preview");
    let preview = json(&out);
    let out = release(
        c,
        &[
            "sync",
            "project-store-history",
            "--confirm-by",
            "cutover-delivery-test",
            "--idempotency-key",
            "deliver-1",
            "--json",
        ],
    );
    ok(&out, "history confirm");
    let confirmed = json(&out);
    assert_eq!(confirmed["state"], "confirmed", "{confirmed:#}");
    let action = confirmed["action_id"].as_str().unwrap().to_owned();
    let apply = release(
        c,
        &[
            "sync",
            "project-store-history",
            "--apply",
            "--history-action-id",
            &action,
            "--json",
        ],
    );
    let refusal = (!apply.status.success()).then(|| {
        let out = env_cmd(&python, &home, c)
            .arg(script("scripts/release_fixtures/history_refusal.py"))
            .args(["--action-id", &action])
            .output()
            .unwrap();
        ok(&out, "history_refusal.py");
        json(&out)
    });
    let requests = fake.requests();
    // tests/system/cutover_doctor.rs pins the status of a home as cut over.
    let status =
        (cut == Cut::SkMigrate).then(|| release(c, &["sync", "status", "--check", "--json"]));
    Run {
        migrated,
        preview,
        apply,
        refusal,
        requests,
        status,
        doctor_sealed,
    }
}

fn common_checks(r: &Run) {
    let ids: Vec<&str> = r.preview["row_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(ids, r.migrated, "the preview names every migrated event");
}

/// As the release's cutover wrote it: not one event delivered.
fn as_cut_over(venv: &Path) {
    let r = run(venv, Cut::Release);
    common_checks(&r);
    assert!(
        r.doctor_sealed.contains("NOT deliverable"),
        "{}",
        r.doctor_sealed
    );
    assert!(r.doctor_sealed.contains(REFUSAL), "{}", r.doctor_sealed);
    assert_eq!(r.apply.status.code(), Some(1));
    let applied = json(&r.apply);
    assert_eq!(
        (
            applied["cohort_count"].as_u64(),
            applied["success"].as_u64(),
            applied["rejected"].as_u64()
        ),
        (Some(4), Some(0), Some(4)),
        "{applied:#}"
    );
    let paths: Vec<&str> = r.requests.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, LOGIN, "only the login reached the fake");
    let refusal = r.refusal.unwrap();
    assert_eq!(refusal["refused"], true, "{refusal:#}");
    assert_eq!(refusal["success"], 0);
    assert_eq!(refusal["rejected_samples"], serde_json::json!([REFUSAL]));
}

/// Cut over by `sk-migrate run` (its snapshot re-encoded): every event
/// delivered once, as sk-doctor said; the release's status still fails.
fn by_sk_migrate(venv: &Path) {
    let r = run(venv, Cut::SkMigrate);
    common_checks(&r);
    assert!(
        r.doctor_sealed.contains("deliverable") && !r.doctor_sealed.contains("NOT deliverable"),
        "{}",
        r.doctor_sealed
    );
    let seen: Vec<&str> = r.requests.iter().map(|(p, _)| p.as_str()).collect();
    ok(&r.apply, &format!("history apply (the fake saw {seen:?})"));
    let applied = json(&r.apply);
    assert_eq!(
        (
            applied["success"].as_u64(),
            applied["rejected"].as_u64(),
            applied["ok"].as_bool()
        ),
        (Some(4), Some(0), Some(true)),
        "{applied:#}"
    );
    let paths: Vec<&str> = r.requests.iter().map(|(p, _)| p.as_str()).collect();
    let mut want = LOGIN.to_vec();
    want.extend([
        "POST /api/v1/events/preflight/",
        "POST /api/v1/events/batch/",
    ]);
    assert_eq!(paths, want);
    assert_eq!(event_ids(&r.requests[3].1), r.migrated, "preflighted");
    assert_eq!(
        event_ids(&r.requests[4].1),
        r.migrated,
        "delivered, once each"
    );
    // The release's status still cannot read the sealed rows.
    let status = r.status.unwrap();
    assert_eq!(status.status.code(), Some(2));
    assert_eq!(
        json(&status)["project_store_diagnostic"].as_str(),
        Some(sk_boundary::doctor::report::STATUS_FAILURE)
    );
}

/// The shipped re-encoder, in the release's interpreter, on a snapshot-like
/// queue: every row kept with its key; the release's canonical text where
/// its encoder takes the row; the rest as it was, counted.
fn encoder_keeps_every_row(venv: &Path) {
    let dir = tempfile::tempdir().unwrap();
    let snap = dir.path().join("snapshot.db");
    let c = rusqlite::Connection::open(&snap).unwrap();
    c.execute_batch(
        "CREATE TABLE queue (id INTEGER PRIMARY KEY, event_id TEXT UNIQUE, data TEXT);",
    )
    .unwrap();
    let p = format!(r#""project_uuid": "{PROJECT}""#);
    let rows = [
        (
            "e1",
            format!(r#"{{"event_id": "e1", {p}, "b": 1.5, "a": "é"}}"#),
        ),
        (
            "e2",
            format!(r#"{{"a":1,"event_id":"e2","project_uuid":"{PROJECT}"}}"#),
        ),
        ("e3", "not json".to_owned()),
        ("e4", "[1, 2]".to_owned()),
        (
            "e5",
            format!(r#"{{"event_id": "e5", {p}, "a": 1, "a": 2}}"#),
        ),
        ("e6", format!(r#"{{"event_id": "other", {p}}}"#)),
    ];
    for (id, data) in &rows {
        c.execute(
            "INSERT INTO queue (event_id, data) VALUES (?1, ?2)",
            (id, data),
        )
        .unwrap();
    }
    drop(c);
    // As sk-migrate runs it: the script on stdin, `python -I - SNAPSHOT`.
    let out = env_cmd(&venv.join("bin/python"), dir.path(), dir.path())
        .args(["-I", "-"])
        .arg(&snap)
        .stdin(std::fs::File::open(script("scripts/canonical_history.py")).unwrap())
        .output()
        .unwrap();
    ok(&out, "canonical_history.py");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["events"], 6, "{r:#}");
    assert_eq!(r["reencoded"], 2, "{r:#}");
    assert_eq!(r["already_canonical"], 1, "{r:#}");
    assert_eq!(
        r["left"],
        serde_json::json!({"not_json": 1, "not_a_json_object": 1, "duplicate_key": 1})
    );
    assert_eq!(
        r["not_deliverable"],
        serde_json::json!({"event_id_differs": 1})
    );
    assert_eq!(r["not_deliverable_event_ids"], serde_json::json!(["e6"]));
    let c = rusqlite::Connection::open(&snap).unwrap();
    let now: Vec<(String, String)> = c
        .prepare("SELECT event_id, data FROM queue ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let keys: Vec<&str> = now.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        ["e1", "e2", "e3", "e4", "e5", "e6"],
        "every row, every key"
    );
    assert_eq!(
        now[0].1,
        format!(r#"{{"a":"\u00e9","b":1.5,"event_id":"e1","project_uuid":"{PROJECT}"}}"#)
    );
    for i in [2, 3, 4] {
        assert_eq!(now[i].1, rows[i].1, "left as it was");
    }
}

pub fn trials() -> Vec<Trial> {
    let planned = e2e::selected(
        e2e::captured()
            .into_iter()
            .filter(|c| c.generation() == "project-store"),
    );
    let mut trials: Vec<Trial> = Vec::new();
    for p in &planned {
        let release = &p.captured.release;
        trials.push(e2e::planned_trial(
            format!("cutover_delivery::{release}::sealed_history_as_cut_over_is_not_delivered"),
            p,
            as_cut_over,
        ));
        trials.push(e2e::planned_trial(
            format!("cutover_delivery::{release}::the_shipped_encoder_keeps_every_row"),
            p,
            encoder_keeps_every_row,
        ));
        trials.push(e2e::planned_trial(
            format!(
                "cutover_delivery::{release}::sealed_history_cut_over_by_sk_migrate_is_delivered"
            ),
            p,
            by_sk_migrate,
        ));
    }
    trials
}
