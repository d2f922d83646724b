"""What route handlers need, set once per ingress replica and reached through ``Depends``.

Ray Serve runs each replica in its own process, so one module-level context per process is
exactly one per replica. Route modules stay plain FastAPI routers that can be read (and tested)
on their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from ray.serve.handle import DeploymentHandle

from agents.jira_fields import FieldCache
from compliance.known_names import set_known_names
from config.settings import Settings
from serve.audit import admit
from serve.auth import FitVerifier, Principal
from serve.errors import HttpError
from serve.group_commit import GroupCommit
from store.factory import Stores


@dataclass
class IngressContext:
    settings: Settings
    stores: Stores
    fit: FitVerifier
    jira_secrets: dict[str, str]
    orchestrator: DeploymentHandle | None  # None only outside Serve (the intake ceiling)
    handles: dict[str, DeploymentHandle] = field(default_factory=dict)
    inflight: set[asyncio.Task[Any]] = field(default_factory=set)
    _intake: GroupCommit | None = None
    _fields: FieldCache | None = None

    @property
    def intake(self) -> GroupCommit:
        """This process's group commit into the inbox (made on first use)."""
        if self._intake is None:
            s = self.settings
            self._intake = GroupCommit(self.stores.inbox, self.stores.events.statuses,
                                       s.intake_batch_max, s.intake_batch_wait_ms / 1000,
                                       s.intake_flushes_in_flight)
        return self._intake

    @property
    def fields(self) -> FieldCache:
        """Where each tenant's site keeps story points, epic link, …, remembered a minute:
        normalising a delivery needs it, and it is read once a minute, not per event."""
        if self._fields is None:
            s = self.settings
            self._fields = FieldCache(self.stores.state, s.jira_fields,
                                      s.jira_fields_refresh_s, memo_s=60.0)
        return self._fields

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)


_current: IngressContext | None = None


def set_context(ctx: IngressContext) -> None:
    global _current
    _current = ctx


def get_ctx() -> IngressContext:
    if _current is None:  # pragma: no cover - the ingress sets it before serving
        raise RuntimeError("ingress context not initialised")
    return _current


async def principal(request: Request) -> Principal:
    """The caller, from the Forge Invocation Token (401 if missing or bad); then admitted:
    recorded for the audit trail and held to the tenant's rate limit (429)."""
    caller = await get_ctx().fit.verify(request.headers.get("authorization"))
    return await admitted(request, caller)


async def admitted(request: Request, caller: Principal, limited: bool = True) -> Principal:
    """``admit`` an authenticated caller, then make their tenant's known names current for the
    rest of the request: its log lines, error reports and audit entry are redacted with them.
    Set, not scoped: the request has a task of its own, and what runs after the handler (the
    audit middleware, Sentry's outermost middleware) must still see them."""
    admit(request, caller, limited)
    set_known_names(await get_ctx().stores.names.matcher(caller.tenant))
    return caller


Caller = Annotated[Principal, Depends(principal)]


def require_tenant(path_tenant: str, caller: Principal) -> None:
    if path_tenant != caller.tenant:
        raise HttpError(403, "the token's tenant may not read another tenant's data")


def require_user(caller: Principal) -> str:
    """The asking person's accountId; 403 for a token that names none (MindMesh answers a
    person from the pages that person may read, so an app or anonymous call reads nothing)."""
    if caller.user is None:
        raise HttpError(403, "this token names no user (FIT principal): MindMesh answers a "
                             "person from the Confluence pages that person may read")
    return caller.user
