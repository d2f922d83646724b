"""RoadmapSmith: epics with "blocks" links from real Jira payloads become a dated roadmap."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from agents.jira_fields import JiraFieldMap
from agents.reasoners import ClaudeReasoner
from agents.roadmapsmith import RoadmapSmith, epic_from_issue
from agents.roadmapsmith_models import (
    CapacityIn,
    DependencyCycle,
    EpicPlanIn,
    PlanTooLong,
    RoadmapIn,
)
from serve.wire import to_agent_event
from store.factory import Stores
from tests.utils.anthropic import tool_use_reply
from tests.utils.http import Recorded, Reply, ScriptedServer
from tests.utils.payloads import jira_epic

MONDAY = date(2027, 1, 4)
# Where these payloads' site keeps story points ("Story point estimate"; see agents.jira_fields).
FIELDS = JiraFieldMap(story_points=("customfield_10016",))


def blocks(kind: str, key: str) -> dict[str, Any]:
    """An ``issuelinks`` entry as Jira sends it (seen from the issue that carries it)."""
    side = "outwardIssue" if kind == "blocks" else "inwardIssue"
    return {"id": "1", "type": {"id": "10000", "name": "Blocks", "inward": "is blocked by",
                                "outward": "blocks"}, side: {"id": "9", "key": key}}


def epic_payload(key: str, points: float | None, links: list[dict[str, Any]]) -> dict[str, Any]:
    payload = copy.deepcopy(jira_epic(key=key, summary=f"Epic {key}"))
    payload["issue"]["fields"]["issuelinks"] = links
    payload["issue"]["fields"]["customfield_10016"] = points
    return payload


def epics_from_jira() -> list[EpicPlanIn]:
    """A → B → C (10, 20, 10 points) and D (5) alone; links as the real webhooks carry them."""
    payloads = [
        epic_payload("RM-1", 10, [blocks("blocks", "RM-2")]),
        epic_payload("RM-2", 20, [blocks("is blocked by", "RM-1"), blocks("blocks", "RM-3")]),
        epic_payload("RM-3", 10, [blocks("is blocked by", "RM-2")]),
        epic_payload("RM-4", 5, [{"type": {"name": "Relates", "inward": "relates to",
                                           "outward": "relates to"},
                                  "outwardIssue": {"key": "RM-1"}}]),
    ]
    out = []
    for p in payloads:
        snap = to_agent_event("t1", "e", "jira", "issue_updated", p, FIELDS).issue
        assert snap is not None
        out.append(epic_from_issue(snap))
    return out


async def test_critical_path_is_the_longest_chain_and_dates_follow_dependencies(
        stores: Stores) -> None:
    roadmap = await RoadmapSmith(stores.state).run("t1", RoadmapIn(
        epics=epics_from_jira(), capacity=CapacityIn(teams=2, points_per_week=10),
        start_date=MONDAY))
    assert roadmap.critical_path == ["RM-1", "RM-2", "RM-3"]
    by = {e.key: e for e in roadmap.epics}
    assert by["RM-1"].end < by["RM-2"].start and by["RM-2"].end < by["RM-3"].start
    assert by["RM-2"].duration_days == 10 and by["RM-1"].start == MONDAY
    assert by["RM-4"].slack_days == 20 - 3 and not by["RM-4"].critical
    assert all(by[k].slack_days == 0 for k in roadmap.critical_path)
    assert roadmap.end_date == date(2027, 1, 29)  # 5 + 10 + 5 working days from 4 Jan
    assert [m.quarter for m in roadmap.milestones] == ["2027-Q1"]
    assert "gantt" in roadmap.markdown and ":crit, t_RM_1, 2027-01-04" in roadmap.markdown
    assert {r.kind for r in roadmap.risks} == set()


async def test_capacity_unestimated_and_long_chain_risks(stores: Stores) -> None:
    epics = [*epics_from_jira(), EpicPlanIn(key="RM-5", summary="Reporting", blocked_by=["RM-3"]),
             EpicPlanIn(key="RM-6", summary="Vendor feed", estimate=5,
                        blocked_by=["OTHER-9"])]
    roadmap = await RoadmapSmith(stores.state).run("t1", RoadmapIn(
        epics=epics, capacity=CapacityIn(teams=1, points_per_week=10), start_date=MONDAY,
        target_date=date(2027, 2, 1)))
    kinds = {r.kind: r for r in roadmap.risks}
    assert set(kinds) == {"over_capacity", "past_target", "long_chain", "unestimated",
                          "external_dependency"}
    assert kinds["unestimated"].epic_keys == ["RM-5"]
    assert kinds["long_chain"].epic_keys == ["RM-1", "RM-2", "RM-3", "RM-5"]
    rm5 = next(e for e in roadmap.epics if e.key == "RM-5")
    assert rm5.estimated and rm5.estimate == 10  # the median of 5, 5, 10, 10, 20
    lanes = sorted((e.start, e.end) for e in roadmap.epics)
    assert all(a[1] < b[0] for a, b in zip(lanes, lanes[1:], strict=False)), "one team overlaps"


async def test_a_cycle_is_named(stores: Stores) -> None:
    epics = [EpicPlanIn(key="A", estimate=1, blocks=["B"]),
             EpicPlanIn(key="B", estimate=1, blocks=["C"]),
             EpicPlanIn(key="C", estimate=1, blocks=["A"]),
             EpicPlanIn(key="D", estimate=1)]
    with pytest.raises(DependencyCycle) as err:
        await RoadmapSmith(stores.state).run("t1", RoadmapIn(epics=epics))
    assert err.value.cycle == ["A", "B", "C", "A"]
    assert str(err.value) == "dependency cycle: A → B → C → A"


@pytest.mark.parametrize(("points_per_week", "estimates"), [
    (5e-324, [1.0]),  # schemathesis found it: 1 / 5e-324 is inf, and ceil(inf) raised a 500
    (0.5, [1000.0] * 30),  # a chain of 30 epics of 10,000 days each
])
async def test_a_plan_past_a_century_is_refused_not_crashed(
        stores: Stores, points_per_week: float, estimates: list[float]) -> None:
    epics = [EpicPlanIn(key=f"E-{i}", estimate=e, blocked_by=[f"E-{i - 1}"] if i else [])
             for i, e in enumerate(estimates)]
    request = RoadmapIn(epics=epics, capacity=CapacityIn(points_per_week=points_per_week))
    with pytest.raises(PlanTooLong) as err:
        await RoadmapSmith(stores.state).run("t1", request)
    assert "pointsPerWeek" in str(err.value)


async def test_epic_events_track_and_replan_once_capacity_is_known(stores: Stores) -> None:
    agent = RoadmapSmith(stores.state)
    first = await agent.handle_event(to_agent_event(
        "t1", "e1", "jira", "issue_created", epic_payload("RM-1", 10, [])))
    assert first == {"action": "tracked", "key": "RM-1"}
    await agent.run("t1", RoadmapIn(capacity=CapacityIn(teams=1, points_per_week=5)))
    second = await agent.handle_event(to_agent_event(
        "t1", "e2", "jira", "issue_created",
        epic_payload("RM-2", 5, [blocks("is blocked by", "RM-1")])))
    assert second["action"] == "planned" and second["criticalPath"] == ["RM-1", "RM-2"]
    cyc = await agent.handle_event(to_agent_event(
        "t1", "e3", "jira", "issue_updated",
        epic_payload("RM-1", 10, [blocks("is blocked by", "RM-2")])))
    assert cyc["action"] == "cycle"
    state = await stores.state.get("t1", "RoadmapSmith")
    assert state is not None and "cycle" in state.data["roadmap"]["error"]


async def test_an_event_that_makes_the_plan_too_long_is_kept_not_raised(
        stores: Stores) -> None:
    # An event cannot be answered with a 422: a batch that raised would fail a backfill
    # again on every resume. The reason is kept where the UI reads it, as for a cycle.
    agent = RoadmapSmith(stores.state)
    await agent.run("t1", RoadmapIn(capacity=CapacityIn(teams=1, points_per_week=0.001)))
    event = to_agent_event("t1", "e1", "jira", "issue_created", epic_payload("RM-1", 100, []))
    single = await agent.handle_event(event)
    assert single["action"] == "too_long" and "pointsPerWeek" in single["error"]
    batch = await agent.handle_events([event])
    assert batch["action"] == "too_long"
    state = await stores.state.get("t1", "RoadmapSmith")
    assert state is not None and "working days" in state.data["roadmap"]["error"]


async def test_claude_estimates_unestimated_epics(stores: Stores) -> None:
    def respond(_: Recorded) -> Reply:
        return tool_use_reply("estimate_epics", {"estimates": [
            {"key": "N-1", "estimate": 30, "rationale": "three integrations"}]})

    epics = [EpicPlanIn(key="N-1", summary="HL7 and FHIR interfaces"),
             EpicPlanIn(key="N-2", summary="Login page", estimate=5, blocked_by=["N-1"])]
    with ScriptedServer(respond) as server:
        reasoner = ClaudeReasoner(api_key="sk-test", model="claude-test", base_url=server.url,
                                  max_retries=0, timeout_s=10)
        roadmap = await RoadmapSmith(stores.state, reasoner).run(
            "t1", RoadmapIn(epics=epics, start_date=MONDAY))
    assert roadmap.produced_by == "claude:claude-test"
    n1 = next(e for e in roadmap.epics if e.key == "N-1")
    assert n1.estimate == 30 and n1.estimated and n1.duration_days == 15
    assert roadmap.critical_path == ["N-1", "N-2"]
