"""The intake inbox: deliveries acknowledged by group commit, waiting to enter the event log.

The ingress writes a batch of deliveries with one ``BatchWriteItem`` and answers 202 once it is
in; the drainer (``serve.drainer``) moves them into the event log with its conditional put and
removes them. A ``BatchWriteItem`` takes no condition, so the inbox cannot dedupe: a delivery
seen twice is written twice (the same key, the later copy replacing the earlier) and the event
log's put, which is conditional, keeps exactly one. Why not write the event log directly in
batches: an unconditional put would reset an event already processed to ``accepted``.

``ClinisightInbox-{stage}`` is keyed like the event log (tenant, event id), so an event still
here is found by its id (``GET /v1/events/{id}``). The drainer reads oldest first through the
``pending`` index, whose partition is ``shard``: a few values, so a burst spreads its index
writes. The stored event is the normalised one (``agents.events.AgentEvent`` as JSON, with its
agent list): nothing downstream parses the delivery again.

``InMemoryInbox`` beside it is for tests and offline tools only; ``tests/store/test_inbox.py``
runs one suite over both.
"""

from __future__ import annotations

import asyncio
import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from pydantic import BaseModel, Field, PrivateAttr

from store.dynamo import DynamoTable

# Each shard of the ``pending`` index takes a share of the writes; the drainer reads them all.
SHARDS = 4
# A delivery's item must stay under DynamoDB's 400 KB. Larger ones bypass the inbox (the
# ingress records them in the event log directly, the way every event was before).
MAX_EVENT_BYTES = 300_000


class InboxItem(BaseModel):
    """One acknowledged delivery."""

    tenant: str
    event_id: str
    source: str
    event_type: str
    status: str  # "accepted" (agents to run) or "ignored" (nothing routes it)
    accepted_at: int  # epoch milliseconds
    agents: list[str] = Field(default_factory=list)
    event: dict[str, Any] | None = None  # the normalised AgentEvent (JSON form)
    # The delivery's audit entry (serve.audit.deferred_entry), appended by the drainer.
    audit: dict[str, Any] | None = None

    _packed: bytes | None = PrivateAttr(default=None)

    @property
    def key(self) -> tuple[str, str]:
        return self.tenant, self.event_id

    def public(self) -> dict[str, Any]:
        """What ``GET /v1/events/{id}`` shows for an event not drained yet."""
        return {"eventId": self.event_id, "tenant": self.tenant, "source": self.source,
                "eventType": self.event_type, "status": self.status,
                "acceptedAt": self.accepted_at, "updatedAt": self.accepted_at, "attempts": 0,
                "agents": self.agents, "result": None, "error": None}


def encoded_size(item: InboxItem) -> int:
    """Bytes the item's body takes as stored (compressed JSON), packed once and kept for the
    write."""
    if item._packed is None:
        item._packed = _pack({"event": item.event, "audit": item.audit})
    return len(item._packed)


def _pack(value: Any) -> bytes:
    return zlib.compress(orjson.dumps(value), 1)


def _unpack(data: bytes | None) -> Any:
    return orjson.loads(zlib.decompress(data)) if data else None


class Inbox(ABC):
    """What an inbox backend must supply."""

    @abstractmethod
    async def put_batch(self, items: Sequence[InboxItem]) -> None:
        """Make ``items`` (distinct keys) durable, all of them, or raise ``StoreError``
        (some may be in then: the callers were not answered, and the platform retries)."""

    @abstractmethod
    async def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Of ``keys`` (tenant, event id), those waiting here, with their status."""

    @abstractmethod
    async def get(self, tenant: str, event_id: str) -> InboxItem | None:
        """The delivery waiting under this key, or None."""

    @abstractmethod
    async def pending(self, limit: int) -> list[InboxItem]:
        """Up to ``limit`` waiting deliveries, about oldest first (per shard)."""

    @abstractmethod
    async def remove(self, items: Sequence[InboxItem]) -> None:
        """Remove drained deliveries. An item replaced since it was read (a redelivery) goes
        too: the event log has the first one, so the copy is a duplicate anyway."""


class InMemoryInbox(Inbox):
    """For tests and offline tools only: one process, nothing persisted."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], InboxItem] = {}
        self._lock = asyncio.Lock()

    async def put_batch(self, items: Sequence[InboxItem]) -> None:
        async with self._lock:
            for item in items:
                self._items[item.key] = item.model_copy(deep=True)

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        return {k: self._items[k].status for k in keys if k in self._items}

    async def get(self, tenant: str, event_id: str) -> InboxItem | None:
        found = self._items.get((tenant, event_id))
        return found.model_copy(deep=True) if found else None

    async def pending(self, limit: int) -> list[InboxItem]:
        ordered = sorted(self._items.values(), key=lambda i: i.accepted_at)
        return [i.model_copy(deep=True) for i in ordered[:limit]]

    async def remove(self, items: Sequence[InboxItem]) -> None:
        async with self._lock:
            for item in items:
                self._items.pop(item.key, None)


class DynamoInbox(Inbox):
    """``ClinisightInbox-{stage}``: partition ``tenantId``, sort ``eventId``."""

    def __init__(self, client: Any, table_name: str, executor: ThreadPoolExecutor) -> None:
        self.table = DynamoTable(client, table_name, executor)

    @staticmethod
    def _item(item: InboxItem) -> dict[str, Any]:
        # The event and audit entry as compressed JSON: one Binary attribute serialises in
        # microseconds, where boto3's type serializer walks a nested map key by key.
        return {
            "tenantId": item.tenant,
            "eventId": item.event_id,
            "shard": f"s{zlib.crc32(item.event_id.encode()) % SHARDS}",
            "acceptedAt": item.accepted_at,
            "source": item.source,
            "eventType": item.event_type,
            "status": item.status,
            "agents": ",".join(item.agents),
            "body": item._packed if item._packed is not None
            else _pack({"event": item.event, "audit": item.audit}),
        }

    @staticmethod
    def _from(raw: dict[str, Any]) -> InboxItem:
        body = _unpack(raw.get("body")) or {}
        return InboxItem(
            tenant=raw["tenantId"], event_id=raw["eventId"], source=raw["source"],
            event_type=raw["eventType"], status=raw["status"],
            accepted_at=int(raw["acceptedAt"]),
            agents=[a for a in str(raw.get("agents", "")).split(",") if a],
            event=body.get("event"), audit=body.get("audit"),
        )

    async def put_batch(self, items: Sequence[InboxItem]) -> None:
        # One call: a batch is at most 25 items (intake_batch_max), BatchWriteItem's cap; how
        # many batches are written at once is the group commit's to say.
        await self.table.batch_put([self._item(i) for i in items])

    async def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        found = await self.table.batch_get(
            [{"tenantId": t, "eventId": e} for t, e in keys],
            projection="tenantId, eventId, #s", names={"#s": "status"})
        return {(i["tenantId"], i["eventId"]): str(i["status"]) for i in found}

    async def get(self, tenant: str, event_id: str) -> InboxItem | None:
        raw = await self.table.get({"tenantId": tenant, "eventId": event_id})
        return self._from(raw) if raw else None

    async def pending(self, limit: int) -> list[InboxItem]:
        shards = await asyncio.gather(*(
            self.table.query("#sh = :s", {":s": f"s{n}"}, names={"#sh": "shard"},
                             index="pending", limit=limit)
            for n in range(SHARDS)))
        items = sorted((i for shard in shards for i in shard),
                       key=lambda i: int(i["acceptedAt"]))
        return [self._from(i) for i in items[:limit]]

    async def remove(self, items: Sequence[InboxItem]) -> None:
        await self.table.batch_delete([{"tenantId": i.tenant, "eventId": i.event_id}
                                       for i in items])
