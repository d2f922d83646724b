"""Event intake: Forge product events and classic Jira webhooks; event status.

Accept = verify the caller, validate, write the event to the event log, then answer 202; the
orchestrator processes it in the background. The same delivery again answers 200 with the
first one's status.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from ray.serve.handle import DeploymentHandle

from serve.auth import Principal, verify_jira_signature
from serve.context import Caller, IngressContext, admitted, get_ctx, principal
from serve.errors import HttpError, parse_json, validate
from serve.routing import route
from serve.wire import ForgeEventIn, JiraWebhookIn, event_id_for, kind_of, to_agent_event
from store.events import EventStatus

log = logging.getLogger("clinisight.ingress")
router = APIRouter(tags=["events"])


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


async def accept(
    ctx: IngressContext, caller: Principal, source: str, event_type: str,
    payload: dict[str, Any], header_id: str | None,
) -> JSONResponse:
    tenant = caller.tenant
    event_id = event_id_for(payload, header_id)
    kind = kind_of(source, event_type)
    agents = route(to_agent_event(tenant, event_id, source, kind, payload)) if kind else []
    status = EventStatus.ACCEPTED if agents else EventStatus.IGNORED
    record, created = await ctx.stores.events.record(
        tenant, event_id, source, event_type, payload, status
    )
    orchestrator = ctx.orchestrator if ctx.settings.dispatch_on_accept else None
    if created and status is EventStatus.ACCEPTED and orchestrator is not None:
        ctx.spawn(_dispatch(orchestrator, tenant, event_id))
    log.info("event %s tenant=%s type=%s status=%s new=%s",
             event_id, tenant, event_type, record.status.value, created)
    return JSONResponse(
        {"eventId": event_id, "status": record.status.value, "duplicate": not created},
        status_code=202 if created else 200,
    )


async def _dispatch(orchestrator: DeploymentHandle, tenant: str, event_id: str) -> None:
    try:
        await orchestrator.process.remote(tenant, event_id)
    except Exception as exc:  # the event stays unfinished; re-drive picks it up
        log.warning("dispatch of %s failed (%s); left for re-drive", event_id,
                    type(exc).__name__)


@router.post("/v1/forge/events", status_code=202)
async def forge_event(request: Request) -> JSONResponse:
    """A Forge Remote product event, authenticated by its Forge Invocation Token."""
    ctx = get_ctx()
    caller = await principal(request)
    payload = parse_json(await read_body(request, ctx.settings.max_body_bytes))
    parsed = validate(ForgeEventIn, payload)
    return await accept(ctx, caller, "forge", parsed.eventType, payload,
                        request.headers.get("x-atlassian-webhook-identifier"))


@router.post("/v1/jira/webhooks", status_code=202)
async def jira_webhook(request: Request, tenant: str | None = None) -> JSONResponse:
    """A classic Jira Cloud webhook, signed with the tenant's secret (X-Hub-Signature)."""
    ctx = get_ctx()
    body = await read_body(request, ctx.settings.max_body_bytes)
    caller = verify_jira_signature(
        body, request.headers.get("x-hub-signature"), tenant, ctx.jira_secrets
    )
    await admitted(request, caller)  # audit actor, rate limit, known names: as for a Forge token
    payload = parse_json(body)
    parsed = validate(JiraWebhookIn, payload)
    return await accept(ctx, caller, "jira", parsed.webhookEvent, payload,
                        request.headers.get("x-atlassian-webhook-identifier"))


@router.get("/v1/events/{event_id}")
async def get_event(event_id: str, caller: Caller) -> dict[str, Any]:
    record = await get_ctx().stores.events.get(caller.tenant, event_id)
    if record is None:
        raise HttpError(404, f"no event {event_id!r} for tenant {caller.tenant!r}")
    return record.public()
