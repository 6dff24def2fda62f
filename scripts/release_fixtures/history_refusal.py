#!/usr/bin/env python3
"""Why a 3.2.6+ release's ``sync project-store-history --apply`` refused a
confirmed sealed cohort, in the release's own words (tests/system/cutover_delivery.rs).

Run with the interpreter of the release's venv, from the project checkout,
with the same HOME / SPEC_KITTY_HOME / SPEC_KITTY_ENABLE_SAAS_SYNC the CLI ran
with:

    <venv>/bin/python scripts/release_fixtures/history_refusal.py --action-id ID

The release's CLI prints only the counts of its ``UploadReport`` (``"rejected":
N``), never the reason. This walks the same path as
``cli/commands/sync.py::project_store_history`` with ``--apply`` — the release's
own ``_open_project_dispatch_runtime``, ``_resolve_history_import_receiver``,
``consume_history_disclosure``, ``_migrated_history_envelopes`` and
``run_import_upload`` against the configured server — and prints one JSON
object: the report's counts, ``refused`` and ``rejected_samples``. Nothing in
the release is patched; a cohort the release accepts is uploaded exactly as
the CLI would upload it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--action-id", required=True)
    a = ap.parse_args()
    real = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        out = refusal(a.action_id)
    real.write(json.dumps(out, sort_keys=True) + "\n")


def refusal(action_id: str) -> dict:
    import specify_cli.cli.commands.sync as sync
    from specify_cli.sync.history_disclosure import consume_history_disclosure
    from specify_cli.sync.history_import.upload import run_import_upload

    runtime = sync._open_project_dispatch_runtime()
    try:
        token = sync._event_sync_access_token()
        receiver, server_url = sync._resolve_history_import_receiver(runtime, token=token)
        capability = consume_history_disclosure(runtime.store, action_id=action_id, context=runtime.context)
        envelopes = sync._migrated_history_envelopes(runtime.store, capability.row_ids)
        report = run_import_upload(
            envelopes,
            receiver=receiver,
            server_url=server_url,
            auth_token=token,
            project_context=runtime.context,
            target=runtime.delivery_target,
            history_capability=capability,
        )
    finally:
        runtime.close()
    return {
        "success": report.success,
        "duplicate": report.duplicate,
        "pending": report.pending,
        "rejected": report.rejected,
        "refused": bool(getattr(report, "refused", False)),
        "rejected_samples": list(report.rejected_samples),
    }


if __name__ == "__main__":
    main()
