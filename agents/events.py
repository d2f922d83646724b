"""Internal event models: what an agent sees, whatever the wire (Forge or Jira webhook) was."""

from __future__ import annotations

from pydantic import BaseModel, Field


class IssueSnapshot(BaseModel):
    """The parts of a Jira issue the agents reason about."""

    id: str
    key: str
    summary: str
    description: str = ""
    issue_type: str = ""
    is_epic: bool = False
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    priority: str | None = None
    status: str | None = None
    project_key: str | None = None
    parent_key: str | None = None


class AgentEvent(BaseModel):
    """One event routed to an agent. ``kind`` is normalised: issue_created, issue_updated, …"""

    tenant: str
    event_id: str
    kind: str
    source: str
    issue: IssueSnapshot | None = None
