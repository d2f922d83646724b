from __future__ import annotations

import asyncio
import os

from store.events import EventStatus
from store.factory import Stores


async def test_record_is_put_if_absent(stores: Stores) -> None:
    ev = stores.events
    first, created = await ev.record("t1", "e1", "jira", "jira:issue_created", {"n": 1})
    assert created and first.status is EventStatus.ACCEPTED
    again, created = await ev.record("t1", "e1", "jira", "jira:issue_created", {"n": 2})
    assert not created and again.accepted_at == first.accepted_at
    stored = await ev.get("t1", "e1", with_payload=True)
    assert stored is not None and stored.payload == {"n": 1}, "a duplicate overwrote the first"


async def test_same_event_id_in_two_tenants_is_two_events(stores: Stores) -> None:
    _, a = await stores.events.record("t1", "e1", "forge", "x", {"t": 1})
    _, b = await stores.events.record("t2", "e1", "forge", "x", {"t": 2})
    assert a and b
    assert await stores.events.get("t3", "e1") is None


async def test_concurrent_duplicates_create_exactly_one(stores: Stores) -> None:
    results = await asyncio.gather(
        *(stores.events.record("t1", "dup", "forge", "x", {"i": i}) for i in range(8))
    )
    assert sum(created for _, created in results) == 1


async def test_claim_lease_finish_cycle(stores: Stores) -> None:
    ev = stores.events
    await ev.record("t1", "e1", "jira", "jira:issue_created", {"k": "v"})
    assert await ev.list_unfinished() == [("t1", "e1")]
    claimed = await ev.claim("t1", "e1", lease_s=30)
    assert claimed is not None and claimed.attempts == 1 and claimed.payload == {"k": "v"}
    assert await ev.claim("t1", "e1", lease_s=30) is None, "a leased event was claimed twice"
    await ev.finish("t1", "e1", EventStatus.DONE, ["TaskSmith"], {"TaskSmith": {"ok": True}})
    done = await ev.get("t1", "e1")
    assert done is not None and done.status is EventStatus.DONE
    assert done.result == {"TaskSmith": {"ok": True}} and done.error is None
    assert await ev.list_unfinished() == []
    assert await ev.claim("t1", "e1", lease_s=30) is None


async def test_expired_lease_can_be_claimed_again(stores: Stores) -> None:
    ev = stores.events
    await ev.record("t1", "e1", "jira", "jira:issue_created", {})
    assert await ev.claim("t1", "e1", lease_s=0.05) is not None
    await asyncio.sleep(0.1)
    again = await ev.claim("t1", "e1", lease_s=30)
    assert again is not None and again.attempts == 2


async def test_released_event_is_claimable_and_ignored_is_final(stores: Stores) -> None:
    ev = stores.events
    await ev.record("t1", "e1", "jira", "jira:issue_created", {})
    await ev.claim("t1", "e1", lease_s=30)
    await ev.release("t1", "e1", "RuntimeError in agent processing")
    assert (await ev.claim("t1", "e1", lease_s=30)) is not None
    rec, _ = await ev.record("t1", "e2", "forge", "avi:x", {}, EventStatus.IGNORED)
    assert rec.status is EventStatus.IGNORED
    assert ("t1", "e2") not in await ev.list_unfinished()


async def test_payload_over_an_item_round_trips(stores: Stores) -> None:
    payload = {"issue": {"fields": {"description": os.urandom(500_000).hex()}}}
    await stores.events.record("t1", "big", "jira", "jira:issue_created", payload)
    got = await stores.events.get("t1", "big", with_payload=True)
    assert got is not None and got.payload == payload


async def test_a_key_the_store_cannot_hold_is_invalid_not_unavailable(stores: Stores) -> None:
    from store.errors import InvalidKey

    for tenant, event_id in [("t1", "x" * 1025), ("t" * 2049, "e1"), ("t1", ""), ("", "e1")]:
        try:
            await stores.events.get(tenant, event_id)
        except InvalidKey:
            continue
        raise AssertionError(f"no InvalidKey for a {len(tenant)}/{len(event_id)}-char key")
    # At the limits themselves the store answers: nothing there.
    assert await stores.events.get("t1", "x" * 1024) is None
