"""MindMesh: ask the tenant's Confluence, and reindex a space (a batch Ray job)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from agents.mindmesh_models import AskIn
from embeddings.egress import SourceRefused
from serve import sources
from serve.context import Caller, get_ctx, require_tenant, require_user
from serve.errors import HttpError

router = APIRouter(tags=["mindmesh"])


class ReindexIn(BaseModel):
    """``POST /v1/tenants/{tenant}/reindex``."""

    space: str = Field(pattern=r"^~?[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$",
                       description="the Confluence space key")
    source: str | None = Field(
        None, max_length=2048,
        description="dev mode only: a loopback Confluence URL or an export folder under the "
        "export root. Elsewhere the tenant's own site is used (serve.sources)",
    )


@router.post("/v1/tenants/{tenant}/ask")
async def ask(tenant: str, body: AskIn, caller: Caller, request: Request) -> dict[str, Any]:
    """Ranked passages from the pages the caller may read in Confluence, and an answer citing
    only them; 403 when the token names no user."""
    require_tenant(tenant, caller)
    user = require_user(caller)
    result: dict[str, Any] = await get_ctx().handles["MindMesh"].ask.remote(
        tenant, body.model_dump(mode="json"), user, request.headers.get("x-forge-oauth-system")
    )
    return result


@router.post("/v1/tenants/{tenant}/reindex", status_code=202)
async def start_reindex(tenant: str, body: ReindexIn, caller: Caller,
                        request: Request) -> JSONResponse:
    """Start reindexing a space; answers the job id at once, progress at GET …/reindex/{job}."""
    require_tenant(tenant, caller)
    ctx = get_ctx()
    system_token = request.headers.get("x-forge-oauth-system")
    try:
        source = sources.choose(ctx.settings, caller, body.source, system_token)
    except SourceRefused as exc:
        raise HttpError(422, f"invalid source: {exc}") from None
    try:
        progress = await ctx.handles["MindMesh"].start_reindex.remote(
            tenant, body.space, source, system_token
        )
    except ValueError as exc:
        raise HttpError(422, str(exc)) from None
    return JSONResponse(progress, status_code=202)


@router.get("/v1/tenants/{tenant}/reindex/{job_id}")
async def reindex_progress(tenant: str, job_id: str, caller: Caller) -> dict[str, Any]:
    """Pages seen, embedded, skipped, failed and removed so far, and the job's status."""
    require_tenant(tenant, caller)
    progress = await get_ctx().handles["MindMesh"].reindex_progress.remote(tenant, job_id)
    if progress is None:
        raise HttpError(404, f"no reindex job {job_id!r} for tenant {tenant!r}")
    return dict(progress)
