"""Known names: one conformance suite over every NameDigestStore (in memory, and DynamoDB on a
real dynalite), what the table holds (digests, never a name), and the per-process cache."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pydantic import SecretStr

from compliance.known_names import current, digest
from config.settings import Settings
from store.dynamo import make_client
from store.errors import StoreUnavailable
from store.factory import Stores
from store.known_names import (
    DynamoNameDigestStore,
    InMemoryNameDigestStore,
    KnownNamesCache,
    KnownNamesNotConfigured,
    NameDigests,
    NameDigestStore,
    tenant_key,
)

KEY = SecretStr("0123456789abcdef" * 4)
KEY_BYTES = KEY.get_secret_value().encode()


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest) -> NameDigestStore:
    if request.param == "memory":
        return InMemoryNameDigestStore()
    # Small pages, so that reading a registry follows Query's pagination.
    return dynamo_store(request.getfixturevalue("settings"), page_size=500)


def dynamo_store(settings: Settings, client: Any = None,
                 page_size: int | None = None) -> DynamoNameDigestStore:
    return DynamoNameDigestStore(client or make_client(settings), settings.table("PhiNames"),
                                 ThreadPoolExecutor(4), page_size=page_size)


def digests(*names: str) -> dict[str, int]:
    return {digest(KEY_BYTES, n): len(n.split()) for n in names}


# -- the conformance suite ----------------------------------------------------------------------

async def test_an_unknown_tenant_has_version_zero_and_no_names(store: NameDigestStore) -> None:
    assert await store.version("t1") == 0
    assert await store.load("t1") == NameDigests(0, {})


async def test_add_then_load_round_trips_and_versions(store: NameDigestStore) -> None:
    first = digests("Quenby Marsk", "Ann")
    assert await store.add("t1", first) == 1
    assert await store.load("t1") == NameDigests(1, first)
    second = digests("Ysolde Tarnwick", "Ann")  # Ann again: kept once
    assert await store.add("t1", second) == 2
    assert await store.version("t1") == 2
    assert await store.load("t1") == NameDigests(2, {**first, **second})


async def test_tenants_are_apart(store: NameDigestStore) -> None:
    await store.add("t1", digests("Quenby Marsk"))
    await store.add("t2", digests("Ysolde Tarnwick", "Ann"))
    assert (await store.load("t1")).digests == digests("Quenby Marsk")
    assert (await store.load("t2")).digests == digests("Ysolde Tarnwick", "Ann")
    assert await store.version("t1") == 1


async def test_a_large_registry_is_written_in_batches_and_read_in_pages(
    store: NameDigestStore,
) -> None:
    many = digests(*(f"Given{i} Family{i}" for i in range(1_234)))  # 50 batches, 3 pages
    assert await store.add("t1", many) == 1
    loaded = await store.load("t1")
    assert loaded.version == 1 and loaded.digests == many


# -- DynamoDB: what the table holds -------------------------------------------------------------

def raw_items(settings: Settings) -> list[dict[str, Any]]:
    client = make_client(settings)
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": settings.table("PhiNames")}
    while True:
        page = client.scan(**kwargs)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


async def test_the_table_never_holds_a_name_in_clear(settings: Settings, stores: Stores) -> None:
    registry = ["Quenby Marsk", "Orla O'Brennagh", "김영희", "Müllerbrandt"]
    cache = KnownNamesCache(stores.names.store, KEY)  # the factory's store, given a key
    assert await cache.add("acme", registry) == (4, 4)
    items = raw_items(settings)
    assert len(items) == 5  # one item per (tenant, digest), and the version
    dump = json.dumps(items, ensure_ascii=False).casefold()
    for name in registry:
        for part in name.casefold().split():
            assert part not in dump, f"{part!r} is in the table"
    keys = sorted(i["nameKey"]["S"] for i in items)
    assert keys[-1] == "version"
    acme = tenant_key(KEY_BYTES, "acme")
    assert sorted(k[2:] for k in keys[:-1]) == sorted(digest(acme, n) for n in registry)


async def test_one_name_has_unrelated_digests_in_two_tenants(settings: Settings,
                                                            stores: Stores) -> None:
    cache = KnownNamesCache(stores.names.store, KEY)
    await cache.add("acme", ["Quenby Marsk"])
    await cache.add("beta", ["Quenby Marsk"])
    by_tenant = {i["tenantId"]["S"]: i["nameKey"]["S"] for i in raw_items(settings)
                 if i["nameKey"]["S"] != "version"}
    assert len(by_tenant) == 2 and by_tenant["acme"] != by_tenant["beta"]
    assert tenant_key(KEY_BYTES, "acme") != tenant_key(KEY_BYTES, "beta")


class Throttling:
    """The real client, except that the first BatchWriteItem calls leave half their items
    unprocessed, as DynamoDB does when it throttles."""

    def __init__(self, client: Any, times: int) -> None:
        self._client = client
        self.left = times
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_write_item(self, RequestItems: Mapping[str, Any]) -> dict[str, Any]:  # noqa: N803
        self.calls += 1
        if self.left <= 0:
            return dict(self._client.batch_write_item(RequestItems=RequestItems))
        self.left -= 1
        (table, requests), = RequestItems.items()
        done, later = requests[: len(requests) // 2], requests[len(requests) // 2 :]
        if done:
            self._client.batch_write_item(RequestItems={table: done})
        return {"UnprocessedItems": {table: later}}


async def test_unprocessed_items_are_written_again(settings: Settings) -> None:
    client = Throttling(make_client(settings), times=3)
    store = dynamo_store(settings, client)
    many = digests(*(f"Given{i} Family{i}" for i in range(60)))  # three calls of 25, 25, 10
    assert await store.add("t1", many) == 1
    assert client.calls > 3
    assert (await store.load("t1")).digests == many

    stuck = dynamo_store(settings, Throttling(make_client(settings), times=1_000))
    with pytest.raises(StoreUnavailable, match="unprocessed"):
        await stuck.add("t2", digests("Quenby Marsk"))
    assert await store.version("t2") == 0  # no version for a write that did not finish


# -- the per-process cache ----------------------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Failing(InMemoryNameDigestStore):
    """A backend that can be made unreachable."""

    down = False

    async def version(self, tenant: str) -> int:
        if self.down:
            raise StoreUnavailable("DynamoDB unreachable for the test")
        return await super().version(tenant)


def spans(names: Any, text: str) -> list[str]:
    return [text[s:e] for s, e, _, _ in names.find(text)] if names else []


async def test_the_writer_sees_new_names_at_once_and_others_after_the_refresh() -> None:
    store, clock = InMemoryNameDigestStore(), Clock()
    writer = KnownNamesCache(store, KEY, refresh_s=60, clock=clock)
    reader = KnownNamesCache(store, KEY, refresh_s=60, clock=clock)
    assert await reader.matcher("acme") is None
    assert await writer.add("acme", ["Quenby Marsk", "quenby  MARSK", "Ann"]) == (2, 2)
    assert spans(await writer.matcher("acme"), "ask quenby marsk") == ["quenby marsk"]
    assert await reader.matcher("acme") is None  # within its refresh interval
    clock.now += 61
    assert spans(await reader.matcher("acme"), "ask quenby marsk") == ["quenby marsk"]
    assert await writer.add("acme", ["Ann", "Ysolde Tarnwick"]) == (1, 3)
    assert await reader.add("acme", ["Orla Brennagh"]) == (1, 4)  # read the writer's first
    assert await writer.matcher("beta") is None


async def test_a_failed_refresh_keeps_the_names_a_cold_one_fails() -> None:
    store, clock = Failing(), Clock()
    await KnownNamesCache(store, KEY).add("acme", ["Quenby Marsk"])
    cache = KnownNamesCache(store, KEY, refresh_s=60, clock=clock)
    assert await cache.matcher("acme") is not None
    store.down = True
    clock.now += 61
    assert spans(await cache.matcher("acme"), "quenby marsk") == ["quenby marsk"]
    with pytest.raises(StoreUnavailable):  # never read: its text is not handled without them
        await cache.matcher("beta")


async def test_active_makes_the_tenants_names_current() -> None:
    cache = KnownNamesCache(InMemoryNameDigestStore(), KEY)
    await cache.add("acme", ["Quenby Marsk"])
    async with cache.active("acme") as names:
        assert current() is names and names is not None
        async with cache.active("beta"):
            assert current() is None
        assert current() is names
    assert current() is None


async def test_without_a_key_there_are_no_known_names() -> None:
    cache = KnownNamesCache(Failing(), None)
    cache.store.down = True  # type: ignore[attr-defined]
    assert not cache.enabled
    assert await cache.matcher("acme") is None  # and no store call
    with pytest.raises(KnownNamesNotConfigured):
        await cache.add("acme", ["Quenby Marsk"])
    with pytest.raises(ValueError, match="32 characters") as short:
        KnownNamesCache(InMemoryNameDigestStore(), SecretStr("short-secret"))
    assert "short-secret" not in str(short.value)


async def test_a_name_without_letters_is_refused_by_position() -> None:
    cache = KnownNamesCache(InMemoryNameDigestStore(), KEY)
    with pytest.raises(ValueError, match=r"names\[1\]") as bad:
        await cache.add("acme", ["Quenby Marsk", " -- "])
    assert "Quenby" not in str(bad.value)
    assert await cache.matcher("acme") is None  # nothing was written
