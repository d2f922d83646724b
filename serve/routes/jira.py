"""Jira backfill and reconciliation: start a backfill, read its progress, sweep a tenant now;
and the Forge install event, which starts the tenant's first backfill.

The jobs run in the ``JiraSync`` deployment (``serve.jira_sync``); an ingress without one (tests,
tools) runs them in its own process with the agents in-process, as ``dispatch`` does.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from serve.auth import Principal
from serve.context import Caller, IngressContext, get_ctx, require_tenant
from serve.errors import HttpError, unwrapped
from serve.jira_sync import JiraSync, in_process_apply
from serve.routes.common import FORGE_TOKEN_HEADER
from store.events import EventStatus

router = APIRouter(tags=["jira"])

INSTALLED = "avi:forge:installed:app"
# This process's own runner and the context it was made for (held, so never mistaken for a
# later context that happens to get the same id).
_local: list[tuple[IngressContext, JiraSync]] = []


class BackfillIn(BaseModel):
    """``POST /v1/tenants/{tenant}/jira/backfill``."""

    model_config = ConfigDict(extra="forbid")

    jql: str | None = Field(None, min_length=1, max_length=2000,
                            description="which issues; default: open or changed in 90 days")
    resume: str | None = Field(None, pattern=r"^jb-[0-9a-f]{12}$",
                               description="a failed job's id: go on from its last page")

    @model_validator(mode="after")
    def _one_or_other(self) -> BackfillIn:
        if self.jql is not None and self.resume is not None:
            raise ValueError("give jql or resume, not both: a resumed job keeps its own query")
        return self


def local_sync(ctx: IngressContext) -> JiraSync:
    """This process's own runner, for an ingress without the deployment."""
    if not _local or _local[0][0] is not ctx:
        _local[:] = [(ctx, JiraSync(ctx.settings, ctx.stores,
                                    in_process_apply(ctx.settings, ctx.stores)))]
    return _local[0][1]


async def _call(method: str, *args: Any) -> Any:
    ctx = get_ctx()
    handle = ctx.handles.get("JiraSync")
    if handle is None:
        return await getattr(local_sync(ctx), method)(*args)
    return await unwrapped(getattr(handle, method).remote(*args))


@router.post("/v1/tenants/{tenant}/jira/backfill", status_code=202)
async def start_backfill(tenant: str, body: BackfillIn, caller: Caller,
                         request: Request) -> JSONResponse:
    """Page the tenant's Jira into the agents; answers the job at once (progress: GET …/{job})."""
    require_tenant(tenant, caller)
    progress = await _call("start_backfill", tenant, body.jql,
                           request.headers.get(FORGE_TOKEN_HEADER), body.resume)
    return JSONResponse(progress, status_code=202)


@router.get("/v1/tenants/{tenant}/jira/backfill/{job_id}")
async def backfill_progress(tenant: str, job_id: str, caller: Caller) -> dict[str, Any]:
    """Pages, issues seen, applied and failed, throttling waited out, the resume cursor."""
    require_tenant(tenant, caller)
    progress = await _call("progress", tenant, job_id)
    if progress is None:
        raise HttpError(404, f"no Jira job {job_id!r} for tenant {tenant!r}")
    return dict(progress)


@router.post("/v1/tenants/{tenant}/jira/reconcile")
async def reconcile_now(tenant: str, caller: Caller) -> dict[str, Any]:
    """Run the tenant's reconciliation sweep now and answer what it applied."""
    require_tenant(tenant, caller)
    return dict(await _call("reconcile", tenant))


async def on_installed(caller: Principal, event_id: str, payload: dict[str, Any],
                       forge_token: str | None) -> JSONResponse:
    """The app was installed on a site: backfill it, once per delivery id (Forge retries)."""
    ctx = get_ctx()
    known = await ctx.stores.events.get(caller.tenant, event_id)
    if known is not None:
        return JSONResponse({"eventId": event_id, "status": known.status.value,
                             "duplicate": True})
    # Started before the event is recorded: a failure here answers 5xx and Forge retries; a
    # failure after it leaves a backfill running and the retry starts another, which is
    # harmless (a backfill applies each issue's current state).
    progress = await _call("start_backfill", caller.tenant, None, forge_token, None)
    record, created = await ctx.stores.events.record(
        caller.tenant, event_id, "forge", INSTALLED, payload, EventStatus.DONE)
    return JSONResponse({"eventId": event_id, "status": record.status.value,
                         "duplicate": not created, "backfill": progress["jobId"]},
                        status_code=202 if created else 200)
