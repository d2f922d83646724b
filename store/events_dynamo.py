"""The event log on DynamoDB (``store.events`` says what an event log does).

``ClinisightEvents-{stage}``, keyed by (tenant, event id). The put is conditional on the id, so a
redelivered event finds the first one and is never processed twice, whichever replica sees it.
Claiming is a conditional update that takes the lease, so two orchestrators never hold the same
event. An unfinished event carries ``unfinished`` (a sparse index, sorted by ``acceptedAt``: the
re-drive and the backlog read only those); a finished one carries ``payloadHeld`` with its
``finishedAt`` until ``purge_payloads`` removes the payload (another sparse index, oldest
finished first). The payload is a blob (``store.blob``), split over part items when larger than
an item. Why not DynamoDB TTL for the retention: it deletes whole items (the metadata and the id
that dedupes a redelivery would go too), a payload item of its own would double the writes on
the intake path, and dynalite has no TTL.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from store.blob import BlobCodec
from store.dynamo import DynamoTable
from store.errors import ConditionFailed
from store.events import FINAL, Backlog, EventLog, EventRecord, EventStatus, now_ms, tally_backlog


class DynamoEventLog(EventLog):
    """``ClinisightEvents-{stage}``: partition ``tenantId``, sort ``eventId``."""

    def __init__(self, client: Any, table_name: str, executor: ThreadPoolExecutor) -> None:
        self.table = DynamoTable(client, table_name, executor)
        self.blobs = BlobCodec(self.table, "tenantId", "eventId")

    @staticmethod
    def _record(item: dict[str, Any], payload: dict[str, Any] | None = None) -> EventRecord:
        return EventRecord(
            tenant=item["tenantId"],
            event_id=item["eventId"],
            source=item["source"],
            event_type=item["eventType"],
            status=EventStatus(item["status"]),
            accepted_at=item["acceptedAt"],
            updated_at=item["updatedAt"],
            attempts=item.get("attempts", 0),
            agents=list(item.get("agents", [])),
            result=json.loads(item["result"]) if item.get("result") else None,
            error=item.get("error") or None,
            payload=payload,
        )

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
        raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        blob = await self.blobs.write(tenant, event_id, raw)
        now = now_ms()
        item: dict[str, Any] = {
            "tenantId": tenant,
            "eventId": event_id,
            "source": source,
            "eventType": event_type,
            "status": status.value,
            "acceptedAt": accepted_at or now,
            "updatedAt": now,
            "attempts": 0,
            **({"agents": agents} if agents else {}),
            **blob,
        }
        if status not in FINAL:
            item["unfinished"] = "1"
        else:
            item.update(payloadHeld="1", finishedAt=now)
        try:
            await self.table.put(item, condition="attribute_not_exists(eventId)")
        except ConditionFailed:  # a duplicate: the id is known
            await self.blobs.delete_parts(tenant, event_id, blob)
            existing = await self.get(tenant, event_id)
            if existing is None:  # pragma: no cover - a put that failed its condition saw it
                raise
            return existing, False
        return self._record(item), True

    async def get(
        self, tenant: str, event_id: str, with_payload: bool = False
    ) -> EventRecord | None:
        item = await self.table.get({"tenantId": tenant, "eventId": event_id})
        if item is None or item["eventId"].startswith("~"):
            return None
        held = "blobSha256" in item  # gone once the retention pass removed the payload
        payload = json.loads(await self.blobs.read(item)) if with_payload and held else None
        return self._record(item, payload)

    async def statuses(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        # One BatchGetItem per 100 keys, keys and status only.
        found = await self.table.batch_get(
            [{"tenantId": t, "eventId": e} for t, e in keys],
            projection="tenantId, eventId, #s", names={"#s": "status"})
        return {(i["tenantId"], i["eventId"]): str(i["status"]) for i in found}

    async def claim(self, tenant: str, event_id: str, lease_s: float) -> EventRecord | None:
        now = now_ms()
        try:
            item = await self.table.update(
                {"tenantId": tenant, "eventId": event_id},
                "SET #s = :processing, leaseUntil = :lease, updatedAt = :now "
                "ADD attempts :one",
                {
                    ":processing": EventStatus.PROCESSING.value,
                    ":accepted": EventStatus.ACCEPTED.value,
                    ":lease": now + int(lease_s * 1000),
                    ":now": now,
                    ":one": 1,
                },
                condition="attribute_exists(unfinished) AND "
                "(#s = :accepted OR (#s = :processing AND leaseUntil < :now))",
                names={"#s": "status"},
            )
        except ConditionFailed:  # finished, or someone holds the lease
            return None
        return self._record(item, json.loads(await self.blobs.read(item)))

    async def finish(
        self,
        tenant: str,
        event_id: str,
        status: EventStatus,
        agents: list[str],
        result: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            ":s": status.value,
            ":now": now_ms(),
            ":held": "1",
            ":agents": agents,
            ":result": json.dumps(result) if result is not None else "",
            ":error": error or "",
        }
        await self.table.update(
            {"tenantId": tenant, "eventId": event_id},
            "SET #s = :s, updatedAt = :now, agents = :agents, #r = :result, #e = :error, "
            "payloadHeld = :held, finishedAt = :now REMOVE unfinished, leaseUntil",
            values,
            names={"#s": "status", "#r": "result", "#e": "error"},
        )

    async def release(self, tenant: str, event_id: str, error: str) -> None:
        await self.table.update(
            {"tenantId": tenant, "eventId": event_id},
            "SET #s = :accepted, updatedAt = :now, #e = :error REMOVE leaseUntil",
            {":accepted": EventStatus.ACCEPTED.value, ":now": now_ms(), ":error": error},
            names={"#s": "status", "#e": "error"},
        )

    async def list_unfinished(self, limit: int = 500) -> list[tuple[str, str]]:
        items = await self.table.query(
            "unfinished = :u", {":u": "1"}, index="unfinished", limit=limit
        )
        return [(i["tenantId"], i["eventId"]) for i in items]

    async def backlog(self, limit: int = 100_000) -> dict[str, Backlog]:
        # The sparse ``unfinished`` index (keys only) sorts by acceptedAt: oldest first.
        items = await self.table.query(
            "unfinished = :u", {":u": "1"}, index="unfinished", limit=limit
        )
        return tally_backlog(
            [(i["tenantId"], i["eventId"], int(i["acceptedAt"])) for i in items], limit)

    async def failures(self, tenant: str, limit: int = 10_000) -> list[EventRecord]:
        # Reads the tenant's whole partition (``limit`` caps the answer, not the read): an
        # operator's question, not a request path's. The projection leaves out the payload
        # and the result.
        items = await self.table.query(
            "tenantId = :t", {":t": tenant, ":none": ""},
            names={"#s": "status", "#e": "error", "#src": "source"},
            filter="attribute_exists(#e) AND #e <> :none",
            projection="tenantId, eventId, #s, #e, agents, attempts, acceptedAt, updatedAt, "
                       "eventType, #src",
            limit=limit,
        )
        records = [self._record(i) for i in items if not i["eventId"].startswith("~")]
        return sorted(records, key=lambda r: r.updated_at, reverse=True)

    async def purge_payloads(self, finished_before_ms: int, limit: int = 1000) -> int:
        items = await self.table.query(
            "payloadHeld = :h AND finishedAt < :cut", {":h": "1", ":cut": finished_before_ms},
            index="payloadHeld", limit=limit,
        )
        for item in items:
            # Parts first: if we stop in between, the event is still marked and found again.
            await self.blobs.delete_parts(item["tenantId"], item["eventId"], item)
            try:
                await self.table.update(
                    {"tenantId": item["tenantId"], "eventId": item["eventId"]},
                    "SET payloadRemovedAt = :now "
                    "REMOVE payloadHeld, #b, blobSha256, blobParts, blobToken",
                    {":now": now_ms()},
                    names={"#b": "blob"},  # a reserved word
                    # Never create an item whose key the index listed but which is gone.
                    condition="attribute_exists(eventId)",
                )
            except ConditionFailed:  # gone since the index listed it
                continue
        return len(items)

    async def ping(self) -> None:
        await self.table.ping()
