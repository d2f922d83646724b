"""Rovo actions in process: the real app and routes, real dynalite, a local Jira REST server."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import pytest

from config.settings import Settings
from tests.serve.test_agents_http import Api
from tests.utils.fit import TestKey
from tests.utils.http import Recorded, Reply, ScriptedServer, json_reply
from tests.utils.payloads import jira_epic

EPIC = jira_epic(key="CARE-31", summary="Patient discharge summary export",
                 description="* Include medications\n* Send to the referring provider over HL7")


def jira(req: Recorded) -> Reply:
    if req.method == "POST" and req.path.endswith("/rest/api/3/search/jql"):
        wanted = req.json()["jql"]
        issues = [copy.deepcopy(EPIC["issue"])] if '"CARE-31"' in wanted else []
        return json_reply(200, {"issues": issues, "isLast": True})
    return json_reply(404, {"errorMessages": ["no route"]})


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[tuple[Api, ScriptedServer]]:
    with ScriptedServer(jira) as server:
        s = settings.model_copy(update={"atlassian_api_url": server.url, "rate_limit_per_s": 0.0})
        a = Api(s, TestKey())
        yield a, server
        await a.aclose()


async def test_decompose_epic_fetches_it_with_the_forge_token(
    api: tuple[Api, ScriptedServer],
) -> None:
    client, server = api
    resp = await client.post("/v1/forge/actions/decompose-epic",
                             {"payload": {"epicKey": "CARE-31"}},
                             **{"x-forge-oauth-system": "sys-token"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["action"] == "proposed" and body["proposalId"].startswith("CARE-31-")
    call = server.requests[0]
    assert call.path.startswith("/ex/jira/acme/") and call.headers["authorization"] == (
        "Bearer sys-token")
    state = await client.stores.state.get("acme", "TaskSmith")
    assert state is not None
    titles = [s["title"] for s in state.data["proposals"][0]["subtasks"]]
    assert any("Include medications" in t for t in titles)


async def test_decompose_epic_errors(api: tuple[Api, ScriptedServer]) -> None:
    client, _ = api
    unknown = await client.post("/v1/forge/actions/decompose-epic", {"epicKey": "CARE-99"},
                                **{"x-forge-oauth-system": "t"})
    assert unknown.status_code == 404
    bad = await client.post("/v1/forge/actions/decompose-epic", {"epicKey": "drop table"},
                            **{"x-forge-oauth-system": "t"})
    assert bad.status_code == 422 and "epicKey" in bad.json()["detail"]
    no_creds = await client.post("/v1/forge/actions/decompose-epic", {"epicKey": "CARE-31"})
    assert no_creds.status_code == 400


async def test_show_roadmap_after_a_run_filtered_by_project(
    api: tuple[Api, ScriptedServer],
) -> None:
    client, _ = api
    assert (await client.post("/v1/forge/actions/show-roadmap", {})).status_code == 404
    run = await client.post("/v1/tenants/acme/agents/RoadmapSmith/run", {
        "epics": [{"key": "CARE-1", "estimate": 5, "blocks": ["OPS-2"]},
                  {"key": "OPS-2", "estimate": 3}], "startDate": "2027-01-04"})
    assert run.status_code == 200, run.text
    resp = await client.post("/v1/forge/actions/show-roadmap", {"projectKey": "CARE"})
    assert resp.status_code == 200
    roadmap = resp.json()["roadmap"]
    assert [e["key"] for e in roadmap["epics"]] == ["CARE-1"]
    assert roadmap["criticalPath"] == ["CARE-1", "OPS-2"]
