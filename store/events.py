"""The event log: every accepted event, once, with its processing status.

Deliveries reach it through the intake inbox (``store.inbox``, durable before the 202), moved
here by the drainer (``serve.drainer``); what is stored is the normalised event the agents read.

Keyed by (tenant, event id). Recording is put-if-absent on the id, so a redelivered event finds
the first one and is never processed twice. Processing claims an event with a lease; an event
whose worker died stays unfinished and is claimed again once the lease runs out (see
``serve.orchestrator``'s re-drive).

Life of an event: accepted → processing → done | failed, or ignored at once (unknown type).

The raw payload carries PHI and is only needed until the event is finished (and to answer a
redelivery, which needs only the key). ``purge_payloads``, run periodically by the sweeper,
removes the payload of events finished before the retention cut-off and keeps every other
attribute.

``EventLog`` is the interface; ``store.events_dynamo.DynamoEventLog`` the DynamoDB log and
``InMemoryEventLog`` below the twin for tests and offline tools. ``tests/store/test_events.py``
runs one suite over both.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from store.errors import InvalidKey


class EventStatus(StrEnum):
    ACCEPTED = "accepted"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    IGNORED = "ignored"


FINAL = {EventStatus.DONE, EventStatus.FAILED, EventStatus.IGNORED}


class EventRecord(BaseModel):
    tenant: str
    event_id: str
    source: str
    event_type: str
    status: EventStatus
    accepted_at: int  # epoch milliseconds
    updated_at: int
    attempts: int = 0
    agents: list[str] = Field(default_factory=list)
    result: dict[str, Any] | None = None
    error: str | None = None
    payload: dict[str, Any] | None = None

    def public(self) -> dict[str, Any]:
        """What the API shows: everything but the payload (which may hold PHI)."""
        return {
            "eventId": self.event_id,
            "tenant": self.tenant,
            "source": self.source,
            "eventType": self.event_type,
            "status": self.status.value,
            "acceptedAt": self.accepted_at,
            "updatedAt": self.updated_at,
            "attempts": self.attempts,
            "agents": self.agents,
            "result": self.result,
            "error": self.error,
        }


class Backlog(BaseModel):
    """One tenant's unfinished events."""

    events: int
    oldest_event_id: str
    oldest_accepted_at: int  # epoch milliseconds
    truncated: bool = False


def now_ms() -> int:
    return int(time.time() * 1000)


def tally_backlog(unfinished: list[tuple[str, str, int]], limit: int) -> dict[str, Backlog]:
    """``EventLog.backlog`` from (tenant, event id, accepted at) of up to ``limit`` unfinished
    events, oldest first; reaching ``limit`` means there may be more (``truncated``)."""
    out: dict[str, Backlog] = {}
    for tenant, event_id, accepted_at in unfinished:
        found = out.get(tenant)
        if found is None:  # the first seen is the oldest
            out[tenant] = Backlog(events=1, oldest_event_id=event_id,
                                  oldest_accepted_at=accepted_at)
        else:
            found.events += 1
    truncated = len(unfinished) >= limit
    for entry in out.values():
        entry.truncated = truncated
    return out


class EventLog(ABC):
    """What an event log backend must supply."""

    @abstractmethod
    async def record(
        self,
        tenant: str,
        event_id: str,
        source: str,
        event_type: str,
        payload: dict[str, Any],
        status: EventStatus = EventStatus.ACCEPTED,
        agents: list[str] | None = None,
        accepted_at: int | None = None,
    ) -> tuple[EventRecord, bool]:
        """Store an event unless its id is known; return (the stored record without its
        payload, created?). A duplicate changes nothing and returns the first one.

        ``payload`` is what processing reads back: the normalised event (``AgentEvent`` as
        JSON) for deliveries, routed to ``agents``; ``accepted_at`` (epoch ms) is when it was
        acknowledged, if earlier than now (a delivery drained from the intake inbox). An event
        recorded with a final status (``ignored``) is finished at once."""

    @abstractmethod
    async def get(
        self, tenant: str, event_id: str, with_payload: bool = False
    ) -> EventRecord | None:
        """The event, or None; its payload only if asked and not purged yet. A key the store
        cannot hold (empty, or over DynamoDB's key sizes) raises ``InvalidKey``."""

    @abstractmethod
    async def statuses(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Of ``keys`` (tenant, event id, distinct), those in the log, with their status."""

    @abstractmethod
    async def claim(self, tenant: str, event_id: str, lease_s: float) -> EventRecord | None:
        """Take an unfinished event for processing for ``lease_s`` seconds, counting the
        attempt; return it with its payload. None if it is unknown, finished, or leased to
        someone whose lease has not run out."""

    @abstractmethod
    async def finish(
        self,
        tenant: str,
        event_id: str,
        status: EventStatus,
        agents: list[str],
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """Mark the event finished with ``status`` (final), what ran and what came of it; its
        payload is held until ``purge_payloads`` passes the retention."""

    @abstractmethod
    async def release(self, tenant: str, event_id: str, error: str) -> None:
        """Give a claimed event back (a retryable failure, recorded as ``error``); re-drive
        claims it again."""

    @abstractmethod
    async def list_unfinished(self, limit: int = 500) -> list[tuple[str, str]]:
        """(tenant, event id) of up to ``limit`` unfinished events, oldest accepted first."""

    @abstractmethod
    async def backlog(self, limit: int = 100_000) -> dict[str, Backlog]:
        """Unfinished events per tenant: how many, and the oldest (by acceptance). Past
        ``limit`` events the counts are lower bounds (``Backlog.truncated``)."""

    @abstractmethod
    async def failures(self, tenant: str, limit: int = 10_000) -> list[EventRecord]:
        """The tenant's events that carry an error (failed, or released for a retry), newest
        first, at most ``limit``; never their payloads or results."""

    @abstractmethod
    async def purge_payloads(self, finished_before_ms: int, limit: int = 1000) -> int:
        """Remove the payload of up to ``limit`` events finished before ``finished_before_ms``
        (epoch ms), oldest first; return how many. Status, result and times stay, and so does
        the id: a redelivery is still a duplicate."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` if the log cannot be reached."""


# DynamoDB's key limits (bytes of UTF-8), which the twin keeps so that input the real log
# refuses (``InvalidKey``, a 422 at the ingress) is refused in tests too.
_PARTITION_KEY_MAX = 2048
_SORT_KEY_MAX = 1024


def _check_key(tenant: str, event_id: str) -> None:
    for name, value, cap in (("tenant", tenant, _PARTITION_KEY_MAX),
                             ("event id", event_id, _SORT_KEY_MAX)):
        size = len(value.encode())
        if not 0 < size <= cap:
            raise InvalidKey(f"{name} of {size} bytes: a key must hold 1 to {cap} bytes")


@dataclass
class _Held:
    record: EventRecord  # never with its payload
    payload: str | None  # JSON, as the real log stores it (so what reads back is JSON's)
    unfinished: bool
    lease_until: int | None = None
    finished_at: int | None = None  # set with ``purgeable`` when it finishes
    purgeable: bool = False


class InMemoryEventLog(EventLog):
    """For tests and offline tools only: one process, nothing persisted. No method awaits
    before it is done, so each is atomic on the event loop, as a conditional write is."""

    def __init__(self) -> None:
        self._events: dict[tuple[str, str], _Held] = {}

    @staticmethod
    def _copy(held: _Held, payload: bool = False) -> EventRecord:
        out = held.record.model_copy(deep=True)
        if payload and held.payload is not None:
            out.payload = json.loads(held.payload)
        return out

    async def record(
        self,
        tenant: str,
        event_id: str,
        source: str,
        event_type: str,
        payload: dict[str, Any],
        status: EventStatus = EventStatus.ACCEPTED,
        agents: list[str] | None = None,
        accepted_at: int | None = None,
    ) -> tuple[EventRecord, bool]:
        _check_key(tenant, event_id)
        existing = self._events.get((tenant, event_id))
        if existing is not None:
            return self._copy(existing), False
        now = now_ms()
        held = _Held(
            record=EventRecord(tenant=tenant, event_id=event_id, source=source,
                               event_type=event_type, status=status,
                               accepted_at=accepted_at or now, updated_at=now,
                               agents=list(agents or [])),
            payload=json.dumps(payload, ensure_ascii=False),
            unfinished=status not in FINAL,
        )
        if status in FINAL:
            held.finished_at, held.purgeable = now, True
        self._events[(tenant, event_id)] = held
        return self._copy(held), True

    async def get(
        self, tenant: str, event_id: str, with_payload: bool = False
    ) -> EventRecord | None:
        _check_key(tenant, event_id)
        held = self._events.get((tenant, event_id))
        # "~" ids are the real log's own (blob parts, store.blob): never an event there.
        if held is None or event_id.startswith("~"):
            return None
        return self._copy(held, payload=with_payload)

    async def statuses(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return {k: self._events[k].record.status.value for k in keys if k in self._events}

    async def claim(self, tenant: str, event_id: str, lease_s: float) -> EventRecord | None:
        _check_key(tenant, event_id)
        held = self._events.get((tenant, event_id))
        now = now_ms()
        if held is None or not held.unfinished:
            return None
        status = held.record.status
        lapsed = held.lease_until is not None and held.lease_until < now
        if not (status is EventStatus.ACCEPTED or (status is EventStatus.PROCESSING and lapsed)):
            return None
        held.record.status = EventStatus.PROCESSING
        held.record.updated_at = now
        held.record.attempts += 1
        held.lease_until = now + int(lease_s * 1000)
        return self._copy(held, payload=True)

    async def finish(
        self,
        tenant: str,
        event_id: str,
        status: EventStatus,
        agents: list[str],
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        _check_key(tenant, event_id)
        held = self._events.get((tenant, event_id))
        if held is None:
            return
        now = now_ms()
        rec = held.record
        rec.status, rec.updated_at, rec.agents = status, now, list(agents)
        # Through JSON as the real log stores it; an empty result reads back as {} there too.
        rec.result = json.loads(json.dumps(result)) if result is not None else None
        rec.error = error or None
        held.unfinished, held.lease_until = False, None
        held.finished_at, held.purgeable = now, True

    async def release(self, tenant: str, event_id: str, error: str) -> None:
        _check_key(tenant, event_id)
        held = self._events.get((tenant, event_id))
        if held is None:
            return
        held.record.status, held.record.updated_at = EventStatus.ACCEPTED, now_ms()
        held.record.error = error or None
        held.lease_until = None

    def _unfinished(self, limit: int) -> list[_Held]:
        waiting = [h for h in self._events.values() if h.unfinished]
        waiting.sort(key=lambda h: (h.record.accepted_at, h.record.tenant, h.record.event_id))
        return waiting[:limit]

    async def list_unfinished(self, limit: int = 500) -> list[tuple[str, str]]:
        return [(h.record.tenant, h.record.event_id) for h in self._unfinished(limit)]

    async def backlog(self, limit: int = 100_000) -> dict[str, Backlog]:
        return tally_backlog([(h.record.tenant, h.record.event_id, h.record.accepted_at)
                              for h in self._unfinished(limit)], limit)

    async def failures(self, tenant: str, limit: int = 10_000) -> list[EventRecord]:
        # The real log caps the partition read in key order, then sorts: the same here.
        found = sorted(((k, h) for k, h in self._events.items()
                        if k[0] == tenant and h.record.error and not k[1].startswith("~")),
                       key=lambda kh: kh[0])
        records = [h.record.model_copy(update={"result": None}, deep=True)
                   for _, h in found[:limit]]
        return sorted(records, key=lambda r: r.updated_at, reverse=True)

    async def purge_payloads(self, finished_before_ms: int, limit: int = 1000) -> int:
        due = sorted((h for h in self._events.values()
                      if h.purgeable and h.finished_at is not None
                      and h.finished_at < finished_before_ms),
                     key=lambda h: h.finished_at or 0)[:limit]
        for held in due:
            held.payload, held.purgeable = None, False
        return len(due)

    async def ping(self) -> None:
        return None
