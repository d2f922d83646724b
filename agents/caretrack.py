"""CareTrack: workflow monitoring (stalls, SLA breaches, PHI without review, …), per tenant.

State (``CareTrack``): ``issues`` (key → TrackedIssue: the facts the rules need, summary
redacted, no description), ``findings`` (finding id → Finding, open or closed), ``rules`` (the
tenant's CareTrackRules, defaults when absent) and ``lastRun``. When the PHI check fails, a
summary is kept as ``compliance.fail_closed.WITHHELD`` and its PHI kinds as ``UNCHECKED``
(which the PHI rule treats as PHI), and the event is still processed.

Every run (an issue event, the scheduled sweep, or ``POST …/run``) updates the mirror, evaluates
every rule over every tracked issue at the current time and reconciles: findings are keyed by
rule and issue, so a condition found again is the same finding (deduplicated across runs), and a
condition that cleared closes its finding. Only *new* findings go to the reasoner for triage
(severity and next step), so a sweep that finds nothing new costs no LLM call.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from agents.base import Agent
from agents.caretrack_models import (
    CareTrackIn,
    CareTrackReport,
    CareTrackRules,
    CareTrackTriage,
    Finding,
    IssueRecordIn,
    Rule,
    Severity,
    TrackedIssue,
    TriageIn,
)
from agents.caretrack_rules import (
    PHI_UNCHECKED,
    RECOMMENDATIONS,
    evaluate,
    offline_triage,
    reconcile,
)
from agents.events import AgentEvent, IssueSnapshot
from agents.reasoners import ReasoningRequest
from compliance import phi
from compliance.fail_closed import redact_or
from store.state import StateStore

SYSTEM_PROMPT = """You are CareTrack, the delivery and compliance monitor of a healthcare
software team that works in Jira. You are given findings that deterministic workflow rules just
raised (stalled issues, SLA breaches, overdue work, work touching PHI without a compliance
review, high-priority work without an assignee, epics whose children are all done). For each
finding, confirm or adjust its severity (low, medium, high, critical) from its evidence and give
one concrete next step for the team lead. PHI handled without a HIPAA review is never below
high. Then summarise the state of the workflow in two sentences. Placeholders such as [NAME] or
[MRN] stand for redacted patient data."""

ISSUE_KINDS = {"issue_created", "issue_updated", "issue_assigned"}
RANK = {s: i for i, s in enumerate(Severity)}

# The sweeper must know which tenants to sweep; the state store lists agents per tenant, not
# tenants, so CareTrack keeps a directory under a reserved tenant id. TENANT_RE requires a
# tenant to start with a letter or digit, so "~" can never be a real tenant.
DIRECTORY_TENANT = "~clinisight"
DIRECTORY_AGENT = "CareTrack.tenants"


class TenantDirectory:
    """The tenants CareTrack tracks, for the scheduled sweep."""

    def __init__(self, state: StateStore) -> None:
        self.state = state
        self._known: set[str] = set()

    async def add(self, tenant: str) -> None:
        if tenant in self._known:
            return
        def listed(data: dict[str, Any]) -> dict[str, Any]:
            tenants = list(data.get("tenants", []))
            return data if tenant in tenants else {**data, "tenants": sorted([*tenants, tenant])}

        # Known only once written: a conflict that outlasts the store's retries raises, and
        # the next event of the tenant tries again, so no tenant is left out of the sweep.
        await self.state.update(DIRECTORY_TENANT, DIRECTORY_AGENT, listed)
        self._known.add(tenant)

    async def tenants(self) -> list[str]:
        rec = await self.state.get(DIRECTORY_TENANT, DIRECTORY_AGENT)
        return list(rec.data.get("tenants", [])) if rec else []


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _phi_kinds(*texts: str) -> list[str]:
    try:
        return sorted({span.kind.value for text in texts for span in phi.find_phi(text)})
    except phi.PhiCheckFailed:
        return [PHI_UNCHECKED]


def track_snapshot(previous: dict[str, Any] | None, issue: IssueSnapshot,
                   now: datetime) -> TrackedIssue:
    """The mirror entry for an issue event; keeps when the current status began."""
    since = issue.status_changed_at
    if since is None and previous is not None:
        same = previous.get("status") == issue.status
        since = previous.get("statusSince") if same else _iso(now)
    return TrackedIssue(
        key=issue.key, summary=redact_or(issue.summary), issue_type=issue.issue_type,
        is_epic=issue.is_epic, status=issue.status, status_category=issue.status_category,
        # First sight without a transition time: the last update is the latest the status can
        # have changed, so the stall is never overstated.
        status_since=since or issue.updated or issue.created, priority=issue.priority,
        assignee=issue.assignee, labels=issue.labels, components=issue.components,
        phi_kinds=_phi_kinds(issue.summary, issue.description), due_date=issue.due_date,
        created=issue.created, parent_key=issue.parent_key,
    )


def track_record(record: IssueRecordIn, now: datetime) -> TrackedIssue:
    """The mirror entry for an issue given to the run endpoint."""
    return TrackedIssue(
        key=record.key, summary=redact_or(record.summary), issue_type=record.issue_type,
        is_epic=record.is_epic, status=record.status, status_category=record.status_category,
        status_since=_iso(record.status_since or now), priority=record.priority,
        assignee=record.assignee, labels=record.labels, components=record.components,
        phi_kinds=_phi_kinds(record.summary, record.description), due_date=record.due_date,
        created=_iso(record.created) if record.created else None, parent_key=record.parent_key,
    )


class CareTrack(Agent):
    name = "CareTrack"

    def __init__(self, state: StateStore, *args: Any, **kwargs: Any) -> None:
        super().__init__(state, *args, **kwargs)
        self.directory = TenantDirectory(state)

    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        if event.kind == "run":
            report = await self.run(event.tenant, CareTrackIn.model_validate(event.input or {}))
            return report.model_dump(mode="json", by_alias=True)
        if event.kind == "sweep":
            report = await self.run(event.tenant, CareTrackIn())
        elif event.kind in ISSUE_KINDS and event.issue is not None:
            report = await self.run(event.tenant, CareTrackIn(), snapshot=event.issue)
        elif event.kind == "issue_deleted" and event.issue is not None:
            report = await self.run(event.tenant, CareTrackIn(), deleted=event.issue.key)
        else:
            return {"action": "none", "reason": f"CareTrack does not handle {event.kind}"}
        return {"action": "evaluated", "open": len(report.open), "opened": report.opened,
                "closed": report.closed, "producedBy": report.produced_by,
                "fallbackReason": report.fallback_reason}

    async def handle_events(self, events: list[AgentEvent]) -> dict[str, Any]:
        """A batch of issue events (a backfill page): the mirror takes them in order, then the
        rules run once, as after the last of them one by one."""
        tenant = events[0].tenant if events else ""
        if not events or any(e.tenant != tenant or e.issue is None
                             or e.kind not in ISSUE_KINDS | {"issue_deleted"} for e in events):
            return await super().handle_events(events)
        changes = [(e.issue, e.kind == "issue_deleted") for e in events if e.issue is not None]
        report = await self.run(tenant, CareTrackIn(), changes=changes)
        return {"action": "evaluated", "events": len(events), "open": len(report.open),
                "opened": report.opened, "closed": report.closed}

    async def run(self, tenant: str, request: CareTrackIn, *,
                  snapshot: IssueSnapshot | None = None,
                  deleted: str | None = None,
                  changes: list[tuple[IssueSnapshot, bool]] | None = None) -> CareTrackReport:
        """Update the mirror, evaluate, triage what is new, reconcile, save; return the report.

        ``changes``: issues to apply in order, each (snapshot, deleted)."""
        now = (request.as_of or _now()).astimezone(UTC)
        stamp = _iso(now)
        additions = [track_record(r, now) for r in request.issues]

        def apply(state: dict[str, Any]) -> tuple[dict[str, TrackedIssue], CareTrackRules]:
            issues = state.setdefault("issues", {})
            if snapshot is not None:
                issues[snapshot.key] = track_snapshot(issues.get(snapshot.key), snapshot,
                                                      now).model_dump(mode="json", by_alias=True)
            for changed, gone in changes or ():
                if gone:
                    issues.pop(changed.key, None)
                else:
                    issues[changed.key] = track_snapshot(
                        issues.get(changed.key), changed, now).model_dump(mode="json",
                                                                          by_alias=True)
            for item in additions:
                issues[item.key] = item.model_dump(mode="json", by_alias=True)
            if deleted is not None:
                issues.pop(deleted, None)
            if request.rules is not None:
                state["rules"] = request.rules.model_dump(mode="json", by_alias=True)
            rules = CareTrackRules.model_validate(state.get("rules") or {})
            return {k: TrackedIssue.model_validate(v) for k, v in issues.items()}, rules

        # Reason outside the state update (see agents.base): evaluate on a copy first.
        current = await self.load(tenant)
        preview = dict(current.data) if current else {}
        preview["issues"] = dict(preview.get("issues", {}))
        issues, rules = apply(preview)
        kept = preview.get("findings", {})
        new = [f for f in evaluate(issues, rules, now)
               if kept.get(f.finding_id, {}).get("status") != "open"]
        triage, produced_by, fallback = CareTrackTriage(), "offline", None
        if new:
            triage, produced_by, fallback = await self.reason(ReasoningRequest(
                tenant=tenant, task="triage_findings", system=SYSTEM_PROMPT,
                input=TriageIn(findings=new), output=CareTrackTriage, offline=offline_triage))

        def change(state: dict[str, Any]) -> tuple[list[str], list[str], list[Finding]]:
            issues, rules = apply(state)
            findings = state.setdefault("findings", {})
            found = evaluate(issues, rules, now)
            before = {fid: f.get("severity") for fid, f in findings.items()}
            opened, closed = reconcile(findings, found, stamp)
            for item in triage.items:
                f = findings.get(item.finding_id)
                if f is None or item.finding_id not in opened:
                    continue  # only what this run opened is triaged; unknown ids are ignored
                f["severity"] = item.severity.value
                f["recommendation"] = item.recommendation
            for fid in opened:
                if not findings[fid].get("recommendation"):
                    findings[fid]["recommendation"] = RECOMMENDATIONS[Rule(findings[fid]["rule"])]
            for fid in set(before) - set(opened):
                # Kept findings keep a raised severity until the rules raise it further.
                old, f = before[fid], findings[fid]
                if old and f["status"] == "open" and RANK[Severity(old)] > RANK[
                        Severity(f["severity"])]:
                    f["severity"] = old
            still_open = [Finding.model_validate(f) for f in findings.values()
                          if f["status"] == "open"]
            summary = triage.summary or offline_triage(TriageIn(findings=still_open)).summary
            state["lastRun"] = {"at": stamp, "producedBy": produced_by, "summary": summary}
            return opened, closed, still_open

        (opened, closed, still_open), saved = await self.update_state(tenant, change)
        await self.directory.add(tenant)
        return CareTrackReport(
            open=sorted(still_open, key=lambda f: (-RANK[f.severity], f.finding_id)),
            opened=opened, closed=closed, tracked_issues=len(saved.data.get("issues", {})),
            summary=saved.data["lastRun"]["summary"], produced_by=produced_by,
            fallback_reason=fallback, evaluated_at=stamp,
        )
