"""Agents, per tenant: their state, running them on demand, approving TaskSmith proposals.

``POST /v1/tenants/{t}/agents/{agent}/run`` has one path per agent so that each input model
appears in the OpenAPI schema; the run goes to the agent's deployment as an event of kind
``run`` and answers with the agent's result. The approval runs here in the ingress: it is the
caller's Jira token (``x-forge-oauth-system``) that writes to Jira, and it goes no further than
the process that received it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from agents.caretrack_models import CareTrackIn, CareTrackReport
from agents.dealflow_models import DealFlowIn, DealFlowPlan
from agents.events import AgentEvent, IssueSnapshot
from agents.jira_client import JiraClient
from agents.registry import AGENTS
from agents.roadmapsmith_models import Roadmap, RoadmapIn
from agents.tasksmith_models import EpicIn
from agents.tasksmith_writeback import ApprovalResult, WriteBack
from serve import audit as boundary
from serve.auth import Principal
from serve.context import Caller, get_ctx, require_tenant
from serve.errors import HttpError
from serve.routes.common import FORGE_TOKEN_HEADER, dispatch, jira_credentials

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


async def _run(tenant: str, agent: str, caller: Caller, body: BaseModel) -> JSONResponse:
    require_tenant(tenant, caller)
    event = AgentEvent(tenant=tenant, event_id=f"run-{agent}", kind="run", source="api",
                       input=body.model_dump(mode="json", by_alias=True))
    return JSONResponse(await dispatch(agent, event))


@router.post("/v1/tenants/{tenant}/agents/CareTrack/run",
             responses={200: {"model": CareTrackReport}})
async def run_caretrack(tenant: str, body: CareTrackIn, caller: Caller) -> JSONResponse:
    """Configure CareTrack's rules, add issues to track, and evaluate every rule now."""
    return await _run(tenant, "CareTrack", caller, body)


@router.post("/v1/tenants/{tenant}/agents/DealFlow/run",
             responses={200: {"model": DealFlowPlan}})
async def run_dealflow(tenant: str, body: DealFlowIn, caller: Caller) -> JSONResponse:
    """Allocate the backlog to the roster by skills, capacity and priority."""
    return await _run(tenant, "DealFlow", caller, body)


@router.post("/v1/tenants/{tenant}/agents/RoadmapSmith/run",
             responses={200: {"model": Roadmap},
                        422: {"description": "The dependencies form a cycle (named)."}})
async def run_roadmapsmith(tenant: str, body: RoadmapIn, caller: Caller) -> JSONResponse:
    """Turn epics, their "blocks" links and capacity into a dated roadmap."""
    return await _run(tenant, "RoadmapSmith", caller, body)


@router.post("/v1/tenants/{tenant}/agents/TaskSmith/run")
async def run_tasksmith(tenant: str, body: EpicIn, caller: Caller) -> JSONResponse:
    """Propose subtasks for an epic, as if it had arrived by event."""
    require_tenant(tenant, caller)
    issue = IssueSnapshot(id=body.id, key=body.key, summary=body.summary,
                          description=body.description, issue_type="Epic", is_epic=True,
                          labels=body.labels, components=body.components,
                          priority=body.priority, project_key=body.project_key)
    event = AgentEvent(tenant=tenant, event_id=f"run-TaskSmith-{body.key}",
                       kind="issue_updated", source="api", issue=issue)
    return JSONResponse(await dispatch("TaskSmith", event))


@router.post("/v1/tenants/{tenant}/agents/{agent}/run")
async def run_unknown(tenant: str, agent: str, caller: Caller) -> None:
    require_tenant(tenant, caller)
    known_agent(agent)
    raise HttpError(404, f"{agent} has no run endpoint")


def _audit_created(request: Request, caller: Principal) -> Callable[[str, str],
                                                                    Awaitable[None]]:
    """Each created Jira key as its own audit entry (the request's own entry says "approve")."""
    request_id = str(request.scope.get("state", {}).get("clinisight_request_id", ""))

    async def record(proposal_id: str, key: str) -> None:
        await boundary.audit_log().append(
            caller.tenant, actor=caller.account, action="jira.create_issue",
            resource=f"jira:{key}#proposal={proposal_id}", request_id=request_id,
            outcome="ok", status=201)
    return record


@router.post("/v1/tenants/{tenant}/agents/TaskSmith/proposals/{proposal_id}/approve",
             responses={200: {"model": ApprovalResult},
                        502: {"model": ApprovalResult,
                              "description": "Some subtasks could not be created yet; "
                                             "approve again to create only the rest."}})
async def approve_proposal(tenant: str, proposal_id: str, request: Request,
                           caller: Caller) -> JSONResponse:
    """Create the proposal's subtasks in Jira under the epic. Safe to repeat."""
    require_tenant(tenant, caller)
    settings = get_ctx().settings
    creds = jira_credentials(settings, tenant, request.headers.get(FORGE_TOKEN_HEADER))
    writeback = WriteBack(get_ctx().stores.state, settings.jira_child_issue_type,
                          on_created=_audit_created(request, caller))
    async with JiraClient(creds, timeout_s=settings.jira_timeout_s,
                          max_retries=settings.jira_max_retries) as jira:
        result = await writeback.approve(tenant, proposal_id, caller.account, jira)
    return JSONResponse(result.model_dump(mode="json", by_alias=True),
                        status_code=200 if result.status == "approved" else 502)
