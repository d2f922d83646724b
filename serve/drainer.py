"""The drainer: acknowledged deliveries from the intake inbox into the event log and the audit
trail, at the pace processing can take them rather than the pace they arrive.

One pass (``drain_once``) reads up to a page of waiting deliveries, oldest first, and:

1. appends their audit entries, one block per tenant (``store.audit.AuditLog.append_block``);
2. puts each into the event log with the conditional put, so a delivery seen twice (in one
   batch, in two, or drained twice by two drainers) is recorded, and processed, once;
3. removes them from the inbox.

The order is what makes a crash harmless: a delivery leaves the inbox only after it is in the
log and its entry in the trail. A drainer that dies between 1 and 3 drains the page again; the
log's condition keeps the events single, and the trail may hold an entry twice (same request
id), never none. The events it created are returned for processing.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import metrics
from store.audit import AuditLog
from store.events import EventLog, EventStatus
from store.inbox import Inbox, InboxItem

log = logging.getLogger("clinisight.drainer")

PUTS_IN_FLIGHT = 16


class Drainer:
    def __init__(self, inbox: Inbox, events: EventLog, audit: AuditLog, page: int = 200) -> None:
        self.inbox = inbox
        self.events = events
        self.audit = audit
        self.page = page
        self._gate = asyncio.Semaphore(PUTS_IN_FLIGHT)

    async def drain_once(self) -> tuple[int, list[tuple[str, str]]]:
        """Drain one page; return (deliveries drained, new events with agents to run)."""
        items = await self.inbox.pending(self.page)
        metrics.set_gauge("clinisight_inbox_depth", len(items))
        if not items:
            return 0, []
        await self._audit(items)
        created = await asyncio.gather(*(self._record(i) for i in items))
        await self.inbox.remove(items)
        fresh = [i.key for i, new in zip(items, created, strict=True)
                 if new and i.status == EventStatus.ACCEPTED.value]
        return len(items), fresh

    async def _audit(self, items: list[InboxItem]) -> None:
        blocks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for item in items:
            if item.audit is not None:
                blocks[item.tenant].append(item.audit)
        await asyncio.gather(*(self.audit.append_block(t, e) for t, e in blocks.items()))

    async def _record(self, item: InboxItem) -> bool:
        async with self._gate:
            _, created = await self.events.record(
                item.tenant, item.event_id, item.source, item.event_type, item.event or {},
                EventStatus(item.status), item.agents, item.accepted_at)
        return created
