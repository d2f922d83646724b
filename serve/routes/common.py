"""What several route modules share: reading a bounded body, the Forge token header, the
caller's Jira credentials, and running an event on an agent's deployment."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from agents.events import AgentEvent
from agents.jira_client import JiraCredentials
from agents.registry import make_agent
from config.settings import Settings
from serve.context import get_ctx
from serve.errors import HttpError, unwrapped
from serve.jira_sync import credentials_for

FORGE_TOKEN_HEADER = "x-forge-oauth-system"


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit``.

    A declared ``content-length`` over the limit is refused before any route runs (by
    ``serve.audit.AuditMiddleware``); this catches bodies that declare none (chunked).
    """
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HttpError(413, f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def dispatch(agent: str, event: AgentEvent) -> dict[str, Any]:
    """Run ``event`` on the agent's deployment; domain errors come back as themselves."""
    ctx = get_ctx()
    handle = ctx.handles.get(agent)
    if handle is None:
        # A process without agent deployments (tests, tools) runs the agent in-process.
        return await make_agent(agent, ctx.settings, ctx.stores.state).handle_event(event)
    return dict(await unwrapped(handle.handle_event.remote(event.model_dump(mode="json"))))


def jira_credentials(settings: Settings, tenant: str, forge_token: str | None) -> JiraCredentials:
    """The caller's Forge system token if sent, else the configured API token (if it may)."""
    creds = credentials_for(settings, tenant, forge_token)
    if creds is not None:
        return creds
    raise HttpError(400, f"no Jira credentials: send {FORGE_TOKEN_HEADER} (Forge Remote) or "
                         "configure CLINISIGHT_JIRA_BASE_URL, _JIRA_EMAIL and _JIRA_API_TOKEN")
