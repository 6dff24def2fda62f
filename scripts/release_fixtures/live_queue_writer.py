#!/usr/bin/env python3
"""A release's own queue writers in a bounded loop (tests/live_queue.rs).

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


def write(args) -> dict:
    import specify_cli.sync.body_queue as bq
    import specify_cli.sync.namespace as ns_mod
    import specify_cli.sync.queue as q

    acked = open(args.acked, "a", encoding="utf-8")
    out = {"acked": 0, "failed": 0, "errors": []}

    def record(line: str | None, error: str | None) -> None:
        if line is not None:
            acked.write(line + "\n")
            acked.flush()
            os.fsync(acked.fileno())
            out["acked"] += 1
            print("ack " + line, flush=True)
        else:
            out["failed"] += 1
            if len(out["errors"]) < 5:
                out["errors"].append(error)

    db = Path(args.db)
    queue = q.OfflineQueue(db_path=db)
    body = bq.OfflineBodyUploadQueue(db_path=db)
    ns = _namespace(ns_mod)
    if args.wait_go:
        # Imports done: the loop starts on the caller's word, not after a sleep.
        print("ready", flush=True)
        sys.stdin.readline()
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


def hold(args) -> dict:
    conn = sqlite3.connect(args.db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    print("held", flush=True)
    select.select([sys.stdin], [], [], args.max_seconds)
    conn.execute("COMMIT")
    conn.close()
    return {"held": True}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["write", "hold"])
    ap.add_argument("--db", required=True)
    ap.add_argument("--prefix", default="live")
    ap.add_argument("--events", type=int, default=0)
    ap.add_argument("--bodies", type=int, default=0)
    ap.add_argument("--acked", default=os.devnull)
    ap.add_argument("--wait-go", action="store_true",
                    help="print 'ready' once imported, start on a line on stdin")
    ap.add_argument("--max-seconds", type=float, default=60.0)
    args = ap.parse_args()
    out = write(args) if args.mode == "write" else hold(args)
    print(json.dumps(out, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
