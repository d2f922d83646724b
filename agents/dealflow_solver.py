"""DealFlow's allocation: a generalised assignment problem solved as a MILP.

Variables x[i, j] ∈ {0, 1} for every (item i, member j) where j has all of i's skills.
    maximise   Σ value[i] · x[i, j]  (+ a small bonus for a close skill fit)
    subject to Σ_j x[i, j] ≤ 1                        each item at most once
               Σ_i estimate[i] · x[i, j] ≤ free[j]    nobody over capacity
solved by ``scipy.optimize.milp`` (HiGHS branch and bound): optimal where a greedy pass is not
(one big item can be worth less than the three small ones it would crowd out).

The offline skill mapper also lives here: labels and components that name a roster skill, and
every ``skill:<name>`` label (a skill nobody has makes the item unplaceable, on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from agents.dealflow_models import (
    Assignment,
    BacklogItemIn,
    ItemSkills,
    MemberIn,
    MemberLoad,
    SkillMap,
    SkillMapIn,
    Unplaced,
)

SOLVER = "scipy.optimize.milp (HiGHS)"
PRIORITY_WEIGHT = {"highest": 16.0, "blocker": 16.0, "critical": 16.0, "high": 8.0,
                   "medium": 4.0, "low": 2.0, "lowest": 1.0}
DEFAULT_WEIGHT = PRIORITY_WEIGHT["medium"]
DUE_BONUS = 1.5  # work due within the sprint (or already late) is worth half as much again
FIT_BONUS = 0.01  # ties go to the closest skill fit, keeping generalists free
SKILL_PREFIX = "skill:"


def norm(skill: str) -> str:
    return skill.strip().lower()


def offline_skills(request: SkillMapIn) -> SkillMap:
    """Labels/components that are roster skills, plus explicit ``skill:`` labels."""
    vocab = {norm(v) for v in request.vocabulary}
    out = []
    for item in request.items:
        skills = set()
        for tag in [*item.labels, *item.components]:
            t = norm(tag)
            if t.startswith(SKILL_PREFIX):
                skills.add(t[len(SKILL_PREFIX):].strip())
            elif t in vocab:
                skills.add(t)
        out.append(ItemSkills(key=item.key, skills=sorted(skills)))
    return SkillMap(items=out)


def value_of(item: BacklogItemIn, sprint_end: date | None, today: date) -> float:
    weight = PRIORITY_WEIGHT.get(norm(item.priority or ""), DEFAULT_WEIGHT)
    due_soon = item.due_date is not None and item.due_date <= (sprint_end or today)
    return weight * (DUE_BONUS if due_soon else 1.0)


@dataclass
class Allocation:
    assignments: list[Assignment]
    unplaced: list[Unplaced]
    load: list[MemberLoad]
    total_value: float


def _fmt(x: float) -> str:
    return f"{x:g}"


def allocate(items: list[BacklogItemIn], skills: dict[str, list[str]], roster: list[MemberIn],
             default_estimate: float, sprint_end: date | None, today: date) -> Allocation:
    """The optimal plan for ``items`` over ``roster``; ``skills`` maps item key → skills."""
    est = [item.estimate if item.estimate is not None else default_estimate for item in items]
    need = [set(skills.get(item.key, [])) for item in items]
    have = [{norm(s) for s in m.skills} for m in roster]
    free = [max(m.capacity - m.current_load, 0.0) for m in roster]
    value = [value_of(item, sprint_end, today) for item in items]
    pairs = [(i, j) for i in range(len(items)) for j in range(len(roster))
             if need[i] <= have[j] and est[i] <= free[j] + 1e-9]

    chosen: list[tuple[int, int]] = []
    if pairs:
        n = len(pairs)
        fit = [1.0 / (1 + len(have[j] - need[i])) for i, j in pairs]
        c = -np.array([value[i] * (1 + FIT_BONUS * f) for (i, _), f in zip(pairs, fit,
                                                                             strict=True)])
        a = lil_matrix((len(items) + len(roster), n))
        for col, (i, j) in enumerate(pairs):
            a[i, col] = 1.0
            a[len(items) + j, col] = est[i]
        upper = np.array([1.0] * len(items) + free)
        result = milp(c, constraints=LinearConstraint(a.tocsr(), -np.inf, upper),
                      integrality=np.ones(n), bounds=Bounds(0, 1),
                      options={"time_limit": 20.0})
        if result.x is not None:
            chosen = [pairs[col] for col in range(n) if result.x[col] > 0.5]

    used = [0.0] * len(roster)
    by_item: dict[int, int] = {}
    for i, j in sorted(chosen):
        by_item[i] = j
        used[j] += est[i]

    assignments = []
    for i, j in sorted(by_item.items(), key=lambda p: (-value[p[0]], items[p[0]].key)):
        item, m = items[i], roster[j]
        why = [f"{m.name or m.id} has {', '.join(sorted(need[i]))}" if need[i]
               else f"no special skill needed; {m.name or m.id} has room"]
        why.append(f"{_fmt(est[i])} points fit in {_fmt(free[j])} free "
                   f"({_fmt(free[j] - used[j])} left after the plan)")
        why.append(f"priority {item.priority or 'unset'}"
                   + (f", due {item.due_date.isoformat()}" if item.due_date else ""))
        assignments.append(Assignment(key=item.key, member_id=m.id, member_name=m.name or m.id,
                                      estimate=est[i], value=value[i], skills=sorted(need[i]),
                                      reason="; ".join(why)))

    unplaced = []
    for i, item in enumerate(items):
        if i in by_item:
            continue
        unplaced.append(Unplaced(key=item.key, estimate=est[i], skills=sorted(need[i]),
                                 reason=_why_not(i, need, have, est, free, roster)))
    load = [MemberLoad(member_id=m.id, capacity=m.capacity, current_load=m.current_load,
                       assigned=used[j], free_after=free[j] - used[j])
            for j, m in enumerate(roster)]
    total = sum(value[i] for i in by_item)
    return Allocation(assignments, unplaced, load, total)


def _why_not(i: int, need: list[set[str]], have: list[set[str]], est: list[float],
             free: list[float], roster: list[MemberIn]) -> str:
    if not roster:
        return "the roster is empty"
    everyone = set().union(*have)
    missing = sorted(need[i] - everyone)
    if missing:
        return f"nobody on the roster has {', '.join(missing)}"
    qualified = [j for j in range(len(roster)) if need[i] <= have[j]]
    if not qualified:
        return f"no one person has all of {', '.join(sorted(need[i]))}"
    best = max(qualified, key=lambda j: free[j])
    names = ", ".join(roster[j].name or roster[j].id for j in qualified)
    if est[i] > free[best] + 1e-9:
        return (f"{_fmt(est[i])} points exceed the free capacity of every qualified member "
                f"(at most {_fmt(free[best])}: {roster[best].name or roster[best].id})")
    return f"capacity of the qualified members ({names}) went to higher-value work"
