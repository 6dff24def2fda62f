//! Loopback probe for running sync daemons (`docs/daemon.md`).
//!
//! Daemons listen on `127.0.0.1`, ports 9400–9449, and answer
//! `GET /api/health` with JSON holding `protocol_version`, `package_version`
//! and, when present, the owner record (`owner`). A responding daemon on a
//! port other than the recorded one is a live orphan: listed, never stopped.
//!
//! * Only `127.0.0.1` is ever contacted: the URL is built from a constant,
//!   proxies from the environment are disabled and redirects are not followed.
//! * A health response may carry a `token` (top level or in `owner`): it is
//!   dropped at parse time — only the typed fields below are kept.
//! * Ports are probed concurrently (one scoped thread each); a closed loopback
//!   port refuses at once, so the whole sweep takes a few milliseconds when
//!   nothing listens and at most [`ProbeTimeouts::total`] when something hangs.

use std::ops::RangeInclusive;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::doctor::owner::RedactedOwner;

/// The loopback ports daemons listen on.
pub const DAEMON_PORTS: RangeInclusive<u16> = 9400..=9449;

/// Largest health body read; anything bigger is not a health response.
const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Time limits of one port's probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeTimeouts {
    /// TCP connect (loopback refuses or accepts at once).
    pub connect: Duration,
    /// Whole request, connect to last body byte.
    pub total: Duration,
}

impl Default for ProbeTimeouts {
    /// 50 ms connect, 250 ms in all: the sweep stays within 300 ms even when a
    /// listener on every port hangs, since ports are probed concurrently.
    fn default() -> ProbeTimeouts {
        ProbeTimeouts {
            connect: Duration::from_millis(50),
            total: Duration::from_millis(250),
        }
    }
}

/// A daemon that answered its health endpoint. Holds no token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveDaemon {
    pub port: u16,
    /// `pid` from the response, else the owner record's.
    pub pid: Option<i64>,
    /// `protocol_version` as text (numbers are written in decimal).
    pub protocol_version: Option<String>,
    pub package_version: Option<String>,
    /// The owner record the daemon reports, token dropped; `None` when absent
    /// or not a valid record.
    pub owner: Option<RedactedOwner>,
}

/// Parse a health response body (pure). `None` unless it is a JSON object
/// with `protocol_version` — anything else on the port is not a spec-kitty
/// daemon. Tokens anywhere in the body are not kept.
pub fn parse_health(port: u16, body: &str) -> Option<LiveDaemon> {
    let v: Value = serde_json::from_str(body).ok()?;
    let obj = v.as_object()?;
    let protocol_version = match obj.get("protocol_version")? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let package_version = obj
        .get("package_version")
        .and_then(Value::as_str)
        .map(crate::doctor::owner::version_shaped);
    let owner = obj
        .get("owner")
        .and_then(|o| RedactedOwner::from_json(o).ok());
    let pid = obj
        .get("pid")
        .and_then(Value::as_i64)
        .or_else(|| owner.as_ref().map(|o| o.pid));
    Some(LiveDaemon {
        port,
        pid,
        protocol_version,
        package_version,
        owner,
    })
}

/// Daemons answering on a port other than the recorded one (pure). With no
/// recorded port, every responding daemon is an orphan.
pub fn live_orphans(recorded_port: Option<u16>, found: &[LiveDaemon]) -> Vec<LiveDaemon> {
    found
        .iter()
        .filter(|d| Some(d.port) != recorded_port)
        .cloned()
        .collect()
}

/// Probe the daemon ports 9400–9449 with the default timeouts.
pub fn probe_daemon_ports() -> Vec<LiveDaemon> {
    let ports: Vec<u16> = DAEMON_PORTS.collect();
    probe_ports(&ports, ProbeTimeouts::default())
}

/// Probe `127.0.0.1:<port>/api/health` for each port, concurrently. Returns
/// the daemons that answered, sorted by port. Errors (refused, timeout, not
/// HTTP, not a health body) mean "no daemon there".
pub fn probe_ports(ports: &[u16], timeouts: ProbeTimeouts) -> Vec<LiveDaemon> {
    let agent = agent(timeouts);
    let mut found: Vec<LiveDaemon> = std::thread::scope(|s| {
        let handles: Vec<_> = ports
            .iter()
            .map(|&port| {
                let agent = &agent;
                let spawned = std::thread::Builder::new()
                    .name(format!("probe-{port}"))
                    .spawn_scoped(s, move || probe_one(agent, port));
                (port, spawned)
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(port, spawned)| match spawned {
                Ok(h) => h.join().ok().flatten(),
                // No thread to be had: probe this port inline.
                Err(_) => probe_one(&agent, port),
            })
            .collect()
    });
    found.sort_by_key(|d| d.port);
    found
}

fn agent(t: ProbeTimeouts) -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .max_redirects(0)
        .http_status_as_error(false)
        .timeout_connect(Some(t.connect))
        .timeout_global(Some(t.total))
        .user_agent(concat!("sk-doctor/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

fn probe_one(agent: &ureq::Agent, port: u16) -> Option<LiveDaemon> {
    let url = format!("http://127.0.0.1:{port}/api/health");
    let mut resp = agent.get(&url).call().ok()?;
    if !resp.status().is_success() {
        return None;
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY_BYTES)
        .read_to_string()
        .ok()?;
    parse_health(port, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    const TOKEN: &str = "tok-PLANTED-health-51c0";

    fn health_body() -> String {
        serde_json::json!({
            "protocol_version": 2,
            "package_version": "3.0.9",
            "token": TOKEN,
            "owner": {
                "pid": 31337,
                "port": 9400,
                "token": TOKEN,
                "package_version": "3.0.9",
                "executable_path": "/tmp/old/venv/bin/python3",
                "source_checkout_path": "/tmp/old/checkout",
                "server_url": "https://sync.example.test",
                "auth_principal": "ann@example.test",
                "auth_team": "team-a",
                "auth_scope": null,
                "queue_db_path": "/h/queue.db",
                "started_at": "2026-04-01T12:00:00Z"
            }
        })
        .to_string()
    }

    /// Serve one canned HTTP response on a fresh loopback port.
    fn serve_once(status: &'static str, body: String) -> (u16, std::thread::JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut req = Vec::new();
            let mut buf = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                req.extend_from_slice(&buf[..n]);
            }
            let head = String::from_utf8_lossy(&req);
            assert!(head.starts_with("GET /api/health HTTP/1.1\r\n"), "{head}");
            let resp = format!(
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            conn.write_all(resp.as_bytes()).unwrap();
        });
        (port, handle)
    }

    /// Generous limits so a loaded test machine cannot make the probe miss.
    fn patient() -> ProbeTimeouts {
        ProbeTimeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(10),
        }
    }

    fn closed_port() -> u16 {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn finds_a_daemon_and_drops_its_token() {
        let (port, server) = serve_once("200 OK", health_body());
        let closed = closed_port();
        let found = probe_ports(&[closed, port], patient());
        server.join().unwrap();
        assert_eq!(found.len(), 1);
        let d = &found[0];
        assert_eq!(d.port, port);
        assert_eq!(d.pid, Some(31337));
        assert_eq!(d.protocol_version.as_deref(), Some("2"));
        assert_eq!(d.package_version.as_deref(), Some("3.0.9"));
        let owner = d.owner.as_ref().unwrap();
        assert_eq!(owner.source_checkout_path, "/tmp/old/checkout");
        assert_eq!(owner.auth_scope, None);
        let outputs = [format!("{found:?}"), serde_json::to_string(&found).unwrap()];
        for out in outputs {
            assert!(!out.contains(TOKEN), "{out}");
            assert!(!out.contains("PLANTED"), "{out}");
        }
    }

    #[test]
    fn non_daemon_answers_are_not_daemons() {
        let (p1, s1) = serve_once("404 Not Found", health_body());
        let (p2, s2) = serve_once("200 OK", r#"{"status":"ok"}"#.to_string());
        let (p3, s3) = serve_once("200 OK", "<html>hi</html>".to_string());
        let found = probe_ports(&[p1, p2, p3], patient());
        for s in [s1, s2, s3] {
            s.join().unwrap();
        }
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn nothing_listening_finds_nothing() {
        assert!(probe_ports(&[closed_port()], ProbeTimeouts::default()).is_empty());
        assert!(probe_ports(&[], ProbeTimeouts::default()).is_empty());
    }

    #[test]
    fn parse_health_variants() {
        let d = parse_health(9401, r#"{"protocol_version":"1","pid":7,"token":"x"}"#).unwrap();
        assert_eq!((d.pid, d.package_version, d.owner), (Some(7), None, None));
        // An owner that is not a valid record is dropped, not an error.
        let d = parse_health(9401, r#"{"protocol_version":1,"owner":{"pid":"x"}}"#).unwrap();
        assert_eq!(d.owner, None);
        assert!(parse_health(9401, "[]").is_none());
        assert!(parse_health(9401, "").is_none());
    }

    #[test]
    fn live_orphans_are_daemons_off_the_recorded_port() {
        let d = |port| LiveDaemon {
            port,
            pid: None,
            protocol_version: None,
            package_version: None,
            owner: None,
        };
        let found = vec![d(9400), d(9401), d(9449)];
        let ports = |v: Vec<LiveDaemon>| v.into_iter().map(|d| d.port).collect::<Vec<_>>();
        assert_eq!(ports(live_orphans(Some(9400), &found)), vec![9401, 9449]);
        assert_eq!(ports(live_orphans(None, &found)), vec![9400, 9401, 9449]);
        assert!(live_orphans(Some(9400), &[d(9400)]).is_empty());
    }
}
