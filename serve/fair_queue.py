"""Events waiting to be processed, handed out one tenant at a time.

Per-tenant FIFO queues served in turn (round robin): a tenant with a burst of ten thousand
events waits behind its own events, not ahead of every other tenant's one. An event already
waiting is not queued twice (the drainer and the re-drive may both name it).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque

Key = tuple[str, str]


class FairQueue:
    def __init__(self) -> None:
        self._tenants: OrderedDict[str, deque[str]] = OrderedDict()
        self._queued: set[Key] = set()
        self._ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queued)

    def put(self, tenant: str, event_id: str) -> bool:
        """Queue an event; False if it is waiting already."""
        if (tenant, event_id) in self._queued:
            return False
        self._queued.add((tenant, event_id))
        self._tenants.setdefault(tenant, deque()).append(event_id)
        self._ready.set()
        return True

    def pop(self) -> Key | None:
        """The next tenant's oldest event (that tenant goes to the back), or None."""
        if not self._tenants:
            return None
        tenant, events = next(iter(self._tenants.items()))
        event_id = events.popleft()
        if events:
            self._tenants.move_to_end(tenant)
        else:
            del self._tenants[tenant]
        self._queued.discard((tenant, event_id))
        return tenant, event_id

    async def get(self) -> Key:
        while True:
            found = self.pop()
            if found is not None:
                return found
            self._ready.clear()
            await self._ready.wait()
