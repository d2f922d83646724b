"""A roadmap as Markdown: a summary, a Mermaid Gantt chart, milestones and risks.

Mermaid task lines are ``name :tags, id, start, end``; a colon, ``#`` or ``;`` in an epic's
summary would end the name early, so names are sanitised. Dates are explicit (start and the day
after the last working day), so the chart needs no ``excludes`` rule to agree with the plan.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from agents.roadmapsmith_models import Milestone, RiskFlag, ScheduledEpic
from agents.roadmapsmith_plan import quarter

_UNSAFE = re.compile(r"[:#;\n\r`]+")


def _name(epic: ScheduledEpic) -> str:
    text = _UNSAFE.sub(" ", f"{epic.key} {epic.summary}").strip()
    return re.sub(r"\s+", " ", text)[:60]


def _task_id(key: str) -> str:
    return "t_" + re.sub(r"[^A-Za-z0-9_]", "_", key)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(epics: list[ScheduledEpic], critical: list[str], marks: list[Milestone],
           risks: list[RiskFlag], start: date, end: date) -> str:
    lines = [
        "# Roadmap",
        "",
        f"{len(epics)} epic(s) from {start} to {end}. "
        f"Critical path: {' → '.join(critical) if critical else 'none'}.",
        "",
        "```mermaid",
        "gantt",
        "    title Roadmap",
        "    dateFormat YYYY-MM-DD",
        "    axisFormat %Y-%m-%d",
    ]
    by_quarter: dict[str, list[ScheduledEpic]] = {}
    for e in sorted(epics, key=lambda e: (e.start, e.key)):
        by_quarter.setdefault(quarter(e.start), []).append(e)
    for q, group in by_quarter.items():
        lines.append(f"    section {q}")
        for e in group:
            tags = "crit, " if e.critical else ""
            lines.append(f"    {_name(e)} :{tags}{_task_id(e.key)}, {e.start}, "
                         f"{e.end + timedelta(days=1)}")
    for m in marks:
        lines.append(f"    {m.quarter} milestone :milestone, {m.ends_on}, 0d")
    lines += ["```", "", "| epic | start | end | points | slack (days) | blocked by |",
              "|---|---|---|---|---|---|"]
    for e in sorted(epics, key=lambda e: (e.start, e.key)):
        points = f"{e.estimate:g}" + (" (estimated)" if e.estimated else "")
        key = f"**{e.key}**" if e.critical else e.key
        lines.append(f"| {key} {_cell(e.summary)} | {e.start} | {e.end} | {points} | "
                     f"{e.slack_days} | {', '.join(e.blocked_by) or '-'} |")
    lines += ["", "## Milestones", ""]
    lines += [f"- {m.quarter} (by {m.ends_on}): {', '.join(m.epics)}" for m in marks] or ["- none"]
    lines += ["", "## Risks", ""]
    lines += [f"- **{r.kind}** ({r.severity}): {_cell(r.detail)}" for r in risks] or ["- none"]
    return "\n".join(lines) + "\n"
