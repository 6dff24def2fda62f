#!/usr/bin/env python3
"""A loopback fake of the hosted spec-kitty endpoints a 3.2.6+ release talks
to when it logs in and delivers confirmed sealed history
(tests/system/cutover_delivery.rs).

    python3 scripts/release_fixtures/fake_hosted.py --log REQUESTS.jsonl [--seconds 60]

Binds 127.0.0.1 on a free port and prints ONE ready line on stdout,
``{"url": "http://127.0.0.1:<port>"}``, once it accepts connections. It stops
by itself after ``--seconds`` or as soon as its stdin closes (the test that
started it exiting is enough). Standard library only: any python3 runs it.

Every request is appended to ``--log`` as one JSON line, flushed before the
answer is sent: ``method``, ``path``, whether an ``Authorization`` header was
present (never its value: a bearer token never reaches a file), the
``X-Spec-Kitty-Sync-Protocol`` header, and the body (gunzipped when
``Content-Encoding: gzip``; JSON when it parses, else form fields, else
text).

What it answers is what the releases' own client code expects (read from
3.2.6 … 3.2.7's site-packages):
* ``GET /oauth/authorize`` (auth/flows/authorization_code.py, the browser
  login ``spec-kitty auth login`` opens) — a redirect to the request's
  ``redirect_uri`` with a code and the request's ``state``, as a server whose
  user has signed in answers (``fake_browser.py`` plays the browser);
* ``POST /oauth/device`` (auth/flows/device_code.py) — a device code with
  ``interval`` 0, so the release's own poller asks at once;
* ``POST /oauth/token`` — tokens with ``expires_in`` and a ``session_id``
  (device grant and refresh grant alike);
* ``GET /api/v1/me`` (auth/flows/_session_payload.py) — one user whose only
  team is a Private Teamspace (``maybe_admit_locally`` binds to it);
* ``POST /api/v1/events/preflight/`` (sync/history_import/upload.py) — every
  event of the request ``success`` in a correlated ``results`` list;
* ``POST /api/v1/events/batch/`` (delivery/receivers.py, gzip JSON with an
  ``events`` list) — every event ``success``.
Anything else is answered 404 ``{"error": "not faked: <path>"}`` and logged
like the rest, so a test sees which call the release made that the fake does
not know.
"""
from __future__ import annotations

import argparse
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

USER = {
    "user_id": "fake-user-1",
    "email": "cut.doc@example.test",
    "name": "Cut Doc",
    "teams": [
        {
            "id": "fake-private-team",
            "slug": "fake-private-team",
            "name": "Private Teamspace",
            "role": "owner",
            "is_private_teamspace": True,
        }
    ],
}

TOKENS = {
    "access_token": "fake-access-token",
    "refresh_token": "fake-refresh-token",
    "session_id": "fake-session-1",
    "token_type": "Bearer",
    "expires_in": 3600,
    "refresh_token_expires_in": 86400,
    "scope": "offline_access",
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", required=True)
    ap.add_argument("--seconds", type=float, default=60.0)
    a = ap.parse_args()
    log = open(a.log, "a", encoding="utf-8")  # noqa: SIM115 - lives as long as the server
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: object) -> None:  # quiet: the log file is the record
            return

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._answer()

        def do_POST(self) -> None:  # noqa: N802
            self._answer()

        def do_PUT(self) -> None:  # noqa: N802
            self._answer()

        def _answer(self) -> None:
            path = urlsplit(self.path).path
            body = self._body()
            with lock:
                log.write(
                    json.dumps(
                        {
                            "method": self.command,
                            "path": path,
                            "authorization": self.headers.get("Authorization") is not None,
                            "protocol": self.headers.get("X-Spec-Kitty-Sync-Protocol"),
                            "body": body,
                        },
                        sort_keys=True,
                    )
                    + "\n"
                )
                log.flush()
            if self.command == "GET" and path == "/oauth/authorize":
                return self._signed_in()
            status, answer = route(self.command, path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _signed_in(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            target = "%s?%s" % (
                query.get("redirect_uri", [""])[0],
                urlencode({"code": "fake-authorization-code", "state": query.get("state", [""])[0]}),
            )
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _body(self) -> object:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n) if n else b""
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            text = raw.decode("utf-8", "replace")
            try:
                return json.loads(text)
            except ValueError:
                pass
            if "application/x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
                return {k: v[0] for k, v in parse_qs(text).items()}
            return text

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdout.write(json.dumps({"url": "http://127.0.0.1:%d" % server.server_address[1]}) + "\n")
    sys.stdout.flush()
    # Stop when stdin closes, or after the bound, whichever comes first.
    reader = threading.Thread(target=sys.stdin.read, daemon=True)
    reader.start()
    reader.join(a.seconds)
    server.shutdown()
    log.close()


def route(method: str, path: str, body: object) -> tuple[int, object]:
    if method == "POST" and path == "/oauth/device":
        return 200, {
            "device_code": "fake-device-code",
            "user_code": "FAKECODE",
            "verification_uri": "http://127.0.0.1/device",
            "expires_in": 60,
            "interval": 0,
        }
    if method == "POST" and path == "/oauth/token":
        return 200, TOKENS
    if method == "GET" and path == "/api/v1/me":
        return 200, USER
    if method == "POST" and path in ("/api/v1/events/preflight/", "/api/v1/events/batch/"):
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            return 400, {"error": "no events list"}
        return 200, {
            "results": [
                {"event_id": e.get("event_id"), "status": "success"}
                for e in events
                if isinstance(e, dict)
            ]
        }
    return 404, {"error": "not faked: %s" % path}


if __name__ == "__main__":
    main()
