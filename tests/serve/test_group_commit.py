"""Group commit at intake, under faults: the real ingress app and a real dynalite, with a proxy
in front of it that refuses or half-processes the inbox's BatchWriteItem calls as DynamoDB does.
And dedupe across the whole path: a delivery seen twice is recorded (and so processed) once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from config.settings import Settings
from store.inbox import InboxItem
from tests.utils.dynamo_proxy import DynamoProxy
from tests.utils.fit import TestKey
from tests.utils.ingress import InProcessIngress
from tests.utils.payloads import forge_epic


@pytest.fixture
async def proxied(settings: Settings) -> AsyncIterator[tuple[InProcessIngress, DynamoProxy]]:
    assert settings.dynamodb_endpoint is not None
    proxy = DynamoProxy(settings.dynamodb_endpoint, settings.table("Inbox")).start()
    s = settings.model_copy(update={"dynamodb_endpoint": proxy.url, "rate_limit_per_s": 0.0,
                                    "intake_batch_wait_ms": 100.0})
    ing = InProcessIngress(s, TestKey())
    yield ing, proxy
    await ing.aclose()
    proxy.stop()


def epic(n: int) -> bytes:
    return json.dumps(forge_epic(key=f"GC-{n}", summary=f"Group commit epic {n}")).encode()


async def post_all(ing: InProcessIngress, bodies: list[bytes],
                   tenant: str = "acme") -> list[httpx.Response]:
    return list(await asyncio.gather(*(
        ing.client.post("/v1/forge/events", content=b, headers=ing.bearer(tenant))
        for b in bodies)))


async def test_concurrent_deliveries_share_batches(proxied) -> None:  # type: ignore[no-untyped-def]
    ing, proxy = proxied
    answers = await post_all(ing, [epic(n) for n in range(20)])
    assert [a.status_code for a in answers] == [202] * 20
    # Twenty deliveries, a handful of BatchWriteItems (one each without group commit). Not
    # exactly one: a batch closes 100 ms after its first delivery, and on a loaded machine the
    # twenty can take longer than that to reach the committer (CI once saw two batches).
    assert 1 <= proxy.batch_writes <= 4
    ids = [a.json()["eventId"] for a in answers]
    for event_id in ids:  # readable while still in the inbox
        got = await ing.client.get(f"/v1/events/{event_id}", headers=ing.bearer("acme"))
        assert got.status_code == 200 and got.json()["status"] == "accepted"
    assert sorted(await ing.drain()) == sorted(("acme", i) for i in ids)
    for event_id in ids:
        record = await ing.stores.events.get("acme", event_id, with_payload=True)
        assert record is not None and record.agents == ["TaskSmith", "CareTrack", "RoadmapSmith"]
        assert record.payload is not None and record.payload["event_id"] == event_id
        assert record.payload["issue"]["key"].startswith("GC-")  # the normalised event


async def test_a_refused_batch_answers_503_to_every_caller_and_keeps_none(proxied) -> None:  # type: ignore[no-untyped-def]
    ing, proxy = proxied
    proxy.refuse = True
    answers = await post_all(ing, [epic(n) for n in range(6)])
    assert [a.status_code for a in answers] == [503] * 6
    assert "retry" in answers[0].json()["detail"]
    assert await ing.stores.inbox.pending(100) == []
    assert await ing.drain() == []
    trail = await ing.entries("acme")
    assert trail == [e for e in trail if e["status"] == 503]  # no 202 on the trail
    assert [e["status"] for e in trail] == [503] * 6  # and each refused answer is on it
    # The platform delivers again once DynamoDB takes writes: all acknowledged, once each.
    proxy.refuse = False
    again = await post_all(ing, [epic(n) for n in range(6)])
    assert [a.status_code for a in again] == [202] * 6
    assert len(await ing.drain()) == 6


async def test_unprocessed_items_are_sent_again(proxied) -> None:  # type: ignore[no-untyped-def]
    ing, proxy = proxied
    proxy.unprocess_calls = 2  # two calls in a row write half and hand the rest back
    answers = await post_all(ing, [epic(n) for n in range(16)])
    assert [a.status_code for a in answers] == [202] * 16
    assert proxy.unprocessed_sent >= 8 and proxy.batch_writes >= 3
    waiting = await ing.stores.inbox.pending(100)
    assert sorted(i.event_id for i in waiting) == sorted(a.json()["eventId"] for a in answers)


async def test_duplicates_in_one_batch_and_across_batches_are_recorded_once(
        proxied) -> None:  # type: ignore[no-untyped-def]
    ing, _ = proxied
    body = epic(1)
    same = await post_all(ing, [body] * 5)  # one batch
    assert sorted(a.status_code for a in same) == [200, 200, 200, 200, 202]
    event_id = same[0].json()["eventId"]
    assert {a.json()["eventId"] for a in same} == {event_id}
    later = await post_all(ing, [body])  # another batch, while the first waits in the inbox
    assert later[0].status_code == 200 and later[0].json()["duplicate"] is True
    assert await ing.drain() == [("acme", event_id)]
    after = await post_all(ing, [body])  # drained: the event log answers
    assert after[0].status_code == 200 and after[0].json()["status"] == "accepted"
    # Two replicas racing may both write the inbox: the drainer's conditional put keeps one.
    item = await ing.stores.events.get("acme", event_id)
    assert item is not None and await ing.stores.inbox.pending(1) == []
    await ing.stores.inbox.put_batch([InboxItem(
        tenant="acme", event_id=event_id, source="forge", event_type="avi:jira:created:issue",
        status="accepted", accepted_at=item.accepted_at, agents=item.agents, event={},
        audit={"at": "2026-01-01T00:00:00.000+00:00", "actor": "acct-1",
               "action": "event.ingest", "resource": "x", "requestId": "race",
               "outcome": "ok", "status": 202})])
    assert await ing.drain() == []  # not new: nothing to process twice
    entries = await ing.entries("acme")
    assert [e["status"] for e in entries].count(202) == 2  # each acknowledgement audited
    assert [e["status"] for e in entries].count(200) == 6
    assert (await ing.guard.audit.verify("acme")).ok
