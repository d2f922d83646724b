"""A Jira backfill or reconciliation pass: enhanced-search pages → the webhook's own events →
the agents, a batch at a time, resumable from the last page the agents took.

Each issue Jira returns goes through ``serve.wire.snapshot``, the function a webhook's issue
goes through, with the tenant's field map, and becomes an ``issue_updated`` event routed by
``serve.routing.route``: the agents cannot tell a backfilled issue from one that arrived by
webhook. Only the mirror agents (``SYNC_AGENTS``) take them; TaskSmith is left out: proposing
subtasks for every open epic of a site the day the app is installed is a flood nobody asked
for, and an epic's next real event still reaches it.

Resumable: ``cursor`` is the ``nextPageToken`` of the first page the agents have not taken, saved
with the counts right after they took a batch (Jira keeps a token for 7 days). A rerun with the
same job id starts from it; pages fetched but not yet applied when the run stopped are fetched
again, never counted twice. A crash between the agents' write and the progress write applies
that batch again, which changes nothing: every agent keys its mirror by issue key.

Counts are of issues (``seen`` fetched and handed on, ``applied`` taken by the agents,
``failed`` not readable as an issue, each named by key in ``failures``); no issue content is
logged or kept in the progress.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from agents.events import AgentEvent
from agents.jira_client import JiraClient, JiraError
from agents.jira_fields import JiraFieldMap
from embeddings.jobs import now
from serve.routing import route
from serve.wire import IssueIn, snapshot
from store.state import StateStore

log = logging.getLogger("clinisight.jira_sync")

# What the agents read (serve.wire.IssueFieldsIn); the tenant's custom fields are added.
SEARCH_FIELDS = ["summary", "description", "issuetype", "labels", "components", "priority",
                 "status", "project", "parent", "assignee", "duedate", "created", "updated",
                 "statuscategorychangedate", "timeoriginalestimate", "issuelinks"]
# The agents that mirror Jira issues; the JiraSync deployment holds their handles.
SYNC_AGENTS = ("CareTrack", "DealFlow", "RoadmapSmith")
MAX_FAILURES_KEPT = 50

# agent name, its events → the agent's summary. Raises when the agent could not take them.
Apply = Callable[[str, list[AgentEvent]], Awaitable[dict[str, Any]]]


class SyncProgress(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    job_id: str
    tenant: str
    kind: str = "backfill"  # backfill | reconcile
    jql: str
    status: str = "running"  # running | succeeded | failed
    pages: int = 0
    seen: int = 0
    applied: int = 0
    failed: int = 0
    batches: int = 0
    cursor: str | None = None
    throttled: int = 0  # 429 answers from Jira, waited out
    retried: int = 0
    fields: dict[str, Any] = Field(default_factory=dict)
    failures: list[dict[str, str]] = Field(default_factory=list)
    error: str | None = None
    error_status: int | None = None  # Jira's HTTP status when Jira ended the run
    started_at: str = Field(default_factory=now)
    finished_at: str | None = None

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def new_job(tenant: str, jql: str, kind: str = "backfill") -> SyncProgress:
    prefix = "jb" if kind == "backfill" else "jr"
    return SyncProgress(job_id=f"{prefix}-{uuid.uuid4().hex[:12]}", tenant=tenant, kind=kind,
                        jql=jql)


class SyncJobs:
    """Job progress (``~jira#job#<id>``) and each tenant's last sweep (``~jira#sync``)."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    async def save(self, progress: SyncProgress) -> None:
        await self.state.update(progress.tenant, f"~jira#job#{progress.job_id}",
                                lambda _: progress.model_dump(mode="json"))

    async def get(self, tenant: str, job_id: str) -> SyncProgress | None:
        rec = await self.state.get(tenant, f"~jira#job#{job_id}")
        return SyncProgress.model_validate(rec.data) if rec else None

    async def last_sweep(self, tenant: str) -> dict[str, Any]:
        rec = await self.state.get(tenant, "~jira#sync")
        return dict(rec.data) if rec else {}

    async def record_sweep(self, tenant: str, **values: Any) -> None:
        # Merged with what is stored at the time of the write, not before a lost race.
        await self.state.update(tenant, "~jira#sync", lambda old: {**old, **values})


def issue_event(tenant: str, job_id: str, raw: Any, fields: JiraFieldMap) -> AgentEvent:
    """The event a webhook for this issue would have become (raises ValidationError)."""
    issue = IssueIn.model_validate(raw)
    return AgentEvent(tenant=tenant, event_id=f"{job_id}-{issue.id}", kind="issue_updated",
                      source="jira-sync", issue=snapshot(issue, None, fields))


async def apply_batch(events: list[AgentEvent], apply: Apply) -> dict[str, Any]:
    """Hand each agent its share of ``events`` (as ``route`` decides), all agents at once."""
    shares: dict[str, list[AgentEvent]] = {}
    for event in events:
        for agent in route(event):
            if agent in SYNC_AGENTS:
                shares.setdefault(agent, []).append(event)
    names = sorted(shares)
    results = await asyncio.gather(*(apply(name, shares[name]) for name in names))
    return dict(zip(names, results, strict=True))


def _bad_key(raw: Any) -> str:
    key = raw.get("key") if isinstance(raw, dict) else None
    return str(key)[:64] if isinstance(key, str | int) else "?"


async def run_sync(
    progress: SyncProgress,
    *,
    jira: JiraClient,
    fields: JiraFieldMap,
    apply: Apply,
    jobs: SyncJobs,
    page_size: int = 100,
    batch_size: int = 1000,
    on_progress: Callable[[SyncProgress], Awaitable[None]] | None = None,
) -> SyncProgress:
    """Page through ``progress.jql`` from ``progress.cursor``; return the finished progress.

    A Jira failure that outlasts the client's retries, or an agent failing, ends the run as
    ``failed`` with the cursor where the agents stopped: run it again to go on from there."""
    wanted = SEARCH_FIELDS + [f for f in fields.custom_ids() if f not in SEARCH_FIELDS]
    progress.fields = fields.public()
    progress.status, progress.finished_at = "running", None
    progress.error = progress.error_status = None
    token = progress.cursor
    pending: list[AgentEvent] = []
    pending_pages, pending_seen, pending_failed = 0, 0, 0
    pending_failures: list[dict[str, str]] = []

    async def report() -> None:
        progress.throttled, progress.retried = jira.stats.throttled, jira.stats.retried
        await jobs.save(progress)
        if on_progress is not None:
            await on_progress(progress)

    await report()
    try:
        while True:
            page = await jira.search_page(progress.jql, wanted, token, page_size)
            pending_pages += 1
            pending_seen += len(page.issues)
            for raw in page.issues:
                try:
                    pending.append(issue_event(progress.tenant, progress.job_id, raw, fields))
                except ValidationError as exc:
                    # Reported by key with the rule that failed, never dropped unsaid.
                    pending_failed += 1
                    reason = exc.errors()[0]
                    where = ".".join(str(p) for p in reason["loc"])
                    pending_failures.append({"key": _bad_key(raw),
                                             "reason": f"{where}: {reason['msg']}"})
            token = page.next_token
            if len(pending) >= batch_size or token is None:
                if pending:
                    await apply_batch(pending, apply)
                progress.pages += pending_pages
                progress.seen += pending_seen
                progress.applied += len(pending)
                progress.failed += pending_failed
                progress.batches += 1
                room = MAX_FAILURES_KEPT - len(progress.failures)
                progress.failures += pending_failures[:max(room, 0)]
                progress.cursor = token
                pending, pending_pages, pending_seen, pending_failed = [], 0, 0, 0
                pending_failures = []
                if token is None:
                    break
                await report()
    except JiraError as exc:
        progress.error_status = exc.status
        return await _failed(progress, report, str(exc))
    except Exception as exc:  # an agent failed: its type only, its message may quote content
        return await _failed(progress, report, f"{type(exc).__name__} while the agents applied "
                                               "a batch")
    progress.status, progress.finished_at = "succeeded", now()
    await report()
    log.info("jira %s %s tenant=%s pages=%d applied=%d failed=%d throttled=%d",
             progress.kind, progress.job_id, progress.tenant, progress.pages, progress.applied,
             progress.failed, progress.throttled)
    return progress


async def _failed(progress: SyncProgress, report: Callable[[], Awaitable[None]],
                  reason: str) -> SyncProgress:
    progress.status, progress.error, progress.finished_at = "failed", reason[:500], now()
    await report()
    log.warning("jira %s %s tenant=%s failed after %d applied; resumable from its cursor",
                progress.kind, progress.job_id, progress.tenant, progress.applied)
    return progress
