#!/usr/bin/env python3
"""Write / drain a spec-kitty home with ONE release's own queue code (tests/system/drain.rs).

Run with the interpreter of a venv that has ``spec-kitty-cli==X`` installed, with
HOME (and, for releases that honour it, SPEC_KITTY_HOME) already pointing at a
throw-away home whose spec-kitty root is ``--root``:

    <venv>/bin/python scripts/release_fixtures/e2e_home.py write --root R --events N --bodies M
    <venv>/bin/python scripts/release_fixtures/e2e_home.py drain --root R

``write``  puts a login in place (``R/credentials``: [user] username + team_slug,
           [server] url) and fills the LEGACY queue ``R/queue.db`` with N events and
           M body uploads through the release's own ``OfflineQueue`` /
           ``OfflineBodyUploadQueue`` (``db_path`` given explicitly: with a login the
           release's default is the scoped DB). It never calls
           ``default_queue_db_path()`` (3.2.x would fold the legacy rows into the
           scoped DB itself); the scoped DB the release would select is derived with
           its pure helpers ``read_queue_scope_from_credentials`` + ``scope_db_path``.
``drain``  opens the release's DEFAULT queues (no ``db_path``: the release picks the
           file), drains every event and body upload, removes them the way the
           release's sync does (``mark_synced`` / ``mark_uploaded``), then enqueues one
           new event + one body upload on the default path and drains them back.

Prints one JSON object on stdout; the release's own chatter goes to stderr. A
failing step is reported as ``"error: <type>: <message>"`` in its field, never
hidden. Every identity / data value here is specific to this end-to-end test.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import sys
import traceback
from pathlib import Path

USER = "Ünï@Example.org"
TEAM = "Q-Team"
SERVER = "https://Other.Example.org/"

PROJECT_UUID = "9e2e0000-4f1a-4b2c-8d3e-00000000e2e0"
MISSION_SLUG = "042-e2e-ünïcode-mission"
TARGET_BRANCH = "e2e/Branch"
MISSION_TYPE = "software-dev"
MANIFEST_VERSION = "7"

NEW_EVENT_ID = "e2e-new-event-after-migrate"
NEW_BODY_PATH = "after-migrate/new-body.md"


def event_id(i: int) -> str:
    return "e2e-evt-%03d-ü" % i


def body_path(i: int) -> str:
    return "docs/e2e-ü-%03d.md" % i


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # TOML basic strings accept JSON escapes


def _modules():
    import specify_cli.sync.body_queue as bq
    import specify_cli.sync.namespace as ns
    import specify_cli.sync.queue as q

    return q, bq, ns


def _namespace(ns_mod):
    cls = ns_mod.NamespaceRef
    names = {f.name for f in dataclasses.fields(cls)}
    kw = dict(project_uuid=PROJECT_UUID, target_branch=TARGET_BRANCH, manifest_version=MANIFEST_VERSION)
    kw["feature_slug" if "feature_slug" in names else "mission_slug"] = MISSION_SLUG
    kw["mission_key" if "mission_key" in names else "mission_type"] = MISSION_TYPE
    return cls(**kw)


def _event(eid: str, i: int) -> dict:
    return {
        "event_id": eid,
        "event_type": "WPStatusChanged",
        "payload": {"wp": "WP%02d" % (i % 100), "to": "doing", "note": "e2e ✓ %d" % i},
        "timestamp": "2026-02-03T04:05:%02d+00:00" % (i % 60),
    }


def _body(path: str) -> tuple[str, str, int]:
    text = "# %s\n\nbody of %s — ünïcode ✓\n" % (path, path)
    raw = text.encode("utf-8")
    return text, hashlib.sha256(raw).hexdigest(), len(raw)


def _task_key(t) -> list:
    slug = getattr(t, "mission_slug", None)
    if slug is None:
        slug = t.feature_slug
    kind = getattr(t, "mission_type", None)
    if kind is None:
        kind = t.mission_key
    return [t.project_uuid, slug, t.target_branch, kind, t.manifest_version, t.artifact_path, t.content_hash]


def _err(exc: BaseException) -> str:
    traceback.print_exc(file=sys.stderr)
    return "error: %s: %s" % (type(exc).__name__, exc)


def _enqueue_ok(result) -> bool:
    # 2.x/3.0 return bool; 3.1+ return a BodyEnqueueResult (StrEnum).
    if result is True:
        return True
    if result is False or result is None:
        return False
    return str(getattr(result, "value", result)) == "enqueued"


def write(root: Path, n_events: int, n_bodies: int) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    creds = root / "credentials"
    creds.write_text(
        "[user]\nusername = %s\nteam_slug = %s\n\n[server]\nurl = %s\n"
        % (_toml_str(USER), _toml_str(TEAM), _toml_str(SERVER)),
        encoding="utf-8",
    )
    os.chmod(creds, 0o600)
    q, bq, ns_mod = _modules()
    legacy = root / "queue.db"
    out: dict = {"legacy_db": str(legacy), "spec_kitty_dir": str(q._spec_kitty_dir())}
    scope = q.read_queue_scope_from_credentials()
    out["scope"] = scope
    out["release_scoped_db"] = str(q.scope_db_path(scope)) if scope else None

    queue = q.OfflineQueue(db_path=legacy)
    ids = []
    for i in range(n_events):
        eid = event_id(i)
        if queue.queue_event(_event(eid, i)) is False:
            raise SystemExit("queue_event(%r) returned False" % eid)
        ids.append(eid)
    out["event_ids"] = ids

    body = bq.OfflineBodyUploadQueue(db_path=legacy)
    ns = _namespace(ns_mod)
    results = []
    for i in range(n_bodies):
        path = body_path(i)
        text, digest, size = _body(path)
        r = body.enqueue(ns, path, digest, text, size)
        results.append(str(getattr(r, "value", r)))
        if r is False or str(getattr(r, "value", r)) == "queue_full":
            raise SystemExit("enqueue(%r) returned %r" % (path, r))
    out["body_enqueue_results"] = sorted(set(results))
    out["body_keys"] = [_task_key(t) for t in body.drain(limit=1_000_000)]
    out["legacy_events_size"] = queue.size()
    out["legacy_bodies_size"] = body.size()
    return out


def drain(root: Path) -> dict:
    q, bq, ns_mod = _modules()
    out: dict = {"spec_kitty_dir": str(q._spec_kitty_dir())}
    # --- every event, from the file the release itself selects
    try:
        queue = q.OfflineQueue()
        out["events_db"] = str(queue.db_path)
        events = queue.drain_queue(limit=1_000_000)
        ids = [e.get("event_id") for e in events]
        out["drained_event_ids"] = ids
        queue.mark_synced([i for i in ids if i is not None])
        out["events_left"] = queue.size()
    except Exception as exc:  # noqa: BLE001
        out["events"] = _err(exc)
    # --- every body upload
    try:
        body = bq.OfflineBodyUploadQueue()
        out["bodies_db"] = str(body.db_path)
        tasks = body.drain(limit=1_000_000)
        out["drained_body_keys"] = [_task_key(t) for t in tasks]
        for t in tasks:
            body.mark_uploaded(t.row_id)
        out["bodies_left"] = body.size()
    except Exception as exc:  # noqa: BLE001
        out["bodies"] = _err(exc)
    # --- new work after the migration, on the default path
    new: dict = {}
    try:
        queue = q.OfflineQueue()
        new["event_db"] = str(queue.db_path)
        new["event_queued"] = queue.queue_event(_event(NEW_EVENT_ID, 99)) is not False
        new["event_drained_back"] = NEW_EVENT_ID in {e.get("event_id") for e in queue.drain_queue(limit=1_000_000)}
    except Exception as exc:  # noqa: BLE001
        new["event"] = _err(exc)
    try:
        body = bq.OfflineBodyUploadQueue()
        new["body_db"] = str(body.db_path)
        text, digest, size = _body(NEW_BODY_PATH)
        r = body.enqueue(_namespace(ns_mod), NEW_BODY_PATH, digest, text, size)
        new["body_enqueue_result"] = str(getattr(r, "value", r))
        new["body_queued"] = _enqueue_ok(r)
        new["body_drained_back"] = NEW_BODY_PATH in {t.artifact_path for t in body.drain(limit=1_000_000)}
    except Exception as exc:  # noqa: BLE001
        new["body"] = _err(exc)
    out["new"] = new
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("write", "drain"))
    ap.add_argument("--root", required=True, type=Path, help="the spec-kitty root (HOME/.spec-kitty or SPEC_KITTY_HOME)")
    ap.add_argument("--events", type=int, default=5)
    ap.add_argument("--bodies", type=int, default=3)
    a = ap.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    real_stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        result = write(a.root, a.events, a.bodies) if a.mode == "write" else drain(a.root)
    real_stdout.write(json.dumps(result, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
