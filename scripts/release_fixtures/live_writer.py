#!/usr/bin/env python3
"""An older CLI still writing ``queue.db``: 3.2.5's own queue writers, for tests/system/cutover_live.rs.

Run with the interpreter of a 3.2.5 venv, HOME and SPEC_KITTY_HOME pointing at a
throw-away home whose spec-kitty root is ``--root``::

    python live_writer.py --root R --tag T --events N --bodies M

Writes N events and M body uploads into the LEGACY ``R/queue.db`` through the release's
own ``OfflineQueue(db_path=...)`` / ``OfflineBodyUploadQueue(db_path=...)``, one at a
time. After each acknowledged row it prints one JSON line on stdout and flushes it:
``{"event_id": ...}`` or ``{"body_key": [7 strings]}`` — the test reads the first line to
know the writer is running, and counts every line as an acknowledged row. A row the
release refuses (returns False, e.g. "database is locked") is printed as
``{"refused": ...}`` and not counted. Bounded: it stops after N + M rows. Every
identity here is specific to this test (tag T) and used by no fixture.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import sys
from pathlib import Path

PROJECTS = ("c07e0000-5b2a-4c3d-9e4f-00000000c1a1", "c07e0000-5b2a-4c3d-9e4f-00000000c1a2")
MISSION_SLUG = "077-live-writer-mission"
TARGET_BRANCH = "live/wrïter"
MISSION_TYPE = "software-dev"
MANIFEST_VERSION = "3"


def _namespace(ns_mod, project: str):
    cls = ns_mod.NamespaceRef
    names = {f.name for f in dataclasses.fields(cls)}
    kw = dict(project_uuid=project, target_branch=TARGET_BRANCH, manifest_version=MANIFEST_VERSION)
    kw["feature_slug" if "feature_slug" in names else "mission_slug"] = MISSION_SLUG
    kw["mission_key" if "mission_key" in names else "mission_type"] = MISSION_TYPE
    return cls(**kw)


def _say(real_stdout, obj) -> None:
    real_stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    real_stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--tag", required=True)
    ap.add_argument("--events", type=int, default=0)
    ap.add_argument("--bodies", type=int, default=0)
    a = ap.parse_args()
    real = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        import specify_cli.sync.body_queue as bq
        import specify_cli.sync.namespace as ns
        import specify_cli.sync.queue as q

        a.root.mkdir(parents=True, exist_ok=True)
        legacy = a.root / "queue.db"
        queue = q.OfflineQueue(db_path=legacy)
        body = bq.OfflineBodyUploadQueue(db_path=legacy)
        for i in range(max(a.events, a.bodies)):
            project = PROJECTS[i % len(PROJECTS)]
            if i < a.events:
                eid = "live-%s-evt-%05d" % (a.tag, i)
                event = {
                    "event_id": eid,
                    "event_type": "WPStatusChanged",
                    "project_uuid": project,
                    "payload": {"wp": "WP%02d" % (i % 50), "to": "doing", "tag": a.tag},
                    "timestamp": "2026-03-04T05:06:%02d+00:00" % (i % 60),
                }
                ok = queue.queue_event(event)
                _say(real, {"event_id": eid} if ok is not False else {"refused": eid})
            if i < a.bodies:
                path = "docs/live-%s-%04d.md" % (a.tag, i)
                text = "# %s\n\nwritten by 3.2.5 while the cutover ran\n" % path
                raw = text.encode("utf-8")
                digest = hashlib.sha256(raw).hexdigest()
                r = body.enqueue(_namespace(ns, project), path, digest, text, len(raw))
                value = str(getattr(r, "value", r))
                key = [project, MISSION_SLUG, TARGET_BRANCH, MISSION_TYPE, MANIFEST_VERSION, path, digest]
                _say(real, {"body_key": key} if value in ("enqueued", "True") else {"refused": path, "result": value})


if __name__ == "__main__":
    main()
