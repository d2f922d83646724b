"""CareTrack on the real Jira webhooks in ../shared/fixtures/jira, offline and with Claude."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from agents.caretrack import CareTrack, TenantDirectory
from agents.caretrack_models import CareTrackIn, CareTrackRules, IssueRecordIn
from agents.events import AgentEvent
from agents.reasoners import ClaudeReasoner
from compliance.fail_closed import WITHHELD
from compliance.phi import redact
from serve.wire import to_agent_event
from store.factory import Stores
from tests.utils.anthropic import tool_use_reply
from tests.utils.http import Recorded, Reply, ScriptedServer
from tests.utils.payloads import JIRA, load
from tests.utils.phi import break_phi_check

LABELS = JIRA / "mattermost__webhook-issue-updated-labels.json"  # TES-41: High, To Do, nobody
RESOLVED = JIRA / "mattermost__webhook-issue-updated-resolved.json"  # TES-41 → Done
CREATED = JIRA / "mattermost__webhook-cloud-issue-created-many-fields.json"  # KT-22, assigned


def event(payload: dict[str, Any], event_id: str = "e1", tenant: str = "t1") -> AgentEvent:
    return to_agent_event(tenant, event_id, "jira", "issue_updated", payload)


def open_ids(report: dict[str, Any] | list[Any]) -> set[str]:
    items = report if isinstance(report, list) else report["open"]
    return {f["findingId"] for f in items}


async def findings(stores: Stores, tenant: str = "t1") -> dict[str, Any]:
    state = await stores.state.get(tenant, "CareTrack")
    assert state is not None
    return dict(state.data["findings"])


async def test_real_webhook_finds_stall_sla_and_unassigned_high_priority(stores: Stores) -> None:
    agent = CareTrack(stores.state)
    result = await agent.handle_event(event(load(LABELS)))
    assert result["action"] == "evaluated" and result["producedBy"] == "offline"
    kept = await findings(stores)
    assert {"stalled:TES-41", "sla_breach:TES-41", "unassigned_high_priority:TES-41"} <= set(kept)
    stalled = kept["stalled:TES-41"]
    assert stalled["status"] == "open" and stalled["severity"] == "high"
    assert stalled["evidence"]["status"] == "To Do" and stalled["evidence"]["days"] > 30
    assert stalled["recommendation"]
    assert kept["sla_breach:TES-41"]["evidence"]["slaDays"] == 3  # High: 3 days


async def test_assigned_medium_issue_is_not_flagged_unassigned(stores: Stores) -> None:
    await CareTrack(stores.state).handle_event(event(load(CREATED)))
    kept = await findings(stores)
    assert "unassigned_high_priority:KT-22" not in kept
    assert "stalled:KT-22" in kept  # in To Do since 2019


async def test_findings_are_deduplicated_and_closed_when_the_condition_clears(
        stores: Stores) -> None:
    agent = CareTrack(stores.state)
    first = await agent.handle_event(event(load(LABELS), "e1"))
    again = await agent.handle_event(event(load(LABELS), "e2"))
    assert first["opened"] and again["opened"] == [] and again["closed"] == []
    done = await agent.handle_event(event(load(RESOLVED), "e3"))
    assert set(done["closed"]) >= {"stalled:TES-41", "sla_breach:TES-41",
                                   "unassigned_high_priority:TES-41"}
    kept = await findings(stores)
    assert kept["stalled:TES-41"]["status"] == "closed" and kept["stalled:TES-41"]["closedAt"]
    assert len([k for k in kept if k.endswith("TES-41")]) == 3, "a finding was duplicated"


async def test_phi_in_text_without_review_then_reviewed(stores: Stores) -> None:
    payload = copy.deepcopy(load(CREATED))
    payload["issue"]["fields"]["description"] = (
        "Fix the chart view for Pt: Jane Doe, MRN 00482193, seen 3/18/2024.")
    agent = CareTrack(stores.state)
    await agent.handle_event(event(payload, "e1"))
    phi = (await findings(stores))["phi_without_review:KT-22"]
    assert phi["severity"] == "high" and "MRN" in phi["evidence"]["phiDetected"]
    state = await stores.state.get("t1", "CareTrack")
    assert state is not None and "00482193" not in str(state.data), "PHI was stored"
    payload["issue"]["fields"]["labels"] = ["hipaa-reviewed"]
    result = await agent.handle_event(event(payload, "e2"))
    assert "phi_without_review:KT-22" in result["closed"]


async def test_text_that_cannot_be_checked_counts_as_phi_until_it_can(
    stores: Stores, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = copy.deepcopy(load(CREATED))
    payload["issue"]["fields"]["description"] = "Tidy the chart view."  # no PHI in fact
    agent = CareTrack(stores.state)
    broken = break_phi_check(monkeypatch)
    result = await agent.handle_event(event(payload, "e1"))
    assert broken.checked and result["action"] == "evaluated"
    phi = (await findings(stores))["phi_without_review:KT-22"]
    assert phi["status"] == "open" and "could not be checked for PHI" in phi["title"]
    state = await stores.state.get("t1", "CareTrack")
    assert state is not None and state.data["issues"]["KT-22"]["summary"] == WITHHELD

    monkeypatch.undo()  # checked again on the next event: no PHI, the finding closes
    result = await agent.handle_event(event(payload, "e2"))
    assert "phi_without_review:KT-22" in result["closed"]
    state = await stores.state.get("t1", "CareTrack")
    assert state is not None and state.data["issues"]["KT-22"]["summary"] != WITHHELD


async def test_phi_label_and_epic_with_all_children_done(stores: Stores) -> None:
    now = datetime.now(UTC)
    issues = [
        IssueRecordIn(key="EP-1", summary="Intake", is_epic=True, status="In Progress",
                      status_category="indeterminate", status_since=now, created=now),
        IssueRecordIn(key="EP-2", summary="Child 1", status="Done", status_category="done",
                      parent_key="EP-1", labels=["phi"]),
        IssueRecordIn(key="EP-3", summary="Child 2", status="Done", status_category="done",
                      parent_key="EP-1", labels=["phi", "compliance-reviewed"]),
    ]
    report = await CareTrack(stores.state).run("t1", CareTrackIn(issues=issues))
    assert open_ids(report.model_dump(by_alias=True)["open"]) == {
        "epic_children_done:EP-1", "phi_without_review:EP-2"}
    shipped = next(f for f in report.open if f.issue_key == "EP-2")
    assert shipped.severity == "critical"  # done without review


async def test_tenant_rules_override_the_defaults(stores: Stores) -> None:
    agent = CareTrack(stores.state)
    await agent.handle_event(event(load(LABELS)))
    relaxed = CareTrackRules(stall_days={"to do": 100_000}, sla_days={},
                             disabled_rules=["unassigned_high_priority"])
    report = await agent.run("t1", CareTrackIn(rules=relaxed))
    assert set(report.closed) == {"stalled:TES-41", "sla_breach:TES-41",
                                  "unassigned_high_priority:TES-41"}
    assert report.open == []
    state = await stores.state.get("t1", "CareTrack")
    assert state is not None and state.data["rules"]["stallDays"] == {"to do": 100_000}


async def test_sweep_reevaluates_at_a_later_time_and_tenants_are_listed(stores: Stores) -> None:
    agent = CareTrack(stores.state)
    fresh = datetime(2030, 1, 1, tzinfo=UTC)
    issue = IssueRecordIn(key="S-1", summary="Billing export", status="In Progress",
                          status_since=fresh, priority="Low", assignee="a1", created=fresh)
    report = await agent.run("t2", CareTrackIn(issues=[issue], as_of=fresh))
    assert report.open == []
    later = await agent.run("t2", CareTrackIn(as_of=datetime(2030, 1, 9, tzinfo=UTC)))
    assert later.opened == ["stalled:S-1"]  # 8 days in progress, limit 5
    assert "t2" in await TenantDirectory(stores.state).tenants()
    swept = await agent.handle_event(AgentEvent(tenant="t2", event_id="sweep-1", kind="sweep",
                                                source="schedule"))
    assert swept["action"] == "evaluated"


async def test_claude_triages_new_findings_with_phi_redacted(stores: Stores) -> None:
    payload = copy.deepcopy(load(LABELS))
    payload["issue"]["fields"]["summary"] = "Chart fix for Pt: Jane Doe, MRN 00482193"

    def respond(req: Recorded) -> Reply:
        prompt = json.loads(req.json()["messages"][0]["content"])
        ids = [f["findingId"] for f in prompt["findings"]]
        return tool_use_reply("triage_findings", {
            "items": [{"findingId": i, "severity": "critical",
                       "recommendation": "Page the on-call lead."} for i in ids],
            "summary": "TES-41 needs an owner today."})

    with ScriptedServer(respond) as server:
        reasoner = ClaudeReasoner(api_key="sk-test", model="claude-test", base_url=server.url,
                                  max_retries=0, timeout_s=10,
                                  redact=redact)
        agent = CareTrack(stores.state, reasoner)
        result = await agent.handle_event(event(payload))
        assert result["producedBy"] == "claude:claude-test"
        body = server.requests[0].json()
        assert body["tools"][0]["name"] == "triage_findings"
        assert "00482193" not in server.requests[0].body.decode()
        again = await agent.handle_event(event(payload, "e2"))
        assert len(server.requests) == 1, "nothing new, yet Claude was asked again"
        assert again["opened"] == []
    kept = await findings(stores)
    assert kept["stalled:TES-41"]["severity"] == "critical"
    assert kept["stalled:TES-41"]["recommendation"] == "Page the on-call lead."
    state = await stores.state.get("t1", "CareTrack")
    assert state is not None and state.data["lastRun"]["summary"]
