#!/usr/bin/env python3
"""A release's own queue writers in a bounded loop (tests/system/live_queue.rs).

Run with the interpreter of a venv that has ``spec-kitty-cli==X`` installed, with
HOME / SPEC_KITTY_HOME pointing at a throw-away home:

    <venv>/bin/python scripts/release_fixtures/live_queue_writer.py write \
        --db QUEUE_DB --prefix P --events N --bodies M --acked FILE
    <venv>/bin/python scripts/release_fixtures/live_queue_writer.py hold --db QUEUE_DB --max-seconds S

``write``: (with ``--wait-go``: import, print ``ready``, wait for a line on stdin)
N x ``OfflineQueue(db_path=QUEUE_DB).queue_event`` and M x
``OfflineBodyUploadQueue(db_path=QUEUE_DB).enqueue``, one after another. Every write
the release acknowledges (``queue_event`` not ``False``; ``enqueue`` "enqueued" or
``True``) is appended to FILE as one line, ``event <event_id>`` or
``body <artifact_path>``, flushed and fsynced, then said on stdout (``ack <line>``)
before the next write; every refusal or exception is counted as failed, with its
message, in the JSON printed as the last line.

``write --until STOP`` (tests/system/live_queue_big.rs): instead of N then M, one write after
another (every fourth a body upload, the rest events) until the file STOP exists,
``--max-writes`` writes were made or ``--max-seconds`` passed, whichever comes first;
with ``--pace-ms P`` a write starts at most every P ms (a pace, not a synchronisation).
``--db default`` writes where the release's own writers write by default: the scoped
DB it derives from the login with its pure helpers (``read_queue_scope_from_credentials``
+ ``scope_db_path``; never ``default_queue_db_path()``, which in 3.2.x would fold the
legacy rows in itself); the ``ready`` line then names it (``ready <path>``). A line
``released`` on stdin (read between writes, never waited for) starts phase ``moving``,
``after`` phase ``after`` (the move has ended: only the writers write): ack lines are
``ack <phase> <line>`` (phase ``held`` before ``released``). The summary also says,
per phase (``phases``), how many writes failed, how long the slowest took and how long
each failed one (the first five) took, in ms; ``failed`` and ``slowest_ms`` are the
totals.

``caps``: the queue caps the release enforces in this home (after its
``config.toml``), asked from its own code: ``{"event_cap": N, "body_cap": M}``; the
body cap is the hard-coded ``MAX_BODY_QUEUE_SIZE`` where the release has one (2.1.x
to 3.0.x: 10,000, not configurable), else the body queue's configured size. Made on a
throw-away DB outside the home.

``hold``: another process mid-write on QUEUE_DB: ``BEGIN IMMEDIATE``, print ``held``
(flushed), then wait until stdin closes (or S seconds pass), then ``COMMIT``.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import select
import sqlite3
import sys
from pathlib import Path


# The protocol's own stdout; the release's prints (2.x prints its write errors
# on stdout) go to stderr so they cannot be taken for protocol lines.
_OUT = sys.stdout


def _say(line: str) -> None:
    _OUT.write(line + "\n")
    _OUT.flush()


def _namespace(ns_mod):
    cls = ns_mod.NamespaceRef
    names = {f.name for f in dataclasses.fields(cls)}
    kw = dict(project_uuid="11111111-2222-4333-8444-555555555555", target_branch="main",
              manifest_version="1")
    kw["feature_slug" if "feature_slug" in names else "mission_slug"] = "007-live"
    kw["mission_key" if "mission_key" in names else "mission_type"] = "software-dev"
    return cls(**kw)


def _ok(result) -> bool:
    if result is True:
        return True
    if result is False or result is None:
        return False
    return str(getattr(result, "value", result)) == "enqueued"


def _release_db(q) -> Path:
    """The DB the release's writers write by default, without its legacy fold."""
    scope = q.read_queue_scope_from_credentials()
    if not scope:
        raise SystemExit("no login: the release would write the legacy DB")
    return Path(q.scope_db_path(scope))


def write(args) -> dict:
    import specify_cli.sync.body_queue as bq
    import specify_cli.sync.namespace as ns_mod
    import specify_cli.sync.queue as q

    acked = open(args.acked, "a", encoding="utf-8")
    out = {"acked": 0, "failed": 0, "errors": [], "phase": "held"}

    def record(line: str | None, error: str | None) -> None:
        if line is not None:
            acked.write(line + "\n")
            acked.flush()
            os.fsync(acked.fileno())
            out["acked"] += 1
            if args.until:
                _say("ack %s %s" % (out["phase"], line))
            else:
                _say("ack " + line)
        else:
            out["failed"] += 1
            if len(out["errors"]) < 5:
                out["errors"].append(error)

    db = _release_db(q) if args.db == "default" else Path(args.db)
    out["db"] = str(db)
    queue = q.OfflineQueue(db_path=db)
    body = bq.OfflineBodyUploadQueue(db_path=db)
    ns = _namespace(ns_mod)
    if args.wait_go:
        # Imports done: the loop starts on the caller's word, not after a sleep.
        _say("ready %s" % db if args.db == "default" else "ready")
        sys.stdin.readline()
    if args.until:
        _loop(args, queue, body, ns, record, out)
        acked.close()
        return out
    for i in range(args.events):
        eid = "%s-evt-%05d" % (args.prefix, i)
        event = {"event_id": eid, "event_type": "WPStatusChanged",
                 "payload": {"wp": "WP01", "i": i}, "timestamp": "2026-03-01T00:00:00+00:00"}
        try:
            r = queue.queue_event(event)
            record("event " + eid if r is not False else None, "queue_event returned False")
        except Exception as exc:  # counted, never hidden
            record(None, "%s: %s" % (type(exc).__name__, exc))
    for i in range(args.bodies):
        path = "%s/body-%05d.md" % (args.prefix, i)
        text = "# %s\n" % path
        digest = hashlib.sha256(text.encode()).hexdigest()
        try:
            r = body.enqueue(ns, path, digest, text, len(text))
            record("body " + path if _ok(r) else None, "enqueue returned %r" % (r,))
        except Exception as exc:
            record(None, "%s: %s" % (type(exc).__name__, exc))
    acked.close()
    return out


def _loop(args, queue, body, ns, record, out) -> None:
    import time

    deadline = time.monotonic() + args.max_seconds
    stop = Path(args.until)
    phases = {p: {"failed": 0, "slowest_ms": 0, "failed_after_ms": []}
              for p in ("held", "moving", "after")}
    out["phases"] = phases
    i = 0
    while i < args.max_writes and time.monotonic() < deadline and not stop.exists():
        while out["phase"] != "after" and select.select([sys.stdin], [], [], 0)[0]:
            word = sys.stdin.readline().strip()
            if word in ("released", "after"):
                out["phase"] = "moving" if word == "released" else "after"
            elif not word:
                break
        failed = out["failed"]
        began = time.monotonic()
        if i % 4 == 3:
            path = "%s/body-%06d.md" % (args.prefix, i)
            text = "# %s\n" % path
            digest = hashlib.sha256(text.encode()).hexdigest()
            try:
                r = body.enqueue(ns, path, digest, text, len(text))
                record("body " + path if _ok(r) else None, "enqueue returned %r" % (r,))
            except Exception as exc:  # counted, never hidden
                record(None, "%s: %s" % (type(exc).__name__, exc))
        else:
            eid = "%s-evt-%06d" % (args.prefix, i)
            event = {"event_id": eid, "event_type": "WPStatusChanged",
                     "payload": {"wp": "WP01", "i": i}, "timestamp": "2026-03-01T00:00:00+00:00"}
            try:
                r = queue.queue_event(event)
                record("event " + eid if r is not False else None, "queue_event returned False")
            except Exception as exc:
                record(None, "%s: %s" % (type(exc).__name__, exc))
        # How long the write took (diagnostics only: a failure after ~5000 ms
        # is the release's busy timeout running out behind another lock).
        took = int((time.monotonic() - began) * 1000)
        phase = phases[out["phase"]]
        phase["slowest_ms"] = max(phase["slowest_ms"], took)
        if out["failed"] > failed:
            phase["failed"] += 1
            if len(phase["failed_after_ms"]) < 5:
                phase["failed_after_ms"].append(took)
        i += 1
        rest = args.pace_ms / 1000.0 - (time.monotonic() - began)
        if rest > 0:
            time.sleep(rest)
    out["slowest_ms"] = max(p["slowest_ms"] for p in phases.values())
    out["stopped_by"] = ("stop file" if stop.exists() else
                         "max writes" if i >= args.max_writes else "max seconds")


def caps(args) -> dict:
    import shutil
    import tempfile

    import specify_cli.sync.body_queue as bq
    import specify_cli.sync.queue as q

    scratch = tempfile.mkdtemp()
    try:
        db = Path(scratch) / "caps.db"
        event_cap = q.OfflineQueue(db_path=db)._max_queue_size
        body_cap = getattr(bq, "MAX_BODY_QUEUE_SIZE", None)
        if body_cap is None:
            body_cap = bq.OfflineBodyUploadQueue(db_path=db)._max_queue_size
    finally:
        shutil.rmtree(scratch)
    return {"event_cap": int(event_cap), "body_cap": int(body_cap)}


def hold(args) -> dict:
    conn = sqlite3.connect(args.db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    _say("held")
    select.select([sys.stdin], [], [], args.max_seconds)
    conn.execute("COMMIT")
    conn.close()
    return {"held": True}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["write", "hold", "caps"])
    ap.add_argument("--db")
    ap.add_argument("--prefix", default="live")
    ap.add_argument("--events", type=int, default=0)
    ap.add_argument("--bodies", type=int, default=0)
    ap.add_argument("--acked", default=os.devnull)
    ap.add_argument("--wait-go", action="store_true",
                    help="print 'ready' once imported, start on a line on stdin")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    ap.add_argument("--until", help="write in a loop until this file exists")
    ap.add_argument("--max-writes", type=int, default=100_000)
    ap.add_argument("--pace-ms", type=float, default=0.0,
                    help="with --until: start a write at most every this many ms")
    args = ap.parse_args()
    sys.stdout = sys.stderr
    if args.mode != "caps" and not args.db:
        ap.error("--db is required")
    out = {"write": write, "hold": hold, "caps": caps}[args.mode](args)
    _say(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
