"""TaskSmith's models: the epic it reads, the plan it proposes, the proposal it keeps."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class EpicIn(_Camel):
    key: str
    id: str
    summary: str
    description: str = ""
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    priority: str | None = None
    project_key: str | None = None


class SubtaskPlan(_Camel):
    title: str = Field(min_length=1, max_length=255)
    description: str
    acceptance_criteria: list[str] = Field(min_length=1)
    story_points: int = Field(ge=1, le=21)
    labels: list[str] = Field(default_factory=list)
    order: int = Field(ge=1)


class TaskSmithPlan(_Camel):
    subtasks: list[SubtaskPlan] = Field(min_length=3, max_length=12)
    rationale: str = ""


class Proposal(_Camel):
    proposal_id: str
    epic_key: str
    epic_id: str
    event_id: str
    content_hash: str
    status: str = "proposed"  # proposed | superseded | approved
    subtasks: list[SubtaskPlan]
    rationale: str = ""
    produced_by: str
    fallback_reason: str | None = None
    created_at: str
