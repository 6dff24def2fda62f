#!/usr/bin/env python3
"""Write legacy rows into a spec-kitty home with ONE release's own queue code
(tests/system/cutover_doctor.rs, tests/delivery_e2e.rs).

Run with the interpreter of a 3.2.5 venv (the last release whose queue DBs
are queues), HOME and SPEC_KITTY_HOME pointing at a throw-away home:

    <venv>/bin/python tests/py/cutdoc_home.py --root R --events N --bodies M --start K

Puts a login in place (``R/credentials``) unless one is there, then appends N
events and M body uploads to the LEGACY queue ``R/queue.db`` through the
release's own ``OfflineQueue`` / ``OfflineBodyUploadQueue`` (``db_path``
explicit). Every event names PROJECT_UUID in its payload so that a 3.2.6+
cutover partitions it into that project's store. Row names start at K, so a
second call adds new rows (a late writer). Prints one JSON object on stdout.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path

USER = "Cut.Doc@example.test"
TEAM = "cutdoc-team"
SERVER = "https://cutdoc.example.test"
PROJECT_UUID = "c0d0c0d0-1111-4222-8333-0000000000c7"
MISSION_SLUG = "018-cutdoc-mission"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--events", type=int, default=3)
    ap.add_argument("--bodies", type=int, default=2)
    ap.add_argument("--start", type=int, default=0)
    a = ap.parse_args()
    real = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        out = write(a.root, a.events, a.bodies, a.start)
    real.write(json.dumps(out) + "\n")


def write(root: Path, n_events: int, n_bodies: int, start: int) -> dict:
    import specify_cli.sync.body_queue as bq
    import specify_cli.sync.namespace as ns
    import specify_cli.sync.queue as q

    root.mkdir(parents=True, exist_ok=True)
    creds = root / "credentials"
    if not creds.exists():
        creds.write_text(
            '[user]\nusername = "%s"\nteam_slug = "%s"\n\n[server]\nurl = "%s"\n' % (USER, TEAM, SERVER),
            encoding="utf-8",
        )
        os.chmod(creds, 0o600)
    legacy = root / "queue.db"
    queue = q.OfflineQueue(db_path=legacy)
    ids = []
    for i in range(start, start + n_events):
        eid = "cutdoc-evt-%04d" % i
        event = {
            "event_id": eid,
            "event_type": "WPStatusChanged",
            "aggregate_id": "WP%02d" % (i % 100),
            "aggregate_type": "WorkPackage",
            "project_uuid": PROJECT_UUID,
            "payload": {"wp": "WP%02d" % (i % 100), "to": "doing"},
            "timestamp": "2026-03-04T05:06:%02d+00:00" % (i % 60),
        }
        if queue.queue_event(event) is False:
            raise SystemExit("queue_event(%r) returned False" % eid)
        ids.append(eid)
    body = bq.OfflineBodyUploadQueue(db_path=legacy)
    names = {f.name for f in dataclasses.fields(ns.NamespaceRef)}
    kw = dict(project_uuid=PROJECT_UUID, target_branch="main", manifest_version="1")
    kw["feature_slug" if "feature_slug" in names else "mission_slug"] = MISSION_SLUG
    kw["mission_key" if "mission_key" in names else "mission_type"] = "software-dev"
    ref = ns.NamespaceRef(**kw)
    paths = []
    for i in range(start, start + n_bodies):
        path = "kitty-specs/%s/body-%04d.md" % (MISSION_SLUG, i)
        text = "# body %d\n" % i
        raw = text.encode("utf-8")
        r = body.enqueue(ref, path, hashlib.sha256(raw).hexdigest(), text, len(raw))
        if r is False or str(getattr(r, "value", r)) not in ("enqueued", "True"):
            raise SystemExit("enqueue(%r) returned %r" % (path, r))
        paths.append(path)
    return {"event_ids": ids, "body_paths": paths, "legacy_db": str(legacy)}


if __name__ == "__main__":
    main()
