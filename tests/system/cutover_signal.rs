//! SIGTERM or Ctrl-C (SIGINT) while a project-store release's own cutover
//! runs: sk-migrate stops the child it started (SIGTERM), waits for it,
//! says "interrupted; run again to resume" and exits 143 or 130. No
//! child is left running; the release's manifest stays mid-phase
//! (interrupted, never `failed`); the next run resumes the same migration
//! id and carries every row of the sources.
//!
//! Synchronised on a socket, never on a sleep: a loopback stand-in for the
//! home's daemon (its state file in the home) answers the release's health
//! check and takes its quiesce request without answering it, so when that
//! request arrives the release is provably mid-cutover (its manifest
//! written, nothing copied), and the signal goes out then (well within the
//! 2 s the release waits for an answer).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::mpsc;

use rustix::process::Signal;
use serde_json::Value;

use crate::harness::{self as e2e, Trial};

pub fn trials() -> Vec<Trial> {
    let planned = e2e::selected(
        e2e::captured()
            .into_iter()
            .filter(|c| c.generation() == "project-store"),
    );
    let newest = planned.last().map(|p| p.captured.release.clone());
    let mut trials = Vec::new();
    for p in &planned {
        // SIGTERM on every release; SIGINT (the same path in sk-migrate)
        // on the newest.
        // A terminal's Ctrl-C goes to the whole process group (sk-migrate
        // and its child): `ctrl_c`; the others reach sk-migrate alone.
        let signals: &[(&str, Signal, bool)] = if Some(&p.captured.release) == newest.as_ref() {
            &[
                ("sigterm", Signal::TERM, false),
                ("sigint", Signal::INT, false),
                ("ctrl_c", Signal::INT, true),
            ]
        } else {
            &[("sigterm", Signal::TERM, false)]
        };
        for &(label, signal, group) in signals {
            let release = p.captured.release.clone();
            trials.push(e2e::planned_trial(
                format!(
                    "cutover_signal::{release}::{label}_mid_cutover_stops_the_child_and_a_rerun_resumes"
                ),
                p,
                move |venv| stops_and_resumes(&release, venv, signal, group),
            ));
        }
    }
    trials
}

/// The stand-in daemon: answers `GET /api/health` as the release's own
/// daemon would, says on `quiesced` when a `POST /api/shutdown` arrives and
/// keeps that connection open, unanswered, until the process ends.
fn fake_daemon(release: &str, token: &str) -> (u16, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let health = serde_json::json!({
        "status": "ok",
        "token": token,
        "protocol_version": 1,
        "package_version": release,
    })
    .to_string();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Some(request_line) = read_request(&stream) else {
                continue;
            };
            if request_line.starts_with("POST /api/shutdown") {
                let _ = tx.send(());
                held.push(stream);
            } else {
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{health}",
                    health.len()
                );
            }
        }
    });
    (port, rx)
}

/// An HTTP request's first line, its headers and body read.
fn read_request(stream: &TcpStream) -> Option<String> {
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        if line.trim().is_empty() {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(first)
}

/// Processes whose command line names `root` (any child of a run on it).
fn processes_on(root: &Path) -> Vec<String> {
    let needle = root.to_string_lossy().into_owned();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if line.contains(&needle) {
            out.push(format!("{}: {line}", e.file_name().to_string_lossy()));
        }
    }
    out
}

/// `signal` to sk-migrate (to its whole process group when `group`, as a
/// terminal sends Ctrl-C) once the release asks the daemon to quiesce.
fn stops_and_resumes(release: &str, venv: &Path, signal: Signal, group: bool) {
    use std::os::unix::process::CommandExt;
    let code = if signal == Signal::TERM { 143 } else { 130 };
    let sk = venv.join("bin/spec-kitty");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".spec-kitty");
    crate::shared::home_before_cutover(&root);
    let (events, bodies) = crate::cutover::source_keys(&root);
    let token = "tok-stand-in-daemon";
    let (port, quiesced) = fake_daemon(release, token);
    let state = root.join("sync-daemon");
    std::fs::write(
        &state,
        format!("http://127.0.0.1:{port}\n{port}\n{token}\n"),
    )
    .unwrap();

    let mut run = crate::cutover::tool_command("sk-migrate", dir.path(), &root, &sk)
        .arg("run")
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr meanwhile: a run that fails before the release asks to
    // quiesce says why there.
    let stderr = run.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let asked = quiesced.recv_timeout(std::time::Duration::from_secs(300));
    if asked.is_err() {
        let _ = run.kill();
        let _ = run.wait();
        panic!(
            "the release never asked the daemon to quiesce: {}",
            reader.join().unwrap()
        );
    }
    let pid = rustix::process::Pid::from_child(&run);
    if group {
        rustix::process::kill_process_group(pid, signal).unwrap();
    } else {
        rustix::process::kill_process(pid, signal).unwrap();
    }
    let status = run.wait().unwrap();
    let stderr = reader.join().unwrap();
    assert_eq!(status.code(), Some(code), "{stderr}");
    assert!(
        stderr.contains("sk-migrate: interrupted; run again to resume")
            && stderr.contains("project-store-migrate"),
        "{stderr}"
    );
    assert!(
        processes_on(&root).is_empty(),
        "left running: {:?}",
        processes_on(&root)
    );
    let manifests = manifests(&root);
    assert_eq!(manifests.len(), 1, "{manifests:?}");
    let (id, phase) = &manifests[0];
    assert_ne!(phase, "failed", "a stopped child's cutover is not failed");
    assert_ne!(phase, "complete");

    // The daemon is gone (as after a restart); the next run resumes the id.
    std::fs::remove_file(&state).unwrap();
    let out: Output =
        crate::cutover::tool("sk-migrate", dir.path(), &root, &sk, &["run", "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"], "migrated", "{report:#}");
    assert_eq!(report["migration_id"], id.as_str(), "a new id: {report:#}");
    assert_eq!(report["phase"], "complete");
    let (stored_events, stored_bodies) = e2e::store_keys(&root);
    let stored_bodies: std::collections::BTreeSet<String> =
        stored_bodies.iter().map(|k| k.join("|")).collect();
    assert!(events.is_subset(&stored_events), "an event was lost");
    assert!(bodies.is_subset(&stored_bodies), "a body upload was lost");
}

/// Every cutover manifest of the home: (migration id, phase).
fn manifests(root: &Path) -> Vec<(String, String)> {
    let dir: PathBuf = root.join("projects/.migration");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let Ok(text) = std::fs::read_to_string(e.path().join("manifest.json")) else {
            continue;
        };
        let m: Value = serde_json::from_str(&text).unwrap();
        out.push((
            e.file_name().to_string_lossy().into_owned(),
            m["phase"].as_str().unwrap_or_default().to_string(),
        ));
    }
    out
}
