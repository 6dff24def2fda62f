"""Carry late legacy rows into project stores with the installed release's own writers.

Shipped inside sk-migrate (``include_str!``) and run by ``sk-migrate run`` with the
interpreter of the installed spec-kitty (its ``#!`` line), with SPEC_KITTY_HOME set
to the home. Input on stdin, one JSON object::

    {"events": [{"source": PATH, "event_id": ID, "data": "<the row's data column>"}],
     "bodies": [{"source": PATH, "project_uuid": .., "mission_slug": .., "target_branch": ..,
                 "mission_type": .., "manifest_version": .., "artifact_path": ..,
                 "content_hash": .., "hash_algorithm": .., "content_body": .., "size_bytes": N}]}

Every row goes through the release's live writers over its project store:
``ProjectSyncStore(uuid).unit_of_work()`` with ``OfflineQueue.queue_event`` (events:
journal entry + outbox task) and ``OfflineBodyUploadQueue.enqueue`` (body uploads).
Nothing here writes SQL; the sources are never opened. Requires the machine layout to be
``project_only`` (the release's writers refuse anything else).

Prints one JSON object on stdout: {"version": .., "layout": .., "results": [{"table",
"key", "source", "outcome": "stored"|"quarantined"|"error", "reason"}]}. ``quarantined``:
the release rejects the row for good (its reason); ``error``: a transient failure
(locked store, I/O), retried by the next run. Chatter of the release goes to stderr.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import sys


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("spec-kitty-cli")
    except Exception as exc:  # noqa: BLE001 - reported, never fatal
        return "unknown (%s)" % exc


def _layout(store) -> str:
    state = store.layout_generation().read_state()
    return str(getattr(state.mode, "value", state.mode))


def _transient(exc: BaseException) -> bool:
    from specify_cli.sync import project_store as ps

    locked = getattr(ps, "ProjectStoreLockedError", ())
    return isinstance(exc, (sqlite3.OperationalError, OSError) + ((locked,) if locked else ()))


def _reason(exc: BaseException) -> str:
    return "%s: %s" % (type(exc).__name__, exc)


def _event_row(q, item):
    """(project uuid, event dict) or a quarantine reason."""
    try:
        event = json.loads(item["data"])
    except (TypeError, ValueError):
        return None, "incompatible_row: data is not JSON"
    if not isinstance(event, dict):
        return None, "incompatible_row: data is not a JSON object"
    if str(event.get("event_id", "")).strip() != item["event_id"]:
        return None, "incompatible_row: the data's event_id differs from the row's"
    owner = q._owner_from_event(event)
    if owner is None:
        return None, "missing_project_uuid"
    return (owner, event), None


def _groups(q, payload, results):
    """Rows by project uuid; rows without one are quarantined here."""
    groups: dict[str, list] = {}
    for item in payload.get("events", []):
        row, reason = _event_row(q, item)
        if reason:
            results.append(_result("queue", item["event_id"], item, "quarantined", reason))
            continue
        groups.setdefault(row[0], []).append(("queue", item, row[1]))
    for item in payload.get("bodies", []):
        owner = str(item.get("project_uuid") or "").strip().lower()
        if not owner:
            results.append(_result("body_upload_queue", _body_key(item), item, "quarantined", "missing_project_uuid"))
            continue
        groups.setdefault(owner, []).append(("body_upload_queue", item, None))
    return groups


def _body_key(item) -> list:
    return [
        item.get(k)
        for k in (
            "project_uuid",
            "mission_slug",
            "target_branch",
            "mission_type",
            "manifest_version",
            "artifact_path",
            "content_hash",
        )
    ]


def _result(table, key, item, outcome, reason=None):
    return {"table": table, "key": key, "source": item.get("source"), "outcome": outcome, "reason": reason}


def _write_one(q, bq, ns, unit, authority, table, item, event):
    if table == "queue":
        if q.OfflineQueue(unit, authority).queue_event(event):
            return "stored", None
        return "quarantined", "queue_full: the project outbox is at its cap"
    namespace = ns.NamespaceRef(
        project_uuid=str(item["project_uuid"]).strip().lower(),
        mission_slug=item["mission_slug"],
        target_branch=item["target_branch"],
        mission_type=item["mission_type"],
        manifest_version=str(item["manifest_version"]),
    )
    result = bq.OfflineBodyUploadQueue(unit, authority).enqueue(
        namespace,
        item["artifact_path"],
        item["content_hash"],
        item["content_body"],
        int(item["size_bytes"]),
        item.get("hash_algorithm") or "sha256",
    )
    value = str(getattr(result, "value", result))
    if value in ("enqueued", "already_exists"):
        return "stored", None
    return "quarantined", "queue_full: the project body queue is at its cap"


def _carry_project(modules, uuid, rows, results):
    q, bq, ns, ps = modules
    try:
        store = ps.ProjectSyncStore(uuid)
    except ValueError as exc:
        reason = "malformed_project_uuid: %s" % exc
        for table, item, _ in rows:
            key = item["event_id"] if table == "queue" else _body_key(item)
            results.append(_result(table, key, item, "quarantined", reason))
        return
    for table, item, event in rows:
        key = item["event_id"] if table == "queue" else _body_key(item)
        try:
            # One unit of work per row: a rejected row never rolls back another.
            with store.unit_of_work() as unit:
                outcome, reason = _write_one(q, bq, ns, unit, store.layout_generation(), table, item, event)
        except Exception as exc:  # noqa: BLE001 - every row gets an answer
            outcome = "error" if _transient(exc) else "quarantined"
            reason = _reason(exc) if outcome == "error" else "rejected_by_release: " + _reason(exc)
        results.append(_result(table, key, item, outcome, reason))


def main() -> int:
    payload = json.load(sys.stdin)
    with contextlib.redirect_stdout(sys.stderr):
        import specify_cli.sync.body_queue as bq
        import specify_cli.sync.namespace as ns
        import specify_cli.sync.project_store as ps
        import specify_cli.sync.queue as q

        results: list = []
        groups = _groups(q, payload, results)
        layouts = set()
        for uuid, rows in sorted(groups.items()):
            _carry_project((q, bq, ns, ps), uuid, rows, results)
        with contextlib.suppress(Exception):
            for uuid in groups:
                layouts.add(_layout(ps.ProjectSyncStore(uuid)))
    out = {"version": _version(), "layout": sorted(layouts), "results": results}
    sys.stdout.write(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
