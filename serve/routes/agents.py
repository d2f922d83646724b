"""Agent state, per tenant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from agents.registry import AGENTS
from serve.context import Caller, get_ctx, require_tenant
from serve.errors import HttpError

router = APIRouter(tags=["agents"])


def known_agent(agent: str) -> None:
    if agent not in AGENTS:
        raise HttpError(404, f"unknown agent {agent!r}; known: {', '.join(sorted(AGENTS))}")


@router.get("/v1/tenants/{tenant}/agents/{agent}/state")
async def get_state(tenant: str, agent: str,
                    caller: Caller) -> dict[str, Any]:
    require_tenant(tenant, caller)
    known_agent(agent)
    record = await get_ctx().stores.state.get(tenant, agent)
    if record is None:
        return {"tenant": tenant, "agent": agent, "version": 0, "updatedAt": None, "data": {}}
    return {
        "tenant": tenant,
        "agent": agent,
        "version": record.version,
        "updatedAt": record.updated_at,
        "data": record.data,
    }
