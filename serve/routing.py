"""Which agents an event goes to. One table, used by the ingress (accept or ignore) and the
orchestrator (dispatch)."""

from __future__ import annotations

from agents.events import AgentEvent

# Issue events CareTrack watches (its mirror must see every change, deletions included).
WORKFLOW_KINDS = {"issue_created", "issue_updated", "issue_assigned", "issue_deleted"}


def route(event: AgentEvent) -> list[str]:
    agents = []
    issue = event.issue
    if event.kind in {"issue_created", "issue_updated"} and issue and issue.is_epic:
        agents.append("TaskSmith")
    if event.kind in WORKFLOW_KINDS and issue is not None:
        agents.append("CareTrack")
        # Epics are roadmap material; everything else is backlog to allocate.
        agents.append("RoadmapSmith" if issue.is_epic else "DealFlow")
    if event.kind.startswith("page_") and event.page is not None:
        agents.append("MindMesh")
    return agents
