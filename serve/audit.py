"""The ingress's security boundary: request ids, per-tenant rate limits, the audit trail.

Two pieces, both in this one module:

* ``admit(request, caller)`` runs right after a caller is authenticated (``serve.context
  .principal`` for Forge tokens, the Jira webhook route after its HMAC check). It records the
  verified caller on the request, tags Sentry with the tenant, and takes a token from the
  tenant's bucket: over the limit is a 429 with ``Retry-After``, before any store call.
* ``AuditMiddleware`` wraps every request. It takes ``x-request-id`` (or makes one) and returns
  it in the response. When the route had an authenticated caller, it appends an audit entry to
  the caller's tenant chain (``store.audit``) once the response status is known and before the
  response leaves: tenant, actor (the token's account id), action (from the route), resource
  (the request path, plus the event or job id the response names), request id, outcome. So no
  caller sees tenant data whose access is not recorded. If the append fails, the answer becomes
  a 503 and the failure is logged; an event already recorded is then redelivered by Forge and
  audited as a duplicate. An accepted event delivery is the exception that keeps the entry
  durable before the answer too: its entry (``deferred_entry``) is written in the same inbox
  batch as the delivery and appended to the chain by the drainer, in per-tenant blocks, so
  the trail costs one write per block instead of one per request (``defer`` tells this
  middleware). Rate-limited (429) and unauthenticated (401) requests are not written
  to the audit table: a flood of them must not become a flood of writes. They are logged.

Every route is covered without a line in its handler: a route missing from ``ACTIONS`` is
audited as ``"<method> <path template>"``. The boundary fails closed: until the replica has
installed its guard (``install_guard``), every request is answered 503 with ``Retry-After``,
never served without its limits and its audit entry.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sentry_sdk
from fastapi import Request

import metrics
from config.settings import Settings
from metrics.catalog import AUDIT_OUTCOMES
from serve.auth import Principal
from serve.errors import HttpError
from serve.ratelimit import RateLimited, TenantRateLimiter
from store.anchors import AnchorStore
from store.audit import AuditLog
from store.audit_dynamo import DynamoAuditLog

log = logging.getLogger("clinisight.audit")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REQUEST_ID_HEADER = "x-request-id"
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9._:-]")
_CALLER = "clinisight_caller"
_REQUEST_ID = "clinisight_request_id"
_DEFERRED = "clinisight_audit_deferred"
# Response bodies up to this size are read for the id of what they created (eventId, jobId).
_INSPECT_BYTES = 64 * 1024

# (method, route path) -> action. Others are audited as "<method> <path>".
ACTIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/forge/events"): "event.ingest",
    ("POST", "/v1/jira/webhooks"): "event.ingest",
    ("GET", "/v1/events/{event_id}"): "event.read",
    ("GET", "/v1/tenants/{tenant}/agents/{agent}/state"): "agent_state.read",
    ("POST", "/v1/tenants/{tenant}/ask"): "mindmesh.ask",
    ("POST", "/v1/tenants/{tenant}/reindex"): "mindmesh.reindex",
    ("GET", "/v1/tenants/{tenant}/reindex/{job_id}"): "mindmesh.reindex.read",
    ("POST", "/v1/tenants/{tenant}/phi/names"): "phi.names.add",
}
# Counts an answer may carry, recorded with the resource (the known names: how many, never
# which).
_COUNTS = ("added", "total")


def outcome_of(status: int) -> str:
    if status < 400:
        return "ok"
    return {401: "unauthenticated", 403: "denied", 404: "not_found", 409: "conflict",
            429: "rate_limited"}.get(status, "rejected" if status < 500 else "error")


@dataclass
class Guard:
    """What the boundary needs in one ingress replica."""

    limiter: TenantRateLimiter
    audit: AuditLog
    max_body_bytes: int


_guard: Guard | None = None


def install_guard(settings: Settings, client: Any) -> Guard:
    """Set up this replica's rate limiter and audit log (the ingress's ``__init__``)."""
    global _guard
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="audit")
    anchors = AnchorStore(client, settings.table("AuditAnchors"), pool)
    _guard = Guard(
        limiter=TenantRateLimiter(settings.rate_limit_per_s, settings.rate_limit_burst),
        audit=DynamoAuditLog(client, settings.table("Audit"), pool, register=anchors.register),
        max_body_bytes=settings.max_body_bytes,
    )
    metrics.zero("clinisight_audit_appends_total",
                 [{"outcome": o} for o in AUDIT_OUTCOMES])
    return _guard


def caller_of(scope: Scope) -> Principal | None:
    """The request's authenticated caller, once ``admit`` has run (else None)."""
    caller: Principal | None = scope.get("state", {}).get(_CALLER)
    return caller


def _installed() -> Guard:
    """This replica's guard. Before ``install_guard`` there is none, and the boundary fails
    closed: a request is answered 503 rather than served unlimited and unaudited."""
    if _guard is None:
        raise HttpError(503, "ingress not ready: its audit trail is not set up, retry later",
                        {"Retry-After": "5"})
    return _guard


def audit_log() -> AuditLog:
    """This replica's audit log, for entries beyond the request's own (503 before set-up)."""
    return _installed().audit


def uninstall_guard() -> None:
    """Forget this process's guard (in-process tests that build a fresh ingress)."""
    global _guard
    _guard = None


def admit(request: Request, caller: Principal, limited: bool = True) -> None:
    """The caller is authenticated: remember them for the audit, then apply their limit.

    Event deliveries pass ``limited=False``: a 429 to Forge or Jira only delays a delivery
    and multiplies it (the platform retries), and the platform caps its own rate (Forge: 5,000
    invocations a minute per installation). Fairness between tenants is applied where the
    work is, in processing (``serve.drainer``), not at the door."""
    state = request.scope.setdefault("state", {})
    state[_CALLER] = caller
    sentry_sdk.get_isolation_scope().set_tag("tenant", caller.tenant)
    guard = _installed()
    if not limited:
        return
    try:
        guard.limiter.take(caller.tenant)
    except RateLimited as exc:
        log.warning("rate limited tenant=%s request=%s path=%s", caller.tenant,
                    state.get(_REQUEST_ID), request.url.path)
        raise HttpError(429, str(exc), {"Retry-After": str(exc.retry_after_s)}) from None


def deferred_entry(request: Request, caller: Principal, resource: str,
                   status: int) -> dict[str, Any]:
    """The audit entry of a request whose answer will be ``status``, to be stored with what the
    request writes (an event delivery's entry rides in its inbox item, and the drainer appends
    it to the chain in a block). ``defer`` then tells the middleware it is taken care of."""
    template = getattr(request.scope.get("route"), "path", None) or request.url.path
    method = request.method
    return {"at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "actor": caller.account,
            "action": ACTIONS.get((method, template), f"{method} {template}"),
            "resource": resource, "requestId": str(request.scope.get("state", {})
                                                   .get(_REQUEST_ID, "")),
            "outcome": outcome_of(status), "status": status}


def defer(request: Request, status: int) -> None:
    """The request's audit entry is stored already (``deferred_entry``) for an answer of
    ``status``; any other answer is still audited by the middleware."""
    request.scope.setdefault("state", {})[_DEFERRED] = status


def _request_id(scope: Scope) -> tuple[str, bool]:
    """(the request's id, whether the caller sent one). A sent id is kept (made safe for the
    audit table: at most 128 characters of ``A-Za-z0-9._:-``); otherwise one is made."""
    for name, value in scope.get("headers") or []:
        if name == b"x-request-id":
            text = _UNSAFE_ID_CHARS.sub("_", value.decode("latin-1"))[:128]
            return (text, True) if text else (uuid.uuid4().hex, False)
    return uuid.uuid4().hex, False


def _resource(scope: Scope, body: bytes | None) -> str:
    resource = str(scope.get("path", ""))
    if body and len(body) <= _INSPECT_BYTES:
        try:
            answer = json.loads(body)
        except ValueError:
            return resource
        if isinstance(answer, dict):
            for key in ("eventId", "jobId"):
                value = answer.get(key)
                if isinstance(value, str) and value not in resource:
                    return f"{resource}#{key}={value}"
            counts = [f"{k}={answer[k]}" for k in _COUNTS if type(answer.get(k)) is int]
            if counts:
                return f"{resource}#{'&'.join(counts)}"
    return resource


class AuditMiddleware:
    """Request ids on every request; an audit entry for every authenticated one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Ray Serve's proxy puts an x-request-id on every request it forwards (the caller's or
        # its own) and returns it on the response; we use the same id and add the header only
        # when no proxy did (tests, another server), so a response never carries two.
        request_id, sent = _request_id(scope)
        scope.setdefault("state", {})[_REQUEST_ID] = request_id
        guard = _guard
        if guard is None:
            # Fail closed: no route runs without its rate limit, body limit and audit trail.
            await self._unavailable(send, None if sent else request_id)
            return
        if _declared_size(scope) > guard.max_body_bytes:
            # Every route, not only event intake: no body over the limit is read at all.
            await _reply(send, 413, f"body exceeds the limit of {guard.max_body_bytes} bytes",
                         None if sent else request_id)
            return
        held: Message | None = None
        replaced = False

        async def send_wrapper(message: Message) -> None:
            nonlocal held, replaced
            if replaced:
                return  # the audit failed: the handler's answer is withheld
            if message["type"] == "http.response.start":
                if not sent:
                    message["headers"] = [*message.get("headers", []),
                                          (REQUEST_ID_HEADER.encode(), request_id.encode())]
                held = message  # until the audit entry is written
                return
            if message["type"] == "http.response.body" and held is not None:
                start, held = held, None
                body = message.get("body", b"") if not message.get("more_body") else None
                try:
                    await self._record(scope, int(start["status"]), request_id, body)
                except Exception:
                    replaced = True
                    await self._unavailable(send, None if sent else request_id)
                    return
                await send(start)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            if held is None and not replaced:
                # Unhandled: Starlette's error middleware (outside this one) answers 500.
                try:
                    await self._record(scope, 500, request_id, None)
                except Exception:
                    log.error("audit append failed for request %s", request_id)
            raise

    async def _record(self, scope: Scope, status: int, request_id: str,
                      body: bytes | None) -> None:
        state = scope.get("state", {})
        caller: Principal | None = state.get(_CALLER)
        if caller is None or status == 429 or state.get(_DEFERRED) == status:
            return
        guard = _installed()
        route = scope.get("route")
        template = getattr(route, "path", None) or str(scope.get("path", ""))
        method = str(scope.get("method", "GET"))
        action = ACTIONS.get((method, template), f"{method} {template}")
        try:
            await guard.audit.append(
                caller.tenant, actor=caller.account, action=action,
                resource=_resource(scope, body), request_id=request_id,
                outcome=outcome_of(status), status=status,
            )
        except Exception as exc:
            log.error("audit append failed: tenant=%s action=%s request=%s (%s)",
                      caller.tenant, action, request_id, type(exc).__name__)
            raise

    @staticmethod
    async def _unavailable(send: Send, request_id: str | None) -> None:
        await _reply(send, 503, "audit trail unavailable, retry later", request_id,
                     [(b"retry-after", b"5")])


def _declared_size(scope: Scope) -> int:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


async def _reply(send: Send, status: int, detail: str, request_id: str | None,
                 headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """A JSON error answer; ``request_id`` is added as a header unless None."""
    body = json.dumps({"detail": detail}).encode()
    extra = [(REQUEST_ID_HEADER.encode(), request_id.encode())] if request_id else []
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *extra,
        *(headers or []),
    ]})
    await send({"type": "http.response.body", "body": body})
