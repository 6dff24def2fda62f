#!/usr/bin/env python3
"""Capture conformance facts of one spec-kitty-cli release by RUNNING its code.

Run with the interpreter of a venv that has ``spec-kitty-cli==X`` installed:

    <venv>/bin/python scripts/release_fixtures/capture_queue.py \
        --version X --out fixtures/releases/X

Every fact comes from calling the release's own functions (``specify_cli.*``)
inside a throw-away home. Each measurement runs in a fresh child interpreter
(``--probe``) whose environment (HOME, SPEC_KITTY_HOME, SPEC_KITTY_SAAS_URL,
SPEC_KITTY_ENABLE_SAAS_SYNC) is set up by the parent, so module-level caches
(token manager singletons, runtime roots) never leak between measurements and
the real ~/.spec-kitty is never touched.

Output (deterministic): ``facts.json``, ``ddl-legacy.sql``, ``ddl-scoped.sql``.
Temp paths are rewritten to ``<HOME>`` (the fake $HOME), ``<SK_HOME>`` (the
fake $SPEC_KITTY_HOME) and the venv prefix to ``<VENV>``.
"""
from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parents[2]
SQL_DIR = REPO / "fixtures" / "sql"

# Fixed values used wherever the release lets us choose them.
FIXED_PID = 424242
FIXED_PORT = 9417
FIXED_TOKEN = "fixture-token-not-a-secret"
FIXED_STARTED_AT = "2026-01-01T00:00:00+00:00"
FIXED_TIME_ISO = "2026-01-01T00:00:00+00:00"
FAR_FUTURE_ISO = "2099-01-01T00:00:00+00:00"

# --------------------------------------------------------------------------
# The identity set (identical for every release)
# --------------------------------------------------------------------------

ASCII_USER = "Robert@Example.com"
ASCII_TEAM = "Team-A"
SYNC = "https://Sync.Example.test/"

IDENTITIES = [
    # credentials-sourced
    dict(name="ascii-basic", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url=SYNC, user=ASCII_USER, team=ASCII_TEAM, source="credentials"),
    dict(name="mixed-case-whitespace", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url="  HTTPS://SYNC.Example.TEST  ", user="  ROBERT@example.COM ",
         team=" TEAM-a  ", source="credentials"),
    dict(name="trailing-slash", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url="https://sync.example.test/", user=ASCII_USER, team=ASCII_TEAM,
         source="credentials"),
    dict(name="double-trailing-slash", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url="https://sync.example.test//", user=ASCII_USER, team=ASCII_TEAM,
         source="credentials"),
    dict(name="no-team", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url=SYNC, user=ASCII_USER, team=None, source="credentials"),
    dict(name="non-ascii", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url=SYNC, user="Zoë@Example.com", team="Équipe-Ü", source="credentials"),
    dict(name="env-overrides-config", config_server_url="https://Config.Example.test/",
         saas_url_env="https://Env.Example.test/", credentials_server_url=SYNC,
         user=ASCII_USER, team=ASCII_TEAM, source="credentials"),
    dict(name="env-without-config", config_server_url=None,
         saas_url_env="https://Env.Example.test/", credentials_server_url=SYNC,
         user=ASCII_USER, team=ASCII_TEAM, source="credentials"),
    dict(name="credentials-without-server-url", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url=None, user=ASCII_USER, team=ASCII_TEAM, source="credentials"),
    dict(name="no-config-at-all", config_server_url=None, saas_url_env=None,
         credentials_server_url=SYNC, user=ASCII_USER, team=ASCII_TEAM, source="credentials"),
    # session-sourced (team = id of the Private Teamspace; null = no private team)
    dict(name="session-ascii-basic", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url=None, user=ASCII_USER, team=ASCII_TEAM, source="session"),
    dict(name="session-mixed-case-whitespace", config_server_url="  HTTPS://SYNC.Example.TEST//  ",
         saas_url_env=None, credentials_server_url=None, user="  ROBERT@example.COM ",
         team=" TEAM-a  ", source="session"),
    dict(name="session-non-ascii", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url=None, user="Zoë@Example.com", team="Équipe-Ü", source="session"),
    dict(name="session-env-overrides-config", config_server_url="https://Config.Example.test/",
         saas_url_env="https://Env.Example.test/", credentials_server_url=None,
         user=ASCII_USER, team=ASCII_TEAM, source="session"),
    dict(name="session-no-config-at-all", config_server_url=None, saas_url_env=None,
         credentials_server_url=None, user=ASCII_USER, team=ASCII_TEAM, source="session"),
    dict(name="session-no-private-team", config_server_url=SYNC, saas_url_env=None,
         credentials_server_url=None, user=ASCII_USER, team=None, source="session"),
]


# ==========================================================================
# Child side: runs inside a prepared environment, imports specify_cli
# ==========================================================================


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # TOML basic strings accept JSON escapes


def write_home(root: Path, setup: dict) -> None:
    """Write config.toml / credentials for *setup* into the spec-kitty root."""
    root.mkdir(parents=True, exist_ok=True)
    if setup.get("config_server_url") is not None:
        (root / "config.toml").write_text(
            "[sync]\nserver_url = %s\n" % _toml_str(setup["config_server_url"]), encoding="utf-8")
    creds = setup.get("credentials")
    if creds:
        lines = ["[user]", "username = %s" % _toml_str(creds["user"])]
        if creds.get("team") is not None:
            lines.append("team_slug = %s" % _toml_str(creds["team"]))
        if creds.get("server_url") is not None:
            lines += ["", "[server]", "url = %s" % _toml_str(creds["server_url"])]
        (root / "credentials").write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(root / "credentials", 0o600)


def _has(modname: str, attr: str | None = None):
    try:
        mod = __import__(modname, fromlist=["x"])
    except Exception:
        return None
    if attr is None:
        return mod
    return getattr(mod, attr, None)


def write_session(email: str, private_team: str | None) -> str:
    """Persist a session with the release's OWN StoredSession + file storage."""
    from datetime import datetime

    session_mod = _has("specify_cli.auth.session")
    if session_mod is None or not hasattr(session_mod, "StoredSession"):
        return "release has no specify_cli.auth.session.StoredSession"
    team_fields = {f.name for f in dataclasses.fields(session_mod.Team)}

    def Team(**kw):
        return session_mod.Team(**{k: v for k, v in kw.items() if k in team_fields})
    teams = [Team(id="shared-team", name="Shared", role="member", is_private_teamspace=False)]
    if private_team is not None:
        teams.insert(0, Team(id=private_team, name="Private", role="owner", is_private_teamspace=True))
    fields = {f.name for f in dataclasses.fields(session_mod.StoredSession)}
    now = datetime.fromisoformat(FIXED_TIME_ISO)
    far = datetime.fromisoformat(FAR_FUTURE_ISO)
    kwargs = dict(
        user_id="user-1", email=email, name="Fixture User", teams=teams,
        default_team_id=teams[0].id, access_token="fixture-access", refresh_token="fixture-refresh",
        session_id="sess-1", issued_at=now, access_token_expires_at=far,
        refresh_token_expires_at=far, scope="openid", storage_backend="file",
        last_used_at=now, auth_method="device_code",
    )
    kwargs = {k: v for k, v in kwargs.items() if k in fields}
    session = session_mod.StoredSession(**kwargs)
    storage_cls = _has("specify_cli.auth.secure_storage", "SecureStorage")
    if storage_cls is not None and hasattr(storage_cls, "from_environment"):
        storage = storage_cls.from_environment()
    else:
        ffs = _has("specify_cli.auth.secure_storage.file_fallback")
        cls = getattr(ffs, "FileFallbackStorage", None) or getattr(ffs, "EncryptedFileStorage")
        storage = cls()
    storage.write(session)
    return "written with %s.write" % type(storage).__name__


def _call_kw(fn, **kw):
    params = inspect.signature(fn).parameters
    return fn(**{k: v for k, v in kw.items() if k in params})


def probe_resolve(args: dict) -> dict:
    """Which queue file/scope does the release select in this environment?"""
    out: dict = {}
    if args.get("write_session"):
        out["session_write"] = write_session(args["write_session"]["email"], args["write_session"]["team"])
        return out
    import specify_cli.sync.queue as q

    out["default_queue_db_path"] = str(_call_kw(q.default_queue_db_path, allow_rehydrate=False))
    out["credentials_scope"] = q.read_queue_scope_from_credentials()
    if hasattr(q, "read_queue_scope_from_session"):
        try:
            out["session_scope"] = _call_kw(q.read_queue_scope_from_session, allow_rehydrate=False)
        except Exception as exc:  # noqa: BLE001
            out["session_scope"] = "error: %s" % exc
    else:
        out["session_scope"] = "absent"
    if hasattr(q, "_read_server_url_for_scope"):
        out["session_server_url"] = q._read_server_url_for_scope()
    out["spec_kitty_dir"] = str(q._spec_kitty_dir())
    owner = _has("specify_cli.sync.owner")
    if owner is not None and hasattr(owner, "compute_foreground_identity"):
        fg = _call_kw(owner.compute_foreground_identity, allow_network=False)
        out["owner_view"] = {k: fg.get(k) for k in (
            "server_url", "auth_principal", "auth_team", "auth_scope", "queue_db_path")}
        out["owner_record_path"] = str(owner.owner_record_path())
    pre = _has("specify_cli.sync.preflight")
    if pre is not None and hasattr(pre, "collect_foreground_identity"):
        try:
            ident = pre.collect_foreground_identity(Path("."))
            out["preflight_view"] = {
                "server_url": ident.server_url, "team_or_user": ident.team_or_user,
                "queue_db_path": str(ident.queue_db_path)}
        except Exception as exc:  # noqa: BLE001
            out["preflight_view"] = "error: %s" % exc
    ta = _has("specify_cli.sync.target_authority")
    if ta is not None:
        try:
            t = ta.resolve_sync_target(user_id=args.get("user"), team_slug=args.get("team"))
            out["target_authority"] = {
                "resolved_server_url": t.resolved_server_url,
                "derived_queue_scope": t.derived_queue_scope,
                "queue_db_path": str(t.queue_db_path),
                "override_mode": str(t.override_mode.value)}
        except Exception as exc:  # noqa: BLE001
            out["target_authority"] = "error: %s: %s" % (type(exc).__name__, exc)
    return out


def _namespace(body_mod, q_mod):
    ns_mod = _has("specify_cli.sync.namespace")
    cls = ns_mod.NamespaceRef
    names = {f.name for f in dataclasses.fields(cls)}
    kw = dict(project_uuid="11111111-2222-4333-8444-555555555555", target_branch="main",
              manifest_version="1")
    kw["feature_slug" if "feature_slug" in names else "mission_slug"] = "001-fixture-mission"
    kw["mission_key" if "mission_key" in names else "mission_type"] = "software-dev"
    return cls(**kw)


def _ddl(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name")]
    finally:
        conn.close()


def _columns(path: Path, table: str) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[1] for r in conn.execute("PRAGMA table_info(%s)" % table)]
    finally:
        conn.close()


def _tables(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    finally:
        conn.close()


def probe_ddl(args: dict) -> dict:
    import specify_cli.sync.queue as q
    import specify_cli.sync.body_queue as bq

    out = {}
    for kind in ("legacy", "scoped"):
        path = Path(args[kind])
        q.OfflineQueue(db_path=path)
        bq.OfflineBodyUploadQueue(db_path=path)
        out[kind] = _ddl(path)
        out[kind + "_body_columns"] = _columns(path, "body_upload_queue")
    return out


def _exercise(path: Path) -> dict:
    """Open an existing DB with the release's queues, enqueue one of each, drain."""
    import specify_cli.sync.queue as q
    import specify_cli.sync.body_queue as bq
    import contextlib
    import io

    res: dict = {}
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            queue = q.OfflineQueue(db_path=path)
            ok = queue.queue_event({"event_id": "evt-fixture-probe", "event_type": "WPStatusChanged",
                                    "payload": {"wp": "WP09", "to": "doing"},
                                    "timestamp": FIXED_TIME_ISO})
        if ok is False:
            raise RuntimeError("queue_event returned False: %s" % buf.getvalue().strip())
        drained = queue.drain_queue()
        if "evt-fixture-probe" not in {e.get("event_id") for e in drained}:
            raise RuntimeError("queued event not drained")
        res["events"] = "ok"
    except Exception as exc:  # noqa: BLE001
        res["events"] = "error: %s" % exc
    try:
        body = bq.OfflineBodyUploadQueue(db_path=path)
        ns = _namespace(bq, q)
        r = body.enqueue(ns, "spec.md", "ab" * 32, "# fixture body\n", 15)
        if r is False or str(getattr(r, "value", r)) == "queue_full":
            raise RuntimeError("enqueue returned %r" % (r,))
        tasks = body.drain(limit=1000)
        if "spec.md" not in {t.artifact_path for t in tasks}:
            raise RuntimeError("enqueued body upload not drained")
        res["body_uploads"] = "ok"
    except Exception as exc:  # noqa: BLE001
        res["body_uploads"] = "error: %s" % exc
    res["after_tables"] = _tables(path)
    res["after_body_columns"] = _columns(path, "body_upload_queue")
    return res


def probe_schema(args: dict) -> dict:
    out = {}
    for v, path in sorted(args["dbs"].items()):
        out[v] = _exercise(Path(path))
    return out


def probe_owner(args: dict) -> dict:
    """Owner record via the release's own writer + its mismatch verdicts."""
    import specify_cli.sync.owner as owner

    out: dict = {"mismatch_fields_constant": list(owner.MISMATCH_FIELDS)}
    fg = owner.compute_foreground_identity(allow_network=False)
    out["foreground"] = fg
    rec = owner.DaemonOwnerRecord(pid=FIXED_PID, port=FIXED_PORT, token=FIXED_TOKEN,
                                  started_at=FIXED_STARTED_AT, **fg)
    path = owner.write_owner_record(rec)
    out["owner_path"] = str(path)
    out["owner_file_mode"] = oct(path.stat().st_mode & 0o777)
    out["owner_json_text"] = path.read_text(encoding="utf-8")
    # Round-trip through the release's reader.
    back = owner.read_owner_record()
    out["read_back_equal"] = back == rec

    pre = _has("specify_cli.sync.preflight")
    base = dict(rec.as_dict())
    link = Path(args["symlink"])
    link.parent.mkdir(parents=True, exist_ok=True)
    Path(base["queue_db_path"]).parent.mkdir(parents=True, exist_ok=True)
    Path(base["queue_db_path"]).touch()
    if not link.exists():
        link.symlink_to(base["queue_db_path"])
    sc = fg["server_url"]
    variants = [
        ("identical", {}),
        ("package_version-differs", {"package_version": "0.0.0-other"}),
        ("executable_path-differs", {"executable_path": "/nonexistent/other/python3"}),
        ("source_checkout_path-differs", {"source_checkout_path": "/nonexistent/other/site-packages"}),
        ("server_url-case-and-trailing-slash", {"server_url": sc.upper() + "/"}),
        ("server_url-differs", {"server_url": "https://other.example.test"}),
        ("auth_scope-null-vs-non-null", {"auth_scope": None}),
        ("auth_scope-differs", {"auth_scope": "https://sync.example.test|someone@example.com|team-b"}),
        ("queue_db_path-differs", {"queue_db_path": str(Path(base["queue_db_path"]).parent / "queue-0000000000000000.db")}),
        ("queue_db_path-same-file-via-symlink", {"queue_db_path": str(link)}),
        ("pid-port-started_at-differ-only", {"pid": 1, "port": 9449, "started_at": "2020-02-02T02:02:02+00:00"}),
        ("auth_principal-auth_team-differ-only", {"auth_principal": "someone@example.com", "auth_team": "team-b"}),
    ]
    pairs = []
    for name, change in variants:
        o = dict(base)
        o.update(change)
        daemon = owner.DaemonOwnerRecord(**o)
        entry = {"name": name, "foreground": dict(fg), "owner": {k: v for k, v in daemon.as_dict().items() if k != "token"},
                 "mismatched_fields": owner.mismatched_fields(daemon, fg)}
        if pre is not None and hasattr(pre, "_build_mismatches"):
            fgi = pre.ForegroundIdentity(
                package_version=fg["package_version"], executable_path=Path(fg["executable_path"]),
                source_path=Path(fg["source_checkout_path"]), server_url=fg["server_url"],
                team_or_user=("%s/%s" % (fg["auth_principal"], fg["auth_team"]) if fg["auth_team"] else fg["auth_principal"]),
                queue_db_path=Path(fg["queue_db_path"]), pid=FIXED_PID)
            entry["preflight_mismatched_fields"] = [m.field for m in pre._build_mismatches(fgi, daemon)]
        pairs.append(entry)
    out["pairs"] = pairs
    if pre is not None:
        out["restart_remedy"] = getattr(pre, "_RESTART_DAEMON_REMEDY", None)
        hints = getattr(pre, "_REMEDIATION_HINTS", None)
        out["hints"] = dict(hints) if hints else None
    return out


PROBES = {"resolve": probe_resolve, "ddl": probe_ddl, "schema": probe_schema, "owner": probe_owner}


def child_main(name: str, args_json: str) -> None:
    import logging
    logging.disable(logging.CRITICAL)
    result = PROBES[name](json.loads(args_json))
    sys.stdout.write("\n@@RESULT@@" + json.dumps(result, default=str) + "\n")


# ==========================================================================
# Parent side: prepare homes, run probes, normalise, write files
# ==========================================================================


class Runner:
    def __init__(self, version: str, tmp: Path):
        self.version = version
        self.tmp = tmp
        self.venv = Path(sys.prefix)
        self.subs: list[tuple[str, str]] = []
        self.n = 0

    def new_dirs(self, label: str) -> tuple[Path, Path]:
        self.n += 1
        base = self.tmp / ("%02d-%s" % (self.n, label))
        home = base / "home"
        sk = base / "skhome"
        home.mkdir(parents=True)
        return home, sk

    def run(self, probe: str, args: dict, *, home: Path, sk_home: Path | None = None,
            saas_env: str | None = None, enable_saas: str | None = None) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SPEC_KITTY") and k not in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")}
        env["HOME"] = str(home)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONHASHSEED"] = "0"
        env["NO_COLOR"] = "1"
        if sk_home is not None:
            env["SPEC_KITTY_HOME"] = str(sk_home)
        if saas_env is not None:
            env["SPEC_KITTY_SAAS_URL"] = saas_env
        if enable_saas is not None:
            env["SPEC_KITTY_ENABLE_SAAS_SYNC"] = enable_saas
        proc = subprocess.run([sys.executable, str(HERE), "--probe", probe, "--args", json.dumps(args)],
                              cwd=str(home), env=env, capture_output=True, text=True, timeout=300)
        marker = proc.stdout.rfind("@@RESULT@@")
        if proc.returncode != 0 or marker < 0:
            raise SystemExit("probe %s failed (rc=%s):\n%s\n%s" % (probe, proc.returncode, proc.stdout[-3000:], proc.stderr[-5000:]))
        return json.loads(proc.stdout[marker + len("@@RESULT@@"):].strip())

    def norm(self, obj):
        """Replace machine-specific paths with placeholders (recursively)."""
        if isinstance(obj, str):
            s = obj
            for real, placeholder in self.subs:
                s = s.replace(real, placeholder)
            return s
        if isinstance(obj, list):
            return [self.norm(x) for x in obj]
        if isinstance(obj, dict):
            return {k: self.norm(v) for k, v in obj.items()}
        return obj


def rel_to(root: Path, p: str | None) -> str | None:
    if p is None:
        return None
    try:
        return str(Path(p).relative_to(root))
    except ValueError:
        return p


def scope_setup(ident: dict) -> dict:
    setup = {"config_server_url": ident["config_server_url"]}
    if ident["source"] == "credentials":
        setup["credentials"] = {"user": ident["user"], "team": ident["team"],
                                "server_url": ident["credentials_server_url"]}
    return setup


def measure_identity(r: Runner, ident: dict, enable_saas: str | None = "1") -> dict:
    home, _ = r.new_dirs(ident["name"])
    root = home / ".spec-kitty"
    write_home(root, scope_setup(ident))
    sess_note = None
    if ident["source"] == "session":
        w = r.run("resolve", {"write_session": {"email": ident["user"], "team": ident["team"]}},
                  home=home, saas_env=ident["saas_url_env"], enable_saas=enable_saas)
        sess_note = w["session_write"]
    res = r.run("resolve", {"user": ident["user"], "team": ident["team"]}, home=home,
                saas_env=ident["saas_url_env"], enable_saas=enable_saas)
    res["_root"] = str(root)
    res["_session_note"] = sess_note
    return res


def build_scope_entry(r: Runner, ident: dict, res: dict) -> dict:
    root = Path(res["_root"])
    path = res["default_queue_db_path"]
    chosen = None
    for src in ("session_scope", "credentials_scope"):
        sc = res.get(src)
        if isinstance(sc, str) and sc not in ("absent",) and not sc.startswith("error"):
            chosen = sc
            break
    scoped = rel_to(root, path)
    entry = {
        "name": ident["name"],
        "inputs": {k: ident[k] for k in ("config_server_url", "saas_url_env", "credentials_server_url",
                                         "user", "team", "source")},
        "scope": chosen if scoped != "queue.db" else None,
        "server_url": (chosen.split("|")[0] if chosen and scoped != "queue.db" else None),
        "scoped_db": scoped if scoped != "queue.db" else None,
        "selected_db": scoped,
    }
    if "owner_view" in res:
        ov = dict(res["owner_view"])
        ov["queue_db_path"] = rel_to(root, ov["queue_db_path"])
        entry["owner_view"] = ov
    if "preflight_view" in res and isinstance(res["preflight_view"], dict):
        pv = dict(res["preflight_view"])
        pv["queue_db_path"] = rel_to(root, pv["queue_db_path"])
        entry["preflight_view"] = pv
    if "target_authority" in res and isinstance(res["target_authority"], dict):
        ta = dict(res["target_authority"])
        ta["queue_db_path"] = rel_to(root, ta["queue_db_path"])
        entry["target_authority"] = ta
    elif "target_authority" in res:
        entry["target_authority"] = res["target_authority"]
    if res.get("_session_note"):
        entry["session_write"] = res["_session_note"]
    return entry


def measure_root(r: Runner) -> dict:
    home, sk = r.new_dirs("root")
    write_home(sk, {"config_server_url": SYNC, "credentials": {"user": "sk-home@example.com", "team": "t", "server_url": SYNC}})
    write_home(home / ".spec-kitty", {"config_server_url": SYNC, "credentials": {"user": "home@example.com", "team": "t", "server_url": SYNC}})
    res = r.run("resolve", {}, home=home, sk_home=sk)
    path = Path(res["default_queue_db_path"])
    honoured = str(path).startswith(str(sk) + os.sep)
    under_home = str(path).startswith(str(home / ".spec-kitty") + os.sep)
    detail = {
        "selected_db_root": "<SK_HOME>" if honoured else ("<HOME>/.spec-kitty" if under_home else "other"),
        "credentials_read": res["credentials_scope"],
    }
    if "owner_record_path" in res:
        detail["owner_record_path"] = res["owner_record_path"].replace(str(sk), "<SK_HOME>").replace(str(home), "<HOME>")
    return {"spec_kitty_home_env_honoured": honoured, "_detail": detail}


def measure_sources(r: Runner) -> dict:
    """Homes with credentials only / session only / both, SaaS sync on and unset."""
    cred = {"user": "cred-user@example.com", "team": "cred-team", "server_url": SYNC}
    out = {}
    for enable in ("1", None):
        for kind in ("credentials-only", "session-only", "both"):
            home, _ = r.new_dirs("src-%s-%s" % (kind, enable or "unset"))
            root = home / ".spec-kitty"
            setup = {"config_server_url": SYNC}
            if kind != "session-only":
                setup["credentials"] = cred
            write_home(root, setup)
            note = None
            if kind != "credentials-only":
                note = r.run("resolve", {"write_session": {"email": "sess-user@example.com", "team": "sess-team"}},
                             home=home, enable_saas=enable)["session_write"]
            res = r.run("resolve", {}, home=home, enable_saas=enable)
            sel = rel_to(root, res["default_queue_db_path"])
            import hashlib

            def file_of(scope):
                return "queues/queue-%s.db" % hashlib.sha256(scope.encode()).hexdigest()[:16]
            used = "none (legacy queue.db)"
            if sel != "queue.db":
                if isinstance(res.get("session_scope"), str) and "sess-user" in res["session_scope"] and sel == file_of(res["session_scope"]):
                    used = "session"
                elif res.get("credentials_scope") and sel == file_of(res["credentials_scope"]):
                    used = "credentials"
                else:
                    used = "other: " + sel
            out["%s/SPEC_KITTY_ENABLE_SAAS_SYNC=%s" % (kind, enable or "unset")] = {
                "selected_db": sel, "source_used": used, "session_write": note}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--version")
    ap.add_argument("--out")
    ap.add_argument("--probe")
    ap.add_argument("--args")
    ns = ap.parse_args()
    if ns.probe:
        child_main(ns.probe, ns.args)
        return

    from importlib.metadata import version as dist_version
    installed = dist_version("spec-kitty-cli")
    if installed != ns.version:
        raise SystemExit("venv has spec-kitty-cli %s, expected %s" % (installed, ns.version))
    out_dir = Path(ns.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="skfx-"))
    r = Runner(ns.version, tmp)
    # Order matters: longer/more specific first.
    r.subs = [(str(tmp.resolve()), "<TMP>"), (str(tmp), "<TMP>"),
              (str(r.venv.resolve()), "<VENV>"), (str(r.venv), "<VENV>"),
              (str(Path(sys.executable).resolve()), "<PYTHON>")]
    try:
        facts = capture(r, ns.version, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = json.dumps(facts, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    (out_dir / "facts.json").write_text(text, encoding="utf-8")


def capture(r: Runner, version: str, out_dir: Path) -> dict:
    notes: list[str] = []
    facts: dict = {"release": version}

    # ---- root -----------------------------------------------------------
    root = measure_root(r)
    facts["root"] = {"spec_kitty_home_env_honoured": root["spec_kitty_home_env_honoured"]}
    d = root["_detail"]
    notes.append("root: measured with HOME=<HOME> and SPEC_KITTY_HOME=<SK_HOME>, each holding a credentials file with a "
                 "different user; default_queue_db_path() selected a DB under %s and read_queue_scope_from_credentials() "
                 "returned %r%s." % (d["selected_db_root"],
                                    (d["credentials_read"] or "").split("|")[1] if d["credentials_read"] else None,
                                    ("; owner.owner_record_path() = %s" % d["owner_record_path"]) if "owner_record_path" in d else ""))

    # ---- scope sources --------------------------------------------------
    src = measure_sources(r)
    order: list[str] = []
    both_on = src["both/SPEC_KITTY_ENABLE_SAAS_SYNC=1"]["source_used"]
    if both_on in ("session", "credentials"):
        order.append(both_on)
    for k in ("session", "credentials"):
        only = src["%s-only/SPEC_KITTY_ENABLE_SAAS_SYNC=1" % k]["source_used"]
        if only == k and k not in order:
            order.append(k)
    facts["scope_sources"] = order
    facts["scope_sources_measurements"] = src
    gated = any(src["%s/SPEC_KITTY_ENABLE_SAAS_SYNC=1" % k]["source_used"] != src["%s/SPEC_KITTY_ENABLE_SAAS_SYNC=unset" % k]["source_used"]
                for k in ("credentials-only", "session-only", "both"))
    notes.append("scope_sources: measured by sync.queue.default_queue_db_path(allow_rehydrate=False where the parameter exists) "
                 "in homes with credentials only / a session only (written by the release's own auth.session.StoredSession "
                 "and secure-storage write()) / both, with SPEC_KITTY_ENABLE_SAAS_SYNC=1 and unset (see scope_sources_measurements). "
                 "SPEC_KITTY_ENABLE_SAAS_SYNC %s the source choice." % ("CHANGES" if gated else "does not change"))

    # ---- scopes ---------------------------------------------------------
    scopes = []
    for ident in IDENTITIES:
        res = measure_identity(r, ident)
        scopes.append(build_scope_entry(r, ident, res))
    facts["scopes"] = scopes
    notes.append("scopes: each identity in a fresh home (config.toml [sync] server_url when config_server_url is not null; "
                 "credentials [user] username/team_slug (omitted when team is null) and [server] url (omitted when null) "
                 "for source=credentials; for source=session an encrypted session written by the release's own "
                 "StoredSession + SecureStorage.from_environment().write() with one non-private team and, unless team is null, "
                 "a Private Teamspace whose id is `team`). scope/server_url/scoped_db: the scope string the release's own "
                 "read_queue_scope_from_session(allow_rehydrate=False) (when present) or read_queue_scope_from_credentials() "
                 "returned, and the file sync.queue.default_queue_db_path() selected (selected_db; null scoped_db = legacy queue.db). "
                 "owner_view = sync.owner.compute_foreground_identity(allow_network=False); preflight_view = "
                 "sync.preflight.collect_foreground_identity(); target_authority = "
                 "sync.target_authority.resolve_sync_target(user_id=<raw user>, team_slug=<raw team>). "
                 "SPEC_KITTY_ENABLE_SAAS_SYNC=1 for all scope measurements.")

    # ---- DDL ------------------------------------------------------------
    home, _ = r.new_dirs("ddl")
    rootp = home / ".spec-kitty"
    ddl = r.run("ddl", {"legacy": str(rootp / "queue.db"),
                        "scoped": str(rootp / "queues" / "queue-0123456789abcdef.db")}, home=home)
    facts["ddl"] = {"legacy": ddl["legacy"], "scoped": ddl["scoped"]}
    for kind in ("legacy", "scoped"):
        (out_dir / ("ddl-%s.sql" % kind)).write_text(
            "-- spec-kitty-cli %s: sqlite_master of a fresh %s queue DB created by OfflineQueue + "
            "OfflineBodyUploadQueue\n-- (SELECT sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY type, name)\n"
            % (version, kind) + "".join(s + ";\n" for s in ddl[kind]), encoding="utf-8")
    cols = ddl["scoped_body_columns"]
    facts["body_queue_columns"] = {
        "mission_slug": "feature_slug" if "feature_slug" in cols else "mission_slug",
        "mission_type": "mission_key" if "mission_key" in cols else "mission_type",
    }
    has_fail = any("body_upload_failure_log" in s for s in ddl["scoped"])
    facts["generation"] = ("db-v5" if has_fail else
                           "db-v4" if facts["body_queue_columns"]["mission_slug"] == "mission_slug" else "db-v3")
    notes.append("ddl/generation: sync.queue.OfflineQueue(db_path=p) then sync.body_queue.OfflineBodyUploadQueue(db_path=p) "
                 "on a fresh legacy path (<root>/queue.db) and a fresh scoped path (<root>/queues/queue-0123456789abcdef.db); "
                 "generation derived from the resulting shape (failure log table => db-v5, mission_slug => db-v4, else db-v3). "
                 "Also written to ddl-legacy.sql / ddl-scoped.sql.")

    # ---- schema ---------------------------------------------------------
    home, _ = r.new_dirs("schema")
    qdir = home / ".spec-kitty" / "queues"
    qdir.mkdir(parents=True)
    dbs = {}
    for v in ("v3", "v4", "v5"):
        for variant in ("empty", "rows"):
            p = qdir / ("queue-%s%s.db" % (v, "0" * 14 if variant == "empty" else "1" * 14))
            conn = sqlite3.connect(p)
            conn.executescript((SQL_DIR / ("legacy_%s.sql" % v)).read_text(encoding="utf-8"))
            if variant == "empty":
                for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                         "AND name NOT LIKE 'sqlite_%'").fetchall():
                    conn.execute('DELETE FROM "%s"' % t)
            conn.commit()
            conn.close()
            dbs["%s-%s" % (v, variant)] = str(p)
    sch = r.run("schema", {"dbs": dbs}, home=home)

    def verdict(s):
        if s["events"] == "ok" and s["body_uploads"] == "ok":
            return "ok"
        errs = [x for x in (s["events"], s["body_uploads"]) if x != "ok"]
        return "error: " + "; ".join(e[len("error: "):] for e in errs)
    schema: dict = {}
    for v in ("v3", "v4", "v5"):
        schema["opens_" + v] = verdict(sch[v + "-empty"])
        schema["detail_" + v] = sch[v + "-empty"]
        schema["with_fixture_rows_" + v] = dict(sch[v + "-rows"], verdict=verdict(sch[v + "-rows"]))
    facts["schema"] = schema
    notes.append("schema: fixtures/sql/legacy_v3.sql, legacy_v4.sql, legacy_v5.sql loaded with sqlite3 into "
                 "<root>/queues/queue-vN00000000000000.db; then OfflineQueue(db_path).queue_event(one event) + "
                 "drain_queue() and OfflineBodyUploadQueue(db_path).enqueue(one upload) + drain(); 'ok' when both "
                 "the enqueued event and upload came back from the drain. opens_vN/detail_vN: the fixture's schema with "
                 "its rows deleted (shape compatibility only); with_fixture_rows_vN: the fixture as-is, rows included "
                 "(legacy_vN.sql holds an event whose data is '' on purpose). detail records each half and the "
                 "tables/body_upload_queue columns after the release touched the DB (shows any migration it applied).")

    # ---- owner / mismatch / remediation -----------------------------------
    home, _ = r.new_dirs("owner")
    rootp = home / ".spec-kitty"
    write_home(rootp, {"config_server_url": SYNC,
                       "credentials": {"user": ASCII_USER, "team": ASCII_TEAM, "server_url": SYNC}})
    probe_ok = True
    try:
        own = r.run("owner", {"symlink": str(rootp / "queues" / "link-to-scoped.db")}, home=home)
    except SystemExit as exc:
        if "specify_cli.sync.owner" in str(exc) or "No module named" in str(exc):
            probe_ok = False
            own = None
        else:
            raise
    if probe_ok and own is not None:
        def owner_norm(d):
            d = dict(d)
            for k in ("queue_db_path",):
                if d.get(k):
                    d[k] = d[k].replace(str(rootp), "<HOME>/.spec-kitty")
            return d
        facts["blocking_fields"] = own["mismatch_fields_constant"]
        facts["owner"] = owner_norm(json.loads(own["owner_json_text"]))
        facts["owner_normalised"] = []
        facts["mismatch"] = [
            {"name": p["name"], "foreground": owner_norm(p["foreground"]), "owner": owner_norm(p["owner"]),
             "mismatched_fields": p["mismatched_fields"],
             **({"preflight_mismatched_fields": p["preflight_mismatched_fields"]} if "preflight_mismatched_fields" in p else {})}
            for p in own["pairs"]]
        import re
        restart = own.get("restart_remedy") or ""
        hints = own.get("hints") or {}
        m = re.search(r"`(spec-kitty doctor restart-daemon)`", restart)
        team_hint = hints.get("daemon_team_or_user", "")
        cmds = re.findall(r"`([^`]+)`", team_hint)
        facts["remediation"] = {
            "restart_daemon": m.group(1) if m else None,
            "relogin": " then ".join(c for c in cmds if c.startswith("spec-kitty auth")) or None,
            "hints": hints,
        }
        notes.append("owner: sync.owner.write_owner_record(DaemonOwnerRecord(pid=%d, port=%d, token=%r, started_at=%r, "
                     "**sync.owner.compute_foreground_identity(allow_network=False))) in a home with credentials for "
                     "ascii-basic; the writer takes every value from the caller so nothing was normalised except "
                     "machine paths (<VENV>, <HOME>). File path relative to root: %s; file mode %s; read back equal "
                     "via read_owner_record(): %s." % (FIXED_PID, FIXED_PORT, FIXED_TOKEN, FIXED_STARTED_AT,
                                                       rel_to(rootp, own["owner_path"]), own["owner_file_mode"],
                                                       own["read_back_equal"]))
        notes.append("mismatch: mismatched_fields = sync.owner.mismatched_fields(DaemonOwnerRecord(**owner), foreground) "
                     "with foreground = compute_foreground_identity(allow_network=False); preflight_mismatched_fields = "
                     "sync.preflight._build_mismatches(ForegroundIdentity(...same values...), record) — the gate "
                     "`sync status --check` and the preflight use, with its own six field names. The symlink pair points "
                     "queues/link-to-scoped.db at the (existing) scoped DB file.")
        notes.append("remediation: restart_daemon / relogin are the commands quoted in sync.preflight._RESTART_DAEMON_REMEDY "
                     "and _REMEDIATION_HINTS['daemon_team_or_user']; hints = the full _REMEDIATION_HINTS mapping.")
    else:
        facts["blocking_fields"] = None
        facts["owner"] = None
        facts["mismatch"] = []
        facts["remediation"] = None
        notes.append("owner/mismatch/remediation: release has no specify_cli.sync.owner module (import fails), so no "
                     "owner record, blocking fields or mismatch verdicts exist in it.")

    notes.extend(design_differences(facts))
    facts["notes"] = notes
    return r.norm(facts)


def design_differences(f: dict) -> list[str]:
    """Compare the measured facts with the project's DESIGN claims (§1, §2, §4, §5, §8)."""
    out = []
    by = {s["name"]: s for s in f["scopes"]}
    src = f["scope_sources_measurements"]
    if not f["root"]["spec_kitty_home_env_honoured"]:
        out.append("DESIGN §1/§8: SPEC_KITTY_HOME is NOT used as the spec-kitty root by this release (queue, credentials%s "
                   "stay under $HOME/.spec-kitty). Read, not measured: in this release SPEC_KITTY_HOME only relocates the "
                   "~/.kittify asset home (runtime/home.get_kittify_home)." % (", owner.json" if f["owner"] else ""))
    if "session" in f["scope_sources"]:
        ungated = (src["session-only/SPEC_KITTY_ENABLE_SAAS_SYNC=unset"]["source_used"] == "session")
        if ungated:
            out.append("DESIGN §1 says the session store is consulted only when SaaS sync is enabled: this release's "
                       "default_queue_db_path() reads the session whether or not SPEC_KITTY_ENABLE_SAAS_SYNC is set "
                       "(session-only/unset selects the session scope), and the session wins over credentials.")
    cred = by["credentials-without-server-url"]
    if cred["scope"] is None:
        out.append("Credentials-sourced scope: the server part is the credentials file's [server] url (not config.toml, "
                   "not SPEC_KITTY_SAAS_URL); a credentials file without [server] url yields NO scope (legacy queue.db is "
                   "selected) even though config.toml has [sync] server_url (scope 'credentials-without-server-url'). "
                   "Missing team_slug -> 'no-team'.")
    env = by["env-overrides-config"]
    senv = by["session-env-overrides-config"]
    if senv["scope"] and senv["scope"].startswith("https://config.example.test"):
        out.append("SPEC_KITTY_SAAS_URL does not affect the queue file this release's OfflineQueue selects "
                   "(default_queue_db_path): session scopes use config.toml [sync] server_url or the default "
                   "https://spec-kitty-dev.fly.dev, credentials scopes use credentials [server] url "
                   "(scopes 'env-overrides-config', 'session-env-overrides-config').")
    ta = env.get("target_authority")
    if isinstance(ta, dict):
        out.append("DESIGN §8 'env > config > default' holds only for sync.target_authority.resolve_sync_target, which "
                   "feeds the owner record (compute_foreground_identity) and the preflight; the OfflineQueue's own file "
                   "(default_queue_db_path) ignores the env var, and for credentials ignores config too. So with "
                   "SPEC_KITTY_SAAS_URL set, or with credentials [server] url != config/default, the owner record's "
                   "queue_db_path names a different file than the queue the CLI writes (compare selected_db with "
                   "owner_view.queue_db_path in 'env-overrides-config', 'env-without-config', 'no-config-at-all', "
                   "'session-env-overrides-config').")
        na = by["non-ascii"]
        sna = by["session-non-ascii"]
        out.append("DESIGN §8 '_u%%04x_' rule: applied only by target_authority._ascii_token (owner record, preflight), "
                   "NOT by default_queue_db_path, which hashes the raw UTF-8 scope (%s -> %s). The escape is applied "
                   "BEFORE build_queue_scope lowercases, so the result depends on the caller's case: the owner record "
                   "passes the already-lowercased user/team parsed from the scope (%s -> %s), while "
                   "resolve_sync_target on the raw identity (and the preflight for session identities, which passes the "
                   "session's raw email/team id) escapes the upper-case code points (%s -> %s). One non-ASCII identity "
                   "therefore maps to up to three different queue files." % (
                       na["scope"], na["scoped_db"], na["owner_view"]["auth_scope"], na["owner_view"]["queue_db_path"],
                       ta_scope(na), ta_path(na)))
        if isinstance(sna.get("preflight_view"), dict):
            out.append("preflight (session identities) passes the session's raw email/team id: team_or_user is not "
                       "lowercased (session-ascii-basic: preflight %r vs owner record %s/%s), so for any session email "
                       "or team id with upper case the preflight's daemon_team_or_user comparison against an owner record "
                       "written by compute_foreground_identity differs (derived from the two measured views)." % (
                           by["session-ascii-basic"]["preflight_view"]["team_or_user"],
                           by["session-ascii-basic"]["owner_view"]["auth_principal"],
                           by["session-ascii-basic"]["owner_view"]["auth_team"]))
        nt = by["no-team"]
        out.append("No team: credentials give 'no-team' (queue, owner record and preflight agree: %s); "
                   "resolve_sync_target(team_slug=None) itself derives an EMPTY team part (%r)." % (
                       nt["scoped_db"], ta_scope(nt)))
    if f["owner"]:
        o = f["owner"]
        out.append("owner.json: field set %s matches DESIGN §4; server_url is %r for config 'https://Sync.Example.test/' "
                   "(%s), source_checkout_path is the directory that CONTAINS site-packages (%s). "
                   "Unauthenticated identity: owner server_url = raw config value (credentials-without-server-url: %r)." % (
                       sorted(o), o["server_url"],
                       "case kept, trailing '/' and whitespace stripped by target_authority._normalize_url"
                       if not o["server_url"].endswith("/") else "raw config value, trailing '/' kept",
                       o["source_checkout_path"], by["credentials-without-server-url"]["owner_view"]["server_url"]))
        m = {x["name"]: x for x in f["mismatch"]}
        if m["queue_db_path-same-file-via-symlink"]["mismatched_fields"]:
            out.append("DESIGN §4 'paths compare after resolving symlinks': owner.mismatched_fields compares every "
                       "field as an exact string (only executable_path is canonicalised, via Path.resolve() when the "
                       "record is built/read); a queue_db_path naming the same file through a symlink IS a mismatch, "
                       "and so is a server_url differing only by case/trailing '/'.")
        if m["auth_scope-null-vs-non-null"].get("preflight_mismatched_fields") == []:
            out.append("Two different gates exist in this release: owner.mismatched_fields over MISMATCH_FIELDS "
                       "(%s; source_checkout_path, auth_principal, auth_team informational) and "
                       "preflight._build_mismatches (used by `sync status --check` and the preflight) over "
                       "daemon_package_version, daemon_executable_path, daemon_source_path, daemon_server_url, "
                       "daemon_team_or_user (principal/team), daemon_queue_db_path — it does NOT compare auth_scope but "
                       "DOES compare source path and principal/team. DESIGN §8 attributes that six-field gate to 3.2.7 "
                       "only; it is already in this release." % ", ".join(f["blocking_fields"]))
    sch = f["schema"]
    if sch["opens_v3"].startswith("error") and "body_upload_failure_log" in sch["detail_v3"]["after_tables"]:
        out.append("V3-shaped scoped DB: this release fails to enqueue body uploads (%s) yet still ALTERS the DB "
                   "(creates body_upload_failure_log; rename migration is a no-op)." % sch["opens_v3"][len("error: "):])
    if any(sch["with_fixture_rows_" + v]["events"].startswith("error") for v in ("v3", "v4", "v5")):
        out.append("One queue row whose data is not JSON (fixtures' evt-0015 with data '') makes OfflineQueue.drain_queue "
                   "raise (%s) for the whole queue." % sch["with_fixture_rows_v4"]["events"])
    return out


def ta_scope(entry: dict):
    t = entry.get("target_authority")
    return t.get("derived_queue_scope") if isinstance(t, dict) else None


def ta_path(entry: dict):
    t = entry.get("target_authority")
    return t.get("queue_db_path") if isinstance(t, dict) else None


if __name__ == "__main__":
    main()
