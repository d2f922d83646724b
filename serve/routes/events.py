"""Event intake: Forge product events and classic Jira webhooks; event status.

Accept = verify the caller (the token, or the HMAC on the raw bytes), parse and validate the
body once, normalise it into the ``AgentEvent`` the agents read and route it, then hand it to
this process's group commit (``serve.group_commit``) and answer 202 once its batch is durable
in the inbox. The drainer (``serve.drainer``) moves it into the event log and the audit trail;
nothing downstream parses the delivery again. The same delivery again answers 200 with the
first one's status.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from ray.serve.handle import DeploymentHandle

import metrics
from serve.audit import defer, deferred_entry
from serve.auth import Principal, verify_jira_signature
from serve.context import Caller, IngressContext, admitted, get_ctx
from serve.errors import HttpError, parse_json, validate
from serve.routes import jira
from serve.routes.common import FORGE_TOKEN_HEADER, read_body
from serve.routing import route
from serve.wire import (
    ForgeEventIn,
    JiraWebhookIn,
    event_id_for,
    kind_of,
    to_agent_event,
)
from store.events import EventStatus
from store.inbox import MAX_EVENT_BYTES, InboxItem, encoded_size

log = logging.getLogger("clinisight.ingress")
router = APIRouter(tags=["events"])


async def accept(
    request: Request, ctx: IngressContext, caller: Principal, source: str, event_type: str,
    payload: dict[str, Any], parsed: ForgeEventIn | JiraWebhookIn, header_id: str | None,
) -> JSONResponse:
    tenant = caller.tenant
    event_id = event_id_for(payload, header_id)
    kind = kind_of(source, event_type)
    event: dict[str, Any] | None = None
    agents: list[str] = []
    if kind:
        fields = await ctx.fields.get(tenant) if kind.startswith("issue_") else None
        normalised = to_agent_event(tenant, event_id, source, kind, parsed, fields)
        agents = route(normalised)
        event = normalised.model_dump(mode="json") if agents else None
    status = EventStatus.ACCEPTED if agents else EventStatus.IGNORED
    item = InboxItem(
        tenant=tenant, event_id=event_id, source=source, event_type=event_type,
        status=status.value, accepted_at=int(time.time() * 1000), agents=agents, event=event,
        audit=deferred_entry(request, caller, f"{request.url.path}#eventId={event_id}", 202),
    )
    if encoded_size(item) > MAX_EVENT_BYTES:
        answer, created = await _record_directly(ctx, item)
    else:
        committed = await ctx.intake.submit(item)
        answer, created = committed.status, committed.created
        if created:
            defer(request, 202)  # its audit entry is durable with it; the drainer appends it
    # Debug, not info, for what is routed: under a burst one log record per delivery cost a
    # third of the ingress event loop's time (py-spy, benchmarks/reports/intake.md); the counter
    # below and the audit trail keep the record. A new event of a type nothing handles is
    # logged at info: rare, and what an operator looks for when an event "did nothing".
    level = logging.INFO if created and status is EventStatus.IGNORED else logging.DEBUG
    log.log(level, "event %s tenant=%s type=%s status=%s new=%s",
            event_id, tenant, event_type, answer, created)
    metrics.inc("clinisight_events_total", tenant=tenant, source=source,
                status=("duplicate" if not created else
                        "ignored" if status is EventStatus.IGNORED else "accepted"))
    return JSONResponse({"eventId": event_id, "status": answer, "duplicate": not created},
                        status_code=202 if created else 200)


async def _record_directly(ctx: IngressContext, item: InboxItem) -> tuple[str, bool]:
    """A delivery too large for an inbox item: into the event log at once (its parts split
    by ``store.blob``), audited by the middleware, processed on a push or the re-drive."""
    record, created = await ctx.stores.events.record(
        item.tenant, item.event_id, item.source, item.event_type, item.event or {},
        EventStatus(item.status), item.agents, item.accepted_at)
    orchestrator = ctx.orchestrator if ctx.settings.dispatch_on_accept else None
    if created and item.agents and orchestrator is not None:
        ctx.spawn(_dispatch(orchestrator, item.tenant, item.event_id))
    return record.status.value, created


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
    caller = await admitted(request, await ctx.fit.verify(request.headers.get("authorization")),
                            limited=False)
    payload = parse_json(await read_body(request, ctx.settings.max_body_bytes))
    parsed = validate(ForgeEventIn, payload)
    if parsed.eventType == jira.INSTALLED:  # the app's first day on the site: backfill it
        event_id = event_id_for(payload, request.headers.get("x-atlassian-webhook-identifier"))
        return await jira.on_installed(caller, event_id, payload,
                                       request.headers.get(FORGE_TOKEN_HEADER))
    return await accept(request, ctx, caller, "forge", parsed.eventType, payload, parsed,
                        request.headers.get("x-atlassian-webhook-identifier"))


@router.post("/v1/jira/webhooks", status_code=202)
async def jira_webhook(request: Request, tenant: str | None = None) -> JSONResponse:
    """A classic Jira Cloud webhook, signed with the tenant's secret (X-Hub-Signature)."""
    ctx = get_ctx()
    body = await read_body(request, ctx.settings.max_body_bytes)
    caller = verify_jira_signature(
        body, request.headers.get("x-hub-signature"), tenant, ctx.jira_secrets
    )
    # Audit actor and known names as for a Forge token; no rate limit on deliveries.
    await admitted(request, caller, limited=False)
    payload = parse_json(body)
    parsed = validate(JiraWebhookIn, payload)
    return await accept(request, ctx, caller, "jira", parsed.webhookEvent, payload, parsed,
                        request.headers.get("x-atlassian-webhook-identifier"))


@router.get("/v1/events/{event_id}")
async def get_event(event_id: str, caller: Caller) -> dict[str, Any]:
    stores = get_ctx().stores
    record = await stores.events.get(caller.tenant, event_id)
    if record is not None:
        return record.public()
    waiting = await stores.inbox.get(caller.tenant, event_id)  # acknowledged, not drained
    if waiting is not None:
        return waiting.public()
    # Drained in between: the drainer puts into the log before it removes from the inbox.
    record = await stores.events.get(caller.tenant, event_id)
    if record is not None:
        return record.public()
    raise HttpError(404, f"no event {event_id!r} for tenant {caller.tenant!r}")
