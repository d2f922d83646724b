"""End to end over HTTP against the real stack: dynalite, a local Ray, Serve on loopback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.utils.payloads import forge_epic, forge_event_files, jira_epic, jira_files, load
from tests.utils.servers import REPO
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack


def test_ready_within_90_seconds(stack: Stack) -> None:
    assert stack.startup_seconds < 90


def test_healthz_reports_every_part(stack: Stack) -> None:
    body = stack.client.get("/healthz").json()
    assert body["status"] == "ok"
    assert {"dynamodb", "orchestrator", "TaskSmith", "CareTrack", "DealFlow",
            "RoadmapSmith"} <= set(body["checks"])


@pytest.mark.parametrize("path", jira_files(), ids=lambda p: p.stem)
def test_every_real_jira_webhook_is_accepted(stack: Stack, path: Path) -> None:
    resp = stack.post_jira(path.read_bytes())
    assert resp.status_code == 202, resp.text
    body = resp.json()
    # Issue events go to CareTrack (workflow) and DealFlow (backlog); comments to nobody.
    payload = load(path)
    expected = "ignored" if payload["webhookEvent"].startswith("comment_") else "accepted"
    assert body["status"] == expected
    assert stack.event(body["eventId"])["eventType"] == load(path)["webhookEvent"]


@pytest.mark.parametrize("path", forge_event_files(), ids=lambda p: p.stem)
def test_every_forge_example_is_acknowledged(stack: Stack, path: Path) -> None:
    resp = stack.post_forge(path.read_bytes(), tenant="forge-site")
    assert resp.status_code == 202, resp.text


def test_jira_epic_becomes_subtasks(stack: Stack) -> None:
    resp = stack.post_jira(jira_epic(key="CARE-21", summary="Patient intake form"))
    assert resp.status_code == 202 and resp.json()["status"] == "accepted"
    ev = stack.wait_final(resp.json()["eventId"])
    assert ev["status"] == "done" and ev["agents"] == ["TaskSmith", "CareTrack", "RoadmapSmith"]
    proposals = stack.state("TaskSmith")["data"]["proposals"]
    mine = [p for p in proposals if p["epicKey"] == "CARE-21"]
    assert len(mine) == 1 and 3 <= len(mine[0]["subtasks"]) <= 12
    assert mine[0]["producedBy"] == "offline"


def test_forge_epic_and_its_retry_are_processed_once(stack: Stack) -> None:
    first = stack.post_forge(forge_epic(key="CARE-22"), tenant="acme")
    assert first.status_code == 202
    event_id = first.json()["eventId"]
    ev = stack.wait_final(event_id, tenant="acme")
    retry = stack.post_forge(forge_epic(key="CARE-22", retry=1), tenant="acme")
    assert retry.status_code == 200
    assert retry.json() == {"eventId": event_id, "status": "done", "duplicate": True}
    # A later event of the same tenant, processed to the end: had the retry been queued too,
    # it would have been taken first (a tenant's backlog is worked in order).
    later = stack.post_forge(forge_epic(key="CARE-22B"), tenant="acme")
    assert later.status_code == 202
    stack.wait_final(later.json()["eventId"], tenant="acme")
    again = stack.event(event_id, tenant="acme")
    assert again["attempts"] == ev["attempts"] == 1
    proposals = stack.state("TaskSmith", tenant="acme")["data"]["proposals"]
    assert sorted(p["epicKey"] for p in proposals) == ["CARE-22", "CARE-22B"]


def test_webhook_identifier_header_dedupes(stack: Stack) -> None:
    payload = jira_epic(key="CARE-23")
    h = {"x-atlassian-webhook-identifier": "wh-23-abc"}
    assert stack.post_jira(payload, headers=h).status_code == 202
    payload["timestamp"] += 1  # a redelivery may differ in bytes; the identifier decides
    dup = stack.post_jira(payload, headers=h)
    assert dup.status_code == 200 and dup.json()["eventId"] == "wh-23-abc"


def test_tenants_are_isolated(stack: Stack) -> None:
    stack.wait_final(stack.post_forge(forge_epic(key="ISO-1"), tenant="tenant-a")
                     .json()["eventId"], tenant="tenant-a")
    b_view = stack.state("TaskSmith", tenant="tenant-b")["data"]
    assert "ISO-1" not in json.dumps(b_view)
    cross = stack.client.get("/v1/tenants/tenant-a/agents/TaskSmith/state",
                             headers=stack.bearer("tenant-b"))
    assert cross.status_code == 403 and "ISO-1" not in cross.text
    event_id = stack.post_forge(forge_epic(key="ISO-1"), tenant="tenant-a").json()["eventId"]
    other = stack.client.get(f"/v1/events/{event_id}", headers=stack.bearer("tenant-b"))
    assert other.status_code == 404


@pytest.mark.parametrize(
    "claims",
    [{"exp": int(time.time()) - 600, "iat": int(time.time()) - 900},
     {"aud": "ari:cloud:ecosystem::app/not-us"},
     {"iss": "not-forge"}],
    ids=["expired", "wrong-audience", "wrong-issuer"],
)
def test_bad_tokens_are_refused(stack: Stack, claims: dict[str, object]) -> None:
    resp = stack.client.post("/v1/forge/events", json=forge_epic(key="BAD-1"),
                             headers=stack.bearer("dev", **claims))
    assert resp.status_code == 401 and resp.json()["detail"]


def test_missing_and_forged_credentials_are_refused(stack: Stack) -> None:
    assert stack.client.post("/v1/forge/events", json=forge_epic()).status_code == 401
    body = json.dumps(jira_epic()).encode()
    bad = stack.client.post("/v1/jira/webhooks", params={"tenant": "dev"}, content=body,
                            headers={"x-hub-signature": "sha256=" + "0" * 64})
    assert bad.status_code == 401
    unknown = stack.client.post("/v1/jira/webhooks", params={"tenant": "nobody"}, content=body,
                                headers={"x-hub-signature": "sha256=" + "0" * 64})
    assert unknown.status_code == 401


def test_bad_bodies_get_clear_4xx(stack: Stack) -> None:
    assert stack.post_forge(b"{not json").status_code == 400
    assert stack.post_forge(b"[1, 2]").status_code == 422
    no_summary = forge_epic()
    del no_summary["issue"]["fields"]["summary"]
    resp = stack.post_forge(no_summary)
    assert resp.status_code == 422 and "issue.fields.summary" in resp.json()["detail"]
    huge = b'{"eventType": "avi:jira:created:issue", "pad": "' + b"x" * 1_100_000 + b'"}'
    assert stack.post_forge(huge).status_code == 413
    nested = b'{"eventType": "x", "a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    assert stack.post_forge(nested).status_code in (400, 422)
    unknown = stack.post_forge({"eventType": "avi:jira:exploded:widget"})
    assert unknown.status_code == 202 and unknown.json()["status"] == "ignored"
    assert stack.client.get("/v1/events/h-nothing", headers=stack.bearer()).status_code == 404
    assert stack.client.get("/v1/tenants/dev/agents/Nobody/state",
                            headers=stack.bearer()).status_code == 404


def test_forge_app_request_building_reaches_the_backend(stack: Stack) -> None:
    """The Forge app's own request-building code (forge-app/src/backend.js) against this stack."""
    node = shutil.which("node")
    assert node, "node is required for the Forge app's end-to-end test"
    env = {**os.environ, "CLINISIGHT_URL": stack.settings.http_url,
           "CLINISIGHT_FIT": stack.token("forge-e2e")}
    proc = subprocess.run([node, "--test", "test/e2e/"], cwd=REPO / "forge-app", env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "# fail 0" in proc.stdout


def test_real_webhooks_reach_caretrack_and_runs_go_through_the_deployments(stack: Stack) -> None:
    labels = next(p for p in jira_files() if p.stem.endswith("issue-updated-labels"))
    payload = load(labels)
    payload["issue"]["key"] = "TES-941"  # its own issue: other tests post TES-41's history
    forge = {"eventType": "avi:jira:updated:issue", "issue": payload["issue"]}
    ev = stack.wait_final(stack.post_forge(forge, tenant="e2e-care").json()["eventId"],
                          tenant="e2e-care")
    assert ev["status"] == "done" and ev["agents"] == ["CareTrack", "DealFlow"]
    findings = stack.state("CareTrack", tenant="e2e-care")["data"]["findings"]
    assert findings["stalled:TES-941"]["status"] == "open"
    run = stack.client.post("/v1/tenants/e2e-care/agents/CareTrack/run", json={},
                            headers=stack.bearer("e2e-care"))
    assert run.status_code == 200, run.text
    assert "stalled:TES-941" in {f["findingId"] for f in run.json()["open"]}
    plan = stack.client.post("/v1/tenants/e2e-care/agents/DealFlow/run",
                             headers=stack.bearer("e2e-care"),
                             json={"roster": [{"id": "ana", "skills": ["comp-1"],
                                               "capacity": 8}]})
    assert plan.status_code == 200, plan.text
    assert [a["key"] for a in plan.json()["assignments"]] == ["TES-941"]


def test_dependency_cycle_is_a_422_across_the_deployment_boundary(stack: Stack) -> None:
    resp = stack.client.post(
        "/v1/tenants/dev/agents/RoadmapSmith/run", headers=stack.bearer("dev"),
        json={"epics": [{"key": "R-1", "blocks": ["R-2"]}, {"key": "R-2", "blocks": ["R-1"]}]})
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"] == "dependency cycle: R-1 → R-2 → R-1"
    other = stack.client.post("/v1/tenants/dev/agents/RoadmapSmith/run", json={},
                              headers=stack.bearer("someone-else"))
    assert other.status_code == 403
