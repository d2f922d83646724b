"""Internal event models: what an agent sees, whatever the wire (Forge or Jira webhook) was."""

from __future__ import annotations

from typing import Any

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
    # Workflow facts used by CareTrack, DealFlow and RoadmapSmith.
    status_category: str | None = None  # Jira's statusCategory.key: new | indeterminate | done
    assignee: str | None = None
    due_date: str | None = None  # YYYY-MM-DD
    created: str | None = None  # ISO 8601
    updated: str | None = None
    status_changed_at: str | None = None  # when the issue entered its current status, if known
    story_points: float | None = None
    original_estimate_s: int | None = None
    blocks: list[str] = Field(default_factory=list)  # keys this issue blocks
    blocked_by: list[str] = Field(default_factory=list)  # keys that block this issue
    # Read through the tenant's discovered custom fields (agents.jira_fields).
    sprint: str | None = None  # the active sprint's name
    start_date: str | None = None  # YYYY-MM-DD
    team: str | None = None


class PageRef(BaseModel):
    """A Confluence page an event is about (the body is not in the event: fetch it)."""

    page_id: str
    space_key: str | None = None
    title: str = ""
    version: int | None = None


class AgentEvent(BaseModel):
    """One event routed to an agent. ``kind`` is normalised: issue_created, issue_updated, …"""

    tenant: str
    event_id: str
    kind: str
    source: str
    issue: IssueSnapshot | None = None
    page: PageRef | None = None
    # Set for kind "run" (an API call's validated input) and "sweep" (a scheduled pass).
    input: dict[str, Any] | None = None
