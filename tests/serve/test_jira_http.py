"""The Jira routes in process: the real app, routes and audit boundary, real dynalite, a local
Jira site; the jobs run in the ingress's own process (no ``JiraSync`` deployment here)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from config.settings import Settings
from tests.agents.jira_server import JiraSite, LocalJira
from tests.utils.fit import TestKey
from tests.utils.http import ScriptedServer
from tests.utils.ingress import InProcessIngress

# The documented avi:forge:installed:app payload (Forge "Life cycle events": id, installerAccountId,
# app {id, version}, environment {id}); ids made up.
INSTALLED = {
    "eventType": "avi:forge:installed:app",
    "id": "ari:cloud:ecosystem::installation/5b6e2e2a-0c4e-4a9e-9d1c-0d2b1c1e2f30",
    "installerAccountId": "5cedcb4355a88a0fc86388ba",
    "app": {"id": "ari:cloud:ecosystem::app/test-app", "version": "2.0.0"},
    "environment": {"id": "ari:cloud:ecosystem::environment/test-app/dev"},
}


class Api(InProcessIngress):
    jira: LocalJira
    server: ScriptedServer


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    local = LocalJira(JiraSite(30), expected_auth="Bearer sys-token")
    with local.server() as server:
        s = settings.model_copy(update={"atlassian_api_url": server.url,
                                        "rate_limit_per_s": 0.0, "jira_page_size": 10})
        a = Api(s, TestKey())
        a.jira, a.server = local, server
        yield a
        await a.aclose()


async def follow(api: Api, job: str, tenant: str = "acme") -> dict[str, Any]:
    for _ in range(200):
        got = await api.client.get(f"/v1/tenants/{tenant}/jira/backfill/{job}",
                                   headers=api.bearer(tenant))
        assert got.status_code == 200, got.text
        if got.json()["status"] != "running":
            return dict(got.json())
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job} still running")


async def test_backfill_through_forge_reads_jira_with_the_system_token(api: Api) -> None:
    resp = await api.post("/v1/tenants/acme/jira/backfill", {"jql": "project = TM"},
                          **{"x-forge-oauth-system": "sys-token"})
    assert resp.status_code == 202, resp.text
    job = resp.json()
    assert job["status"] == "running" and job["jobId"].startswith("jb-")
    done = await follow(api, job["jobId"])
    assert done["status"] == "succeeded", done
    assert done["applied"] == 15 and done["pages"] == 2 and done["jql"] == "project = TM"
    assert done["fields"]["storyPoints"] == ["customfield_10016"]
    call = api.server.requests[0]
    assert call.path.startswith("/ex/jira/acme/") and call.headers["authorization"] == (
        "Bearer sys-token")
    mirror = await api.stores.state.get("acme", "CareTrack")
    assert mirror is not None and set(mirror.data["issues"]) == {f"TM-{n}" for n in
                                                                range(1, 16)}
    # The job's progress names issues by count only; no summary reaches it.
    assert "lab results" not in json.dumps(done)


async def test_backfill_refusals(api: Api) -> None:
    no_creds = await api.post("/v1/tenants/acme/jira/backfill", {})
    assert no_creds.status_code == 400 and "x-forge-oauth-system" in no_creds.json()["detail"]
    other = await api.post("/v1/tenants/other/jira/backfill", {},
                           **{"x-forge-oauth-system": "sys-token"})
    assert other.status_code == 403
    for bad in ({"jql": ""}, {"resume": "../x"}, {"limit": 5}, {"jql": "x" * 2001},
                {"jql": "project = CM", "resume": "jb-0123456789ab"}):
        resp = await api.post("/v1/tenants/acme/jira/backfill", bad,
                              **{"x-forge-oauth-system": "sys-token"})
        assert resp.status_code == 422, (bad, resp.text)
    unknown = await api.post("/v1/tenants/acme/jira/backfill", {"resume": "jb-0123456789ab"},
                             **{"x-forge-oauth-system": "sys-token"})
    assert unknown.status_code == 404
    missing = await api.client.get("/v1/tenants/acme/jira/backfill/jb-0123456789ab",
                                   headers=api.bearer("acme"))
    assert missing.status_code == 404


async def test_bad_jql_fails_the_job_with_jiras_words_and_a_token_jira_refuses(
        api: Api) -> None:
    resp = await api.post("/v1/tenants/acme/jira/backfill", {"jql": "summary ~ portal"},
                          **{"x-forge-oauth-system": "sys-token"})
    done = await follow(api, resp.json()["jobId"])
    assert done["status"] == "failed" and "Error in the JQL Query" in done["error"]
    refused = await api.post("/v1/tenants/acme/jira/backfill", {},
                             **{"x-forge-oauth-system": "expired"})
    failed = await follow(api, refused.json()["jobId"])
    assert failed["status"] == "failed" and failed["errorStatus"] == 401
    # A succeeded job does not resume; the failed one does, once the token is good again.
    again = await api.post("/v1/tenants/acme/jira/backfill", {"resume": failed["jobId"]},
                           **{"x-forge-oauth-system": "sys-token"})
    assert again.status_code == 202 and again.json()["jobId"] == failed["jobId"]
    assert (await follow(api, failed["jobId"]))["status"] == "succeeded"
    twice = await api.post("/v1/tenants/acme/jira/backfill", {"resume": failed["jobId"]},
                           **{"x-forge-oauth-system": "sys-token"})
    assert twice.status_code == 409


async def test_install_event_starts_one_backfill_per_delivery(api: Api) -> None:
    headers = {"x-forge-oauth-system": "sys-token",
               "x-atlassian-webhook-identifier": "install-1"}
    first = await api.post("/v1/forge/events", INSTALLED, **headers)
    assert first.status_code == 202, first.text
    body = first.json()
    assert body["status"] == "done" and body["backfill"].startswith("jb-")
    done = await follow(api, body["backfill"])
    assert done["status"] == "succeeded" and done["applied"] == 30
    retry = await api.post("/v1/forge/events", {**INSTALLED, "retryContext": {"retryCount": 1}},
                           **headers)
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert "backfill" not in retry.json()
    searches = [r for r in api.server.requests if r.path.endswith("/search/jql")]
    assert len(searches) == 3  # 30 issues, 10 a page, one backfill
    event = await api.client.get("/v1/events/install-1", headers=api.bearer("acme"))
    assert event.status_code == 200 and event.json()["eventType"] == "avi:forge:installed:app"
    # The sweep now knows the tenant and reads what changed since the backfill began.
    api.jira.site.touch("CM-2", labels=["phi", "compliance-reviewed"])
    swept = await api.post("/v1/tenants/acme/jira/reconcile", {},
                           **{"x-forge-oauth-system": "sys-token"})
    assert swept.status_code == 200 and swept.json()["applied"] == 1, swept.text

