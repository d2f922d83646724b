"""CareTrack's models: the rules a tenant configures, the issues it tracks, the findings it keeps.

Nothing here holds issue text beyond a PHI-redacted summary: the mirror keeps the facts the rules
need (status, dates, priority, labels, the *kinds* of PHI detected), never descriptions.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Severity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class Rule(StrEnum):
    STALLED = "stalled"
    SLA_BREACH = "sla_breach"
    OVERDUE = "overdue"
    PHI_WITHOUT_REVIEW = "phi_without_review"
    UNASSIGNED_HIGH_PRIORITY = "unassigned_high_priority"
    EPIC_CHILDREN_DONE = "epic_children_done"


class CareTrackRules(_Camel):
    """Per-tenant rule configuration. Names (status, priority, label) compare case-insensitively.

    Defaults follow common Jira workflows and a clinical team's resolution targets; a tenant
    overrides any of them through ``POST …/agents/CareTrack/run`` with ``{"rules": {…}}``.
    """

    stall_days: dict[str, float] = Field(
        default_factory=lambda: {"in progress": 5.0, "in review": 3.0, "code review": 3.0,
                                 "review": 3.0, "qa": 4.0, "testing": 4.0, "blocked": 2.0,
                                 "to do": 30.0, "backlog": 90.0, "open": 30.0},
        description="Days an issue may stay in a status before it counts as stalled.")
    default_stall_days: float = Field(14, gt=0, description="For statuses not listed.")
    sla_days: dict[str, float] = Field(
        default_factory=lambda: {"highest": 1.0, "blocker": 1.0, "critical": 1.0, "high": 3.0,
                                 "medium": 10.0, "low": 30.0, "lowest": 60.0},
        description="Days from creation to resolution, by priority.")
    phi_labels: list[str] = Field(
        default_factory=lambda: ["phi", "ephi", "hipaa", "pii", "patient-data", "clinical-data"],
        description="Labels or components that mark work as touching PHI.")
    review_labels: list[str] = Field(
        default_factory=lambda: ["compliance-reviewed", "hipaa-reviewed", "privacy-reviewed",
                                 "compliance-approved", "phi-reviewed"],
        description="Labels that record a completed compliance review.")
    high_priorities: list[str] = Field(
        default_factory=lambda: ["highest", "blocker", "critical", "high"],
        description="Priorities that must have an assignee.")
    disabled_rules: list[Rule] = Field(default_factory=list)


class TrackedIssue(_Camel):
    """What CareTrack remembers of an issue between events (no description, summary redacted)."""

    key: str
    summary: str = ""
    issue_type: str = ""
    is_epic: bool = False
    status: str | None = None
    status_category: str | None = None
    status_since: str | None = None
    priority: str | None = None
    assignee: str | None = None
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    phi_kinds: list[str] = Field(default_factory=list)
    due_date: str | None = None
    created: str | None = None
    parent_key: str | None = None

    @property
    def done(self) -> bool:
        return (self.status_category or "").lower() == "done" or (
            (self.status or "").lower() in {"done", "closed", "resolved"})


class Finding(_Camel):
    """One condition found on one issue. ``finding_id`` = rule + issue: stable across runs."""

    finding_id: str
    rule: Rule
    issue_key: str
    severity: Severity
    title: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    recommendation: str = ""
    status: Literal["open", "closed"] = "open"
    first_seen: str = ""
    last_seen: str = ""
    closed_at: str | None = None


class TriageIn(_Camel):
    """What the reasoner sees: the open findings with their rule evidence."""

    findings: list[Finding]


class TriageItem(_Camel):
    finding_id: str
    severity: Severity
    recommendation: str = Field(max_length=500)


class CareTrackTriage(_Camel):
    """The reasoner's answer: a severity and a next step per finding, and a short summary."""

    items: list[TriageItem] = Field(default_factory=list)
    summary: str = ""


class IssueRecordIn(_Camel):
    """An issue given directly to the run endpoint (e.g. from a JQL search in the Forge app)."""

    key: str = Field(min_length=1, max_length=255)
    summary: str = ""
    description: str = ""
    issue_type: str = ""
    is_epic: bool = False
    status: str | None = None
    status_category: Literal["new", "indeterminate", "done"] | None = None
    status_since: datetime | None = None
    priority: str | None = None
    assignee: str | None = None
    labels: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    due_date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    created: datetime | None = None
    parent_key: str | None = None


class CareTrackIn(_Camel):
    """``POST /v1/tenants/{t}/agents/CareTrack/run``: configure rules, add issues, evaluate.

    Every field is optional: ``{}`` re-evaluates the tracked issues now (what the scheduled sweep
    does). ``rules`` replaces the tenant's rule configuration; ``issues`` are tracked as if they
    had arrived by event; ``asOf`` evaluates at another instant (for what-if and tests).
    """

    rules: CareTrackRules | None = None
    issues: list[IssueRecordIn] = Field(default_factory=list, max_length=5000)
    as_of: datetime | None = None


class CareTrackReport(_Camel):
    """The run's answer: what is open now, and what this run opened and closed."""

    open: list[Finding]
    opened: list[str]
    closed: list[str]
    tracked_issues: int
    summary: str = ""
    produced_by: str
    fallback_reason: str | None = None
    evaluated_at: str
