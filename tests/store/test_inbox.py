"""One conformance suite, run against every Inbox implementation (dynalite and the twin)."""

from __future__ import annotations

import pytest

from store.factory import Stores
from store.inbox import Inbox, InboxItem, InMemoryInbox


@pytest.fixture(params=["memory", "dynamodb"])
def inbox(request: pytest.FixtureRequest) -> Inbox:
    if request.param == "memory":
        return InMemoryInbox()
    stores: Stores = request.getfixturevalue("stores")
    return stores.inbox


def item(event_id: str, tenant: str = "t1", at: int = 1_000, **extra: object) -> InboxItem:
    fields: dict[str, object] = {
        "tenant": tenant, "event_id": event_id, "source": "jira",
        "event_type": "jira:issue_created", "status": "accepted", "accepted_at": at,
        "agents": ["TaskSmith", "CareTrack"],
        "event": {"tenant": tenant, "event_id": event_id, "kind": "issue_created",
                  "source": "jira", "issue": {"summary": "Ünïcode épic"}},
        "audit": {"actor": "acct-1", "requestId": f"r-{event_id}"},
    }
    return InboxItem.model_validate({**fields, **extra})


async def test_a_batch_round_trips_every_field(inbox: Inbox) -> None:
    batch = [item(f"e{i}", at=1_000 + i) for i in range(30)]  # more than one BatchWriteItem
    await inbox.put_batch(batch)
    got = await inbox.get("t1", "e7")
    assert got == batch[7]
    assert await inbox.get("t1", "nope") is None
    assert await inbox.get("t2", "e7") is None  # keyed by tenant too


async def test_pending_is_oldest_first_and_capped(inbox: Inbox) -> None:
    await inbox.put_batch([item(f"e{i}", at=5_000 - i) for i in range(12)])
    first = await inbox.pending(5)
    assert [i.event_id for i in first] == ["e11", "e10", "e9", "e8", "e7"]
    assert len(await inbox.pending(100)) == 12


async def test_get_many_names_only_what_waits(inbox: Inbox) -> None:
    await inbox.put_batch([item("a"), item("b", status="ignored", agents=[], event=None)])
    found = await inbox.get_many([("t1", "a"), ("t1", "b"), ("t1", "c"), ("t2", "a")])
    assert found == {("t1", "a"): "accepted", ("t1", "b"): "ignored"}
    assert await inbox.get_many([]) == {}


async def test_remove_takes_drained_items_only(inbox: Inbox) -> None:
    batch = [item(f"e{i}", at=i) for i in range(40)]
    await inbox.put_batch(batch)
    await inbox.remove(batch[:30])
    left = await inbox.pending(100)
    assert [i.event_id for i in left] == [f"e{i}" for i in range(30, 40)]
    await inbox.remove(batch)  # removing what is gone already is no error
    assert await inbox.pending(100) == []


async def test_a_redelivery_replaces_the_waiting_copy(inbox: Inbox) -> None:
    await inbox.put_batch([item("e1", audit={"requestId": "first"})])
    await inbox.put_batch([item("e1", audit={"requestId": "second"})])
    waiting = await inbox.pending(10)
    assert len(waiting) == 1 and waiting[0].audit == {"requestId": "second"}
