"""CareTrack's rules: deterministic checks over the tracked issues, and the offline triage.

``evaluate`` is a pure function of (issues, rules, now): the same inputs always give the same
findings, so a sweep that finds nothing new changes nothing. ``reconcile`` merges a run's
findings into the kept ones: new ones open, kept ones refresh, vanished ones close.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any

from agents.caretrack_models import (
    CareTrackRules,
    CareTrackTriage,
    Finding,
    Rule,
    Severity,
    TrackedIssue,
    TriageIn,
    TriageItem,
)

DAY_S = 86_400.0
# In ``TrackedIssue.phi_kinds`` when the text could not be checked for PHI: unknown counts as
# PHI, so work that may hold it still needs its review (fail closed).
PHI_UNCHECKED = "UNCHECKED"


def parse_time(value: str | None) -> datetime | None:
    """Jira's timestamps (``2019-02-15T19:01:52.971-0800``) or dates, as aware UTC."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _days(since: datetime, now: datetime) -> float:
    return round((now - since).total_seconds() / DAY_S, 1)


def _lower(values: list[str]) -> set[str]:
    return {v.strip().lower() for v in values}


def _finding(rule: Rule, issue: TrackedIssue, severity: Severity, title: str,
             **evidence: Any) -> Finding:
    return Finding(finding_id=f"{rule.value}:{issue.key}", rule=rule, issue_key=issue.key,
                   severity=severity, title=title, evidence=evidence)


def _stalled(issue: TrackedIssue, rules: CareTrackRules, now: datetime) -> Finding | None:
    since = parse_time(issue.status_since)
    if issue.done or since is None or not issue.status:
        return None
    limit = rules.stall_days.get(issue.status.lower(), rules.default_stall_days)
    days = _days(since, now)
    if days <= limit:
        return None
    high = (issue.priority or "").lower() in _lower(rules.high_priorities)
    severity = Severity.HIGH if high or days > 2 * limit else Severity.MEDIUM
    return _finding(Rule.STALLED, issue, severity,
                    f"{issue.status} for {days:g} days (limit {limit:g})",
                    status=issue.status, since=issue.status_since, days=days, limitDays=limit)


def _sla(issue: TrackedIssue, rules: CareTrackRules, now: datetime) -> Finding | None:
    created = parse_time(issue.created)
    priority = (issue.priority or "").lower()
    if issue.done or created is None or priority not in rules.sla_days:
        return None
    limit = rules.sla_days[priority]
    age = _days(created, now)
    if age <= limit:
        return None
    severity = (Severity.CRITICAL if priority in {"highest", "blocker", "critical"}
                else Severity.HIGH if priority in _lower(rules.high_priorities)
                else Severity.MEDIUM)
    return _finding(Rule.SLA_BREACH, issue, severity,
                    f"{issue.priority} issue open {age:g} days (SLA {limit:g})",
                    priority=issue.priority, created=issue.created, ageDays=age, slaDays=limit)


def _overdue(issue: TrackedIssue, rules: CareTrackRules, now: datetime) -> Finding | None:
    if issue.done or not issue.due_date:
        return None
    try:
        due = date.fromisoformat(issue.due_date[:10])
    except ValueError:
        return None
    late = (now.date() - due).days
    if late <= 0:
        return None
    high = (issue.priority or "").lower() in _lower(rules.high_priorities)
    return _finding(Rule.OVERDUE, issue, Severity.HIGH if high else Severity.MEDIUM,
                    f"due {issue.due_date}, {late} days late",
                    dueDate=issue.due_date, daysLate=late, priority=issue.priority)


def _phi(issue: TrackedIssue, rules: CareTrackRules, now: datetime) -> Finding | None:
    marks = sorted((_lower(issue.labels) | _lower(issue.components)) & _lower(rules.phi_labels))
    if not marks and not issue.phi_kinds:
        return None
    if _lower(issue.labels) & _lower(rules.review_labels):
        return None
    # Shipped without a review is worse than about to be.
    severity = Severity.CRITICAL if issue.done else Severity.HIGH
    if marks:
        why = f"labelled {', '.join(marks)}"
    elif PHI_UNCHECKED in issue.phi_kinds:
        why = "its text could not be checked for PHI"
    else:
        why = f"PHI in its text ({', '.join(issue.phi_kinds)})"
    return _finding(Rule.PHI_WITHOUT_REVIEW, issue, severity,
                    f"touches PHI ({why}) with no compliance review",
                    phiLabels=marks, phiDetected=issue.phi_kinds,
                    reviewLabels=sorted(rules.review_labels), status=issue.status)


def _unassigned(issue: TrackedIssue, rules: CareTrackRules, now: datetime) -> Finding | None:
    if issue.done or issue.assignee or (issue.priority or "").lower() not in _lower(
            rules.high_priorities):
        return None
    return _finding(Rule.UNASSIGNED_HIGH_PRIORITY, issue, Severity.HIGH,
                    f"{issue.priority} priority with no assignee",
                    priority=issue.priority, status=issue.status)


CHECKS = {
    Rule.STALLED: _stalled,
    Rule.SLA_BREACH: _sla,
    Rule.OVERDUE: _overdue,
    Rule.PHI_WITHOUT_REVIEW: _phi,
    Rule.UNASSIGNED_HIGH_PRIORITY: _unassigned,
}


def evaluate(issues: dict[str, TrackedIssue], rules: CareTrackRules,
             now: datetime) -> list[Finding]:
    """Every finding that holds at ``now``, sorted by id."""
    found: list[Finding] = []
    children: dict[str, list[TrackedIssue]] = defaultdict(list)
    for issue in issues.values():
        if issue.parent_key:
            children[issue.parent_key].append(issue)
        for rule, check in CHECKS.items():
            if rule not in rules.disabled_rules and (f := check(issue, rules, now)):
                found.append(f)
    if Rule.EPIC_CHILDREN_DONE not in rules.disabled_rules:
        for key, kids in children.items():
            epic = issues.get(key)
            if epic and epic.is_epic and not epic.done and all(k.done for k in kids):
                found.append(_finding(
                    Rule.EPIC_CHILDREN_DONE, epic, Severity.LOW,
                    f"all {len(kids)} child issues done but the epic is {epic.status}",
                    children=sorted(k.key for k in kids), status=epic.status))
    return sorted(found, key=lambda f: f.finding_id)


def reconcile(kept: dict[str, dict[str, Any]], found: list[Finding],
              now: str) -> tuple[list[str], list[str]]:
    """Merge ``found`` into ``kept`` (finding id → finding JSON); return (opened, closed) ids.

    A finding that holds again after it closed reopens under the same id (its history shows it).
    """
    opened: list[str] = []
    closed: list[str] = []
    current = {f.finding_id: f for f in found}
    for fid, finding in current.items():
        old = kept.get(fid)
        if old is None or old["status"] == "closed":
            opened.append(fid)
            finding.first_seen = now
        else:
            finding.first_seen = old["firstSeen"]
            finding.recommendation = old.get("recommendation", "")
        finding.last_seen = now
        kept[fid] = finding.model_dump(mode="json", by_alias=True)
    for fid, old in kept.items():
        if fid not in current and old["status"] == "open":
            old.update(status="closed", closedAt=now)
            closed.append(fid)
    return sorted(opened), sorted(closed)


RECOMMENDATIONS = {
    Rule.STALLED: "Ask the assignee what blocks it; split, reassign or move it back to the "
                  "backlog if it is not being worked.",
    Rule.SLA_BREACH: "Escalate to the team lead: resolve, or agree a new target with the "
                     "requester and record why.",
    Rule.OVERDUE: "Re-plan: agree a new due date or cut scope, and tell whoever depends on it.",
    Rule.PHI_WITHOUT_REVIEW: "Request a HIPAA privacy and security review before further work "
                             "ships; label the issue once the review is done.",
    Rule.UNASSIGNED_HIGH_PRIORITY: "Assign an owner today, or lower the priority if it is not "
                                   "urgent.",
    Rule.EPIC_CHILDREN_DONE: "Confirm the epic's goal is met and close it, or add the "
                             "remaining work as child issues.",
}


def offline_triage(triage: TriageIn) -> CareTrackTriage:
    """Keeps each rule's severity and gives the rule's standard next step."""
    items = [TriageItem(finding_id=f.finding_id, severity=f.severity,
                        recommendation=RECOMMENDATIONS[f.rule]) for f in triage.findings]
    counts: dict[str, int] = defaultdict(int)
    for f in triage.findings:
        counts[f.severity.value] += 1
    summary = ", ".join(f"{counts[s.value]} {s.value}" for s in reversed(Severity)
                        if counts[s.value])
    return CareTrackTriage(items=items,
                           summary=f"{len(items)} open finding(s): {summary}" if items
                           else "no open findings")
