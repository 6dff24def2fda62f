"""Switch a 3.2.6+ home that holds no legacy data to the ``project_only`` layout
with the installed release's own layout authority, as its first live write would.

Shipped inside sk-migrate (``include_str!``) and run by ``sk-migrate run`` with the
interpreter of the installed spec-kitty, SPEC_KITTY_HOME set to the home and
SPEC_KITTY_NO_AUTO_CUTOVER=1 (the release's own escape hatch: were legacy data to
appear meanwhile, the release refuses instead of running its automatic cutover)::

    python -I -c SCRIPT PROJECT_UUID

Only a home whose layout is ``legacy`` and whose sources hold no queued row (the
release's own ``has_legacy_data``) is touched: ``resolve_layout_for_write`` then
publishes ``project_only`` (``_publish_greenfield``), writing its layout record and
marker and nothing else. Prints one JSON object: {"before", "after", "legacy_data"}.
"""
from __future__ import annotations

import json
import sys


def main() -> None:
    from specify_cli.sync.project_store import ProjectSyncStore

    authority = ProjectSyncStore(sys.argv[1]).layout_generation()
    before = authority.peek_state().mode.value
    legacy_data = authority.has_legacy_data()
    after = before
    if before == "legacy" and not legacy_data:
        after = authority.resolve_layout_for_write().mode.value
    sys.stdout.write(json.dumps({"before": before, "after": after, "legacy_data": legacy_data}) + "\n")


if __name__ == "__main__":
    main()
