"""RoadmapSmith: epics with dependencies and capacity become a dated roadmap.

State (``RoadmapSmith``): ``epics`` (key → EpicPlanIn, from epic events: redacted summary, or
``compliance.fail_closed.WITHHELD`` when the PHI check fails, estimate, "blocks" links, done),
``capacity`` (the last one given) and ``roadmap`` (the latest plan, or ``error``
when the tracked epics form a cycle). An epic event updates the epics and, once a capacity is
known, re-plans.

Reasoning fills in estimates for unestimated epics (Claude from the summaries, scaled by the
estimated ones; offline the median); ordering and dates are computed (``roadmapsmith_plan``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agents.base import Agent
from agents.events import AgentEvent, IssueSnapshot
from agents.reasoners import ReasoningRequest
from agents.roadmapsmith_markdown import render
from agents.roadmapsmith_models import (
    MAX_PLAN_DAYS,
    CapacityIn,
    DependencyCycle,
    EpicPlanIn,
    EstimateIn,
    EstimateItem,
    Estimates,
    PlanTooLong,
    Roadmap,
    RoadmapIn,
    ScheduledEpic,
)
from agents.roadmapsmith_plan import (
    critical_path,
    dependency_edges,
    duration_days,
    milestones,
    next_workday,
    offline_estimates,
    risks,
    schedule,
    topo_order,
    workday,
)
from compliance.fail_closed import redact_or

SYSTEM_PROMPT = """You are RoadmapSmith, a delivery planner for healthcare software teams.
Estimate each unestimated epic in story points, using the estimated epics you are given as the
scale (similar scope, similar points). Give a one-line rationale per estimate. Placeholders such
as [NAME] or [MRN] stand for redacted patient data."""

HANDLED = {"issue_created", "issue_updated"}


def epic_from_issue(issue: IssueSnapshot) -> EpicPlanIn:
    estimate = issue.story_points
    if estimate is None and issue.original_estimate_s:
        estimate = round(issue.original_estimate_s / 3600 / 8, 1)
    return EpicPlanIn(key=issue.key, summary=redact_or(issue.summary)[:1000], estimate=estimate,
                      blocked_by=issue.blocked_by, blocks=issue.blocks,
                      done=(issue.status_category or "").lower() == "done")


class RoadmapSmith(Agent):
    name = "RoadmapSmith"

    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        if event.kind == "run":
            asked = await self.run(event.tenant, RoadmapIn.model_validate(event.input or {}))
            return asked.model_dump(mode="json", by_alias=True)
        issue = event.issue
        if issue is None or not issue.is_epic or event.kind not in HANDLED | {"issue_deleted"}:
            return {"action": "none", "reason": "not an epic event"}
        epic = None if event.kind == "issue_deleted" else epic_from_issue(issue)
        if not await self._track(event.tenant, [(issue.key, epic)]):
            return {"action": "tracked", "key": issue.key}
        roadmap, unplanned = await self._replan(event.tenant)
        if roadmap is None:
            return unplanned
        return {"action": "planned", "end": roadmap.end_date.isoformat(),
                "criticalPath": roadmap.critical_path, "producedBy": roadmap.produced_by,
                "fallbackReason": roadmap.fallback_reason}

    async def handle_events(self, events: list[AgentEvent]) -> dict[str, Any]:
        """A batch of issue events: the epics among them are tracked in order, then one plan."""
        tenant = events[0].tenant if events else ""
        if not events or any(e.tenant != tenant or e.issue is None
                             or e.kind not in HANDLED | {"issue_deleted"} for e in events):
            return await super().handle_events(events)
        updates = [(e.issue.key, None if e.kind == "issue_deleted" else epic_from_issue(e.issue))
                   for e in events if e.issue is not None and e.issue.is_epic]
        if not updates:
            return {"action": "none", "events": len(events), "reason": "no epics"}
        if not await self._track(tenant, updates):
            return {"action": "tracked", "events": len(events)}
        roadmap, unplanned = await self._replan(tenant)
        if roadmap is None:
            return unplanned
        return {"action": "planned", "events": len(events), "end": roadmap.end_date.isoformat()}

    async def _track(self, tenant: str, updates: list[tuple[str, EpicPlanIn | None]]) -> bool:
        """Keep the epics as they now are (None: deleted); whether capacity is known."""
        def change(state: dict[str, Any]) -> bool:
            epics = state.setdefault("epics", {})
            for key, epic in updates:
                if epic is None:
                    epics.pop(key, None)
                else:
                    epics[key] = epic.model_dump(mode="json", by_alias=True)
            return "capacity" in state

        has_capacity, _ = await self.update_state(tenant, change)
        return bool(has_capacity)

    async def _replan(self, tenant: str) -> tuple[Roadmap | None, dict[str, Any]]:
        """Plan again after an event; a plan that cannot be made (a cycle, one past a
        century) cannot be answered with a 422, so its reason is kept where the UI reads it."""
        try:
            return await self.run(tenant, RoadmapIn()), {}
        except DependencyCycle as exc:
            failure: dict[str, Any] = {"error": str(exc), "cycle": exc.cycle}
            outcome = {"action": "cycle", "cycle": exc.cycle}
        except PlanTooLong as exc:
            failure = {"error": str(exc)}
            outcome = {"action": "too_long", "error": str(exc)}
        await self.update_state(tenant, lambda s: s.update(roadmap=failure))
        return None, outcome

    async def run(self, tenant: str, request: RoadmapIn) -> Roadmap:
        """Plan and keep the roadmap; raises ``DependencyCycle`` when no order exists."""
        current = await self.load(tenant)
        data = current.data if current else {}
        given = request.epics if request.epics is not None else [
            EpicPlanIn.model_validate(v) for _, v in sorted(data.get("epics", {}).items())]
        capacity = request.capacity or CapacityIn.model_validate(data.get("capacity") or {})
        done = {e.key for e in given if e.done}
        epics = [e for e in given if not e.done]
        for e in epics:  # finished blockers no longer block
            e.blocked_by = [k for k in e.blocked_by if k not in done]
        preds, external = dependency_edges(epics)
        order = topo_order(preds)  # raises DependencyCycle before any reasoning is paid for

        missing = [EstimateItem(key=e.key, summary=e.summary) for e in epics if e.estimate is None]
        guesses: dict[str, float] = {}
        produced_by, fallback = "offline", None
        if missing:
            estimated = [e for e in epics if e.estimate is not None]
            answer, produced_by, fallback = await self.reason(ReasoningRequest(
                tenant=tenant, task="estimate_epics", system=SYSTEM_PROMPT,
                input=EstimateIn(unestimated=missing, estimated=estimated), output=Estimates,
                offline=offline_estimates))
            guesses = {g.key: g.estimate for g in answer.estimates}
            backup = offline_estimates(EstimateIn(unestimated=missing, estimated=estimated))
            for g in backup.estimates:  # whatever the reasoner left out
                guesses.setdefault(g.key, g.estimate)

        by_key = {e.key: e for e in epics}
        points = {k: e.estimate if e.estimate is not None else guesses[k]
                  for k, e in by_key.items()}
        dur = {k: duration_days(points[k], capacity.points_per_week) for k in by_key}
        cpm = critical_path(order, preds, dur)
        start_day, lane = schedule(order, preds, dur, cpm, capacity.teams)
        if max((start_day[k] + dur[k] for k in order), default=0) > MAX_PLAN_DAYS:
            raise PlanTooLong()
        start = request.start_date or next_workday(datetime.now(UTC).date())
        start = workday(start, 0)
        critical = set(cpm.critical_path)
        scheduled = [
            ScheduledEpic(
                key=k, summary=by_key[k].summary, estimate=points[k],
                estimated=by_key[k].estimate is None, duration_days=dur[k],
                start=workday(start, start_day[k]),
                end=workday(start, start_day[k] + dur[k] - 1), lane=lane[k],
                blocked_by=sorted(preds[k]), slack_days=cpm.ls[k] - cpm.es[k],
                critical=k in critical)
            for k in order
        ]
        finish = max((start_day[k] + dur[k] for k in order), default=1)
        end = workday(start, max(finish, 1) - 1)
        dependency_end = workday(start, max(cpm.end, 1) - 1)
        late = sorted(k for k in order if start_day[k] > cpm.ls[k])
        flags = risks(scheduled, cpm, late, dependency_end, end, capacity, external,
                      request.long_chain, request.target_date)
        marks = milestones(scheduled)
        roadmap = Roadmap(
            start_date=start, end_date=end, epics=scheduled, critical_path=cpm.critical_path,
            milestones=marks, risks=flags,
            markdown=render(scheduled, cpm.critical_path, marks, flags, start, end),
            produced_by=produced_by, fallback_reason=fallback,
            planned_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

        def change(state: dict[str, Any]) -> None:
            if request.capacity is not None:
                state["capacity"] = capacity.model_dump(mode="json", by_alias=True)
            state["roadmap"] = roadmap.model_dump(mode="json", by_alias=True)

        await self.update_state(tenant, change)
        return roadmap
