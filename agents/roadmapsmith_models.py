"""RoadmapSmith's models: epics with dependencies in, a dated roadmap out; the cycle error."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DependencyCycle(ValueError):
    """The epics' "blocks" links form a cycle, so no order exists (HTTP 422)."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = list(cycle)
        # args = (cycle,): the exception pickles back to itself across Ray's process boundary.
        super().__init__(self.cycle)

    def __str__(self) -> str:
        return f"dependency cycle: {' → '.join(self.cycle)}"


# About a century of working days: a plan longer than that says the capacity or an estimate is
# wrong (e.g. 5e-324 points a week), and dates past it would overflow the calendar.
MAX_PLAN_DAYS = 26_000


class PlanTooLong(ValueError):
    """Estimates over capacity put the plan past ``MAX_PLAN_DAYS`` working days (HTTP 422)."""

    def __str__(self) -> str:
        return (f"the plan would span more than {MAX_PLAN_DAYS} working days: check "
                "capacity.pointsPerWeek and the epics' estimates")


class EpicPlanIn(_Camel):
    """An epic to schedule. ``blockedBy``/``blocks`` are Jira "Blocks" links (either side)."""

    key: str = Field(min_length=1, max_length=255)
    summary: str = Field("", max_length=1000)
    estimate: float | None = Field(None, ge=0, description="Story points; missing → estimated.")
    blocked_by: list[str] = Field(default_factory=list)
    blocks: list[str] = Field(default_factory=list)
    done: bool = False


class CapacityIn(_Camel):
    """Team capacity: parallel work streams and the points each delivers per week."""

    teams: int = Field(1, ge=1, le=100)
    points_per_week: float = Field(10, gt=0, description="Per team.")


class RoadmapIn(_Camel):
    """``POST /v1/tenants/{t}/agents/RoadmapSmith/run``: turn epics into a dated roadmap.

    ``epics`` defaults to the open epics RoadmapSmith tracked from Jira events, ``capacity`` to
    the last capacity given. ``startDate`` defaults to the next working day.
    """

    epics: list[EpicPlanIn] | None = Field(None, max_length=1000)
    capacity: CapacityIn | None = None
    start_date: date | None = None
    target_date: date | None = None
    long_chain: int = Field(4, ge=2, description="A chain of this many epics is a risk.")


class EstimateItem(_Camel):
    key: str
    summary: str = ""


class EstimateIn(_Camel):
    """What the reasoner sees: the unestimated epics, and the estimated ones for scale."""

    unestimated: list[EstimateItem]
    estimated: list[EpicPlanIn]


class EpicEstimate(_Camel):
    key: str
    estimate: float = Field(gt=0, le=1000)
    rationale: str = ""


class Estimates(_Camel):
    estimates: list[EpicEstimate] = Field(default_factory=list)


class ScheduledEpic(_Camel):
    key: str
    summary: str
    estimate: float
    estimated: bool = Field(description="True when the estimate was filled in, not given.")
    duration_days: int = Field(description="Working days.")
    start: date
    end: date = Field(description="Last working day.")
    lane: int
    blocked_by: list[str]
    slack_days: int = Field(description="Working days it can slip without delaying the end.")
    critical: bool


class Milestone(_Camel):
    quarter: str  # 2027-Q1
    ends_on: date
    epics: list[str]


class RiskFlag(_Camel):
    kind: Literal["over_capacity", "past_target", "long_chain", "unestimated",
                  "external_dependency"]
    severity: Literal["low", "medium", "high"]
    epic_keys: list[str]
    detail: str


class Roadmap(_Camel):
    start_date: date
    end_date: date
    epics: list[ScheduledEpic]
    critical_path: list[str]
    milestones: list[Milestone]
    risks: list[RiskFlag]
    markdown: str
    produced_by: str
    fallback_reason: str | None = None
    planned_at: str
