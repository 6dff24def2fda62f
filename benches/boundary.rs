//! Benchmarks (figures, not tests): `cargo bench --bench boundary`.
//!
//! Builds legacy queue DBs with N rows per table (`SK_BENCH_SIZES`, default
//! `10000,100000`; add `1000000` for the large run), then times the release
//! binaries on fresh copies: `sk-migrate run` into a new scoped DB and into
//! one holding N unrelated rows per table (median wall time of
//! `SK_BENCH_RUNS`, default 5, and the peak RSS of any run), and
//! `sk-doctor --no-probe` / `sk-doctor preflight --no-probe` on a home whose
//! legacy and scoped queues hold N rows per table.
//!
//! Then one line: what reading the encrypted session store (issue 6; scrypt
//! at N = 2^14 dominates) adds to `sk-doctor --no-probe` with SaaS sync on, on
//! a small home with and without a session (median of `SK_BENCH_RUNS`, at
//! least 9, interleaved). `SK_BENCH_SIZES=` (empty) prints only that line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use comfy_table::Table;
use rusqlite::Connection;

const SCOPE: &str = "https://sync.example.test|bench@example.com|team-a";

fn schema_sql() -> String {
    sk_boundary::db::schema::migrations()
        .iter()
        .filter_map(|m| m.sql().map(str::to_string))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A V5 queue DB (as spec-kitty writes it) with `n` rows per table, keys tagged `tag`.
fn build_db(path: &Path, n: u64, tag: &str) {
    let _ = std::fs::remove_file(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA synchronous=OFF;")
        .unwrap();
    conn.execute_batch(&schema_sql()).unwrap();
    conn.execute_batch(&format!(
        "BEGIN;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
        INSERT INTO queue (event_id, event_type, data, timestamp, retry_count, coalesce_key)
        SELECT printf('evt-{tag}-%09d', i), 'WPStatusChanged',
               printf('{{\"wp\":\"WP%02d\",\"seq\":%d,\"note\":\"%s\"}}', i % 40, i, hex(randomblob(32))),
               1770000000 + (i * 7919) % 100000, i % 3, CASE WHEN i % 5 = 0 THEN printf('wp:%d', i % 40) END
        FROM n;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
        INSERT INTO body_upload_queue (project_uuid, mission_slug, target_branch, mission_type,
            manifest_version, artifact_path, content_hash, content_body, size_bytes, created_at)
        SELECT '7f3c2a10-0000-4000-8000-00000000a11c', printf('%03d-mission-{tag}', i % 50), 'main',
               'software-dev', '1', printf('kitty-specs/m/%09d.md', i), printf('%064d', i),
               printf('# Artifact %d\n%s', i, hex(randomblob(96))), 220, 1770000000.0 + i
        FROM n;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n})
        INSERT INTO body_upload_failure_log (project_uuid, mission_slug, target_branch, mission_type,
            manifest_version, artifact_path, content_hash, size_bytes, failure_reason,
            first_failed_at, last_failed_at)
        SELECT '7f3c2a10-0000-4000-8000-00000000a11c', printf('%03d-mission-{tag}', i % 50), 'main',
               'software-dev', '1', printf('kitty-specs/m/%09d.md', i), printf('%064d', i), 220,
               CASE i % 3 WHEN 0 THEN 'HTTP 503' WHEN 1 THEN 'timeout' ELSE 'HTTP 413' END,
               1770000000.0 + i, 1770000100.0 + i
        FROM n;
        COMMIT;"
    ))
    .unwrap();
}

/// Run a command to completion; its wall time and peak RSS (KiB, from wait4).
#[allow(unsafe_code)] // wait4 is the one way to read a child's peak RSS
fn measure(cmd: &mut Command) -> (Duration, i64, i32) {
    let started = Instant::now();
    // Reaped below by wait4 (for its rusage), which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(rc, pid, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (wall, usage.ru_maxrss, code)
}

/// Copy a DB and flush it to disk, so a run does not pay for writing back
/// the copy (a user's queue has long been on disk).
fn copy_synced(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
    std::fs::File::open(to).unwrap().sync_all().unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

struct Case {
    legacy: PathBuf,
    unrelated: PathBuf,
}

fn main() {
    let sizes: Vec<u64> = std::env::var("SK_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runs: usize = std::env::var("SK_BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let migrate = env!("CARGO_BIN_EXE_sk-migrate");
    let doctor = env!("CARGO_BIN_EXE_sk-doctor");
    let work = tempfile::tempdir().unwrap();
    let scope = sk_boundary::Scope::parse(SCOPE).unwrap();

    let mut table = Table::new();
    // `SK_BENCH_BASELINE=<an older sk-migrate>`: its moves are timed on the
    // same DBs and printed beside this build's.
    let mut binaries = vec![("this build".to_string(), PathBuf::from(migrate))];
    if let Ok(base) = std::env::var("SK_BENCH_BASELINE") {
        binaries.push(("baseline".to_string(), PathBuf::from(base)));
    }
    table.set_header([
        "rows/table",
        "sk-migrate",
        "run → new scoped (ms)",
        "run → N unrelated (ms)",
        "peak RSS (MiB)",
        "doctor (ms)",
        "preflight (ms)",
    ]);
    for &n in &sizes {
        eprintln!("building {n} rows/table …");
        let case = Case {
            legacy: work.path().join(format!("legacy-{n}.db")),
            unrelated: work.path().join(format!("unrelated-{n}.db")),
        };
        build_db(&case.legacy, n, "legacy");
        build_db(&case.unrelated, n, "scoped");
        let mut moves = Vec::new();
        for (label, bin) in &binaries {
            moves.push((label.clone(), time_moves(bin, &case, n, runs, work.path())));
        }
        // Doctor and preflight: legacy and scoped queues both hold n rows/table.
        let home = sk_boundary::Home::at(work.path().join(format!("doctor-{n}")));
        std::fs::create_dir_all(home.queues_dir()).unwrap();
        std::fs::copy(&case.legacy, home.legacy_queue()).unwrap();
        std::fs::copy(&case.unrelated, home.scoped_queue(&scope)).unwrap();
        let mut doc = Vec::new();
        let mut pre = Vec::new();
        let doctor_runs = if n >= 1_000_000 { 3 } else { runs.max(5) };
        for _ in 0..doctor_runs {
            let base = |c: &mut Command| {
                c.args(["--release", "3.2.5"])
                    .arg("--home")
                    .arg(home.root())
                    .args(["--no-probe", "--scope", SCOPE]);
            };
            let mut c = Command::new(doctor);
            base(&mut c);
            doc.push(measure(&mut c).0);
            let mut c = Command::new(doctor);
            base(&mut c);
            c.arg("preflight");
            pre.push(measure(&mut c).0);
        }
        std::fs::remove_dir_all(home.root()).unwrap();
        for (i, (label, (new, unrelated, peak))) in moves.into_iter().enumerate() {
            let (d, p) = if i == 0 {
                (ms(median(doc.clone())), ms(median(pre.clone())))
            } else {
                ("".to_string(), "".to_string())
            };
            table.add_row(vec![
                n.to_string(),
                label,
                ms(new),
                ms(unrelated),
                format!("{:.1}", peak as f64 / 1024.0),
                d,
                p,
            ]);
        }
        let _ = std::fs::remove_file(&case.legacy);
        let _ = std::fs::remove_file(&case.unrelated);
    }
    if !sizes.is_empty() {
        println!("{table}");
        println!(
            "(median of {runs} runs on fresh copies, 1 run at 1M rows/table; wall time includes process start)"
        );
    }
    session_overhead(doctor, work.path(), runs.max(9));
    project_stores(doctor, work.path(), runs.max(9));
}

/// `sk-migrate run` on fresh copies of `case`: into a new scoped DB and
/// into one holding N unrelated rows per table. Median wall times and the
/// peak RSS (KiB) of any run.
fn time_moves(
    bin: &Path,
    case: &Case,
    n: u64,
    runs: usize,
    work: &Path,
) -> (Duration, Duration, i64) {
    let scope = sk_boundary::Scope::parse(SCOPE).unwrap();
    let mut peak = 0;
    let mut timings = [Vec::new(), Vec::new()];
    for (k, with_unrelated) in [false, true].into_iter().enumerate() {
        // A million rows per table is about flat memory, not a median.
        let runs = if n >= 1_000_000 { 1 } else { runs };
        for r in 0..runs {
            let home = sk_boundary::Home::at(work.join(format!("h-{n}-{k}-{r}")));
            std::fs::create_dir_all(home.root()).unwrap();
            copy_synced(&case.legacy, &home.legacy_queue());
            if with_unrelated {
                std::fs::create_dir_all(home.queues_dir()).unwrap();
                copy_synced(&case.unrelated, &home.scoped_queue(&scope));
            }
            let (wall, rss, code) = measure(
                Command::new(bin)
                    .args(["--release", "3.2.5"])
                    .arg("--home")
                    .arg(home.root())
                    .args(["run", "--scope", SCOPE]),
            );
            assert_eq!(code, 0, "sk-migrate run failed");
            timings[k].push(wall);
            peak = peak.max(rss);
            std::fs::remove_dir_all(home.root()).unwrap();
        }
    }
    let [a, b] = timings;
    (median(a), median(b), peak)
}

/// `sk-doctor --release 3.2.7 --no-probe` on a home with 20 project stores
/// of 10k rows each (journal entries, outbox tasks, body upload tasks, in
/// the DDL 3.2.7's own code creates: fixtures/releases/3.2.7/facts.json),
/// beside the same command on a home with none (issue 11 budget: 50 ms).
fn project_stores(doctor: &str, work: &Path, runs: usize) {
    let facts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases/3.2.7/facts.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let ddl: Vec<String> = facts["ddl"]["store"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    let empty = sk_boundary::Home::at(work.join("stores-none"));
    let full = sk_boundary::Home::at(work.join("stores-20"));
    for h in [&empty, &full] {
        std::fs::create_dir_all(h.root().join("projects")).unwrap();
    }
    eprintln!("building 20 project stores of 10k rows …");
    for p in 0..20 {
        let uuid = format!("{p:08x}-0000-4000-8000-000000000000");
        let db = full
            .root()
            .join("projects")
            .join(&uuid)
            .join("sync/sync.db");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute_batch("PRAGMA journal_mode = WAL; BEGIN;")
            .unwrap();
        for sql in &ddl {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!(
            "INSERT INTO project_store_metadata VALUES (1, '{uuid}', 1, 1, '2026-01-01');
             INSERT INTO consent_epochs (epoch_id, project_uuid, opened_at_tail, state, reason)
               VALUES (1, '{uuid}', 0, 'eligible', 'bench');
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 4000)
             INSERT INTO journal_entries SELECT 'evt-' || i, '{uuid}', 1, i, '{{}}', NULL FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO outbox_tasks SELECT 'task-' || i, '{uuid}', 1, 'evt-' || i, 'event',
               CASE WHEN i % 2 = 0 THEN 'synced' ELSE 'pending' END, NULL, NULL FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
             INSERT INTO body_upload_tasks SELECT i, '{uuid}', 1, i, 'h' || i, '{{}}',
               CASE WHEN i % 3 = 0 THEN 'uploaded' ELSE 'pending' END, NULL FROM n;
             COMMIT; PRAGMA wal_checkpoint(TRUNCATE);"
        ))
        .unwrap();
    }
    let run = |home: &sk_boundary::Home| {
        let mut c = Command::new(doctor);
        c.args(["--release", "3.2.7", "--no-probe", "--home"])
            .arg(home.root());
        c
    };
    let out = run(&full).arg("--json").output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["project_stores"]["stores"].as_array().unwrap().len(),
        20
    );
    let mut timings = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (k, home) in [&full, &empty].into_iter().enumerate() {
            timings[k].push(measure(&mut run(home)).0);
        }
    }
    let [with, without] = timings.map(median);
    println!(
        "project stores: sk-doctor --release 3.2.7 --no-probe {} ms with 20 stores of 10k rows, \
         {} ms with none (median of {runs} runs, process start included; issue 11 budget 50 ms)",
        ms(with),
        ms(without),
    );
}

/// `sk-doctor --no-probe` with SaaS sync on, on two small homes that differ
/// only by a session this host and user can open; prints the medians and
/// their difference (a figure, never asserted).
fn session_overhead(doctor: &str, work: &Path, runs: usize) {
    let small = work.join("small.db");
    build_db(&small, 100, "small");
    let homes = [true, false].map(|with_session| {
        let home = sk_boundary::Home::at(work.join(format!("session-{with_session}")));
        std::fs::create_dir_all(home.root()).unwrap();
        std::fs::copy(&small, home.legacy_queue()).unwrap();
        std::fs::write(
            home.config(),
            "[sync]\nserver_url = \"https://sync.example.test\"\n",
        )
        .unwrap();
        if with_session {
            let plaintext = br#"{"email": "bench@example.com", "access_token": "x",
                "teams": [{"id": "priv-1", "name": "me", "role": "owner", "is_private_teamspace": true}]}"#;
            sk_boundary::login::session::test_support::write_session(
                &home,
                &sk_boundary::login::session::HostUser::current(),
                plaintext,
            )
            .unwrap();
        }
        home
    });
    let doctor_in = |home: &sk_boundary::Home| {
        let mut c = Command::new(doctor);
        c.args(["--release", "3.2.5"])
            .arg("--home")
            .arg(home.root())
            .arg("--no-probe")
            .env("SPEC_KITTY_ENABLE_SAAS_SYNC", "1");
        c
    };
    // The figure means something only if the session resolves and the other does not.
    for (home, resolves) in homes.iter().zip([true, false]) {
        let out = doctor_in(home).arg("--json").output().unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            json["foreground"]["auth_scope"].is_string(),
            resolves,
            "session home set up wrong: {json}"
        );
    }
    let mut timings = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        for (k, home) in homes.iter().enumerate() {
            timings[k].push(measure(&mut doctor_in(home)).0);
        }
    }
    let [with, without] = timings.map(median);
    println!(
        "session read: sk-doctor --no-probe (SaaS sync on, small home) {} ms with a session, \
         {} ms without: {:+.1} ms (median of {runs} runs; issue 6 budget 60 ms)",
        ms(with),
        ms(without),
        (with.as_secs_f64() - without.as_secs_f64()) * 1000.0,
    );
    for home in &homes {
        std::fs::remove_dir_all(home.root()).unwrap();
    }
    let _ = std::fs::remove_file(&small);
}
