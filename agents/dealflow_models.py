"""DealFlow's models: the backlog and roster it reads, the assignment plan it produces."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class BacklogItemIn(_Camel):
    """A piece of work to place. Skills come from ``requiredSkills`` when given, else from the
    labels and components that name a roster skill (and every ``skill:<name>`` label)."""

    key: str = Field(min_length=1, max_length=255)
    summary: str = Field("", max_length=1000)
    estimate: float | None = Field(None, ge=0, description="Story points; missing → default.")
    priority: str | None = None
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    required_skills: list[str] | None = None
    due_date: date | None = None


class MemberIn(_Camel):
    """A person on the roster: skills, points per sprint, points already committed."""

    id: str = Field(min_length=1, max_length=128)
    name: str = ""
    skills: list[str] = Field(default_factory=list)
    capacity: float = Field(gt=0, description="Story points per sprint.")
    current_load: float = Field(0, ge=0, description="Points already committed this sprint.")


class DealFlowIn(_Camel):
    """``POST /v1/tenants/{t}/agents/DealFlow/run``: plan a sprint's allocation.

    ``backlog`` defaults to the open, unassigned issues DealFlow tracked from Jira events;
    ``roster`` defaults to the last roster given (and is kept for event-driven re-planning).
    """

    backlog: list[BacklogItemIn] | None = Field(None, max_length=2000)
    roster: list[MemberIn] | None = Field(None, max_length=500)
    sprint_end: date | None = Field(None, description="Work due by then is worth more.")
    default_estimate: float = Field(3, gt=0)


class SkillItem(_Camel):
    key: str
    summary: str = ""
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)


class SkillMapIn(_Camel):
    """What the reasoner sees: items without explicit skills, and the roster's vocabulary."""

    items: list[SkillItem]
    vocabulary: list[str]


class ItemSkills(_Camel):
    key: str
    skills: list[str] = Field(default_factory=list)


class SkillMap(_Camel):
    """The reasoner's answer: the skills each item needs, from the vocabulary."""

    items: list[ItemSkills] = Field(default_factory=list)


class Assignment(_Camel):
    key: str
    member_id: str
    member_name: str
    estimate: float
    value: float
    skills: list[str]
    reason: str


class Unplaced(_Camel):
    key: str
    estimate: float
    skills: list[str]
    reason: str


class MemberLoad(_Camel):
    member_id: str
    capacity: float
    current_load: float
    assigned: float
    free_after: float


class DealFlowPlan(_Camel):
    """Who does what, why, and what could not be placed (and why not)."""

    assignments: list[Assignment]
    unplaced: list[Unplaced]
    load: list[MemberLoad]
    total_value: float
    solver: str
    produced_by: str
    fallback_reason: str | None = None
    planned_at: str
