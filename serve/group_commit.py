"""Group commit at intake: many deliveries, one durable write, each caller answered after it.

Each ingress process gathers accepted deliveries into a batch, closed at ``max_items`` or
``wait_s`` after its first delivery, whichever comes first, and writes it to the inbox with one
``BatchWriteItem`` (``store.inbox``); up to ``flushes`` batches are written at once, and the
next ones fill while they are. Every caller waits for its own batch: the 202 leaves only once
the delivery is durable, and a batch that fails fails each of its callers (503: the platform
delivers again). Convoy's webhook gateway acknowledges the same way (batches of up to 64, at
most 2 ms of waiting, one insert per batch); so do databases' group commits of their logs.

Dedupe is exact downstream (the drainer's conditional put into the event log); here it only
decides the answer. Before writing, a batch asks the event log and the inbox which of its
deliveries they hold already (one BatchGetItem each): those answer 200 with the stored status
and are not written again. A delivery whose id is in a batch not yet written (this process)
waits for that batch and answers as its duplicate.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from store.inbox import Inbox, InboxItem

log = logging.getLogger("clinisight.intake")

Key = tuple[str, str]
Lookup = Callable[[list[Key]], Awaitable[dict[Key, str]]]


@dataclass(frozen=True)
class Committed:
    """What became of a delivery: ``created`` (this one is durable now) or a duplicate of one
    already held, with its ``status``."""

    status: str
    created: bool


class GroupCommit:
    def __init__(self, inbox: Inbox, known_events: Lookup, max_items: int = 25,
                 wait_s: float = 0.002, flushes: int = 4) -> None:
        self.inbox = inbox
        self.known_events = known_events
        self.max_items = max_items
        self.wait_s = wait_s
        self._gate = asyncio.Semaphore(flushes)  # batches being written at once
        self._open: list[tuple[InboxItem, asyncio.Future[Committed]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._unwritten: dict[Key, asyncio.Future[Committed]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: InboxItem) -> Committed:
        """Wait until ``item`` is durable (or found held already); raise the batch's error."""
        first = self._unwritten.get(item.key)
        if first is not None:  # the same delivery is on its way in a batch of ours
            done = await asyncio.shield(first)
            return Committed(done.status, False)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Committed] = loop.create_future()
        self._unwritten[item.key] = future
        self._open.append((item, future))
        if len(self._open) >= self.max_items:
            self._close()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait_s, self._close)
        return await asyncio.shield(future)

    def _close(self) -> None:
        """Close the open batch and start writing it."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._open = self._open, []
        if batch:
            task = asyncio.get_running_loop().create_task(self._write(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _write(self, batch: Sequence[tuple[InboxItem, asyncio.Future[Committed]]]) -> None:
        try:
            async with self._gate:
                keys = [item.key for item, _ in batch]
                logged, waiting = await asyncio.gather(self.known_events(keys),
                                                       self.inbox.get_many(keys))
                held = {**waiting, **logged}
                new = [item for item, _ in batch if item.key not in held]
                if new:
                    await self.inbox.put_batch(new)
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            log.warning("intake batch of %d failed: %s", len(batch), type(exc).__name__)
        else:
            for item, future in batch:
                if not future.done():
                    status = held.get(item.key)
                    future.set_result(Committed(status or item.status, status is None))
        finally:
            for item, _ in batch:
                self._unwritten.pop(item.key, None)
            for _, future in batch:  # a caller that went away must not leave it unread
                if future.done() and not future.cancelled():
                    future.exception()
