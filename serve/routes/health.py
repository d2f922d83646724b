"""Health: DynamoDB and every deployment must answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from serve.context import get_ctx
from store.errors import StoreError

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> JSONResponse:
    ctx = get_ctx()
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(ctx.stores.ping(), timeout=5)
        checks["dynamodb"] = "ok"
    except (StoreError, TimeoutError) as exc:
        checks["dynamodb"] = f"error: {type(exc).__name__}"
    try:
        if ctx.orchestrator is None:
            raise LookupError("no orchestrator in this process")
        checks.update(await asyncio.wait_for(ctx.orchestrator.health.remote(), timeout=10))
    except Exception as exc:
        checks["orchestrator"] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "degraded", "checks": checks},
                        status_code=200 if ok else 503)
