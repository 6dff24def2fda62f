#!/usr/bin/env python3
"""Measure the SQLite busy timeouts of one release's queue-DB writers BY RUNNING them.

Run with the interpreter of a venv that has ``spec-kitty-cli==X`` installed:

    <venv>/bin/python scripts/release_fixtures/capture_timeouts.py --version X \
        --out fixtures/releases/X/timeouts.json

``sqlite3.connect`` is wrapped for the duration of each call: every connection the
release opens is made with a recording ``factory`` (unless the release passes its
own), and its effective busy timeout is read with ``PRAGMA busy_timeout`` when it
is opened and again when it is closed (so a later ``PRAGMA busy_timeout = N`` by the
release is seen too). The writers measured are the three that touch a queue DB on a
live machine:

* ``queue_writer``: ``OfflineQueue.queue_event`` (every CLI command that emits);
* ``body_queue``: ``OfflineBodyUploadQueue.enqueue`` (dossier body uploads);
* ``daemon``: what the sync daemon's batch loop calls on the queue
  (``OfflineQueue.drain_queue``, ``mark_synced``, ``OfflineBodyUploadQueue.drain``,
  ``mark_uploaded`` where the release has them).

Everything runs in a throw-away HOME / SPEC_KITTY_HOME; the output is deterministic.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sqlite3
import sys
import tempfile
from pathlib import Path

_real_connect = sqlite3.connect
_seen: list[int] = []


class _Recording(sqlite3.Connection):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        _seen.append(self.execute("PRAGMA busy_timeout").fetchone()[0])

    def close(self):
        try:
            _seen.append(self.execute("PRAGMA busy_timeout").fetchone()[0])
        except sqlite3.Error:
            pass
        super().close()


def _connect(*a, **kw):
    kw.setdefault("factory", _Recording)
    return _real_connect(*a, **kw)


def _measure(fn) -> dict:
    _seen.clear()
    sqlite3.connect = _connect
    error = None
    try:
        fn()
    except Exception as exc:  # recorded, never hidden
        error = "%s: %s" % (type(exc).__name__, exc)
    finally:
        sqlite3.connect = _real_connect
    out = {"readings": len(_seen), "busy_timeout_ms": sorted(set(_seen))}
    if error:
        out["error"] = error
    return out


def _namespace(ns_mod):
    cls = ns_mod.NamespaceRef
    names = {f.name for f in dataclasses.fields(cls)}
    kw = dict(project_uuid="00000000-0000-4000-8000-000000000001", target_branch="main",
              manifest_version="1")
    kw["feature_slug" if "feature_slug" in names else "mission_slug"] = "001-timeouts"
    kw["mission_key" if "mission_key" in names else "mission_type"] = "software-dev"
    return cls(**kw)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp
        os.environ["SPEC_KITTY_HOME"] = os.path.join(tmp, ".spec-kitty")
        os.makedirs(os.environ["SPEC_KITTY_HOME"], exist_ok=True)
        import specify_cli.sync.body_queue as bq
        import specify_cli.sync.namespace as ns_mod
        import specify_cli.sync.queue as q

        db = Path(tmp) / ".spec-kitty" / "queue.db"
        queue = q.OfflineQueue(db_path=db)
        body = bq.OfflineBodyUploadQueue(db_path=db)
        event = {"event_id": "timeouts-1", "event_type": "WPStatusChanged",
                 "payload": {"wp": "WP01"}, "timestamp": "2026-01-01T00:00:00+00:00"}
        text = "# body\n"
        digest = hashlib.sha256(text.encode()).hexdigest()
        ns = _namespace(ns_mod)

        def daemon():
            events = queue.drain_queue(limit=10)
            queue.mark_synced([e["event_id"] for e in events])
            tasks = body.drain(limit=10)
            if hasattr(body, "mark_uploaded"):
                for t in tasks:
                    body.mark_uploaded(t.row_id if hasattr(t, "row_id") else t.id)

        facts = {
            "release": args.version,
            "sqlite_python_default_ms": 5000,
            "queue_writer": _measure(lambda: queue.queue_event(event)),
            "body_queue": _measure(lambda: body.enqueue(ns, "docs/a.md", digest, text, len(text))),
            "daemon": _measure(daemon),
        }
        lows = [min(v["busy_timeout_ms"]) for k, v in facts.items()
                if isinstance(v, dict) and v.get("busy_timeout_ms")]
        facts["shortest_busy_timeout_ms"] = min(lows) if lows else None
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print(json.dumps(facts, sort_keys=True))


if __name__ == "__main__":
    main()
