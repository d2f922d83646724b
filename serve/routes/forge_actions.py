"""Rovo agent actions (forge-app/manifest.yml ``action:``), reached through Forge Remote.

A Forge Remote endpoint has a fixed path, so the tenant comes from the Forge Invocation Token
alone. Rovo sends the action's inputs in the body; they are read from ``payload`` when nested
there and from the top level otherwise.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from agents.events import AgentEvent
from agents.jira_client import JiraClient
from serve.context import Caller, get_ctx, require_user
from serve.errors import HttpError, parse_json, validate
from serve.routes.common import FORGE_TOKEN_HEADER, dispatch, jira_credentials, read_body
from serve.wire import IssueIn, snapshot

router = APIRouter(tags=["rovo"])

_EPIC_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}-[1-9][0-9]{0,9}$")
_EPIC_FIELDS = ["summary", "description", "labels", "components", "priority", "issuetype",
                "project", "status"]


class _Inputs(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AskMindMeshIn(_Inputs):
    question: str = Field(min_length=1, max_length=2000)
    space: str | None = Field(None, max_length=255)


class DecomposeEpicIn(_Inputs):
    epic_key: str = Field(alias="epicKey", pattern=_EPIC_KEY.pattern)


class ShowRoadmapIn(_Inputs):
    project_key: str | None = Field(None, alias="projectKey", max_length=50)


async def _inputs(request: Request) -> dict[str, Any]:
    body = parse_json(await read_body(request, get_ctx().settings.max_body_bytes))
    nested = body.get("payload")
    return nested if isinstance(nested, dict) else body


@router.post("/v1/forge/actions/ask-mindmesh")
async def ask_mindmesh(request: Request, caller: Caller) -> dict[str, Any]:
    """Answer from the site's indexed Confluence, citing pages (title and link)."""
    user = require_user(caller)  # the Rovo user: answered from the pages they may read
    inputs = validate(AskMindMeshIn, await _inputs(request))
    body = {"question": inputs.question, "k": 5}
    if inputs.space:
        body["space"] = inputs.space
    out: dict[str, Any] = await get_ctx().handles["MindMesh"].ask.remote(
        caller.tenant, body, user, request.headers.get("x-forge-oauth-system"))
    return {
        "answer": out["answer"],
        "sources": [{"n": i + 1, "title": p["title"], "url": p["url"], "pageId": p["pageId"]}
                    for i, p in enumerate(out["passages"])],
    }


@router.post("/v1/forge/actions/decompose-epic")
async def decompose_epic(request: Request, caller: Caller) -> dict[str, Any]:
    """Fetch the epic from Jira and ask TaskSmith for a proposal (approved in the issue panel)."""
    inputs = validate(DecomposeEpicIn, await _inputs(request))
    settings = get_ctx().settings
    creds = jira_credentials(settings, caller.tenant, request.headers.get(FORGE_TOKEN_HEADER))
    async with JiraClient(creds, timeout_s=settings.jira_timeout_s,
                          max_retries=settings.jira_max_retries) as jira:
        found = await jira.search(f'key = "{inputs.epic_key}"', fields=_EPIC_FIELDS, limit=1)
    if not found:
        raise HttpError(404, f"no Jira issue {inputs.epic_key} visible to this app")
    issue = snapshot(validate(IssueIn, found[0]))
    issue = issue.model_copy(update={"is_epic": True})
    event = AgentEvent(tenant=caller.tenant, event_id=f"rovo-{inputs.epic_key}",
                       kind="issue_updated", source="rovo", issue=issue)
    result = await dispatch("TaskSmith", event)
    return {**result, "next": "Approve the proposal in the Clinisight panel on the epic."}


@router.post("/v1/forge/actions/show-roadmap")
async def show_roadmap(request: Request, caller: Caller) -> dict[str, Any]:
    """RoadmapSmith's latest plan for the site (critical path, milestones, risks)."""
    inputs = validate(ShowRoadmapIn, await _inputs(request))
    record = await get_ctx().stores.state.get(caller.tenant, "RoadmapSmith")
    roadmap = (record.data if record else {}).get("roadmap")
    if not roadmap:
        raise HttpError(404, "no roadmap yet: RoadmapSmith plans once epics with links arrive "
                             "or after POST …/agents/RoadmapSmith/run")
    if inputs.project_key:
        # The plan is computed over every epic (dependencies cross projects); the answer is
        # narrowed to the project's epics, the critical path kept whole for context.
        prefix = f"{inputs.project_key}-"
        roadmap = {**roadmap, "epics": [e for e in roadmap.get("epics", [])
                                        if str(e.get("key", "")).startswith(prefix)]}
    return {"projectKey": inputs.project_key, "roadmap": roadmap}
