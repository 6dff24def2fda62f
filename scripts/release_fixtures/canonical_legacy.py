#!/usr/bin/env python3
"""EXPERIMENT ONLY (tests/cutover_delivery.rs): rewrite every event of a
throw-away legacy ``queue.db`` in the encoding a 3.2.6+ release's history
upload demands of a sealed row, produced by that release's own
``sync/history_import/upload.py::_canonical_event_json`` (sorted keys,
compact separators), before the release's own cutover copies it.

    <venv>/bin/python scripts/release_fixtures/canonical_legacy.py --queue Q

It answers one question: if the cutover had stored the canonical JSON instead
of the legacy text verbatim, would the release deliver its sealed history and
would its ``sync status --check`` read it? Never run it on a real home: it
alters a legacy DB, which is evidence. Prints ``{"rewritten": N}``.
"""
from __future__ import annotations

import argparse
import json
import sqlite3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--queue", required=True)
    a = ap.parse_args()
    from specify_cli.sync.history_import.upload import _canonical_event_json

    conn = sqlite3.connect(a.queue)
    n = 0
    with conn:
        for row_id, data in conn.execute("SELECT id, data FROM queue ORDER BY id").fetchall():
            conn.execute("UPDATE queue SET data = ? WHERE id = ?", (_canonical_event_json(json.loads(data)), row_id))
            n += 1
    conn.close()
    print(json.dumps({"rewritten": n}))


if __name__ == "__main__":
    main()
