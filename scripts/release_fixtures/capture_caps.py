#!/usr/bin/env python3
"""Measure one queue-DB release's queue caps BY DRIVING its writers.

Run with the interpreter of a venv that has ``spec-kitty-cli==X`` installed:

    <venv>/bin/python scripts/release_fixtures/capture_caps.py --version X \
        --out fixtures/releases/X/caps.json

A move adds legacy rows to the scoped DB; the release's own next write then
does what it does at its cap. This records, from the release's own code:

* ``events.default_cap``: ``OfflineQueue``'s cap with no ``config.toml``;
* ``events.configured_cap``: its cap with ``[sync] max_queue_size = 3``;
* ``events.at_cap``: five ``queue_event`` calls at that cap of 3 — how many
  rows stay, which event ids, and what each call returned (``evict-oldest``
  when the first two are gone and every call was acknowledged);
* ``bodies.default_cap`` / ``bodies.configured_cap``: the same for
  ``OfflineBodyUploadQueue``; ``bodies.follows_config`` says whether the
  setting moves it (2.1.x - 3.0.x hard-code ``MAX_BODY_QUEUE_SIZE``);
* ``bodies.at_cap``: five ``enqueue`` calls at a cap of 3 (the module
  constant patched to 3 where the cap is hard-coded, so the run stays
  short): ``refuse-new`` when three rows stay and the last two calls were
  refused.

Everything runs in a throw-away HOME / SPEC_KITTY_HOME; the output is
deterministic.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sqlite3
import tempfile
from pathlib import Path

CAP = 3
CALLS = 5


def _namespace(ns_mod):
    cls = ns_mod.NamespaceRef
    names = {f.name for f in dataclasses.fields(cls)}
    kw = dict(project_uuid="00000000-0000-4000-8000-000000000003", target_branch="main",
              manifest_version="1")
    kw["feature_slug" if "feature_slug" in names else "mission_slug"] = "001-caps"
    kw["mission_key" if "mission_key" in names else "mission_type"] = "software-dev"
    return cls(**kw)


def _result(r) -> str:
    return str(getattr(r, "value", r))


def _events(q, db: Path) -> dict:
    queue = q.OfflineQueue(db_path=db)
    results = []
    for i in range(CALLS):
        event = {"event_id": "caps-evt-%d" % i, "event_type": "WPStatusChanged",
                 "payload": {"wp": "WP01", "i": i}, "timestamp": "2026-01-01T00:00:0%d+00:00" % i}
        results.append(_result(queue.queue_event(event)))
    with sqlite3.connect(db) as conn:
        kept = [r[0] for r in conn.execute("SELECT event_id FROM queue ORDER BY id")]
    evicts = kept == ["caps-evt-%d" % i for i in range(CALLS - CAP, CALLS)]
    return {"calls": CALLS, "results": results, "kept": kept,
            "behaviour": "evict-oldest" if evicts and len(set(results)) == 1 else "other"}


def _bodies(bq, ns, db: Path) -> dict:
    body = bq.OfflineBodyUploadQueue(db_path=db)
    results = []
    for i in range(CALLS):
        path = "caps/body-%d.md" % i
        text = "# %s\n" % path
        digest = hashlib.sha256(text.encode()).hexdigest()
        results.append(_result(body.enqueue(ns, path, digest, text, len(text))))
    with sqlite3.connect(db) as conn:
        kept = [r[0] for r in conn.execute("SELECT artifact_path FROM body_upload_queue ORDER BY id")]
    refuses = (kept == ["caps/body-%d.md" % i for i in range(CAP)]
               and len(set(results[:CAP])) == 1 and results[CAP] != results[0]
               and len(set(results[CAP:])) == 1)
    return {"calls": CALLS, "results": results, "kept": kept,
            "behaviour": "refuse-new" if refuses else "other"}


def _body_cap(bq, db: Path) -> int:
    fixed = getattr(bq, "MAX_BODY_QUEUE_SIZE", None)
    if fixed is not None:
        return int(fixed)
    return int(bq.OfflineBodyUploadQueue(db_path=db)._max_queue_size)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["HOME"] = tmp
        root = Path(tmp) / ".spec-kitty"
        os.environ["SPEC_KITTY_HOME"] = str(root)
        root.mkdir()
        import specify_cli.sync.body_queue as bq
        import specify_cli.sync.namespace as ns_mod
        import specify_cli.sync.queue as q

        scratch = Path(tmp) / "scratch.db"
        events = {"default_cap": int(q.OfflineQueue(db_path=scratch)._max_queue_size)}
        bodies = {"default_cap": _body_cap(bq, scratch)}
        (root / "config.toml").write_text("[sync]\nmax_queue_size = %d\n" % CAP)
        events["configured_cap"] = int(q.OfflineQueue(db_path=scratch)._max_queue_size)
        bodies["configured_cap"] = _body_cap(bq, scratch)
        bodies["follows_config"] = bodies["configured_cap"] == CAP
        events["at_cap"] = _events(q, root / "events.db")
        if not bodies["follows_config"]:
            bq.MAX_BODY_QUEUE_SIZE = CAP  # hard-coded: patched, so five calls reach it
        bodies["at_cap"] = _bodies(bq, _namespace(ns_mod), root / "bodies.db")
        facts = {"release": args.version, "events": events, "bodies": bodies,
                 "config_key": "[sync] max_queue_size", "driven_cap": CAP}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    print(json.dumps(facts, sort_keys=True))


if __name__ == "__main__":
    main()
