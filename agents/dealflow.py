"""DealFlow: allocate backlog work to people by skills, capacity and priority.

State (``DealFlow``): ``backlog`` (key → BacklogItemIn: open, unassigned, non-epic issues seen in
Jira events; summaries redacted, or ``compliance.fail_closed.WITHHELD`` when the PHI check
fails), ``roster`` (the last roster given) and ``plan`` (the latest DealFlowPlan). An issue
event updates the backlog and, once a roster is known, re-plans.

Reasoning decides which skills each item needs (Claude reads the summary; offline uses labels
and components); the allocation itself is an exact optimisation (``agents.dealflow_solver``), so
neither reasoner can overfill anyone.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

from agents.base import Agent
from agents.dealflow_models import (
    BacklogItemIn,
    DealFlowIn,
    DealFlowPlan,
    MemberIn,
    SkillItem,
    SkillMap,
    SkillMapIn,
)
from agents.dealflow_solver import SOLVER, allocate, norm, offline_skills
from agents.events import AgentEvent, IssueSnapshot
from agents.reasoners import ReasoningRequest
from compliance.fail_closed import redact_or

SYSTEM_PROMPT = """You are DealFlow, a resource planner for a healthcare software team.
For each backlog item, list the skills a person needs to do it, chosen ONLY from the given
vocabulary (the roster's skills). Use the summary, labels and components. List a skill only if
the work clearly needs it; an item that any engineer can do needs no skills. Placeholders such
as [NAME] or [MRN] stand for redacted patient data."""

ISSUE_KINDS = {"issue_created", "issue_updated", "issue_assigned"}
HOURS_PER_POINT = 8.0  # an original estimate without story points: one ideal day per point


def backlog_item(issue: IssueSnapshot) -> BacklogItemIn:
    estimate = issue.story_points
    if estimate is None and issue.original_estimate_s:
        estimate = round(issue.original_estimate_s / 3600 / HOURS_PER_POINT, 1)
    due = None
    if issue.due_date:
        try:
            due = date.fromisoformat(issue.due_date[:10])
        except ValueError:
            due = None
    return BacklogItemIn(key=issue.key, summary=redact_or(issue.summary)[:1000], estimate=estimate,
                         priority=issue.priority, labels=issue.labels,
                         components=issue.components, due_date=due)


def _open_unassigned(issue: IssueSnapshot) -> bool:
    done = (issue.status_category or "").lower() == "done"
    return not (done or issue.is_epic or issue.assignee)


class DealFlow(Agent):
    name = "DealFlow"

    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        if event.kind == "run":
            plan = await self.run(event.tenant, DealFlowIn.model_validate(event.input or {}))
            return plan.model_dump(mode="json", by_alias=True)
        issue = event.issue
        if issue is None or event.kind not in ISSUE_KINDS | {"issue_deleted"}:
            return {"action": "none", "reason": f"DealFlow does not handle {event.kind}"}
        keep = event.kind != "issue_deleted" and _open_unassigned(issue)
        item = backlog_item(issue).model_dump(mode="json", by_alias=True) if keep else None

        def change(state: dict[str, Any]) -> bool:
            backlog = state.setdefault("backlog", {})
            if item is None:
                backlog.pop(issue.key, None)
            else:
                backlog[issue.key] = item
            return bool(state.get("roster"))

        has_roster, _ = await self.update_state(event.tenant, change)
        if not has_roster:
            return {"action": "tracked", "key": issue.key, "inBacklog": keep}
        plan = await self.run(event.tenant, DealFlowIn())
        return {"action": "planned", "assigned": len(plan.assignments),
                "unplaced": len(plan.unplaced), "producedBy": plan.produced_by,
                "fallbackReason": plan.fallback_reason}

    async def handle_events(self, events: list[AgentEvent]) -> dict[str, Any]:
        """A batch of issue events: the backlog takes them in order, then one plan."""
        tenant = events[0].tenant if events else ""
        if not events or any(e.tenant != tenant or e.issue is None
                             or e.kind not in ISSUE_KINDS | {"issue_deleted"} for e in events):
            return await super().handle_events(events)
        updates: list[tuple[str, dict[str, Any] | None]] = []
        for e in events:
            assert e.issue is not None  # checked above
            keep = e.kind != "issue_deleted" and _open_unassigned(e.issue)
            updates.append((e.issue.key, backlog_item(e.issue).model_dump(
                mode="json", by_alias=True) if keep else None))

        def change(state: dict[str, Any]) -> bool:
            backlog = state.setdefault("backlog", {})
            for key, item in updates:
                if item is None:
                    backlog.pop(key, None)
                else:
                    backlog[key] = item
            return bool(state.get("roster"))

        has_roster, _ = await self.update_state(tenant, change)
        if not has_roster:
            return {"action": "tracked", "events": len(events)}
        plan = await self.run(tenant, DealFlowIn())
        return {"action": "planned", "events": len(events), "assigned": len(plan.assignments),
                "unplaced": len(plan.unplaced)}

    async def run(self, tenant: str, request: DealFlowIn) -> DealFlowPlan:
        """Plan ``request`` (or the tracked backlog with the saved roster) and keep the plan."""
        current = await self.load(tenant)
        data = current.data if current else {}
        items = request.backlog if request.backlog is not None else [
            BacklogItemIn.model_validate(v) for _, v in sorted(data.get("backlog", {}).items())]
        roster = request.roster if request.roster is not None else [
            MemberIn.model_validate(m) for m in data.get("roster", [])]

        explicit = {i.key: sorted({norm(s) for s in i.required_skills})
                    for i in items if i.required_skills is not None}
        vocabulary = sorted({norm(s) for m in roster for s in m.skills})
        to_map = [SkillItem(key=i.key, summary=i.summary, labels=i.labels,
                            components=i.components) for i in items if i.key not in explicit]
        skills: dict[str, list[str]] = dict(explicit)
        produced_by, fallback = "offline", None
        if to_map:
            mapped, produced_by, fallback = await self.reason(ReasoningRequest(
                tenant=tenant, task="map_skills", system=SYSTEM_PROMPT,
                input=SkillMapIn(items=to_map, vocabulary=vocabulary), output=SkillMap,
                offline=offline_skills))
            forced = offline_skills(SkillMapIn(items=to_map, vocabulary=[]))
            for entry in mapped.items:
                # The reasoner may only name roster skills; explicit skill: labels always count.
                skills[entry.key] = sorted({norm(s) for s in entry.skills} & set(vocabulary))
            for entry in forced.items:
                skills[entry.key] = sorted(set(skills.get(entry.key, [])) | set(entry.skills))

        today = datetime.now(UTC).date()
        # HiGHS is CPU-bound: keep the replica's event loop free while it works.
        result = await asyncio.to_thread(allocate, items, skills, roster,
                                         request.default_estimate, request.sprint_end, today)
        plan = DealFlowPlan(
            assignments=result.assignments, unplaced=result.unplaced, load=result.load,
            total_value=result.total_value, solver=SOLVER, produced_by=produced_by,
            fallback_reason=fallback,
            planned_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

        def change(state: dict[str, Any]) -> None:
            if request.roster is not None:
                state["roster"] = [m.model_dump(mode="json", by_alias=True) for m in roster]
            state["plan"] = plan.model_dump(mode="json", by_alias=True)

        await self.update_state(tenant, change)
        return plan

