"""Processing takes the tenants in turn: one tenant's burst does not starve the others."""

from __future__ import annotations

import asyncio

from serve.fair_queue import FairQueue


def test_tenants_are_served_in_turn_each_in_order() -> None:
    q = FairQueue()
    for n in range(1000):
        q.put("bulk", f"b{n}")  # a bulk import queued first
    q.put("calm", "c0")
    q.put("calm", "c1")
    q.put("other", "o0")
    first = [q.pop() for _ in range(6)]
    assert first == [("bulk", "b0"), ("calm", "c0"), ("other", "o0"), ("bulk", "b1"),
                     ("calm", "c1"), ("bulk", "b2")]
    assert len(q) == 997


def test_an_event_waiting_already_is_not_queued_twice() -> None:
    q = FairQueue()
    assert q.put("t", "e1") and not q.put("t", "e1")
    assert q.pop() == ("t", "e1") and q.pop() is None
    assert q.put("t", "e1")  # taken out: it may be queued again (a re-drive)


async def test_get_waits_for_work() -> None:
    q = FairQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not waiter.done()
    q.put("t", "e1")
    assert await asyncio.wait_for(waiter, 5) == ("t", "e1")
