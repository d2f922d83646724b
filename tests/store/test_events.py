from __future__ import annotations

import asyncio
import os
import time

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


async def test_payloads_finished_past_the_retention_are_removed_and_metadata_kept(
        stores: Stores) -> None:
    ev = stores.events
    big = {"issue": {"fields": {"description": os.urandom(500_000).hex()}}}  # in parts
    await ev.record("t1", "old", "jira", "jira:issue_created", {"ssn": "123-45-6789"})
    await ev.record("t1", "old-big", "jira", "jira:issue_created", big)
    await ev.record("t1", "ignored", "forge", "avi:x", {"n": 1}, EventStatus.IGNORED)
    for event_id in ("old", "old-big"):
        await ev.claim("t1", event_id, lease_s=30)
        await ev.finish("t1", event_id, EventStatus.DONE, ["TaskSmith"], {"TaskSmith": 1})
    await asyncio.sleep(0.05)
    cut = int(time.time() * 1000) - 10  # a retention of 10 ms: the three above are past it
    await ev.record("t1", "unfinished", "jira", "jira:issue_created", {"k": "keep"})
    await ev.record("t1", "recent", "jira", "jira:issue_created", {"k": "recent"})
    await ev.claim("t1", "recent", lease_s=30)
    await ev.finish("t1", "recent", EventStatus.DONE, ["TaskSmith"], {})

    assert await ev.purge_payloads(cut) == 3
    for event_id in ("old", "old-big", "ignored"):
        gone = await ev.get("t1", event_id, with_payload=True)
        assert gone is not None and gone.payload is None, event_id
    old = await ev.get("t1", "old")
    assert old is not None and old.status is EventStatus.DONE
    assert old.agents == ["TaskSmith"] and old.result == {"TaskSmith": 1}
    item = await ev.table.get({"tenantId": "t1", "eventId": "old"})
    assert item is not None and "blob" not in item and "payloadRemovedAt" in item
    assert not await ev.table.query("tenantId = :t AND begins_with(eventId, :p)",
                                    {":t": "t1", ":p": "~part#old-big#"}), "parts left"
    kept = await ev.get("t1", "unfinished", with_payload=True)
    assert kept is not None and kept.payload == {"k": "keep"}
    recent = await ev.get("t1", "recent", with_payload=True)
    assert recent is not None and recent.payload == {"k": "recent"}
    assert await ev.purge_payloads(cut) == 0, "a purged event is not found again"
    # A redelivery of a purged event is still recognised as a duplicate.
    again, created = await ev.record("t1", "old", "jira", "jira:issue_created", {"n": 2})
    assert not created and again.status is EventStatus.DONE
