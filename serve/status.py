"""``clinisight status``: what an on-call engineer asks first, as JSON.

Per tenant: the backlog (unfinished events) and its oldest event, the last failures per agent
(event ids, event types and error types, never payloads or messages: the event log keeps only
"<ErrorType> in agent <Agent>"), running reindex jobs, and the shard's size from its latest
snapshot manifest. It reads DynamoDB directly, like ``clinisight audit``: it works when the
HTTP stack does not, and the stack's own health is asked over HTTP beside it (``serve.cli``).

Tenants: the one asked for, or every tenant with an audit chain or a backlog. The failures of a
tenant come from a read of its whole event-log partition (filtered to events with an error):
fine for a terminal, not for a dashboard; the dashboard has ``clinisight_agent_runs_total``.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from typing import Any

from embeddings.jobs import ReindexProgress
from index.snapshot import SnapshotStore
from store.events import Backlog, EventRecord
from store.factory import Stores

FAILURES_PER_AGENT = 5
_ERROR = re.compile(r"^(?P<type>\S+) in agent (?P<agent>\S+)$")


def error_parts(error: str | None) -> tuple[str, str]:
    """(error type, agent) of an event-log error; ("unknown", …) for an older spelling."""
    found = _ERROR.match(error or "")
    if found and found["agent"] != "processing":  # "… in agent processing": before agents
        return found["type"], found["agent"]
    return (error or "").split(" ", 1)[0] or "unknown", "unknown"


def _backlog(entry: Backlog | None, now_ms: int) -> dict[str, Any]:
    if entry is None:
        return {"events": 0, "oldest": None}
    return {
        "events": entry.events,
        "truncated": entry.truncated,
        "oldest": {"eventId": entry.oldest_event_id, "acceptedAt": entry.oldest_accepted_at,
                   "ageSeconds": round(max(0, now_ms - entry.oldest_accepted_at) / 1000, 1)},
    }


def _failures(records: list[EventRecord]) -> dict[str, list[dict[str, Any]]]:
    by_agent: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for rec in records:  # newest first
        error_type, agent = error_parts(rec.error)
        if len(by_agent[agent]) < FAILURES_PER_AGENT:
            by_agent[agent].append({
                "eventId": rec.event_id, "eventType": rec.event_type, "status": rec.status.value,
                "errorType": error_type, "attempts": rec.attempts, "at": rec.updated_at,
            })
    return dict(sorted(by_agent.items()))


def _job(progress: ReindexProgress) -> dict[str, Any]:
    return {"jobId": progress.job_id, "space": progress.space, "startedAt": progress.started_at,
            "seen": progress.seen, "embedded": progress.embedded, "skipped": progress.skipped,
            "failed": progress.failed}


async def tenant_status(stores: Stores, snapshots: SnapshotStore, tenant: str,
                        backlog: Backlog | None, now_ms: int) -> dict[str, Any]:
    failures = await stores.events.failures(tenant)
    jobs = [ReindexProgress.model_validate(r.data)
            for r in await stores.state.with_prefix(tenant, "~reindex#")]
    manifest = await snapshots.manifest(tenant)
    return {
        "backlog": _backlog(backlog, now_ms),
        "failures": _failures(failures),
        "reindexRunning": [_job(j) for j in jobs if j.status == "running"],
        "shard": None if manifest is None else {
            "chunks": manifest.vector_count, "bytes": manifest.bytes,
            "rawBytes": manifest.raw_bytes, "indexKind": manifest.index_kind,
            "snapshotAt": manifest.created_at},
    }


async def collect(stores: Stores, snapshots: SnapshotStore,
                  tenant: str | None = None) -> dict[str, Any]:
    """Every tenant's (or ``tenant``'s) status."""
    backlog = await stores.events.backlog()
    tenants = [tenant] if tenant else sorted(set(await stores.anchors.tenants()) | set(backlog))
    now_ms = int(time.time() * 1000)
    return {t: await tenant_status(stores, snapshots, t, backlog.get(t), now_ms)
            for t in tenants}
