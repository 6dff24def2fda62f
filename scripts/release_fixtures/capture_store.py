#!/usr/bin/env python3
"""Capture conformance facts of a project-store spec-kitty-cli release (3.2.6+).

Interface
---------
    <venv>/bin/python scripts/release_fixtures/capture_store.py \
        --version 3.2.7 --out fixtures/releases/3.2.7 \
        [--cutover-from-venv /tmp/sk-3.2.5] [--work /tmp/sk-store-capture-3.2.7]

* Must run with the interpreter of a venv that has ``spec-kitty-cli==<version>``
  installed (it imports ``specify_cli`` in child processes and runs that venv's
  ``bin/spec-kitty``). ``--version`` must equal the installed version.
* Without ``--cutover-from-venv``: writes ``facts.json`` and ``gate.json`` only
  (``cutover/`` is left untouched).
* With ``--cutover-from-venv VENV`` (a venv holding spec-kitty-cli 3.2.5, the
  last queue-DB release): additionally rebuilds ``cutover/`` — 3.2.5's own queue
  code writes the "before" home, then this release's own
  ``spec-kitty sync project-store-*`` commands migrate copies of it.
  The driver may call once with both flags or twice (without, then with).
* ``--work`` is a scratch directory (deleted and recreated). Its path is fixed
  by default because 3.2.7 hashes source *paths* into ``source_digest``; a fixed
  path keeps the fixtures byte-identical between runs. It is rendered ``<HOME>``
  in every output (HOME = ``<work>/home`` style dirs, ``SPEC_KITTY_HOME`` =
  ``$HOME/.spec-kitty``); venv paths are rendered ``<VENV>``.
* The real ``~/.spec-kitty`` is never read or written: every child process runs
  with HOME and SPEC_KITTY_HOME pointed into ``--work``.
* Exit 0 on success; any failed expectation raises (exit 1).

Outputs are deterministic: JSON with sorted keys, 2-space indent, trailing
newline; runtime timestamps (within +-2 days of the capture) -> ``<TIMESTAMP>``,
physical SQLite file digests -> ``<FILE_SHA256>``, pids/ports/tokens of the
owner record -> placeholders. Every normalisation is listed in the "normalised"
notes of the files.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve()

# Fixed inputs -----------------------------------------------------------------
P1 = "11111111-2222-4333-8444-555555555555"
P2 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
SERVER = "https://Sync.Example.test/"
USER = "Robert@Example.com"
TEAM = "Team-A"
BASE_EPOCH = 1767225600  # 2026-01-01T00:00:00Z: fixed clock for 3.2.5's writers


# ---------------------------------------------------------------------------
# Generic helpers
# ---------------------------------------------------------------------------


def dump_json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class Normaliser:
    """Literal-string and timestamp normalisation for captured text."""

    TS_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")

    def __init__(self, start: _dt.datetime) -> None:
        self.start = start
        self.literals: list[tuple[str, str]] = []

    def add(self, literal: str, placeholder: str) -> None:
        if literal and (literal, placeholder) not in self.literals:
            self.literals.append((literal, placeholder))
            self.literals.sort(key=lambda item: -len(item[0]))

    def _ts(self, match: re.Match[str]) -> str:
        text = match.group(0)
        try:
            value = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        if abs((value - self.start).total_seconds()) <= 2 * 86400:
            return "<TIMESTAMP>"
        return text

    def text(self, value: str) -> str:
        for literal, placeholder in self.literals:
            value = value.replace(literal, placeholder)
        return self.TS_RE.sub(self._ts, value)

    def obj(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.obj(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(key)): self.obj(item) for key, item in value.items()}
        return value


def sql_dump(path: Path) -> str:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return "\n".join(conn.iterdump()) + "\n"
    finally:
        conn.close()


def table_rows(path: Path, table: str, columns: str = "*", order: str = "rowid") -> list[dict[str, Any]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")]
    finally:
        conn.close()


def list_files(root: Path) -> list[str]:
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) + ("/" if p.is_dir() else "") for p in root.rglob("*"))


# ---------------------------------------------------------------------------
# Child process plumbing
# ---------------------------------------------------------------------------


def child_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "SPEC_KITTY_HOME": str(home / ".spec-kitty"),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
        "PYTHONHASHSEED": "0",
        "SPEC_KITTY_ENABLE_SAAS_SYNC": "0",
        "COLUMNS": "200",
    }
    env.update(extra or {})
    return env


def run_child(python: str, mode: str, arg: Any, home: Path, extra_env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [python, str(SCRIPT), "--_child", mode, "--_arg", json.dumps(arg)],
        env=child_env(home, extra_env),
        cwd=str(cwd or home),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"child {mode} failed ({proc.returncode}):\n{proc.stderr}\n{proc.stdout}")
    lines = [line for line in proc.stdout.splitlines() if line.startswith("@@JSON@@")]
    return json.loads(lines[-1][len("@@JSON@@"):])


def child_out(value: Any) -> None:
    print("@@JSON@@" + json.dumps(value, sort_keys=True, default=str))


# ---- children (run inside the release venv) --------------------------------


class _FakeTeam:
    def __init__(self, team_id: str) -> None:
        self.id = team_id
        self.name = team_id
        self.role = "owner"
        self.is_private_teamspace = True


class _FakeSession:
    def __init__(self, email: str, team: str | None) -> None:
        self.email = email
        self.teams = [_FakeTeam(team)] if team else []


class _FakeTokenManager:
    def __init__(self, session: _FakeSession | None) -> None:
        self._session = session

    def get_current_session(self) -> _FakeSession | None:
        return self._session

    def rehydrate_membership_if_needed(self) -> None:
        return None


def _install_session(email: str | None, team: str | None) -> None:
    """Replace the release's token manager with one holding a decrypted session.

    The release reads ``session.email`` and ``require_private_team_id(session)``
    (id of the first team with ``is_private_teamspace``) — exactly the two
    attributes this fake provides.
    """
    import specify_cli.auth as auth_pkg
    import specify_cli.auth.manager as auth_manager

    manager = _FakeTokenManager(_FakeSession(email, team) if email else None)
    auth_pkg.get_token_manager = lambda: manager  # type: ignore[assignment]
    auth_manager.get_token_manager = lambda: manager  # type: ignore[assignment]


def child_root(arg: Any) -> None:
    from specify_cli.paths import get_runtime_root

    child_out({"base": str(get_runtime_root().base)})


def child_scope(arg: dict[str, Any]) -> None:
    from specify_cli.sync import preflight
    from specify_cli.sync.queue import read_active_scope
    from specify_cli.sync.target_authority import SyncTargetSplitBrainError, resolve_sync_target

    source = arg["source"]
    result: dict[str, Any] = {}
    if source == "session":
        _install_session(arg["user"], arg["team"])
        from specify_cli.sync.owner import compute_foreground_identity

        ident = compute_foreground_identity(allow_network=False)
        result["owner_identity"] = ident
    else:
        _install_session(None, None)
    identity = preflight._read_scope_identity_local_only()
    result["preflight_identity"] = list(identity) if identity else None
    try:
        if identity is not None:
            target = resolve_sync_target(user_id=identity[0], team_slug=identity[1])
        else:
            target = resolve_sync_target()
        result["target"] = target.to_diagnostics_dict()
        strict = resolve_sync_target(
            user_id=identity[0] if identity else None,
            team_slug=identity[1] if identity else None,
            process_wide_override=False,
        )
        result["strict_override_mode"] = strict.override_mode.value
    except SyncTargetSplitBrainError as exc:
        result["strict_error"] = str(exc)
    fg = preflight.collect_foreground_identity(Path.cwd())
    result["preflight_foreground"] = {
        "server_url": fg.server_url,
        "team_or_user": fg.team_or_user,
        "queue_db_path": str(fg.queue_db_path),
    }
    result["active_queue_scope_marker"] = read_active_scope()
    child_out(result)


def child_owner(arg: dict[str, Any]) -> None:
    import stat

    _install_session(USER, TEAM)
    from specify_cli.sync import owner

    record = owner.build_record_for_current_process(pid=424242, port=9400, token="capture-token", allow_network=False)
    path = owner.write_owner_record(record)
    raw = path.read_text(encoding="utf-8")
    mode = stat.S_IMODE(path.stat().st_mode)
    fg = owner.compute_foreground_identity(allow_network=False)

    # symlinked queue path: a real file and a symlink to it
    real = Path(arg["tmp"]) / "real-queue.db"
    real.parent.mkdir(parents=True, exist_ok=True)
    real.write_text("x")
    link = Path(arg["tmp"]) / "link-queue.db"
    if link.exists() or link.is_symlink():
        link.unlink()
    link.symlink_to(real)

    base = record.as_dict()
    base_fg = {k: base[k] for k in ("package_version", "executable_path", "source_checkout_path", "server_url", "auth_principal", "auth_team", "auth_scope", "queue_db_path")}
    pairs: list[tuple[str, dict[str, Any], dict[str, Any]]] = [("identical", {}, {})]
    for field in owner.MISMATCH_FIELDS:
        pairs.append((f"{field}_differs", {field: "different-" + field}, {}))
    pairs += [
        ("server_url_case_only", {"server_url": base["server_url"].upper()}, {}),
        ("server_url_trailing_slash_only", {"server_url": base["server_url"] + "/"}, {}),
        ("auth_scope_null_vs_set", {"auth_scope": None}, {}),
        ("auth_scope_set_vs_null", {}, {"auth_scope": None}),
        ("queue_db_path_symlink_same_file", {"queue_db_path": str(link)}, {"queue_db_path": str(real)}),
        ("source_checkout_path_differs", {"source_checkout_path": "/elsewhere/checkout"}, {}),
        ("informational_only", {"auth_principal": "someone@else.test", "auth_team": "other-team", "source_checkout_path": "/elsewhere/checkout"}, {"pid": 1, "port": 9449, "started_at": "2020-01-01T00:00:00+00:00"}),
    ]
    mismatch = []
    for name, fg_over, owner_over in pairs:
        rec_dict = dict(base)
        rec_dict.update(owner_over)
        rec = owner.DaemonOwnerRecord(**rec_dict)
        fgd = dict(base_fg)
        fgd.update(fg_over)
        mismatch.append(
            {
                "name": name,
                "foreground": fgd,
                "owner": {k: v for k, v in rec.as_dict().items() if k != "token"} | {"token": "<TOKEN>"},
                "mismatched_fields": owner.mismatched_fields(rec, fgd),
            }
        )
    child_out(
        {
            "path": str(path),
            "raw": raw,
            "mode": oct(mode),
            "dir_listing": sorted(p.name for p in path.parent.iterdir()),
            "mismatch_fields": list(owner.MISMATCH_FIELDS),
            "compute_foreground_identity_keys": sorted(fg),
            "mismatch": mismatch,
            "redacted": owner.redact_token(record),
        }
    )


def _render(result: Any) -> str:
    from rich.console import Console

    console = Console(record=True, width=240, color_system=None, force_terminal=False)
    with console.capture() as capture:
        result.render(console)
    return capture.get()


def child_gate(arg: dict[str, Any]) -> None:
    from specify_cli.sync import preflight
    from specify_cli.sync.layout_generation import LayoutMode
    from specify_cli.sync.owner import DaemonOwnerRecord, mismatched_fields  # noqa: F401
    from specify_cli.sync.project_store import ProjectSyncStore

    _install_session(None, None)
    repo = Path(arg["repo"])
    out: dict[str, Any] = {"layout": [], "identity": []}

    # --- layout modes --------------------------------------------------------
    def diag(name: str, inputs: dict[str, Any]) -> None:
        existed = ProjectSyncStore(P1).database_path.exists()
        message = preflight._project_store_layout_diagnostic(repo)
        inputs = dict(inputs, store_db_existed_before=existed, store_db_exists_after=ProjectSyncStore(P1).database_path.exists())
        out["layout"].append({"name": name, "inputs": inputs, "allowed": message is None, "reason": message})

    no_repo = Path(arg["norepo"])
    message = preflight._project_store_layout_diagnostic(no_repo)
    out["layout"].append({"name": "no_project_identity", "inputs": {"checkout": "directory without .kittify/config.yaml project.uuid"}, "allowed": message is None, "reason": message})

    store = ProjectSyncStore(P1)
    authority = store.layout_generation()
    state = authority.peek_state()
    diag("legacy_fresh_root", {"layout_record": "absent (peek_state -> initial legacy)", "peek_mode": state.mode.value})
    authority.read_state()  # materialises the legacy record
    out["layout_record_legacy"] = json.loads(authority.record_path.read_text())
    diag("legacy", {"layout_record": "projects/.layout-generation.json mode=legacy"})
    authority.begin_cutover("gate-capture")
    out["layout_record_cutover_pending"] = json.loads(authority.record_path.read_text())
    diag("cutover_pending", {"layout_record": "mode=cutover_pending migration_id=gate-capture"})
    authority.publish_project_only("gate-capture", verify_exact=lambda: True)
    out["layout_record_project_only"] = json.loads(authority.record_path.read_text())
    shutil.rmtree(store.database_path.parent)
    diag("project_only_store_missing", {"layout_record": "mode=project_only", "store": "projects/<uuid>/sync/ deleted just before the check (the gate's own routing step re-creates sync.db: see store_db_exists_after)"})
    with store.unit_of_work():
        pass
    diag("project_only", {"layout_record": "mode=project_only", "store": "present, owner row matches"})
    out["layout_files"] = sorted(p.name for p in authority.record_path.parent.iterdir())
    out["layout_modes"] = [m.value for m in LayoutMode]

    # --- identity pairs (preflight._build_mismatches) -------------------------
    fg = preflight.ForegroundIdentity(
        package_version="3.2.7",
        executable_path=Path("/opt/sk/bin/python3.11"),
        source_path=Path("/opt/sk/lib/python3.11/site-packages"),
        server_url="https://sync.example.test",
        team_or_user="robert@example.com/team-a",
        queue_db_path=Path("/h/.spec-kitty/queues/queue-" + "0" * 64 + ".db"),
        pid=1,
    )
    base = {
        "pid": 2,
        "port": 9400,
        "token": "t",
        "package_version": "3.2.7",
        "executable_path": "/opt/sk/bin/python3.11",
        "source_checkout_path": "/opt/sk/lib/python3.11/site-packages",
        "server_url": "https://sync.example.test",
        "auth_principal": "robert@example.com",
        "auth_team": "team-a",
        "auth_scope": "0" * 64,
        "queue_db_path": "/h/.spec-kitty/queues/queue-" + "0" * 64 + ".db",
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    cases = [
        ("identical", {}),
        ("package_version", {"package_version": "3.2.5"}),
        ("executable_path", {"executable_path": "/opt/other/bin/python3.11"}),
        ("source_path", {"source_checkout_path": "/opt/other/lib/python3.11/site-packages"}),
        ("server_url", {"server_url": "https://other.example.test"}),
        ("server_url_trailing_slash", {"server_url": "https://sync.example.test/"}),
        ("team_or_user_team", {"auth_team": "team-b"}),
        ("team_or_user_user", {"auth_principal": "zoe@example.com"}),
        ("team_or_user_no_team", {"auth_team": None}),
        ("queue_db_path", {"queue_db_path": "/h/.spec-kitty/queue.db"}),
        ("auth_scope_only", {"auth_scope": None}),
        ("informational_only", {"pid": 3, "port": 9449, "started_at": "2020-01-01T00:00:00+00:00"}),
    ]
    for name, override in cases:
        rec_dict = dict(base)
        rec_dict.update(override)
        rec = DaemonOwnerRecord(**rec_dict)
        mismatches = preflight._build_mismatches(fg, rec)
        result = preflight.PreflightResult(ok=not mismatches, mismatches=mismatches, auth_present=True, auth_required=True)
        out["identity"].append(
            {
                "name": name,
                "inputs": {"owner_override": override},
                "allowed": not mismatches,
                "mismatches": [{"field": m.field, "foreground_value": m.foreground_value, "daemon_value": m.daemon_value, "remediation_hint": m.remediation_hint} for m in mismatches],
                "reason": _render(result).rstrip("\n") if mismatches else None,
            }
        )
    # no-auth refusal (require_auth) and its rendering
    no_auth = preflight.PreflightResult(ok=False, auth_present=False, auth_required=True)
    out["no_auth_render"] = _render(no_auth).rstrip("\n")
    out["canonical_fields"] = list(preflight._CANONICAL_FIELD_ORDER)
    out["remediation_texts"] = list(preflight.ALL_REMEDIATION_TEXTS)
    child_out(out)


def child_ddl(arg: Any) -> None:
    from specify_cli.sync.project_store import ProjectSyncStore

    store = ProjectSyncStore(P1)
    with store.unit_of_work():
        pass
    conn = sqlite3.connect(store.database_path)
    try:
        ddl = [row[0] for row in conn.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        meta = [list(r) for r in conn.execute("SELECT * FROM project_store_metadata")]
        objects = [list(r) for r in conn.execute("SELECT type, name, tbl_name FROM sqlite_master ORDER BY rowid")]
    finally:
        conn.close()
    child_out({"path": str(store.database_path), "ddl": ddl, "journal_mode": mode, "metadata": meta, "objects": objects})


def child_discovery(arg: dict[str, Any]) -> None:
    from specify_cli.sync.migrate_journal import discover_source_dbs

    found = discover_source_dbs(Path(arg["root"]))
    child_out([{"path": str(s.path), "digest": s.digest, "is_legacy": s.is_legacy} for s in found])


def child_seed_divergent(arg: dict[str, Any]) -> None:
    """Pre-create project store P2 holding a body task whose id a migration will reuse."""
    from specify_cli.sync.project_store import ProjectSyncStore

    store = ProjectSyncStore(P2)
    with store.unit_of_work() as unit:
        unit.execute(
            "INSERT INTO consent_epochs (epoch_id, project_uuid, opened_at_tail, state, consent_generation, sealed_at_tail, sealed_at, reason) VALUES (1, ?, 0, 'capture_only', NULL, NULL, NULL, 'pre-existing')",
            (P2,),
        )
        unit.execute(
            "INSERT INTO body_upload_tasks (body_task_id, project_uuid, epoch_id, capture_sequence, content_hash, body_reference, state, created_at) VALUES (?, ?, 1, 1, 'sha-preexisting', '{}', 'pending', '2025-12-31T00:00:00+00:00')",
            (arg["body_task_id"], P2),
        )
    child_out({"store": str(store.database_path)})


def child_write_home(arg: dict[str, Any]) -> None:
    """Runs under the OLD release (3.2.5): write the home with its own queue code."""
    import importlib.metadata

    import specify_cli.sync.body_queue as body_queue
    import specify_cli.sync.queue as queue

    version = importlib.metadata.version("spec-kitty-cli")
    clock = {"t": BASE_EPOCH}

    def tick() -> float:
        clock["t"] += 60
        return float(clock["t"])

    class _Clock(_dt.datetime):
        @classmethod
        def now(cls, tz: Any = None) -> "_Clock":  # type: ignore[override]
            return cls.fromtimestamp(tick(), tz=tz)

    class _Time:
        @staticmethod
        def time() -> float:
            return tick()

    queue.datetime = _Clock  # type: ignore[attr-defined]
    body_queue.time = _Time  # type: ignore[attr-defined]
    from specify_cli.sync.namespace import NamespaceRef

    legacy = queue._legacy_queue_db_path()
    scope = queue.build_queue_scope(SERVER, USER, TEAM)
    scoped = queue.scope_db_path(scope)

    def event(eid: str, project: str, mission: str, etype: str = "WPStatusChanged", extra: str = "") -> dict[str, Any]:
        return {
            "event_id": eid,
            "event_type": etype,
            "project_uuid": project,
            "aggregate_id": f"{mission}/WP01",
            "payload": {"mission_slug": mission, "wp_id": "WP01", "to_lane": "doing" + extra},
            "timestamp": "2025-06-01T00:00:00+00:00",
        }

    def body(q: Any, project: str, mission: str, path: str, content: str) -> str:
        import hashlib

        ns = NamespaceRef(project_uuid=project, mission_slug=mission, target_branch="main", mission_type="software-dev", manifest_version="1")
        digest = hashlib.sha256(content.encode()).hexdigest()
        return str(q.enqueue(ns, path, digest, content, len(content.encode())))

    results: dict[str, Any] = {"version": version, "legacy": str(legacy), "scope": scope, "scoped": str(scoped), "enqueue": []}
    # legacy queue.db: 4 events, 12 body uploads (ids 1-7 project P1, 8-12 P2)
    lq = queue.OfflineQueue(db_path=legacy)
    for eid, proj, mission in (("evt-legacy-1", P1, "m-alpha"), ("evt-legacy-2", P1, "m-beta"), ("evt-legacy-3", P2, "m-gamma"), ("evt-shared-4", P2, "m-gamma")):
        results["enqueue"].append(["legacy", "queue", eid, lq.queue_event(event(eid, proj, mission))])
    lb = body_queue.OfflineBodyUploadQueue(db_path=legacy)
    for i in range(1, 13):
        proj, mission = (P1, "m-alpha" if i <= 4 else "m-beta") if i <= 7 else (P2, "m-gamma")
        results["enqueue"].append(["legacy", "body", i, body(lb, proj, mission, f"spec/legacy-{i:02d}.md", f"legacy body {i}\n")])
    # scoped queue DB: 3 events (evt-shared-4 also in legacy), 9 body uploads:
    # ids 1-7 P1 and 8-9 P2 (same ids/projects as legacy rows 1-9, other content);
    # id 9 carries the identical natural key of legacy row 12.
    sq = queue.OfflineQueue(db_path=scoped)
    for eid, proj, mission in (("evt-shared-4", P2, "m-gamma"), ("evt-scoped-5", P1, "m-alpha"), ("evt-scoped-6", P2, "m-gamma")):
        results["enqueue"].append(["scoped", "queue", eid, sq.queue_event(event(eid, proj, mission))])
    sb = body_queue.OfflineBodyUploadQueue(db_path=scoped)
    for i in range(1, 10):
        proj, mission = (P1, "m-alpha" if i <= 4 else "m-beta") if i <= 7 else (P2, "m-gamma")
        if i == 9:
            results["enqueue"].append(["scoped", "body", i, body(sb, P2, "m-gamma", "spec/legacy-12.md", "legacy body 12\n")])
        else:
            results["enqueue"].append(["scoped", "body", i, body(sb, proj, mission, f"spec/scoped-{i:02d}.md", f"scoped body {i}\n")])
    queue.write_active_scope(scope)
    child_out(results)


CHILDREN = {
    "root": child_root,
    "scope": child_scope,
    "owner": child_owner,
    "gate": child_gate,
    "ddl": child_ddl,
    "discovery": child_discovery,
    "seed-divergent": child_seed_divergent,
    "write-home": child_write_home,
}


# ---------------------------------------------------------------------------
# Parent: facts.json
# ---------------------------------------------------------------------------


def write_home_files(home: Path, *, config_url: str | None, creds: tuple[str, str, str | None] | None) -> None:
    root = home / ".spec-kitty"
    root.mkdir(parents=True, exist_ok=True)
    if config_url is not None:
        (root / "config.toml").write_text(f'[sync]\nserver_url = "{config_url}"\n', encoding="utf-8")
    if creds is not None:
        server, user, team = creds
        lines = ["[user]", f'username = "{user}"']
        if team is not None:
            lines.append(f'team_slug = "{team}"')
        lines += ["", "[server]", f'url = "{server}"', ""]
        (root / "credentials").write_text("\n".join(lines), encoding="utf-8")


SCOPE_CASES: list[dict[str, Any]] = [
    {"name": "plain_ascii", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": SERVER, "user": USER, "team": TEAM, "source": "credentials"},
    {"name": "plain_ascii_session", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": None, "user": USER, "team": TEAM, "source": "session"},
    {"name": "mixed_case_whitespace", "config_server_url": "  HTTPS://SYNC.Example.TEST/  ", "saas_url_env": None, "credentials_server_url": "  HTTPS://SYNC.Example.TEST/  ", "user": "  ROBERT@example.COM ", "team": " TEAM-a ", "source": "credentials"},
    {"name": "trailing_single_slash", "config_server_url": "https://sync.example.test/", "saas_url_env": None, "credentials_server_url": "https://sync.example.test/", "user": USER, "team": TEAM, "source": "credentials"},
    {"name": "trailing_double_slash", "config_server_url": "https://sync.example.test//", "saas_url_env": None, "credentials_server_url": "https://sync.example.test//", "user": USER, "team": TEAM, "source": "credentials"},
    {"name": "no_team_credentials", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": SERVER, "user": USER, "team": None, "source": "credentials"},
    {"name": "no_team_session", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": None, "user": USER, "team": None, "source": "session"},
    {"name": "non_ascii_user_team", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": SERVER, "user": "Zoë@Example.com", "team": "Équipe-Ü", "source": "credentials"},
    {"name": "non_ascii_user_team_session", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": None, "user": "Zoë@Example.com", "team": "Équipe-Ü", "source": "session"},
    {"name": "env_overrides_config", "config_server_url": SERVER, "saas_url_env": "https://Env.Example.test/", "credentials_server_url": SERVER, "user": USER, "team": TEAM, "source": "credentials"},
    {"name": "env_equals_config", "config_server_url": SERVER, "saas_url_env": "https://Sync.Example.test", "credentials_server_url": SERVER, "user": USER, "team": TEAM, "source": "credentials"},
    {"name": "credentials_server_differs_from_config", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": "https://creds-only.example.test", "user": USER, "team": TEAM, "source": "credentials"},
    {"name": "no_config_default_server", "config_server_url": None, "saas_url_env": None, "credentials_server_url": SERVER, "user": USER, "team": TEAM, "source": "credentials"},
    {"name": "no_identity", "config_server_url": SERVER, "saas_url_env": None, "credentials_server_url": None, "user": None, "team": None, "source": "none"},
]


def capture_facts(args: argparse.Namespace, work: Path, norm: Normaliser, version: str) -> tuple[dict[str, Any], dict[str, Any]]:
    py = sys.executable
    # root: SPEC_KITTY_HOME honoured?
    home = work / "root-probe"
    other = work / "root-probe-env"
    root = run_child(py, "root", None, home, {"SPEC_KITTY_HOME": str(other)})
    honoured = Path(root["base"]) == other

    scopes = []
    for case in SCOPE_CASES:
        h = work / "scope" / case["name"]
        creds = None
        if case["source"] == "credentials":
            creds = (case["credentials_server_url"], case["user"], case["team"])
        write_home_files(h, config_url=case["config_server_url"], creds=creds)
        env = {"SPEC_KITTY_SAAS_URL": case["saas_url_env"]} if case["saas_url_env"] else {}
        res = run_child(py, "scope", case, h, env)
        target = res.get("target", {})
        entry = {
            "name": case["name"],
            "inputs": {k: case[k] for k in ("config_server_url", "saas_url_env", "credentials_server_url", "user", "team", "source")},
            "server_url": target.get("resolved_server_url"),
            "scope": target.get("derived_queue_scope"),
            "scoped_db": Path(target["queue_db_path"]).name if target.get("queue_db_path") else None,
            "override_mode": target.get("override_mode"),
            "resolver_inputs": {"user_id": target.get("user_id"), "team_slug": target.get("team_slug")},
            "preflight_team_or_user": res["preflight_foreground"]["team_or_user"],
            "preflight_queue_db": Path(res["preflight_foreground"]["queue_db_path"]).name,
            "strict_override_mode": res.get("strict_override_mode"),
            "strict_split_brain_error": res.get("strict_error"),
        }
        if "owner_identity" in res:
            oi = res["owner_identity"]
            entry["owner_identity"] = {"auth_principal": oi["auth_principal"], "auth_team": oi["auth_team"], "auth_scope": oi["auth_scope"], "queue_db": Path(oi["queue_db_path"]).name, "server_url": oi["server_url"]}
        scopes.append(entry)

    # active_queue_scope: a stale marker never changes the derived scope
    h = work / "scope" / "active_marker_stale"
    write_home_files(h, config_url=SERVER, creds=(SERVER, USER, TEAM))
    (h / ".spec-kitty" / "active_queue_scope").write_text("f" * 64 + "\n", encoding="utf-8")
    stale = run_child(py, "scope", {"source": "credentials"}, h)
    h = work / "scope" / "active_marker_matching"
    write_home_files(h, config_url=SERVER, creds=(SERVER, USER, TEAM))
    (h / ".spec-kitty" / "active_queue_scope").write_text(scopes[0]["scope"] + "\n", encoding="utf-8")
    matching = run_child(py, "scope", {"source": "credentials"}, h)
    active_scope = {
        "stale_marker": {"marker": stale["active_queue_scope_marker"], "derived_scope": stale["target"]["derived_queue_scope"], "active_queue_scope_status": stale["target"]["active_queue_scope_status"]},
        "matching_marker": {"marker": matching["active_queue_scope_marker"], "derived_scope": matching["target"]["derived_queue_scope"], "active_queue_scope_status": matching["target"]["active_queue_scope_status"]},
        "absent_marker_status": run_child(py, "scope", {"source": "none"}, work / "scope" / "no-marker")["target"]["active_queue_scope_status"],
    }

    # DDL of a store created by the release's own code
    ddl = run_child(py, "ddl", None, work / "ddl")

    # owner.json
    owner_home = work / "owner"
    write_home_files(owner_home, config_url=SERVER, creds=None)
    own = run_child(py, "owner", {"tmp": str(work / "owner-links")}, owner_home)
    owner_record = json.loads(own["raw"])
    owner_norm = ["pid -> 424242 (fixed input)", "port -> 9400 (fixed input)", "token -> <TOKEN>", "started_at -> <TIMESTAMP>", "executable_path/source_checkout_path under the venv -> <VENV>", "paths under the temp home -> <HOME>"]
    owner_record["token"] = "<TOKEN>"
    owner_record["started_at"] = "<TIMESTAMP>"

    facts = {
        "release": version,
        "generation": "project-store",
        "root": {"spec_kitty_home_env_honoured": honoured, "probe": {"SPEC_KITTY_HOME": str(other), "runtime_root": root["base"]}},
        "scope_sources": [
            {"part": "server", "order": ["SPEC_KITTY_SAAS_URL (env, trailing '/' stripped)", "config.toml [sync] server_url", "default https://spec-kitty-dev.fly.dev"], "normalise": "strip() then rstrip('/') (all trailing slashes); env equal to the effective config is not an override", "function": "specify_cli.sync.target_authority.resolve_sync_target"},
            {"part": "user/team (owner record, daemon, compute_foreground_identity)", "order": ["decrypted session: email, id of first team with is_private_teamspace"], "note": "credentials file is NOT consulted; no session -> auth_scope null but queue_db_path still derived with empty user/team"},
            {"part": "user/team (preflight gate, _read_scope_identity_local_only)", "order": ["in-memory session (email + private teamspace id; only when a private team exists)", "credentials TOML [user] username / [user] team_slug (absent -> 'no-team'); [server] url is ignored for the scope"]},
            {"part": "active_queue_scope", "order": [], "note": "read only as a diagnostic (ResolvedSyncTarget.active_queue_scope_status = absent|matches|stale_non_authoritative); never selects a scope or path"},
        ],
        "scope_formula": "sha256('\\0'.join(p.strip().lower() for p in (server, user, team))).hexdigest(); before that each part passes _ascii_token (non-ASCII code points -> '_u%04x_', pure-ASCII strings unchanged) and the server is strip().rstrip('/')-normalised; missing user/team -> ''",
        "scopes": scopes,
        "active_queue_scope": active_scope,
        "ddl": {"store": ddl["ddl"], "journal_mode": ddl["journal_mode"], "path": ddl["path"], "project_store_metadata": ddl["metadata"], "objects": ddl["objects"]},
        "blocking_fields": own["mismatch_fields"],
        "owner": owner_record,
        "owner_file_mode": own["mode"],
        "owner_dir_listing": own["dir_listing"],
        "owner_path": own["path"],
        "owner_normalised": owner_norm,
        "mismatch": own["mismatch"],
        "remediation": {
            "restart_daemon": "Run `spec-kitty doctor restart-daemon` to restart the daemon at the foreground version/source, then verify with `spec-kitty sync status --check`.",
            "relogin": "Re-authenticate as the foreground team/user (`spec-kitty auth logout` then `spec-kitty auth login`) and then run `spec-kitty doctor restart-daemon`.",
            "server_url": "Reauthenticate (`spec-kitty auth login`) or restart the daemon against the matching server.",
        },
        "pending_work": {
            "outbox_tasks": "task_kind = 'event' AND state NOT IN ('synced', 'terminal_failed') (OfflineQueue.size/_pending_rows; states written: pending, retry, synced, terminal_failed)",
            "body_upload_tasks": "state NOT IN ('uploaded', 'terminal_failed') (OfflineBodyUploadQueue._rows; states written: pending, retry, uploaded, terminal_failed)",
            "journal_entries": "not pending by themselves: migrated events get journal_entries rows in a sealed consent epoch and NO outbox_tasks row; they are delivered only via `spec-kitty sync project-store-history` (preview/confirm/--apply)",
            "legacy_queue_dbs": "counted as 0 (preflight._count_legacy_rows_for_scope returns (0, 0); queue.detect_legacy_rows_for_scope/pending_events_for_scope/default_queue_db_path raise LegacyQueueMigrationRequiredError)",
        },
        "notes": [],
    }
    facts = norm.obj(facts)
    # the owner placeholders are not timestamps inside the window for 'started_at' always; keep explicit
    gate_home = work / "gate"
    repo = gate_home / "checkout"
    (repo / ".kittify").mkdir(parents=True, exist_ok=True)
    (repo / ".kittify" / "config.yaml").write_text(f"project:\n  uuid: {P1}\n  slug: capture-project\n", encoding="utf-8")
    norepo = gate_home / "no-project"
    norepo.mkdir(parents=True, exist_ok=True)
    gate_raw = run_child(py, "gate", {"repo": str(repo), "norepo": str(norepo)}, gate_home, {"SPECIFY_REPO_ROOT": ""}, cwd=repo)
    gate = {
        "release": version,
        "function": "specify_cli.sync.preflight.run_preflight -> build_boundary_failure_set (identity: _build_mismatches; layout: _project_store_layout_diagnostic)",
        "compared_fields": gate_raw["canonical_fields"],
        "layout_modes": gate_raw["layout_modes"],
        "layout": gate_raw["layout"],
        "layout_records": {"legacy": gate_raw["layout_record_legacy"], "cutover_pending": gate_raw["layout_record_cutover_pending"], "project_only": gate_raw["layout_record_project_only"]},
        "layout_files": gate_raw["layout_files"],
        "identity": gate_raw["identity"],
        "no_auth_refusal": gate_raw["no_auth_render"],
        "remediation_texts": gate_raw["remediation_texts"],
        "project_uuid_source": {
            "file": ".kittify/config.yaml of the main checkout root (core.paths.locate_project_root: SPECIFY_REPO_ROOT env, else walk up following git worktree pointers, else .kittify marker)",
            "key": "project.uuid",
            "function": "specify_cli.sync.routing.resolve_checkout_sync_routing_readonly -> identity.project.load_identity",
            "store": "<SPEC_KITTY_HOME>/projects/<canonical lowercase hyphenated uuid>/sync/sync.db",
        },
        "layout_mode_source": {
            "file": "<SPEC_KITTY_HOME>/projects/.layout-generation.json (machine-wide, one for all projects), JSON {generation, migration_id, mode, updated_at}",
            "marker": "<SPEC_KITTY_HOME>/projects/.layout-generation.initialized = 'initialized-v1\\n'",
            "lock": "<SPEC_KITTY_HOME>/projects/.layout-generation.lock",
            "absent_record": "peek_state() reports legacy (generation 1) without writing; read_state() materialises it",
            "not_in_store": "project_store_metadata has no layout-mode column (singleton, project_uuid, schema_version, layout_version, created_at)",
        },
        "notes": [
            "reason strings are rendered with rich Console(width=100, no colour) from PreflightResult.render; layout reasons are PreflightResult.project_store_diagnostic verbatim",
            "identity pairs compare str() of values after Path() for path fields: no symlink resolution, no case/trailing-slash folding (except executable_path which is Path.resolve()d when the record is built/read)",
            "team_or_user = '<auth_principal>/<auth_team>' or '<auth_principal>' when auth_team is empty; auth_scope is not compared by the gate",
        ],
    }
    gate = norm.obj(gate)
    return facts, gate


# ---------------------------------------------------------------------------
# Parent: cutover
# ---------------------------------------------------------------------------


def spec_kitty(venv_bin: Path, home: Path, argv: list[str], log: list[dict[str, Any]], norm: Normaliser, name: str) -> dict[str, Any]:
    cmd = [str(venv_bin / "spec-kitty"), *argv]
    proc = subprocess.run(cmd, env=child_env(home), cwd=str(home), capture_output=True, text=True, check=False)
    parsed: Any = None
    try:
        parsed = json.loads(proc.stdout)
    except ValueError:
        parsed = None
    entry = {
        "name": name,
        "argv": ["spec-kitty", *argv],
        "env": {"HOME": str(home), "SPEC_KITTY_HOME": str(home / ".spec-kitty")},
        "exit_code": proc.returncode,
        "stdout_json": parsed,
        "stdout_text": None if parsed is not None else proc.stdout,
        "stderr_tail": "\n".join(proc.stderr.strip().splitlines()[-6:]) if proc.stderr.strip() else "",
    }
    log.append(entry)
    return entry


def register_file_shas(norm: Normaliser, manifest: Any) -> None:
    if not isinstance(manifest, dict):
        return
    for src in manifest.get("sources", []):
        for side in ("main", "wal", "shm"):
            sha = (src.get(side) or {}).get("sha256")
            if sha:
                norm.add(sha, "<FILE_SHA256>")


def store_report(root: Path) -> list[dict[str, Any]]:
    stores = []
    projects = root / "projects"
    for db in sorted(projects.glob("*/sync/sync.db")):
        entry: dict[str, Any] = {"path": str(db)}
        entry["project_store_metadata"] = table_rows(db, "project_store_metadata")
        entry["journal_entries"] = table_rows(db, "journal_entries", "entry_id, epoch_id, capture_sequence, created_at, json_extract(payload_json, '$.project_uuid') AS payload_project_uuid", "capture_sequence")
        entry["body_upload_tasks"] = table_rows(
            db,
            "body_upload_tasks",
            "body_task_id, epoch_id, capture_sequence, content_hash, state, created_at, json_extract(body_reference, '$.id') AS source_id, json_extract(body_reference, '$.artifact_path') AS artifact_path, json_extract(body_reference, '$.mission_slug') AS mission_slug",
            "capture_sequence",
        )
        entry["outbox_tasks"] = table_rows(db, "outbox_tasks")
        entry["consent_epochs"] = table_rows(db, "consent_epochs")
        entry["capture_sequences"] = table_rows(db, "capture_sequences")
        entry["migration_manifests"] = table_rows(db, "migration_manifests", "migration_id, project_uuid, protocol_version, phase, cutover_version, source_paths")
        entry["counts"] = {t: len(table_rows(db, t)) for t in ("journal_entries", "body_upload_tasks", "outbox_tasks", "delivery_attempts", "delivery_results")}
        entry["pending"] = {
            "outbox_events_pending": len([r for r in entry["outbox_tasks"] if r["task_kind"] == "event" and r["state"] not in ("synced", "terminal_failed")]),
            "body_uploads_pending": len([r for r in entry["body_upload_tasks"] if r["state"] not in ("uploaded", "terminal_failed")]),
        }
        stores.append(entry)
    return stores


def quarantine_summary(manifest: Any) -> dict[str, Any]:
    if not isinstance(manifest, dict):
        return {}
    counts: dict[str, int] = {}
    for row in manifest.get("quarantine", []):
        key = f"{row['table']}:{row['reason']}"
        counts[key] = counts.get(key, 0) + 1
    carried: dict[str, int] = {}
    for project, rows in manifest.get("partitions", {}).items():
        for row in rows:
            key = f"{project}:{row['table']}"
            carried[key] = carried.get(key, 0) + 1
    return {"total_rows": manifest.get("total_rows"), "quarantined": len(manifest.get("quarantine", [])), "quarantine_by_table_reason": counts, "partition_rows": carried}


def build_consolidated(legacy: Path, scoped: Path, dest: Path) -> dict[str, Any]:
    """One DB holding the union of both sources by natural key, fresh unique ids."""
    src = sqlite3.connect(f"file:{legacy}?mode=ro", uri=True)
    schema = [row[0] for row in src.execute("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
    src.close()
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists():
        dest.unlink()
    out = sqlite3.connect(dest)
    for stmt in schema:
        out.execute(stmt)
    key = ("project_uuid", "mission_slug", "target_branch", "mission_type", "manifest_version", "artifact_path", "content_hash")
    seen_events: set[str] = set()
    seen_bodies: set[tuple[Any, ...]] = set()
    ev_cols = "event_id, event_type, data, timestamp, retry_count, coalesce_key"
    body_cols = "project_uuid, mission_slug, target_branch, mission_type, manifest_version, artifact_path, content_hash, hash_algorithm, content_body, size_bytes, retry_count, next_attempt_at, created_at, last_error"
    stats = {"events": 0, "body_uploads": 0, "skipped_duplicate_keys": []}
    for path in (legacy, scoped):  # legacy first: its copy wins a natural-key tie
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        for row in conn.execute(f"SELECT {ev_cols} FROM queue ORDER BY timestamp, id"):
            if row[0] in seen_events:
                stats["skipped_duplicate_keys"].append(["queue", row[0]])
                continue
            seen_events.add(row[0])
            out.execute(f"INSERT INTO queue ({ev_cols}) VALUES (?, ?, ?, ?, ?, ?)", row)
            stats["events"] += 1
        for row in conn.execute(f"SELECT {body_cols} FROM body_upload_queue ORDER BY created_at, id"):
            k = tuple(row[: len(key)])
            if k in seen_bodies:
                stats["skipped_duplicate_keys"].append(["body_upload_queue", list(k)])
                continue
            seen_bodies.add(k)
            out.execute(f"INSERT INTO body_upload_queue ({body_cols}) VALUES ({', '.join('?' * 14)})", row)
            stats["body_uploads"] += 1
        conn.close()
    out.commit()
    out.close()
    return stats


def capture_cutover(args: argparse.Namespace, work: Path, norm: Normaliser, out_dir: Path, version: str) -> None:
    old_venv = Path(args.cutover_from_venv).resolve()
    norm.add(str(old_venv), "<OLD_VENV>")
    venv_bin = Path(sys.executable).parent
    cut_dir = out_dir / "cutover"
    if cut_dir.exists():
        shutil.rmtree(cut_dir)
    (cut_dir / "home_before" / "queues").mkdir(parents=True)

    # 1. 3.2.5 writes the home ------------------------------------------------
    base_home = work / "cutover-base"
    write_home_files(base_home, config_url=SERVER, creds=(SERVER, USER, TEAM))
    written = run_child(str(old_venv / "bin" / "python"), "write-home", {}, base_home)
    root = base_home / ".spec-kitty"
    legacy = root / "queue.db"
    scoped = Path(written["scoped"])
    (cut_dir / "home_before" / "queue.sql").write_text(sql_dump(legacy), encoding="utf-8")
    (cut_dir / "home_before" / "queues" / (scoped.stem + ".sql")).write_text(sql_dump(scoped), encoding="utf-8")
    shutil.copy(root / "credentials", cut_dir / "home_before" / "credentials")
    shutil.copy(root / "config.toml", cut_dir / "home_before" / "config.toml")
    shutil.copy(root / "active_queue_scope", cut_dir / "home_before" / "active_queue_scope")
    writer = norm.obj(written)
    writer["files"] = list_files(root)

    def fresh_copy(name: str) -> Path:
        home = work / name
        if home.exists():
            shutil.rmtree(home)
        shutil.copytree(base_home, home, symlinks=True)
        return home

    results: dict[str, Any] = {"release": version, "writer": writer, "captures": {}}

    def run_capture(name: str, sources_rel: list[str], *, prepare: Any = None, extra_steps: bool = False) -> dict[str, Any]:
        home = fresh_copy(name)
        r = home / ".spec-kitty"
        if prepare is not None:
            prepare(home)
        before = list_files(r)
        srcs: list[str] = []
        for rel in sources_rel:
            srcs += ["--source", str(r / rel)]
        log: list[dict[str, Any]] = []
        mid = "capture-1"
        preview = spec_kitty(venv_bin, home, ["sync", "project-store-preview", *srcs, "--migration-id", mid, "--json"], log, norm, "preview")
        register_file_shas(norm, preview["stdout_json"])
        migrate = spec_kitty(venv_bin, home, ["sync", "project-store-migrate", *srcs, "--migration-id", mid, "--json"], log, norm, "migrate")
        register_file_shas(norm, migrate["stdout_json"])
        spec_kitty(venv_bin, home, ["sync", "project-store-status", "--migration-id", mid, "--json"], log, norm, "status")
        spec_kitty(venv_bin, home, ["sync", "project-store-quarantine", "--migration-id", mid, "--json"], log, norm, "quarantine")
        if extra_steps:
            spec_kitty(venv_bin, home, ["sync", "project-store-migrate", *srcs, "--migration-id", mid, "--json"], log, norm, "rerun_same_id")
            spec_kitty(venv_bin, home, ["sync", "project-store-migrate", *srcs, "--migration-id", "capture-2", "--json"], log, norm, "second_id_after_complete")
            spec_kitty(venv_bin, home, ["sync", "migrate"], log, norm, "retired_sync_migrate")
        mig_dir = r / "projects" / ".migration" / mid
        manifest = json.loads((mig_dir / "manifest.json").read_text()) if (mig_dir / "manifest.json").exists() else None
        register_file_shas(norm, manifest)
        quarantine = json.loads((mig_dir / "quarantine.json").read_text()) if (mig_dir / "quarantine.json").exists() else None
        layout = r / "projects" / ".layout-generation.json"
        cap = {
            "sources": [str(r / rel) for rel in sources_rel],
            "files_before": before,
            "files_after": list_files(r),
            "files_created_under_projects": list_files(r / "projects"),
            "commands": log,
            "manifest": manifest,
            "quarantine_json": quarantine,
            "summary": quarantine_summary(manifest),
            "layout_record": json.loads(layout.read_text()) if layout.exists() else None,
            "stores": store_report(r),
            "sources_unchanged": {rel: sql_dump(r / rel) == sql_dump(base_home / ".spec-kitty" / rel) for rel in sources_rel if (base_home / ".spec-kitty" / rel).exists()},
        }
        # full JSON outputs as their own files; the command log keeps a summary
        cap_dir = cut_dir / name
        cap_dir.mkdir(parents=True, exist_ok=True)
        for entry in log:
            full = entry["stdout_json"]
            if isinstance(full, (dict, list)):
                file_name = f"{entry['name']}.stdout.json"
                (cap_dir / file_name).write_text(dump_json(norm.obj(full)), encoding="utf-8")
                entry["stdout_json"] = {"file": f"{name}/{file_name}", "phase": full.get("phase") if isinstance(full, dict) else None, "failure": full.get("failure") if isinstance(full, dict) else None, "records": len(full) if isinstance(full, list) else None}
        if manifest is not None:
            (cap_dir / "manifest.json").write_text(dump_json(norm.obj(manifest)), encoding="utf-8")
            cap["manifest"] = {"file": f"{name}/manifest.json", "phase": manifest["phase"], "failure": manifest["failure"]}
        if quarantine is not None:
            (cap_dir / "quarantine.json").write_text(dump_json(norm.obj(quarantine)), encoding="utf-8")
            cap["quarantine_json"] = {"file": f"{name}/quarantine.json", "records": len(quarantine)}
        for store in r.joinpath("projects").glob("*/sync/sync.db"):
            dump_path = cut_dir / name / "stores" / f"{store.parent.parent.name}.sql"
            dump_path.parent.mkdir(parents=True, exist_ok=True)
            dump_path.write_text(norm.text(sql_dump(store)), encoding="utf-8")
        return cap

    scoped_rel = f"queues/{scoped.name}"
    results["captures"]["two_sources"] = run_capture("two_sources", ["queue.db", scoped_rel], extra_steps=True)

    def consolidate(home: Path) -> None:
        r = home / ".spec-kitty"
        results["consolidation"] = build_consolidated(r / "queue.db", r / scoped_rel, r / "consolidated" / "queue.db")

    results["captures"]["consolidated_source"] = run_capture("consolidated_source", ["consolidated/queue.db"], prepare=consolidate)
    (cut_dir / "consolidated_source" / "source").mkdir(parents=True, exist_ok=True)
    (cut_dir / "consolidated_source" / "source" / "queue.sql").write_text(sql_dump(work / "consolidated_source" / ".spec-kitty" / "consolidated" / "queue.db"), encoding="utf-8")

    def seed(home: Path) -> None:
        results["failed_seed"] = run_child(sys.executable, "seed-divergent", {"body_task_id": "10"}, home)

    failed = run_capture("failed_divergent_destination", ["queue.db", scoped_rel], prepare=seed)
    home = work / "failed_divergent_destination"
    r = home / ".spec-kitty"
    log = failed["commands"]
    srcs = ["--source", str(r / "queue.db"), "--source", str(r / scoped_rel)]
    spec_kitty(venv_bin, home, ["sync", "project-store-migrate", *srcs, "--migration-id", "capture-1", "--json"], log, norm, "rerun_failed_id")
    spec_kitty(venv_bin, home, ["sync", "project-store-migrate", *srcs, "--migration-id", "capture-2", "--json"], log, norm, "new_id_after_failed")
    for entry in log:
        full = entry["stdout_json"]
        if isinstance(full, dict) and "file" not in full:
            file_name = f"{entry['name']}.stdout.json"
            (cut_dir / "failed_divergent_destination" / file_name).write_text(dump_json(norm.obj(full)), encoding="utf-8")
            entry["stdout_json"] = {"file": f"failed_divergent_destination/{file_name}", "phase": full.get("phase"), "failure": full.get("failure"), "records": None}
    failed["layout_record_after_new_id"] = json.loads((r / "projects" / ".layout-generation.json").read_text())
    m2 = r / "projects" / ".migration" / "capture-2" / "manifest.json"
    failed["manifest_capture_2"] = quarantine_summary(json.loads(m2.read_text())) | {"phase": json.loads(m2.read_text())["phase"], "failure": json.loads(m2.read_text())["failure"]} if m2.exists() else None
    failed["files_after"] = list_files(r)
    failed["stores"] = store_report(r)
    results["captures"]["failed_divergent_destination"] = failed

    # discovery on a home with extra non-matching files ------------------------
    disc_home = work / "discovery"
    droot = disc_home / ".spec-kitty"
    (droot / "queues" / "sub").mkdir(parents=True, exist_ok=True)
    names = ["queue.db", "queue.db-wal", "queue.db.bak", "queues/queue-0123abcd.db", "queues/queue-" + "a" * 64 + ".db", "queues/queue-ABCDEF.db", "queues/queue-xyz.db", "queues/queue-.db", "queues/queue-0a.db-wal", "queues/queue-0a.db.bak", "queues/queue-0a.sqlite", "queues/notes.txt", "queues/sub/queue-bb.db", "queues/queue-0é.db", "queue-cc.db"]
    for n in names:
        (droot / n).write_bytes(b"")
    (droot / "queues" / "queue-dd.db").mkdir()
    names.append("queues/queue-dd.db/ (directory)")
    discovered = run_child(sys.executable, "discovery", {"root": str(droot)}, disc_home)
    results["discovery"] = {"function": "specify_cli.sync.migrate_journal.discover_source_dbs", "files_present": names, "discovered": discovered, "used_by": "LayoutGenerationAuthority.has_legacy_data / _default_cutover_copy / _conservation_ok (automatic cutover on first live write). The explicit project-store-* commands do NOT discover: they take only the --source paths given."}

    results["normalised"] = [
        "<HOME> = the temp HOME of each capture (SPEC_KITTY_HOME = <HOME>/.spec-kitty); the real path is fixed (--work) because 3.2.7 hashes source paths into source_digest",
        "<VENV> = the 3.2.7 venv, <OLD_VENV> = the 3.2.5 venv",
        "<TIMESTAMP> = runtime timestamps written by 3.2.7 (started_at, updated_at, completed_at, created_at, sealed_at, ...)",
        "<FILE_SHA256> = sha256 of physical SQLite main/WAL/SHM files (depends on the SQLite library version); logical_sha256/source_digest are left as computed",
        "3.2.5's clock was fixed: queue.timestamp and body_upload_queue.created_at advance 60 s per write from 2026-01-01T00:00:00Z",
    ]
    (cut_dir / "cutover.json").write_text(dump_json(norm.obj(results)), encoding="utf-8")


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version")
    parser.add_argument("--out")
    parser.add_argument("--cutover-from-venv")
    parser.add_argument("--work")
    parser.add_argument("--_child", help=argparse.SUPPRESS)
    parser.add_argument("--_arg", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        CHILDREN[args._child](json.loads(args._arg) if args._arg else None)
        return 0
    if not args.version or not args.out:
        parser.error("--version and --out are required")
    import importlib.metadata

    installed = importlib.metadata.version("spec-kitty-cli")
    if installed != args.version:
        raise SystemExit(f"installed spec-kitty-cli is {installed}, not {args.version}")
    work = Path(args.work or f"/tmp/sk-store-capture-{args.version}").resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    norm = Normaliser(_dt.datetime.now(_dt.timezone.utc))
    venv = Path(sys.prefix)
    norm.add(str(venv), "<VENV>")
    norm.add(str(Path(sys.executable).resolve().parent.parent), "<VENV>")
    norm.add(str(work) + "/cutover-base", "<HOME>")
    # every capture home lives directly under work: map "<work>/<name>" -> "<HOME>"
    for sub in ("two_sources", "consolidated_source", "failed_divergent_destination", "discovery", "owner", "gate", "ddl", "root-probe-env", "root-probe", "owner-links"):
        norm.add(f"{work}/{sub}", "<HOME>")
    for case in SCOPE_CASES + [{"name": "active_marker_stale"}, {"name": "active_marker_matching"}, {"name": "no-marker"}]:
        norm.add(f"{work}/scope/{case['name']}", "<HOME>")
    # the real python installation the venv points to
    python_home = Path(os.path.realpath(sys.executable)).parent.parent
    if len(python_home.parts) >= 4:  # never a short prefix such as /usr
        norm.add(str(python_home), "<PYTHON>")

    facts, gate = capture_facts(args, work, norm, args.version)
    facts["notes"] = FACT_NOTES
    gate_notes = gate.pop("notes")
    gate["notes"] = gate_notes
    facts["normalised"] = [
        "<HOME> = the temp HOME of each probe (SPEC_KITTY_HOME = <HOME>/.spec-kitty)",
        "<VENV> = the venv holding the release; <PYTHON> = the interpreter installation it links to",
        "<TIMESTAMP> = runtime timestamps; <TOKEN> = owner token",
        "owner pid/port are fixed inputs (424242 / 9400)",
    ]
    (out_dir / "facts.json").write_text(dump_json(facts), encoding="utf-8")
    (out_dir / "gate.json").write_text(dump_json(gate), encoding="utf-8")
    if args.cutover_from_venv:
        capture_cutover(args, work, norm, out_dir, args.version)
    print(f"capture_store: wrote {out_dir}")
    return 0


FACT_NOTES = [
    "scope: 3.2.7 builds sha256 over '\\0'-joined parts (queue.build_queue_scope); each part strip().lower(); the server loses every trailing '/' (target_authority._normalize_url rstrip('/')) before hashing; non-ASCII code points of server/user/team become '_u%04x_' (target_authority._ascii_token) before the lowercasing, so 'Zoë' -> 'zo_u00eb_' (the escape itself is lowercase hex)",
    "scoped_db: queues/queue-<full 64-hex scope>.db (queue.scope_db_path); it is only a name: default_queue_db_path/resolved_scope_db_path raise LegacyQueueMigrationRequiredError and no 3.2.7 code opens it as a queue",
    "the credentials file's [server] url is ignored for the scope (server comes from env/config/default); a credentials file without team_slug yields team 'no-team' (preflight), a session without a private teamspace yields no identity at the gate and auth_team null in the owner record",
    "SPEC_KITTY_SAAS_URL that differs from the effective config is a process_override (env wins) in the default resolver; with process_wide_override=False the same input raises SyncTargetSplitBrainError (message recorded in scopes[].strict_split_brain_error)",
    "foreground structure of owner.compute_foreground_identity: package_version, executable_path, source_checkout_path, server_url, auth_principal, auth_team, auth_scope, queue_db_path (auth_scope null when there is no session); preflight.ForegroundIdentity: package_version, executable_path, source_path, server_url, team_or_user, queue_db_path, pid",
    "owner.mismatched_fields compares the five MISMATCH_FIELDS with plain != (no path resolution at compare time; executable_path is Path.resolve()d when a record is constructed); so a queue_db_path reached through a symlink, a server_url differing only in case or trailing '/' are mismatches",
    "owner.json writer: tempfile.mkstemp in the same dir (mode 0600), json.dumps(sort_keys=True, indent=2)+newline, fsync, os.replace; no fsync of the directory",
    "owner.json lives at <runtime root>/sync/daemon/owner.json on POSIX",
    "active_queue_scope: target_authority reads it (then credentials, then session.json queue_scope) ONLY to compute active_queue_scope_status (absent|matches|stale_non_authoritative); it never changes derived_queue_scope or queue_db_path. queue.read_queue_scope_from_session also returns the marker first, used only as an is-logged-in signal",
    "project store: <root>/projects/<uuid>/sync/sync.db, journal_mode WAL, created by ProjectSyncStore.unit_of_work on first use with one project_store_metadata row (singleton=1, project_uuid, schema_version=1, layout_version=1, created_at)",
    "pending work of a store: see pending_work; migrated legacy events are sealed history (consent_epochs.state='sealed', no outbox task), migrated body uploads are body_upload_tasks state 'pending' (they count as pending)",
    "3.2.7 also has an AUTOMATIC cutover (layout_generation.resolve_layout_for_write on the first live journal/outbox write): no legacy rows -> publish project_only; legacy rows -> migration id auto-cutover-<sha256(root)[:32]> via migrate_journal.migrate_queues_to_journal (events of the `queue` table only, into the writing project's store; ownerless events attributed to it, other projects' events recorded as conflicts that block publication); SPEC_KITTY_NO_AUTO_CUTOVER=1 refuses instead",
]


if __name__ == "__main__":
    sys.exit(main())
