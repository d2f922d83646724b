from __future__ import annotations

import asyncio

from agents.events import AgentEvent, IssueSnapshot
from agents.tasksmith import TaskSmith
from store.factory import Stores


def epic_event(summary: str, event_id: str = "e1", is_epic: bool = True) -> AgentEvent:
    return AgentEvent(tenant="t1", event_id=event_id, kind="issue_created", source="jira",
                      issue=IssueSnapshot(id="9", key="CARE-9", summary=summary,
                                          is_epic=is_epic))


async def test_same_epic_twice_adds_one_proposal(stores: Stores) -> None:
    agent = TaskSmith(stores.state)
    first = await agent.handle_event(epic_event("Patient check-in kiosk"))
    second = await agent.handle_event(epic_event("Patient check-in kiosk", event_id="e2"))
    assert first["action"] == "proposed" and second["action"] == "unchanged"
    state = await stores.state.get("t1", "TaskSmith")
    assert state is not None and len(state.data["proposals"]) == 1


async def test_changed_epic_supersedes_the_earlier_proposal(stores: Stores) -> None:
    agent = TaskSmith(stores.state)
    await agent.handle_event(epic_event("Patient check-in kiosk"))
    await agent.handle_event(epic_event("Patient check-in kiosk with insurance card scan"))
    state = await stores.state.get("t1", "TaskSmith")
    assert state is not None
    assert [p["status"] for p in state.data["proposals"]] == ["superseded", "proposed"]


async def test_non_epic_is_left_alone(stores: Stores) -> None:
    result = await TaskSmith(stores.state).handle_event(epic_event("A story", is_epic=False))
    assert result["action"] == "none"
    assert await stores.state.get("t1", "TaskSmith") is None


async def test_concurrent_epics_all_land(stores: Stores) -> None:
    agent = TaskSmith(stores.state)
    await asyncio.gather(*(
        agent.handle_event(AgentEvent(
            tenant="t1", event_id=f"e{i}", kind="issue_created", source="jira",
            issue=IssueSnapshot(id=str(i), key=f"CARE-{i}", summary=f"Epic {i}", is_epic=True)))
        for i in range(8)
    ))
    state = await stores.state.get("t1", "TaskSmith")
    assert state is not None
    assert sorted(p["epicKey"] for p in state.data["proposals"]) == sorted(
        f"CARE-{i}" for i in range(8))
