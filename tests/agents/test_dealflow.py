"""DealFlow: backlog from the real Jira webhooks, a roster, an optimal plan that never overfills."""

from __future__ import annotations

import copy
from typing import Any

from agents.dealflow import DealFlow, backlog_item
from agents.dealflow_models import BacklogItemIn, DealFlowIn, MemberIn
from agents.reasoners import ClaudeReasoner
from serve.wire import to_agent_event
from store.factory import Stores
from tests.utils.anthropic import tool_use_reply
from tests.utils.http import Recorded, Reply, ScriptedServer
from tests.utils.payloads import JIRA, load

LABELS = JIRA / "mattermost__webhook-issue-updated-labels.json"  # TES-41, High, unassigned
LOWERED = JIRA / "mattermost__webhook-issue-updated-lowered-priority.json"
ASSIGNED = JIRA / "mattermost__webhook-issue-updated-assigned.json"


def fixture_items() -> list[BacklogItemIn]:
    """Backlog items built from the real webhooks: re-keyed copies with estimates and skills."""
    items = []
    for n, (path, points, comp) in enumerate([(LABELS, 5, "COMP-1"), (LOWERED, 3, "COMP-1"),
                                              (LABELS, 8, "FHIR"), (LOWERED, 2, "UI"),
                                              (LABELS, 3, "UI")]):
        payload = copy.deepcopy(load(path))
        payload["issue"]["key"] = f"TES-{100 + n}"
        payload["issue"]["fields"]["components"] = [{"name": comp}]
        snap = to_agent_event("t1", f"e{n}", "jira", "issue_updated", payload).issue
        assert snap is not None
        item = backlog_item(snap)
        item.estimate = points
        items.append(item)
    return items


def roster(scale: float = 1.0) -> list[MemberIn]:
    return [MemberIn(id="ana", name="Ana", skills=["comp-1", "fhir"], capacity=10 * scale,
                     current_load=2 * scale),
            MemberIn(id="bo", name="Bo", skills=["ui", "comp-1"], capacity=5 * scale)]


def check_capacity(plan: dict[str, Any], members: list[MemberIn]) -> None:
    for m in members:
        assigned = sum(a["estimate"] for a in plan["assignments"] if a["memberId"] == m.id)
        assert assigned <= m.capacity - m.current_load + 1e-9, f"{m.id} overfilled"


async def test_overloaded_roster_is_not_overfilled_and_every_miss_says_why(
        stores: Stores) -> None:
    items, members = fixture_items(), roster(scale=0.6)  # 21 points of work, 7.8 free
    plan = (await DealFlow(stores.state).run(
        "t1", DealFlowIn(backlog=items, roster=members))).model_dump(by_alias=True)
    check_capacity(plan, members)
    assert plan["unplaced"] and all(u["reason"] for u in plan["unplaced"])
    assert plan["solver"].startswith("scipy.optimize.milp")
    placed = {a["key"] for a in plan["assignments"]} | {u["key"] for u in plan["unplaced"]}
    assert placed == {i.key for i in items}
    for a in plan["assignments"]:
        member = next(m for m in members if m.id == a["memberId"])
        assert set(a["skills"]) <= {s.lower() for s in member.skills}
        assert "points fit" in a["reason"]


async def test_skills_from_components_and_missing_skills_are_explained(stores: Stores) -> None:
    items = fixture_items()
    items.append(BacklogItemIn(key="TES-200", estimate=1, labels=["skill:hl7"]))
    plan = await DealFlow(stores.state).run("t1", DealFlowIn(backlog=items, roster=roster(2)))
    fhir = next(a for a in plan.assignments if a.key == "TES-102")
    assert fhir.member_id == "ana" and fhir.skills == ["fhir"]
    hl7 = next(u for u in plan.unplaced if u.key == "TES-200")
    assert hl7.reason == "nobody on the roster has hl7"


async def test_optimal_not_greedy(stores: Stores) -> None:
    # A greedy pass by priority takes the 8-point High item and nothing else fits; the optimum
    # takes the two 4-point High items (twice the value).
    items = [BacklogItemIn(key="A", estimate=8, priority="High"),
             BacklogItemIn(key="B", estimate=4, priority="High"),
             BacklogItemIn(key="C", estimate=4, priority="High")]
    plan = await DealFlow(stores.state).run(
        "t1", DealFlowIn(backlog=items, roster=[MemberIn(id="x", capacity=8)]))
    assert sorted(a.key for a in plan.assignments) == ["B", "C"]
    assert "higher-value work" in plan.unplaced[0].reason


async def test_events_fill_the_backlog_and_replan_with_the_saved_roster(stores: Stores) -> None:
    agent = DealFlow(stores.state)
    tracked = await agent.handle_event(
        to_agent_event("t1", "e1", "jira", "issue_updated", load(LABELS)))
    assert tracked == {"action": "tracked", "key": "TES-41", "inBacklog": True}
    await agent.run("t1", DealFlowIn(roster=roster()))
    # The same issue assigned leaves the backlog; a re-plan follows.
    replanned = await agent.handle_event(
        to_agent_event("t1", "e2", "jira", "issue_updated", load(ASSIGNED)))
    assert replanned["action"] == "planned" and replanned["assigned"] == 0
    state = await stores.state.get("t1", "DealFlow")
    assert state is not None and state.data["backlog"] == {}
    assert [m["id"] for m in state.data["roster"]] == ["ana", "bo"]


async def test_claude_maps_skills_only_from_the_roster_vocabulary(stores: Stores) -> None:
    def respond(_: Recorded) -> Reply:
        return tool_use_reply("map_skills", {"items": [
            {"key": "X-1", "skills": ["fhir", "quantum"]},  # "quantum" is not a roster skill
            {"key": "X-2", "skills": []}]})

    items = [BacklogItemIn(key="X-1", summary="FHIR R4 lab results feed", estimate=3),
             BacklogItemIn(key="X-2", summary="Copy tweak", estimate=1)]
    with ScriptedServer(respond) as server:
        reasoner = ClaudeReasoner(api_key="sk-test", model="claude-test", base_url=server.url,
                                  max_retries=0, timeout_s=10)
        plan = await DealFlow(stores.state, reasoner).run(
            "t1", DealFlowIn(backlog=items, roster=roster()))
        body = server.requests[0].json()
    assert plan.produced_by == "claude:claude-test"
    assert body["tools"][0]["name"] == "map_skills"
    x1 = next(a for a in plan.assignments if a.key == "X-1")
    assert x1.skills == ["fhir"] and x1.member_id == "ana"
