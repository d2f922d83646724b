"""RoadmapSmith's planner: dependency order, critical path, dated schedule, milestones, risks.

Time is counted in working days (Monday to Friday) from the start date.

1. Order: Kahn's topological sort over "blocks" links (ties by key); a cycle raises
   ``DependencyCycle`` naming it. Links to epics outside the set (or already done) do not order
   anything; links to unknown epics are flagged as external dependencies.
2. Critical path method on the durations alone: earliest and latest start per epic, slack =
   latest - earliest, and the critical path, the longest chain (every epic on it has no slack).
3. Dated schedule under capacity: a serial schedule over ``teams`` lanes, taking ready epics by
   least slack, so dependencies always finish before their dependents start and no more epics
   run at once than there are teams. When capacity, not dependencies, sets the end date, that
   is the "over capacity" risk.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

import numpy as np

from agents.roadmapsmith_models import (
    MAX_PLAN_DAYS,
    CapacityIn,
    DependencyCycle,
    EpicEstimate,
    EpicPlanIn,
    EstimateIn,
    Estimates,
    Milestone,
    PlanTooLong,
    RiskFlag,
    ScheduledEpic,
)

FALLBACK_ESTIMATE = 13.0


def offline_estimates(request: EstimateIn) -> Estimates:
    """Unestimated epics get the median of the estimated ones (13 points if there are none)."""
    known = [e.estimate for e in request.estimated if e.estimate]
    typical = float(median(known)) if known else FALLBACK_ESTIMATE
    why = "median of the estimated epics" if known else "no estimates to go by"
    return Estimates(estimates=[EpicEstimate(key=e.key, estimate=typical, rationale=why)
                                for e in request.unestimated])


def workday(start: date, offset: int) -> date:
    """The working day ``offset`` working days after ``start`` (rolled forward to a weekday)."""
    return date.fromisoformat(str(np.busday_offset(start.isoformat(), offset, roll="forward")))


def next_workday(today: date) -> date:
    return workday(today + timedelta(days=1), 0)


def dependency_edges(epics: list[EpicPlanIn]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(preds, external): blocker keys per epic inside the set, unknown blockers per epic."""
    keys = {e.key for e in epics}
    preds: dict[str, set[str]] = {e.key: set() for e in epics}
    external: dict[str, set[str]] = defaultdict(set)
    for e in epics:
        for blocker in e.blocked_by:
            (preds[e.key] if blocker in keys else external[e.key]).add(blocker)
        for blocked in e.blocks:
            if blocked in keys:
                preds[blocked].add(e.key)
    return preds, external


def find_cycle(preds: dict[str, set[str]]) -> list[str] | None:
    """A dependency cycle as [a, b, …, a] in "blocks" order, or None."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        colour[node] = 1
        stack.append(node)
        for p in sorted(preds[node]):
            if colour.get(p) == 1:
                cycle = stack[stack.index(p):] + [p]
                return list(reversed(cycle))  # blockers first: a blocks b blocks … a
            if p not in colour and (found := visit(p)):
                return found
        stack.pop()
        colour[node] = 2
        return None

    for node in sorted(preds):
        if node not in colour and (found := visit(node)):
            return found
    return None


def topo_order(preds: dict[str, set[str]]) -> list[str]:
    cycle = find_cycle(preds)
    if cycle:
        raise DependencyCycle(cycle)
    succs: dict[str, set[str]] = defaultdict(set)
    for k, ps in preds.items():
        for p in ps:
            succs[p].add(k)
    indeg = {k: len(ps) for k, ps in preds.items()}
    ready = sorted(k for k, d in indeg.items() if d == 0)
    heapq.heapify(ready)
    order = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for s in succs[k]:
            indeg[s] -= 1
            if indeg[s] == 0:
                heapq.heappush(ready, s)
    return order


def duration_days(estimate: float, points_per_week: float) -> int:
    days = estimate / points_per_week * 5
    if not days <= MAX_PLAN_DAYS:  # also inf and nan
        raise PlanTooLong()
    return max(1, math.ceil(days))


@dataclass
class Cpm:
    es: dict[str, int]
    ls: dict[str, int]
    end: int
    critical_path: list[str]
    longest_chain: list[str]


def critical_path(order: list[str], preds: dict[str, set[str]], dur: dict[str, int]) -> Cpm:
    es: dict[str, int] = {}
    for k in order:
        es[k] = max((es[p] + dur[p] for p in preds[k]), default=0)
    end = max((es[k] + dur[k] for k in order), default=0)
    succs: dict[str, list[str]] = defaultdict(list)
    for k in order:
        for p in preds[k]:
            succs[p].append(k)
    lf: dict[str, int] = {}
    for k in reversed(order):
        lf[k] = min((lf[s] - dur[s] for s in succs[k]), default=end)
    ls = {k: lf[k] - dur[k] for k in order}
    # Walk back from the epic that ends last through blockers that end exactly when it starts.
    path: list[str] = []
    tail = [k for k in order if es[k] + dur[k] == end]
    node = sorted(tail)[0] if tail else None
    while node is not None:
        path.append(node)
        tight = sorted(p for p in preds[node] if es[p] + dur[p] == es[node] and ls[p] == es[p])
        node = tight[0] if tight else None
    # The longest chain by number of epics (a risk of its own, whatever the durations).
    depth: dict[str, list[str]] = {}
    for k in order:
        best = max((depth[p] for p in sorted(preds[k])), key=len, default=[])
        depth[k] = [*best, k]
    longest = max(depth.values(), key=len, default=[])
    return Cpm(es, ls, end, list(reversed(path)), longest)


def schedule(order: list[str], preds: dict[str, set[str]], dur: dict[str, int],
             cpm: Cpm, teams: int) -> tuple[dict[str, int], dict[str, int]]:
    """(start day, lane) per epic: ready epics by least slack, on the lane free soonest."""
    start: dict[str, int] = {}
    lane_of: dict[str, int] = {}
    lanes = [0] * teams
    waiting = set(order)
    while waiting:
        ready = [k for k in waiting if preds[k] <= start.keys()]
        k = min(ready, key=lambda r: (cpm.ls[r] - cpm.es[r], cpm.es[r], r))
        lane = min(range(teams), key=lambda i: (lanes[i], i))
        begin = max([lanes[lane], *(start[p] + dur[p] for p in preds[k])])
        start[k], lane_of[k] = begin, lane
        lanes[lane] = begin + dur[k]
        waiting.discard(k)
    return start, lane_of


def quarter(d: date) -> str:
    return f"{d.year}-Q{(d.month - 1) // 3 + 1}"


def milestones(epics: list[ScheduledEpic]) -> list[Milestone]:
    by_q: dict[str, list[ScheduledEpic]] = defaultdict(list)
    for e in epics:
        by_q[quarter(e.end)].append(e)
    return [Milestone(quarter=q, ends_on=max(e.end for e in es),
                      epics=[e.key for e in sorted(es, key=lambda e: (e.end, e.key))])
            for q, es in sorted(by_q.items())]


def risks(epics: list[ScheduledEpic], cpm: Cpm, late: list[str], dependency_end: date,
          end: date, capacity: CapacityIn, external: dict[str, set[str]], long_chain: int,
          target: date | None) -> list[RiskFlag]:
    """The plan's risk flags; ``late`` = epics capacity pushed past their latest start."""
    flags: list[RiskFlag] = []
    if end > dependency_end:
        flags.append(RiskFlag(
            kind="over_capacity", severity="high", epic_keys=late,
            detail=f"{capacity.teams} team(s) at {capacity.points_per_week:g} points a week "
                   f"push the finish from {dependency_end} (dependencies alone) to {end}"))
    if target is not None and end > target:
        flags.append(RiskFlag(
            kind="past_target", severity="high",
            epic_keys=sorted(e.key for e in epics if e.end > target),
            detail=f"the plan ends {end}, after the target {target}"))
    if len(cpm.longest_chain) >= long_chain:
        flags.append(RiskFlag(
            kind="long_chain", severity="medium", epic_keys=cpm.longest_chain,
            detail=f"{len(cpm.longest_chain)} epics in one dependency chain: "
                   f"{' → '.join(cpm.longest_chain)}; a slip in any delays the rest"))
    guessed = sorted(e.key for e in epics if e.estimated)
    if guessed:
        flags.append(RiskFlag(
            kind="unestimated", severity="medium", epic_keys=guessed,
            detail=f"{len(guessed)} epic(s) had no estimate; their dates rest on a guess"))
    for key, others in sorted(external.items()):
        flags.append(RiskFlag(
            kind="external_dependency", severity="low", epic_keys=[key],
            detail=f"{key} is blocked by {', '.join(sorted(others))}, outside this plan"))
    return flags
