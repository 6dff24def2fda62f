"""Re-encode the events of sk-migrate's cutover snapshot the way the installed release's
history upload demands of a sealed row, with the release's own encoder.

Shipped inside sk-migrate (``include_str!``) and fed on stdin (``python -I - SNAPSHOT``)
by ``sk-migrate run`` to the interpreter of the installed spec-kitty (3.2.6-3.2.7: the profile's
``cutover_history_canonical_json``) on OUR private snapshot
(``<root>/sk-migrate-cutover/.<id>.building/snapshot.db``) before the release's own
``sync project-store-migrate`` reads it. Never on a user's queue DB, nor on any file
spec-kitty keeps as evidence: the path is the one argument, and sk-migrate passes only
the snapshot it built.

Why: the release's cutover stores each event's ``data`` text verbatim as the sealed
row's ``payload_json``; its ``sync project-store-history --apply`` loads the envelope
with ``json.loads(payload_json)`` (``cli/commands/sync.py::_migrated_history_envelopes``)
and refuses the whole cohort unless every row equals
``history_import/upload.py::_canonical_event_json`` of that envelope
(``_assert_history_authority``: "history envelopes differ from the exact confirmed local
rows"). 3.2.5 and earlier wrote ``json.dumps(event)``, which never is.

Every row is kept; only the ``data`` column of ``queue`` changes, and only when the
release's encoder gives other text; ``event_id`` (the natural key) and every other
column stay. A row the encoder cannot take (not JSON, not a JSON object, a key given
twice, which decoding would lose) is left as it was and reported. The other things the
upload demands of an envelope, read from the same code, are checked and reported, never
changed: its ``event_id`` must be the row's (else the apply raises "is not an exact event
envelope"), and ``consent_gate.resolve_envelope_project`` must name the project the
cutover files it under (``project_store_migration._project_uuid_value``; else "history
cohort contains an envelope from another project").

Prints one JSON object: {"release", "events", "reencoded", "already_canonical",
"left": {reason: n}, "left_event_ids": [..], "not_deliverable": {reason: n},
"not_deliverable_event_ids": [..]}.
"""
from __future__ import annotations

import json
import sqlite3
import sys


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("spec-kitty-cli")
    except Exception as exc:  # noqa: BLE001 - reported, never fatal
        return "unknown (%s)" % exc


class _Twice(ValueError):
    pass


def _pairs(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise _Twice(key)
        out[key] = value
    return out


def _decode(text):
    """The envelope, or the reason the release's encoder cannot take this row."""
    if text is None:
        return None, "no_data"
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeError:
            return None, "not_utf8"
    try:
        value = json.loads(text, object_pairs_hook=_pairs)
    except _Twice:
        return None, "duplicate_key"
    except (ValueError, TypeError):
        return None, "not_json"
    if not isinstance(value, dict):
        return None, "not_a_json_object"
    return value, None


def _undeliverable(event_id, envelope, columns):
    from specify_cli.delivery.consent_gate import resolve_envelope_project
    from specify_cli.sync.project_store_migration import _project_uuid_value

    if str(envelope.get("event_id") or "") != event_id:
        return "event_id_differs"
    project = _project_uuid_value(columns)
    if project is None or resolve_envelope_project(envelope) != project:
        return "project_differs"
    return None


def main() -> None:
    from specify_cli.sync.history_import.upload import _canonical_event_json

    snapshot = sys.argv[1]
    out = {
        "release": _version(),
        "events": 0,
        "reencoded": 0,
        "already_canonical": 0,
        "left": {},
        "left_event_ids": [],
        "not_deliverable": {},
        "not_deliverable_event_ids": [],
    }
    conn = sqlite3.connect(snapshot, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("BEGIN IMMEDIATE")
    try:
        for row in conn.execute("SELECT * FROM queue ORDER BY id").fetchall():
            out["events"] += 1
            event_id = str(row["event_id"])
            envelope, why = _decode(row["data"])
            if why is not None:
                out["left"][why] = out["left"].get(why, 0) + 1
                out["left_event_ids"].append(event_id)
                continue
            bad = _undeliverable(event_id, envelope, dict(zip(row.keys(), tuple(row))))
            if bad is not None:
                out["not_deliverable"][bad] = out["not_deliverable"].get(bad, 0) + 1
                out["not_deliverable_event_ids"].append(event_id)
            canonical = _canonical_event_json(envelope)
            if canonical == row["data"]:
                out["already_canonical"] += 1
                continue
            conn.execute("UPDATE queue SET data = ? WHERE id = ?", (canonical, row["id"]))
            out["reencoded"] += 1
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
