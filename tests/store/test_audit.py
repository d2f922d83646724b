"""One conformance suite, run against every AuditLog implementation (dynalite and the twin):
append order, the hash chain, blocks, tampering, races between replicas. Tampering goes around
the log, into its storage (the table, or the twin's items), as someone with write access to the
table would. The latency measurement at the end stays Dynamo-only."""

from __future__ import annotations

import asyncio
import copy
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from compliance.fail_closed import WITHHELD
from config.settings import Settings
from store.audit import BLOCK_MAX, GENESIS, SEQ_WIDTH, AuditLog, InMemoryAuditLog, entry_hash
from store.audit_dynamo import DynamoAuditLog
from store.dynamo import make_client, to_item
from store.errors import StoreUnavailable
from tests.utils.phi import break_phi_check

Register = Callable[[str], Awaitable[None]]


class Backend(ABC):
    """One set of chains: writers on it, and its storage reached around the log."""

    @abstractmethod
    def open(self, register: Register | None = None) -> AuditLog:
        """A writer with its own head cache, as another replica would be."""

    @abstractmethod
    def overwrite(self, item: dict[str, Any]) -> None:
        """Put ``item`` in the storage, replacing whatever has its key."""

    @abstractmethod
    def delete(self, tenant: str, entry_id: str) -> None:
        """Remove the item keyed ``entry_id`` from the storage."""


class MemoryBackend(Backend):
    def __init__(self) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = {}

    def open(self, register: Register | None = None) -> AuditLog:
        return InMemoryAuditLog(register=register, items=self.items)

    def overwrite(self, item: dict[str, Any]) -> None:
        self.items.setdefault(item["tenantId"], {})[item["entryId"]] = copy.deepcopy(item)

    def delete(self, tenant: str, entry_id: str) -> None:
        del self.items[tenant][entry_id]


class DynamoBackend(Backend):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = make_client(settings)

    def open(self, register: Register | None = None) -> AuditLog:
        return DynamoAuditLog(make_client(self.settings), self.settings.table("Audit"),
                              ThreadPoolExecutor(max_workers=8), register=register)

    def overwrite(self, item: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.settings.table("Audit"), Item=to_item(item))

    def delete(self, tenant: str, entry_id: str) -> None:
        self.client.delete_item(TableName=self.settings.table("Audit"),
                                Key=to_item({"tenantId": tenant, "entryId": entry_id}))


@pytest.fixture(params=["memory", "dynamodb"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        return MemoryBackend()
    return DynamoBackend(request.getfixturevalue("settings"))


def seq_id(seq: int) -> str:
    return str(seq).zfill(SEQ_WIDTH)


def fields(i: int, **extra: Any) -> dict[str, Any]:
    """One entry as the drainer hands it to ``append_block``."""
    return {"at": f"2026-01-02T03:04:{i % 60:02d}.000+00:00", "actor": "acct-1",
            "action": "event.ingest", "resource": f"/v1/forge/events/e{i}",
            "requestId": f"blk-{i}", "outcome": "ok", "status": 202, **extra}


async def add(log: AuditLog, tenant: str = "t1", n: int = 1, **fields: str) -> None:
    for i in range(n):
        await log.append(tenant, actor=fields.get("actor", "acct-1"),
                         action=fields.get("action", "agent_state.read"),
                         resource=fields.get("resource", f"tenants/{tenant}/agents/A/{i}"),
                         request_id=fields.get("request_id", f"req-{i}"), outcome="ok",
                         status=200)


async def test_entries_chain_in_append_order(backend: Backend) -> None:
    log = backend.open()
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
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = backend.open()
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


async def test_paging_over_many_entries(backend: Backend) -> None:
    log = backend.open()
    await add(log, n=12)
    assert [e.seq for e in await log.entries("t1", page_size=5)] == list(range(1, 13))
    report = await log.verify("t1", page_size=5)
    assert report.ok and report.entries == 12


async def test_a_modified_entry_is_detected(backend: Backend) -> None:
    log = backend.open()
    await add(log, n=4)
    item = (await log.entries("t1"))[1].public()
    item["actor"] = "someone-else"  # rewrite history, keeping the stored hash
    backend.overwrite(item)
    report = await log.verify("t1")
    assert not report.ok and report.broken_at == "000000000002"
    assert "modified" in (report.reason or "")


async def test_a_rehashed_modification_breaks_the_next_link(backend: Backend) -> None:
    log = backend.open()
    await add(log, n=4)
    item = (await log.entries("t1"))[1].public()
    item["outcome"] = "denied"
    item["hash"] = entry_hash(item)  # a careful forger recomputes the hash too
    backend.overwrite(item)
    report = await log.verify("t1")
    assert not report.ok and report.broken_at == "000000000003"
    assert "prevHash" in (report.reason or "")


async def test_a_deleted_entry_is_detected(backend: Backend) -> None:
    log = backend.open()
    await add(log, n=4)
    backend.delete("t1", "000000000002")
    report = await log.verify("t1")
    assert not report.ok and report.broken_at == "000000000003"
    assert "missing" in (report.reason or "")


async def test_concurrent_writers_across_replicas_lose_nothing(backend: Backend) -> None:
    # Three logs = three replicas with their own head caches, appending to the same tenant.
    logs = [backend.open() for _ in range(3)]
    await asyncio.gather(*(add(log, n=15, action=f"replica{i}")
                           for i, log in enumerate(logs)))
    entries = await logs[0].entries("t1")
    assert len(entries) == 45 and [e.seq for e in entries] == list(range(1, 46))
    assert sorted(e.action for e in entries).count("replica2") == 15
    assert (await logs[1].verify("t1")).ok
    # A replica whose cached head is stale (logs[0] appended since it last did) still appends
    # at the true end: its put finds the number taken, and it re-reads the head.
    await add(logs[0], n=1, action="fresh")
    await add(logs[1], n=1, action="late")
    assert [e.action for e in (await logs[2].entries("t1"))[-2:]] == ["fresh", "late"]
    assert (await logs[2].verify("t1")).entries == 47


async def test_entries_hold_no_phi(backend: Backend) -> None:
    log = backend.open()
    entry = await log.append("t1", actor="acct-1", action="event.read",
                             resource="events/SSN 123-45-6789 call 617-555-0123",
                             request_id="r1", outcome="ok", status=200)
    assert "123-45-6789" not in entry.resource and "[SSN]" in entry.resource
    assert "617-555-0123" not in entry.resource
    stored = (await log.entries("t1"))[0]
    assert stored.resource == entry.resource and (await log.verify("t1")).ok


async def test_blocks_chain_entry_by_entry_like_single_appends(backend: Backend) -> None:
    log = backend.open()
    await add(log, n=2)
    first = await log.append_block("t1", [fields(i) for i in range(5)])
    assert [e.seq for e in first] == [3, 4, 5, 6, 7] and first[0].request_id == "blk-0"
    await add(log, n=1)
    big = await log.append_block("t1", [fields(i) for i in range(BLOCK_MAX + 3)])  # two items
    assert [e.seq for e in big] == list(range(9, 9 + BLOCK_MAX + 3))
    assert await log.append_block("t1", []) == []
    total = 8 + BLOCK_MAX + 3
    entries = await log.entries("t1")
    assert [e.seq for e in entries] == list(range(1, total + 1))
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash
    assert entries[4] == first[2] and entries[4].status == 202
    assert await log.head("t1") == (total, entries[-1].hash)
    # Reading from inside a block, and across the end of one, with small pages.
    assert [e.seq for e in await log.entries("t1", after=4)][:4] == [5, 6, 7, 8]
    assert [e.seq for e in await log.entries("t1", after=5, limit=3, page_size=1)] == [6, 7, 8]
    report = await backend.open().verify("t1", page_size=2)
    assert report.ok and report.entries == total and report.head == entries[-1].hash
    # A fresh writer (no cached head) continues after the last block's last entry.
    (next_entry,) = await backend.open().append_block("t1", [fields(0)])
    assert next_entry.seq == total + 1 and next_entry.prev_hash == entries[-1].hash


async def test_a_block_that_does_not_hold_what_its_key_and_count_say_is_detected(
        backend: Backend) -> None:
    log = backend.open()
    await add(log, n=1)
    block = await log.append_block("t1", [fields(i) for i in range(3)])
    # Drop the block's last entry but keep its count: the entries no longer tile the sequence.
    backend.overwrite({"tenantId": "t1", "entryId": block[0].entry_id, "count": 3,
                       "entries": [e.public() for e in block[:2]]})
    report = await log.verify("t1")
    assert not report.ok and report.broken_at == seq_id(2) and report.entries == 1
    assert "modified" in (report.reason or "")


async def test_a_chain_stored_before_this_code_still_verifies(backend: Backend) -> None:
    """The stored format and its hashes are fixed: these two entries (the second in a block)
    and their hashes are as the code before the interfaces wrote them."""
    one = {"tenantId": "acme", "entryId": seq_id(1), "at": "2026-01-02T03:04:05.678+00:00",
           "actor": "acct-1", "action": "event.read", "resource": "/v1/events/\u00e91",
           "requestId": "r-1", "outcome": "ok", "status": 200, "prevHash": GENESIS,
           "hash": "15f2453ce330f2c090a6f759b71c0a0870a0acc56015ccf3ad9dc97616e564fd"}
    two = {**one, "entryId": seq_id(2), "status": 404, "outcome": "not_found",
           "prevHash": one["hash"],
           "hash": "e61fce8621018a3ecfa960abfcca04f0256562e3bd6cf7cd7f401e2889872296"}
    assert entry_hash(one) == one["hash"] and entry_hash(two) == two["hash"]
    backend.overwrite(one)
    backend.overwrite({"tenantId": "acme", "entryId": seq_id(2), "count": 1, "entries": [two]})
    log = backend.open()
    report = await log.verify("acme")
    assert report.ok and report.entries == 2 and report.head == two["hash"]
    assert [e.public() for e in await log.entries("acme")] == [one, two]
    third = await log.append("acme", actor="a", action="x", resource="r", request_id="q",
                             outcome="ok", status=200)
    assert third.seq == 3 and third.prev_hash == two["hash"]
    assert (await log.verify("acme")).entries == 3


async def test_each_tenant_is_registered_for_anchoring_once(backend: Backend) -> None:
    calls: list[str] = []
    refuse = {"t2"}

    async def register(tenant: str) -> None:
        calls.append(tenant)
        if tenant in refuse:
            raise StoreUnavailable("anchors table unreachable")

    log = backend.open(register=register)
    await add(log, n=3)
    await add(log, tenant="t2", n=1)  # refused: the entry is in all the same
    assert (await log.verify("t2")).entries == 1
    refuse.clear()
    await log.append_block("t2", [fields(0)])  # tried again, and now listed
    await add(log, tenant="t2", n=1)
    assert calls == ["t1", "t2", "t2"]


# -- DynamoDB only: a measurement of the server's round trips, which the twin does not make ----

@pytest.mark.parametrize("n", [50])
async def test_append_latency(settings: Settings, n: int) -> None:
    """Measured, not asserted tightly: the median append on local dynalite."""
    log = DynamoBackend(settings).open()
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
