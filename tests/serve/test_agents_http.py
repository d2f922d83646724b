"""The agent endpoints in process: the real FastAPI app and routes, real dynalite, a local Jira;
no Ray (agents run in-process when the ingress holds no deployment handle for them)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agents.tasksmith_writeback import proposal_label
from config.settings import Settings
from tests.utils.fit import TestKey
from tests.utils.ingress import InProcessIngress
from tests.utils.jira import Failure, FakeJira, server_error
from tests.utils.payloads import JIRA, load


class Api(InProcessIngress):
    jira: FakeJira
    jira_server: Any


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    jira = FakeJira()
    with jira.server() as server:
        s = settings.model_copy(update={"atlassian_api_url": server.url,
                                        "rate_limit_per_s": 0.0})
        a = Api(s, TestKey(), account="acct-9")
        a.jira = jira
        a.jira_server = server
        yield a
        await a.aclose()


async def test_caretrack_run_finds_the_real_webhooks_problems(api: Api) -> None:
    issue = load(JIRA / "mattermost__webhook-issue-updated-labels.json")["issue"]
    f = issue["fields"]
    body = {"issues": [{"key": issue["key"], "summary": f["summary"], "status": "To Do",
                        "priority": "High", "created": f["created"],
                        "statusSince": f["updated"], "labels": ["phi"]}]}
    resp = await api.post("/v1/tenants/acme/agents/CareTrack/run", body)
    assert resp.status_code == 200, resp.text
    found = {x["rule"] for x in resp.json()["open"]}
    assert found == {"stalled", "sla_breach", "unassigned_high_priority", "phi_without_review"}
    assert resp.json()["producedBy"] == "offline"


async def test_dealflow_and_roadmapsmith_runs(api: Api) -> None:
    plan = await api.post("/v1/tenants/acme/agents/DealFlow/run", {
        "backlog": [{"key": "A-1", "estimate": 5, "priority": "High"},
                    {"key": "A-2", "estimate": 5, "priority": "Low"}],
        "roster": [{"id": "ana", "capacity": 6}]})
    assert plan.status_code == 200, plan.text
    assert [a["key"] for a in plan.json()["assignments"]] == ["A-1"]
    roadmap = await api.post("/v1/tenants/acme/agents/RoadmapSmith/run", {
        "epics": [{"key": "E-1", "estimate": 10, "blocks": ["E-2"]},
                  {"key": "E-2", "estimate": 10}],
        "startDate": "2027-01-04"})
    assert roadmap.status_code == 200, roadmap.text
    assert roadmap.json()["criticalPath"] == ["E-1", "E-2"]
    assert "```mermaid" in roadmap.json()["markdown"]
    # Capacity so small the plan never ends: a clear 422, not a 500 (found by schemathesis).
    endless = await api.post("/v1/tenants/acme/agents/RoadmapSmith/run", {
        "capacity": {"pointsPerWeek": 5e-324, "teams": 1},
        "epics": [{"key": "E-9", "estimate": 3}]})
    assert endless.status_code == 422 and "pointsPerWeek" in endless.json()["detail"]


async def test_errors_cycle_validation_unknown_agent_and_other_tenant(api: Api) -> None:
    cycle = await api.post("/v1/tenants/acme/agents/RoadmapSmith/run", {
        "epics": [{"key": "E-1", "blockedBy": ["E-2"]}, {"key": "E-2", "blockedBy": ["E-1"]}]})
    assert cycle.status_code == 422
    assert cycle.json()["detail"] == "dependency cycle: E-1 → E-2 → E-1"
    bad = await api.post("/v1/tenants/acme/agents/DealFlow/run",
                         {"roster": [{"id": "x", "capacity": -1}]})
    assert bad.status_code == 422 and "roster.0.capacity" in bad.json()["detail"]
    other = await api.post("/v1/tenants/other/agents/CareTrack/run", {})
    assert other.status_code == 403
    unknown = await api.post("/v1/tenants/acme/agents/Nobody/run", {})
    assert unknown.status_code == 404
    anon = await api.client.post("/v1/tenants/acme/agents/CareTrack/run", json={})
    assert anon.status_code == 401


async def test_openapi_documents_every_run_input(api: Api) -> None:
    schema = (await api.client.get("/openapi.json")).json()
    for agent, model in [("CareTrack", "CareTrackIn"), ("DealFlow", "DealFlowIn"),
                         ("RoadmapSmith", "RoadmapIn"), ("TaskSmith", "EpicIn")]:
        op = schema["paths"][f"/v1/tenants/{{tenant}}/agents/{agent}/run"]["post"]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith(model)


async def test_approve_writes_back_with_the_forge_token_idempotently(api: Api) -> None:
    jira: FakeJira = api.jira  # type: ignore[attr-defined]
    proposed = await api.post("/v1/tenants/acme/agents/TaskSmith/run", {
        "key": "CARE-7", "id": "1007", "summary": "Patient portal lab results",
        "description": "* Show lab results to patients\n* Notify by email"})
    assert proposed.status_code == 200, proposed.text
    pid = proposed.json()["proposalId"]
    path = f"/v1/tenants/acme/agents/TaskSmith/proposals/{pid}/approve"
    jira.fail = [Failure("POST", "/rest/api/3/issue", server_error(), commit=True)]
    first = await api.post(path, None, **{"x-forge-oauth-system": "forge-tok"})
    assert first.status_code == 502 and first.json()["status"] == "partial"
    second = await api.post(path, None, **{"x-forge-oauth-system": "forge-tok"})
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["status"] == "approved" and len(body["recovered"]) == 1
    created = jira.created_for("CARE-7")
    assert len(created) == len(body["jiraKeys"]), "duplicates in Jira"
    assert all(proposal_label(pid) in i["fields"]["labels"] for i in created)
    req = api.jira_server.requests[0]  # type: ignore[attr-defined]
    assert req.path.startswith("/ex/jira/acme/rest/api/3/")
    assert req.headers["authorization"] == "Bearer forge-tok"
    entries = [e.public() for e in await api.guard.audit.entries("acme")]
    logged = {e["resource"].split("#")[0] for e in entries if e["action"] == "jira.create_issue"}
    assert logged == {f"jira:{k}" for k in body["jiraKeys"].values()}
    missing = await api.post("/v1/tenants/acme/agents/TaskSmith/proposals/CARE-7-x/approve",
                             None, **{"x-forge-oauth-system": "t"})
    assert missing.status_code == 404
    no_token = await api.post(path, None)
    assert no_token.status_code == 400 and "x-forge-oauth-system" in no_token.json()["detail"]
