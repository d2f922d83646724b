"""``clinisight``: drive the local stack and the API. Every command prints JSON on stdout.

    clinisight up [--foreground]      start the stack (dynalite, Ray, Serve); print its URL
    clinisight down                   stop what `up` started (by pid)
    clinisight send-event FILE [--tenant T] [--jira] [--wait]
    clinisight event ID [--tenant T]
    clinisight state TENANT AGENT
    clinisight reindex --space KEY [--tenant T] [--source URL|DIR]
    clinisight ask QUESTION [--tenant T] [--space KEY] [--k N] [--principal ACCOUNT_ID]
                                      answered from the pages that person may read
    clinisight jira backfill [--tenant T] [--jql Q] [--resume JOB]
                                      page the tenant's Jira into the agents; waits for it
    clinisight token --tenant T [--principal ACCOUNT_ID] [--ttl S]   (dev mode only)
                                      a Forge Invocation Token for that Atlassian user
    clinisight audit list --tenant T [--after N] [--limit N]   the tenant's audit trail
    clinisight audit verify --tenant T [--checkpoint FILE]
                                      check the tenant's audit chain, and against its anchors
    clinisight audit anchor [--tenant T] [--out FILE]
                                      publish audit chain heads now (all tenants without
                                      --tenant) and write a checkpoint file for the auditor
    clinisight phi add-names --tenant T FILE [--csv]   register names always redacted for T
    clinisight status [--tenant T]    stack health; per tenant: backlog and its oldest event,
                                      last failures per agent, running reindexes, shard size

Exit status 0 on success, 1 when the command failed (the JSON says why).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from config.settings import Settings
from serve.auth import sign_jira_body
from serve.devkeys import DEV_TENANT, ensure_dev_keys, jira_secret, mint_fit
from serve.names_file import batches, read_names
from serve.stack import pid_file, run_foreground, wait_healthy

if TYPE_CHECKING:  # imported where used: the other commands need no stores
    from store.factory import Stores

FINAL = {"done", "failed", "ignored"}


class CliError(Exception):
    pass


def _out(obj: Any) -> None:
    print(json.dumps(obj, indent=2, ensure_ascii=False))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _running(settings: Settings) -> dict[str, Any] | None:
    path = pid_file(settings)
    if not path.exists():
        return None
    info: dict[str, Any] = json.loads(path.read_text())
    return info if _pid_alive(int(info["pid"])) else None


def _ready(settings: Settings) -> bool:
    path = pid_file(settings)
    return path.exists() and bool(json.loads(path.read_text()).get("ready"))


def cmd_up(settings: Settings, args: argparse.Namespace) -> int:
    running = _running(settings)
    if running:
        _out({"status": "already running", **running})
        return 0
    if args.foreground:
        return run_foreground(settings)
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / "stack.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "serve.stack"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: `down` can stop all of it
        )
    started = time.monotonic()
    try:
        while not _ready(settings):
            if proc.poll() is not None:
                raise CliError(f"the stack exited during start; see {logs / 'stack.log'}")
            if time.monotonic() - started > args.timeout:
                raise CliError(f"the stack did not start in {args.timeout}s; see "
                               f"{logs / 'stack.log'}")
            time.sleep(0.5)
        health = wait_healthy(settings.http_url, 30)
    except BaseException:  # whatever stops `up` (an error, Ctrl-C) stops what it started
        _stop_pid(proc.pid, 30)
        raise
    recorded = json.loads(pid_file(settings).read_text())
    _out({
        "status": "up",
        "url": settings.http_url,
        "pid": proc.pid,
        "seconds": round(time.monotonic() - started, 1),
        "logs": str(logs / "stack.log"),
        # Where Prometheus scrapes this node: Serve's metrics and the product's (README
        # "Operating").
        "metrics": recorded.get("metrics"),
        # Ray's own logs of this stack (Serve's proxy, replicas, workers): its session's folder.
        "rayLogs": recorded.get("rayLogs"),
        "health": health,
    })
    return 0


def _stop_pid(pid: int, timeout_s: float) -> bool:
    """SIGTERM the supervisor, wait, then SIGKILL its process group. True if it had to."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            return False
        try:  # reap it if it is our child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.3)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return True


def cmd_down(settings: Settings, args: argparse.Namespace) -> int:
    running = _running(settings)
    if not running:
        pid_file(settings).unlink(missing_ok=True)
        _out({"status": "not running"})
        return 0
    killed = _stop_pid(int(running["pid"]), args.timeout)
    dynalite = running.get("dynalitePid")
    if dynalite and _pid_alive(int(dynalite)):  # the supervisor died before stopping it
        os.kill(int(dynalite), signal.SIGTERM)
        killed = True
    pid_file(settings).unlink(missing_ok=True)
    _out({"status": "down", "pid": running["pid"], "forced": killed})
    return 0


def _request(settings: Settings, method: str, path: str, **kwargs: Any) -> httpx.Response:
    try:
        return httpx.request(method, settings.http_url + path, timeout=30.0, **kwargs)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach Clinisight at {settings.http_url}: {exc} "
                       "(is it running? `clinisight up`)") from exc


def _bearer(settings: Settings, tenant: str, account: str | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {mint_fit(ensure_dev_keys(settings), tenant, account)}"}


def _answer(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        body = resp.text
    return {"httpStatus": resp.status_code, "body": body}


def cmd_send_event(settings: Settings, args: argparse.Namespace) -> int:
    body = Path(args.file).read_bytes()
    headers = {"content-type": "application/json"}
    if args.jira:
        secret = jira_secret(settings, args.tenant)
        headers["x-hub-signature"] = sign_jira_body(body, secret)
        resp = _request(settings, "POST", "/v1/jira/webhooks", params={"tenant": args.tenant},
                        content=body, headers=headers)
    else:
        headers.update(_bearer(settings, args.tenant))
        resp = _request(settings, "POST", "/v1/forge/events", content=body, headers=headers)
    answer = _answer(resp)
    if args.wait and resp.status_code in (200, 202):
        event_id = answer["body"]["eventId"]
        deadline = time.monotonic() + args.timeout
        while True:
            got = _request(settings, "GET", f"/v1/events/{event_id}",
                           headers=_bearer(settings, args.tenant))
            answer["event"] = got.json()
            if answer["event"].get("status") in FINAL or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    _out(answer)
    return 0 if resp.status_code < 400 else 1


def cmd_event(settings: Settings, args: argparse.Namespace) -> int:
    resp = _request(
        settings, "GET", f"/v1/events/{args.id}", headers=_bearer(settings, args.tenant)
    )
    _out(_answer(resp))
    return 0 if resp.status_code < 400 else 1


def cmd_state(settings: Settings, args: argparse.Namespace) -> int:
    resp = _request(settings, "GET", f"/v1/tenants/{args.tenant}/agents/{args.agent}/state",
                    headers=_bearer(settings, args.tenant))
    _out(_answer(resp))
    return 0 if resp.status_code < 400 else 1


def _bar(p: dict[str, Any]) -> str:
    seen = max(int(p.get("seen", 0)), 1)
    done = int(p.get("embedded", 0)) + int(p.get("skipped", 0)) + int(p.get("failed", 0))
    filled = int(30 * min(done / seen, 1.0)) if p.get("seen") else 0
    return (f"\r[{'#' * filled}{'.' * (30 - filled)}] {p.get('status', '?'):9} "
            f"seen {p.get('seen', 0)} embedded {p.get('embedded', 0)} "
            f"skipped {p.get('skipped', 0)} failed {p.get('failed', 0)} "
            f"removed {p.get('removed', 0)}")


def cmd_reindex(settings: Settings, args: argparse.Namespace) -> int:
    source = args.source
    if source and not source.startswith(("http://", "https://")):
        source = str(Path(source).expanduser().resolve())  # the server runs elsewhere
    resp = _request(settings, "POST", f"/v1/tenants/{args.tenant}/reindex",
                    json={"space": args.space, "source": source},
                    headers=_bearer(settings, args.tenant))
    return _follow(settings, args, resp, f"/v1/tenants/{args.tenant}/reindex", _bar)


def _follow(settings: Settings, args: argparse.Namespace, started: httpx.Response,
            jobs_path: str, bar: Callable[[dict[str, Any]], str]) -> int:
    """Follow a job the POST ``started`` (a 202, else its answer is printed) to its end or
    ``args.timeout``, a progress bar on stderr unless ``args.quiet``; print its last state."""
    if started.status_code != 202:
        _out(_answer(started))
        return 1
    progress, shown = started.json(), ""
    deadline = time.monotonic() + args.timeout
    while progress.get("status") == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
        progress = _request(settings, "GET", f"{jobs_path}/{progress['jobId']}",
                            headers=_bearer(settings, args.tenant)).json()
        line = bar(progress)
        if not args.quiet and line != shown:
            print(line, end="", file=sys.stderr, flush=True)
            shown = line
    if not args.quiet:
        print(file=sys.stderr)
    _out(progress)
    return 0 if progress.get("status") == "succeeded" else 1


def _jira_bar(p: dict[str, Any]) -> str:
    return (f"\r{p.get('status', '?'):9} pages {p.get('pages', 0)} "
            f"seen {p.get('seen', 0)} applied {p.get('applied', 0)} "
            f"failed {p.get('failed', 0)} throttled {p.get('throttled', 0)}")


def cmd_jira(settings: Settings, args: argparse.Namespace) -> int:
    """``jira backfill``: start (or resume) a backfill job and follow it to its end."""
    body = {k: v for k, v in {"jql": args.jql, "resume": args.resume}.items() if v}
    resp = _request(settings, "POST", f"/v1/tenants/{args.tenant}/jira/backfill", json=body,
                    headers=_bearer(settings, args.tenant))
    return _follow(settings, args, resp, f"/v1/tenants/{args.tenant}/jira/backfill",
                   _jira_bar)


def cmd_ask(settings: Settings, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"question": args.question, "k": args.k}
    if args.space:
        body["space"] = args.space
    resp = _request(settings, "POST", f"/v1/tenants/{args.tenant}/ask", json=body,
                    headers=_bearer(settings, args.tenant, args.principal))
    _out(_answer(resp))
    return 0 if resp.status_code < 400 else 1


def cmd_token(settings: Settings, args: argparse.Namespace) -> int:
    ttl = args.ttl
    token = mint_fit(ensure_dev_keys(settings), args.tenant, args.principal, ttl_s=ttl)
    _out({"token": token, "tenant": args.tenant, "principal": args.principal or "dev-user",
          "expiresIn": ttl})
    return 0


def cmd_audit(settings: Settings, args: argparse.Namespace) -> int:
    """Read the audit tables directly (an operator's tool: it needs DynamoDB access)."""
    import asyncio

    from store.errors import StoreError
    from store.factory import open_stores

    if args.audit_command != "anchor" and not args.tenant:
        raise CliError(f"audit {args.audit_command} needs --tenant")
    if settings.needs_local_dynamodb:  # the local stack's dynalite
        settings = settings.model_copy(
            update={"dynamodb_endpoint": f"http://127.0.0.1:{settings.dynamodb_local_port}"})
    stores = open_stores(settings, threads=4)
    try:
        if args.audit_command == "anchor":
            return asyncio.run(_audit_anchor(settings, stores, args))
        if args.audit_command == "verify":
            return asyncio.run(_audit_verify(stores, args))
        entries = asyncio.run(stores.audit.entries(args.tenant, after=args.after,
                                                   limit=args.limit))
    except StoreError as exc:
        raise CliError(f"audit table unavailable: {exc}") from exc
    _out({"tenant": args.tenant, "entries": [e.public() for e in entries]})
    return 0


async def _audit_anchor(settings: Settings, stores: Stores,
                        args: argparse.Namespace) -> int:
    from store.anchors import anchor_all, checkpoint

    outcome = await anchor_all(stores.audit, stores.anchors,
                               [args.tenant] if args.tenant else None)
    anchors = [a for a in [await stores.anchors.latest(t) for t in outcome] if a is not None]
    export = checkpoint(settings.stage, anchors)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else (
        settings.data_dir / "audit-checkpoints" / f"{settings.stage}-{stamp}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(export, indent=2, ensure_ascii=False) + "\n")
    failed = sorted(t for t, r in outcome.items() if r.get("reason") or r.get("error"))
    _out({"ok": not failed, "failed": failed, "anchors": outcome, "checkpoint": str(out),
          "sha256": export["sha256"]})
    return 0 if not failed else 1


async def _audit_verify(stores: Stores, args: argparse.Namespace) -> int:
    from store.anchors import read_checkpoint, verify_anchored

    anchors = [a for a in [await stores.anchors.latest(args.tenant)] if a is not None]
    if args.checkpoint:
        kept = read_checkpoint(json.loads(Path(args.checkpoint).read_text()), args.tenant)
        anchors += [kept] if kept is not None else []
    report = await verify_anchored(stores.audit, args.tenant, anchors)
    _out(report.public())
    return 0 if report.ok else 1


def _health(settings: Settings) -> dict[str, Any]:
    try:
        resp = httpx.get(f"{settings.http_url}/healthz", timeout=15.0)
        return dict(resp.json())
    except (httpx.HTTPError, ValueError) as exc:
        return {"status": "unreachable", "error": f"{type(exc).__name__} at {settings.http_url}"}


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    """What an on-call engineer asks first (``serve.status``); exit 1 unless all is well."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from index.snapshot import SnapshotStore
    from serve.status import collect
    from store.dynamo import DynamoTable
    from store.errors import StoreError
    from store.factory import open_stores

    running = _running(settings)
    out: dict[str, Any] = {
        "health": _health(settings),
        "stack": None if running is None else
        {k: running.get(k) for k in ("pid", "url", "metrics", "ready")},
    }
    if settings.needs_local_dynamodb:  # the local stack's dynalite
        settings = settings.model_copy(
            update={"dynamodb_endpoint": f"http://127.0.0.1:{settings.dynamodb_local_port}"})
    stores = open_stores(settings, threads=4)
    snapshots = SnapshotStore(DynamoTable(stores.client, settings.table("Embeddings"),
                                          ThreadPoolExecutor(2)))
    try:
        out["tenants"] = asyncio.run(collect(stores, snapshots, args.tenant))
    except StoreError as exc:
        out["tenants"] = None
        out["error"] = f"DynamoDB unavailable: {type(exc).__name__}"
    _out(out)
    return 0 if out["health"].get("status") == "ok" and out["tenants"] is not None else 1


def cmd_phi(settings: Settings, args: argparse.Namespace) -> int:
    names = read_names(Path(args.file), True if args.csv else None)
    if not names:
        raise CliError(f"{args.file}: no names found")
    added, total = 0, 0
    # Leave room under the ingress's body limit for the JSON around the names.
    for batch in batches(names, int(settings.max_body_bytes * 0.9)):
        resp = _request(settings, "POST", f"/v1/tenants/{args.tenant}/phi/names",
                        json={"names": batch}, headers=_bearer(settings, args.tenant))
        if resp.status_code != 200:
            _out({"added": added, "total": total, "failed": _answer(resp)})
            return 1
        added += int(resp.json()["added"])
        total = int(resp.json()["total"])
    _out({"added": added, "total": total})
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clinisight", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the local stack")
    up.add_argument("--foreground", action="store_true", help="stay attached; Ctrl-C stops")
    up.add_argument("--timeout", type=float, default=240.0)
    up.set_defaults(fn=cmd_up)
    down = sub.add_parser("down", help="stop what `up` started")
    down.add_argument("--timeout", type=float, default=60.0)
    down.set_defaults(fn=cmd_down)
    status = sub.add_parser("status", help="health, backlog, failures, reindexes, shards")
    status.add_argument("--tenant", default=None, help="only this tenant")
    status.set_defaults(fn=cmd_status)
    send = sub.add_parser("send-event", help="sign and post an event file")
    send.add_argument("file")
    send.add_argument("--tenant", default=DEV_TENANT)
    send.add_argument("--jira", action="store_true", help="a classic Jira webhook (HMAC)")
    send.add_argument("--wait", action="store_true", help="wait until the event is processed")
    send.add_argument("--timeout", type=float, default=60.0)
    send.set_defaults(fn=cmd_send_event)
    ev = sub.add_parser("event", help="show an event's status")
    ev.add_argument("id")
    ev.add_argument("--tenant", default=DEV_TENANT)
    ev.set_defaults(fn=cmd_event)
    st = sub.add_parser("state", help="show an agent's state for a tenant")
    st.add_argument("tenant")
    st.add_argument("agent")
    st.set_defaults(fn=cmd_state)
    rx = sub.add_parser("reindex", help="reindex a Confluence space (a Ray job); waits for it")
    rx.add_argument("--tenant", default=DEV_TENANT)
    rx.add_argument("--space", required=True)
    rx.add_argument("--source", help="the site's base URL or an export folder")
    rx.add_argument("--timeout", type=float, default=3600.0)
    rx.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    rx.set_defaults(fn=cmd_reindex)
    ask = sub.add_parser("ask", help="ask MindMesh a question")
    ask.add_argument("question")
    ask.add_argument("--tenant", default=DEV_TENANT)
    ask.add_argument("--space")
    ask.add_argument("--k", type=int, default=5)
    ask.add_argument("--principal", help="the asking person's Atlassian accountId")
    ask.set_defaults(fn=cmd_ask)
    jira = sub.add_parser("jira", help="Jira backfill (a job); waits for it")
    jira_sub = jira.add_subparsers(dest="jira_command", required=True)
    bf = jira_sub.add_parser("backfill", help="page the tenant's Jira issues into the agents")
    bf.add_argument("--tenant", default=DEV_TENANT)
    bf.add_argument("--jql", help="which issues (default: open, or changed in 90 days)")
    bf.add_argument("--resume", help="a failed job's id: go on from its last page")
    bf.add_argument("--timeout", type=float, default=3600.0)
    bf.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    bf.set_defaults(fn=cmd_jira)
    tok = sub.add_parser("token", help="print a dev-signed Forge Invocation Token")
    tok.add_argument("--tenant", required=True)
    tok.add_argument("--principal", "--account", dest="principal",
                     help="the user's Atlassian accountId (the FIT principal)")
    tok.add_argument("--ttl", type=int, default=3600)
    tok.set_defaults(fn=cmd_token)
    audit = sub.add_parser("audit", help="list, verify or anchor the audit trail")
    audit.add_argument("audit_command", choices=["list", "verify", "anchor"])
    audit.add_argument("--tenant", help="required for list and verify; anchor: all without")
    audit.add_argument("--after", type=int, default=0, help="list: entries after this number")
    audit.add_argument("--limit", type=int, default=None, help="list: at most this many")
    audit.add_argument("--checkpoint", help="verify: also against this checkpoint file")
    audit.add_argument("--out", help="anchor: the checkpoint file (default: under the data dir)")
    audit.set_defaults(fn=cmd_audit)
    phi = sub.add_parser("phi", help="per-tenant known names, always redacted")
    phi_sub = phi.add_subparsers(dest="phi_command", required=True)
    add = phi_sub.add_parser("add-names", help="register the names in FILE for a tenant")
    add.add_argument("file", help="one name a line, or a CSV with a header row (.csv)")
    add.add_argument("--tenant", required=True)
    add.add_argument("--csv", action="store_true", help="read FILE as CSV whatever its name")
    add.set_defaults(fn=cmd_phi)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
        code = args.fn(settings, args)
    except (CliError, RuntimeError, PermissionError, ValueError, KeyError, OSError) as exc:
        _out({"error": str(exc) if not isinstance(exc, KeyError) else exc.args[0]})
        code = 1
    sys.exit(code)


if __name__ == "__main__":
    main()
