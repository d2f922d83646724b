"""Which agents an event goes to. One table, used by the ingress (accept or ignore) and the
orchestrator (dispatch)."""

from __future__ import annotations

from agents.events import AgentEvent


def route(event: AgentEvent) -> list[str]:
    agents = []
    if event.kind in {"issue_created", "issue_updated"} and event.issue and event.issue.is_epic:
        agents.append("TaskSmith")
    return agents
