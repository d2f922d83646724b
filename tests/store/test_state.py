"""One conformance suite, run against every StateStore implementation."""

from __future__ import annotations

import asyncio
import os

import pytest

from store.errors import CorruptItem, VersionConflict
from store.factory import Stores
from store.state import InMemoryStateStore, StateStore


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> StateStore:
    if request.param == "memory":
        return InMemoryStateStore()
    stores: Stores = request.getfixturevalue("stores")
    return stores.state


async def test_get_missing_is_none(store: StateStore) -> None:
    assert await store.get("t1", "TaskSmith") is None


async def test_save_then_get_round_trips_and_versions(store: StateStore) -> None:
    first = await store.save("t1", "TaskSmith", {"proposals": [{"id": "ü-1"}]}, 0)
    assert first.version == 1
    second = await store.save("t1", "TaskSmith", {"proposals": []}, 1)
    assert second.version == 2
    got = await store.get("t1", "TaskSmith")
    assert got is not None and got.version == 2 and got.data == {"proposals": []}


async def test_stale_version_is_a_conflict(store: StateStore) -> None:
    await store.save("t1", "A", {"n": 1}, 0)
    with pytest.raises(VersionConflict):
        await store.save("t1", "A", {"n": 2}, 0)
    await store.save("t1", "A", {"n": 2}, 1)
    with pytest.raises(VersionConflict):
        await store.save("t1", "A", {"n": 3}, 1)
    got = await store.get("t1", "A")
    assert got is not None and got.data == {"n": 2}


async def test_list_returns_every_agent_of_one_tenant_only(store: StateStore) -> None:
    await store.save("t1", "TaskSmith", {"a": 1}, 0)
    await store.save("t1", "CareTrack", {"b": 2}, 0)
    await store.save("t2", "TaskSmith", {"c": 3}, 0)
    listed = await store.list("t1")
    assert sorted(r.agent for r in listed) == ["CareTrack", "TaskSmith"]
    assert {r.tenant for r in listed} == {"t1"}


async def test_concurrent_writers_lose_no_update(store: StateStore) -> None:
    async def increment() -> None:
        while True:
            cur = await store.get("t1", "Counter")
            data = cur.data if cur else {"n": 0}
            data["n"] += 1
            try:
                await store.save("t1", "Counter", data, cur.version if cur else 0)
                return
            except VersionConflict:
                await asyncio.sleep(0)

    await asyncio.gather(*(increment() for _ in range(12)))
    got = await store.get("t1", "Counter")
    assert got is not None and got.data["n"] == 12 and got.version == 12


async def test_state_over_an_item_is_split_not_truncated(store: StateStore) -> None:
    # ~1.2 MB of incompressible text: well over DynamoDB's 400 KB item limit after zlib.
    big = {"blob": os.urandom(900_000).hex()[:1_200_000], "tail": "end"}
    await store.save("t1", "Big", big, 0)
    got = await store.get("t1", "Big")
    assert got is not None and got.data == big
    smaller = {"blob": "x", "tail": "end"}
    await store.save("t1", "Big", smaller, 1)
    again = await store.get("t1", "Big")
    assert again is not None and again.data == smaller
    assert [r.agent for r in await store.list("t1")] == ["Big"]


async def test_split_parts_are_replaced_and_cleaned_up(stores: Stores) -> None:
    big = {"blob": os.urandom(700_000).hex()}
    await stores.state.save("t1", "Big", big, 0)
    await stores.state.save("t1", "Big", {"blob": os.urandom(700_000).hex()}, 1)
    items = await stores.state.table.query("tenantId = :t", {":t": "t1"})
    parts = [i for i in items if i["agentName"].startswith("~part#")]
    head = next(i for i in items if i["agentName"] == "Big")
    assert len(parts) == head["blobParts"], "the superseded version's parts were not deleted"


async def test_a_missing_part_is_detected(stores: Stores) -> None:
    await stores.state.save("t1", "Big", {"blob": os.urandom(700_000).hex()}, 0)
    items = await stores.state.table.query("tenantId = :t", {":t": "t1"})
    part = next(i for i in items if i["agentName"].startswith("~part#"))
    await stores.state.table.delete({"tenantId": "t1", "agentName": part["agentName"]})
    with pytest.raises(CorruptItem):
        await stores.state.get("t1", "Big")


class _AlwaysBeaten(InMemoryStateStore):
    """A store where another replica writes just before each of our writes: every write of
    ours finds a newer version, as under a contention that never ends."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def save(self, tenant: str, agent: str, data: dict, expected_version: int):  # type: ignore[no-untyped-def, override]
        self.writes += 1
        await super().save(tenant, agent, {"by": "other replica"}, expected_version)
        return await super().save(tenant, agent, data, expected_version)


async def test_update_gives_up_after_its_tries_and_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    import store.state as state

    monkeypatch.setattr(state, "FIRST_PAUSE_S", 0.0)
    beaten = _AlwaysBeaten()
    with pytest.raises(VersionConflict):
        await beaten.update("t1", "A", lambda d: {**d, "n": 1})
    assert beaten.writes == state.MAX_TRIES


async def test_update_returns_the_record_written(store: StateStore) -> None:
    rec = await store.update("t1", "A", lambda d: {**d, "n": d.get("n", 0) + 1})
    assert rec.version == 1 and rec.data == {"n": 1}
    rec = await store.update("t1", "A", lambda d: {**d, "n": d.get("n", 0) + 1})
    assert rec.version == 2 and rec.data == {"n": 2}
