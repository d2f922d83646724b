"""The audit trail on a real DynamoDB API server: append order, hash chain, tampering, races."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from compliance.fail_closed import WITHHELD
from config.settings import Settings
from store.audit import GENESIS, AuditLog, entry_hash
from store.audit_dynamo import DynamoAuditLog
from store.dynamo import make_client, to_item
from tests.utils.phi import break_phi_check


def open_log(settings: Settings) -> AuditLog:
    return DynamoAuditLog(make_client(settings), settings.table("Audit"),
                          ThreadPoolExecutor(max_workers=8))


async def add(log: AuditLog, tenant: str = "t1", n: int = 1, **fields: str) -> None:
    for i in range(n):
        await log.append(tenant, actor=fields.get("actor", "acct-1"),
                         action=fields.get("action", "agent_state.read"),
                         resource=fields.get("resource", f"tenants/{tenant}/agents/A/{i}"),
                         request_id=fields.get("request_id", f"req-{i}"), outcome="ok",
                         status=200)


async def test_entries_chain_in_append_order(settings: Settings) -> None:
    log = open_log(settings)
    await add(log, n=5)
    await add(log, tenant="t2", n=2)
    entries = await log.entries("t1")
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash
    assert entries[2].public()["resource"] == "tenants/t1/agents/A/2"
    assert entries[2].request_id == "req-2" and entries[2].actor == "acct-1"
    assert (await log.verify("t1")).ok and (await log.verify("t2")).entries == 2
    assert await log.head("t1") == (5, entries[-1].hash)
    assert [e.seq for e in await log.entries("t1", after=3)] == [4, 5]
    assert [e.seq for e in await log.entries("t1", limit=2)] == [1, 2]
    empty = await log.verify("nobody")
    assert empty.ok and empty.entries == 0 and empty.head == GENESIS


async def test_fields_that_cannot_be_checked_are_withheld_and_the_chain_goes_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(settings)
    await add(log, n=1)
    break_phi_check(monkeypatch, only_on="tenants/t1/agents/A/1")  # one resource fails
    await add(log, n=2)
    monkeypatch.undo()
    await add(log, n=1)
    entries = await log.entries("t1")
    assert [e.resource for e in entries] == [
        "tenants/t1/agents/A/0", "tenants/t1/agents/A/0", WITHHELD, "tenants/t1/agents/A/0"]
    assert entries[2].actor == "acct-1" and entries[2].request_id == "req-1"
    assert (await log.verify("t1")).ok


async def test_paging_over_many_entries(settings: Settings) -> None:
    log = open_log(settings)
    await add(log, n=12)
    assert [e.seq for e in await log.entries("t1", page_size=5)] == list(range(1, 13))
    report = await log.verify("t1", page_size=5)
    assert report.ok and report.entries == 12


async def test_a_modified_entry_is_detected(settings: Settings) -> None:
    log = open_log(settings)
    await add(log, n=4)
    client = make_client(settings)
    item = (await log.entries("t1"))[1].public()
    item["actor"] = "someone-else"  # rewrite history, keeping the stored hash
    client.put_item(TableName=settings.table("Audit"), Item=to_item(item))
    report = await log.verify("t1")
    assert not report.ok and report.broken_at == "000000000002"
    assert "modified" in (report.reason or "")


async def test_a_rehashed_modification_breaks_the_next_link(settings: Settings) -> None:
    log = open_log(settings)
    await add(log, n=4)
    client = make_client(settings)
    item = (await log.entries("t1"))[1].public()
    item["outcome"] = "denied"
    item["hash"] = entry_hash(item)  # a careful forger recomputes the hash too
    client.put_item(TableName=settings.table("Audit"), Item=to_item(item))
    report = await log.verify("t1")
    assert not report.ok and report.broken_at == "000000000003"
    assert "prevHash" in (report.reason or "")


async def test_a_deleted_entry_is_detected(settings: Settings) -> None:
    log = open_log(settings)
    await add(log, n=4)
    make_client(settings).delete_item(
        TableName=settings.table("Audit"),
        Key=to_item({"tenantId": "t1", "entryId": "000000000002"}))
    report = await log.verify("t1")
    assert not report.ok and report.broken_at == "000000000003"
    assert "missing" in (report.reason or "")


async def test_concurrent_writers_across_replicas_lose_nothing(settings: Settings) -> None:
    # Three logs = three replicas with their own head caches, appending to the same tenant.
    logs = [open_log(settings) for _ in range(3)]
    await asyncio.gather(*(add(log, n=15, action=f"replica{i}")
                           for i, log in enumerate(logs)))
    entries = await logs[0].entries("t1")
    assert len(entries) == 45 and [e.seq for e in entries] == list(range(1, 46))
    assert sorted(e.action for e in entries).count("replica2") == 15
    assert (await logs[1].verify("t1")).ok
    # A replica whose cached head is stale still appends at the true end.
    await add(logs[2], n=1, action="late")
    assert (await logs[0].entries("t1"))[-1].action == "late"
    assert (await logs[0].verify("t1")).entries == 46


async def test_entries_hold_no_phi(settings: Settings) -> None:
    log = open_log(settings)
    entry = await log.append("t1", actor="acct-1", action="event.read",
                             resource="events/SSN 123-45-6789 call 617-555-0123",
                             request_id="r1", outcome="ok", status=200)
    assert "123-45-6789" not in entry.resource and "[SSN]" in entry.resource
    assert "617-555-0123" not in entry.resource
    stored = (await log.entries("t1"))[0]
    assert stored.resource == entry.resource and (await log.verify("t1")).ok


@pytest.mark.parametrize("n", [50])
async def test_append_latency(settings: Settings, n: int) -> None:
    """Measured, not asserted tightly: the median append on local dynalite."""
    log = open_log(settings)
    await add(log, n=1)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        await log.append("t1", actor="a", action="x", resource=f"r{i}", request_id="q",
                         outcome="ok", status=200)
        times.append(time.perf_counter() - t0)
    times.sort()
    median_ms = times[len(times) // 2] * 1000
    print(f"audit append median {median_ms:.1f} ms, p95 {times[int(n * .95)] * 1000:.1f} ms")
    assert median_ms < 250
