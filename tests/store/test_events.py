"""One conformance suite, run against every EventLog implementation (dynalite and the twin,
through the ``events`` fixture); the tests at the end read DynamoDB items and stay Dynamo-only."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from store.errors import InvalidKey
from store.events import EventLog, EventStatus, InMemoryEventLog
from store.events_dynamo import DynamoEventLog
from store.factory import Stores


@pytest.fixture(params=["memory", "dynamodb"])
def events(request: pytest.FixtureRequest) -> EventLog:
    """A fresh event log: the twin, or the DynamoDB log on dynalite."""
    if request.param == "memory":
        return InMemoryEventLog()
    stores: Stores = request.getfixturevalue("stores")
    return stores.events


async def test_record_is_put_if_absent(events: EventLog) -> None:
    first, created = await events.record("t1", "e1", "jira", "jira:issue_created", {"n": 1})
    assert created and first.status is EventStatus.ACCEPTED and first.payload is None
    again, created = await events.record("t1", "e1", "jira", "jira:issue_created", {"n": 2})
    assert not created and again.accepted_at == first.accepted_at
    stored = await events.get("t1", "e1", with_payload=True)
    assert stored is not None and stored.payload == {"n": 1}, "a duplicate overwrote the first"


async def test_same_event_id_in_two_tenants_is_two_events(events: EventLog) -> None:
    _, a = await events.record("t1", "e1", "forge", "x", {"t": 1})
    _, b = await events.record("t2", "e1", "forge", "x", {"t": 2})
    assert a and b
    assert await events.get("t3", "e1") is None
    got = await events.get("t2", "e1", with_payload=True)
    assert got is not None and got.payload == {"t": 2}


async def test_concurrent_duplicates_create_exactly_one(events: EventLog) -> None:
    results = await asyncio.gather(
        *(events.record("t1", "dup", "forge", "x", {"i": i}) for i in range(8))
    )
    assert sum(created for _, created in results) == 1


async def test_an_earlier_acceptance_time_and_the_agents_are_kept(events: EventLog) -> None:
    rec, _ = await events.record("t1", "e1", "jira", "jira:issue_created", {"k": "v"},
                                 agents=["TaskSmith", "CareTrack"], accepted_at=1_000)
    assert rec.accepted_at == 1_000 and rec.updated_at > 1_000
    got = await events.get("t1", "e1")
    assert got is not None and got.agents == ["TaskSmith", "CareTrack"]
    assert got.accepted_at == 1_000 and got.attempts == 0 and got.payload is None


async def test_statuses_name_only_what_the_log_holds(events: EventLog) -> None:
    await events.record("t1", "a", "jira", "x", {})
    await events.record("t1", "b", "forge", "y", {}, EventStatus.IGNORED)
    await events.claim("t1", "a", lease_s=30)
    found = await events.statuses([("t1", "a"), ("t1", "b"), ("t1", "c"), ("t2", "a")])
    assert found == {("t1", "a"): "processing", ("t1", "b"): "ignored"}
    assert await events.statuses([]) == {}


async def test_claim_lease_finish_cycle(events: EventLog) -> None:
    ev = events
    await ev.record("t1", "e1", "jira", "jira:issue_created", {"k": "v"})
    assert await ev.list_unfinished() == [("t1", "e1")]
    claimed = await ev.claim("t1", "e1", lease_s=30)
    assert claimed is not None and claimed.attempts == 1 and claimed.payload == {"k": "v"}
    assert claimed.status is EventStatus.PROCESSING
    assert await ev.claim("t1", "e1", lease_s=30) is None, "a leased event was claimed twice"
    assert await ev.list_unfinished() == [("t1", "e1")], "a claimed event is still unfinished"
    await ev.finish("t1", "e1", EventStatus.DONE, ["TaskSmith"], {"TaskSmith": {"ok": True}})
    done = await ev.get("t1", "e1")
    assert done is not None and done.status is EventStatus.DONE
    assert done.result == {"TaskSmith": {"ok": True}} and done.error is None
    assert done.agents == ["TaskSmith"] and done.attempts == 1
    assert await ev.list_unfinished() == []
    assert await ev.claim("t1", "e1", lease_s=30) is None
    assert await ev.claim("t1", "unknown", lease_s=30) is None


async def test_expired_lease_can_be_claimed_again(events: EventLog) -> None:
    await events.record("t1", "e1", "jira", "jira:issue_created", {})
    assert await events.claim("t1", "e1", lease_s=0.05) is not None
    await asyncio.sleep(0.1)
    again = await events.claim("t1", "e1", lease_s=30)
    assert again is not None and again.attempts == 2


async def test_released_event_is_claimable_and_ignored_is_final(events: EventLog) -> None:
    ev = events
    await ev.record("t1", "e1", "jira", "jira:issue_created", {"k": 1})
    await ev.claim("t1", "e1", lease_s=30)
    await ev.release("t1", "e1", "RuntimeError in agent processing")
    released = await ev.get("t1", "e1")
    assert released is not None and released.status is EventStatus.ACCEPTED
    assert released.error == "RuntimeError in agent processing"
    again = await ev.claim("t1", "e1", lease_s=30)
    assert again is not None and again.attempts == 2 and again.payload == {"k": 1}
    await ev.finish("t1", "e1", EventStatus.DONE, ["TaskSmith"])
    done = await ev.get("t1", "e1")
    assert done is not None and done.error is None and done.result is None
    rec, _ = await ev.record("t1", "e2", "forge", "avi:x", {}, EventStatus.IGNORED)
    assert rec.status is EventStatus.IGNORED
    assert ("t1", "e2") not in await ev.list_unfinished()
    assert await ev.claim("t1", "e2", lease_s=30) is None


async def test_unfinished_are_listed_oldest_accepted_first(events: EventLog) -> None:
    for event_id, at in [("c", 3_000), ("a", 1_000), ("b", 2_000)]:
        await events.record("t1", event_id, "jira", "x", {}, accepted_at=at)
    await events.record("t2", "d", "jira", "x", {}, accepted_at=1_500)
    assert await events.list_unfinished() == [("t1", "a"), ("t2", "d"), ("t1", "b"),
                                              ("t1", "c")]
    assert await events.list_unfinished(limit=2) == [("t1", "a"), ("t2", "d")]


async def test_backlog_counts_unfinished_per_tenant_with_the_oldest(events: EventLog) -> None:
    ev = events
    for i in range(3):
        await ev.record("ta", f"a{i}", "jira", "jira:issue_created", {"i": i})
        await asyncio.sleep(0.005)  # distinct acceptance times
    await ev.record("tb", "b0", "forge", "x", {"i": 0})
    await ev.record("tb", "b1", "forge", "x", {}, EventStatus.IGNORED)  # finished at once
    await ev.finish("ta", "a0", EventStatus.DONE, ["TaskSmith"])

    backlog = await ev.backlog()
    assert set(backlog) == {"ta", "tb"}
    assert backlog["ta"].events == 2 and backlog["ta"].oldest_event_id == "a1"
    assert backlog["tb"].events == 1 and backlog["tb"].oldest_event_id == "b0"
    assert not backlog["ta"].truncated
    assert (await ev.backlog(limit=1))["ta"].truncated


async def test_failures_are_the_events_with_an_error_newest_first_without_payloads(
        events: EventLog) -> None:
    ev = events
    for i in range(3):
        await ev.record("tf", f"e{i}", "jira", "jira:issue_updated", {"secret": "Jane Roe"})
    await ev.record("tg", "e0", "jira", "jira:issue_updated", {})
    await ev.claim("tf", "e0", 30)
    await ev.release("tf", "e0", "TimeoutError in agent CareTrack")
    await asyncio.sleep(0.005)
    await ev.claim("tf", "e1", 30)
    await ev.finish("tf", "e1", EventStatus.FAILED, ["DealFlow"], {"CareTrack": 1},
                    "ValueError in agent DealFlow")
    await ev.claim("tf", "e2", 30)
    await ev.finish("tf", "e2", EventStatus.DONE, ["DealFlow"])

    failures = await ev.failures("tf")
    assert [f.event_id for f in failures] == ["e1", "e0"]
    assert all(f.payload is None and f.result is None for f in failures)
    assert [f.error for f in failures] == ["ValueError in agent DealFlow",
                                           "TimeoutError in agent CareTrack"]
    assert failures[0].agents == ["DealFlow"] and failures[0].status is EventStatus.FAILED
    assert await ev.failures("tg") == []


async def test_payload_over_an_item_round_trips(events: EventLog) -> None:
    payload = {"issue": {"fields": {"description": os.urandom(500_000).hex()}}}
    await events.record("t1", "big", "jira", "jira:issue_created", payload)
    got = await events.get("t1", "big", with_payload=True)
    assert got is not None and got.payload == payload


async def test_a_key_the_store_cannot_hold_is_invalid_not_unavailable(events: EventLog) -> None:
    for tenant, event_id in [("t1", "x" * 1025), ("t" * 2049, "e1"), ("t1", ""), ("", "e1")]:
        try:
            await events.get(tenant, event_id)
        except InvalidKey:
            continue
        raise AssertionError(f"no InvalidKey for a {len(tenant)}/{len(event_id)}-char key")
    # At the limits themselves the store answers: nothing there.
    assert await events.get("t1", "x" * 1024) is None
    assert await events.get("t" * 2048, "e1") is None


async def _finished_and_purged(ev: EventLog) -> int:
    """Events finished past a retention of 10 ms, and two that are not; purge once."""
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
    return cut


async def test_payloads_finished_past_the_retention_are_removed_and_metadata_kept(
        events: EventLog) -> None:
    ev = events
    cut = await _finished_and_purged(ev)
    for event_id in ("old", "old-big", "ignored"):
        gone = await ev.get("t1", event_id, with_payload=True)
        assert gone is not None and gone.payload is None, event_id
    old = await ev.get("t1", "old")
    assert old is not None and old.status is EventStatus.DONE
    assert old.agents == ["TaskSmith"] and old.result == {"TaskSmith": 1}
    kept = await ev.get("t1", "unfinished", with_payload=True)
    assert kept is not None and kept.payload == {"k": "keep"}
    recent = await ev.get("t1", "recent", with_payload=True)
    assert recent is not None and recent.payload == {"k": "recent"} and recent.result == {}
    assert await ev.purge_payloads(cut) == 0, "a purged event is not found again"
    # A redelivery of a purged event is still recognised as a duplicate.
    again, created = await ev.record("t1", "old", "jira", "jira:issue_created", {"n": 2})
    assert not created and again.status is EventStatus.DONE


async def test_purge_takes_the_oldest_finished_first_up_to_the_limit(events: EventLog) -> None:
    for event_id in ("first", "second", "third"):
        await events.record("t1", event_id, "forge", "x", {"id": event_id}, EventStatus.IGNORED)
        await asyncio.sleep(0.005)  # distinct finishing times
    assert await events.purge_payloads(int(time.time() * 1000) + 1, limit=2) == 2
    held = [(await events.get("t1", e, with_payload=True)) for e in ("first", "second", "third")]
    assert [r.payload if r else "missing" for r in held] == [None, None, {"id": "third"}]


# -- DynamoDB only: what the items and part items look like after a purge ----------------------

async def test_a_purge_removes_the_payload_attributes_and_the_parts(stores: Stores) -> None:
    ev = stores.events
    assert isinstance(ev, DynamoEventLog)
    await _finished_and_purged(ev)
    item = await ev.table.get({"tenantId": "t1", "eventId": "old"})
    assert item is not None and "blob" not in item and "payloadRemovedAt" in item
    assert "payloadHeld" not in item and "blobSha256" not in item
    assert not await ev.table.query("tenantId = :t AND begins_with(eventId, :p)",
                                    {":t": "t1", ":p": "~part#old-big#"}), "parts left"
