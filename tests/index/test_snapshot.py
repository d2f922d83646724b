from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from index.shard import ShardConfig, TenantShard
from index.snapshot import (
    MANIFEST_KEY,
    PART_PREFIX,
    PENDING_PREFIX,
    CorruptSnapshot,
    SnapshotConflict,
    SnapshotStore,
)
from store.dynamo import DynamoTable
from store.errors import StoreUnavailable
from tests.index.factories import clustered_vectors, page_chunks, texts, unit_vectors


def make_shard(tenant: str = "acme", n: int = 600, threshold: int = 10**9) -> TenantShard:
    shard = TenantShard(tenant, ShardConfig(approx_threshold=threshold))
    vecs = clustered_vectors(n, seed=zlib.crc32(tenant.encode()))
    for p in range(n // 10):
        page = f"p{p}"
        shard.upsert_page(page, page_chunks(page, texts(page, 10), space=("ENG", "HR")[p % 2]),
                          vecs[p * 10:(p + 1) * 10])
    return shard


async def item_keys(table: DynamoTable, tenant: str, prefix: str) -> list[str]:
    items = await table.query("tenantId = :t AND begins_with(itemKey, :p)",
                              {":t": tenant, ":p": prefix})
    return sorted(i["itemKey"] for i in items)


def same_top10(a: TenantShard, b: TenantShard) -> None:
    for i, q in enumerate(unit_vectors(15, seed=4)):
        text, space = f"passage {i} topic{i % 13}", ("HR" if i % 4 == 0 else None)
        assert [h.chunk.chunk_id for h in a.search(q, text, 10, space)] == \
            [h.chunk.chunk_id for h in b.search(q, text, 10, space)]
        assert a.search(q, text, 10, space) == b.search(q, text, 10, space)


@pytest.mark.parametrize("threshold", [10**9, 300], ids=["exact", "hnsw"])
async def test_round_trip_gives_identical_top10(snapshots: SnapshotStore,
                                                threshold: int) -> None:
    shard = make_shard(threshold=threshold)
    manifest = await snapshots.save(shard)
    assert manifest.parts > 1 and manifest.vector_count == 600
    assert manifest.index_kind == ("hnsw" if threshold == 300 else "exact")
    assert await snapshots.manifest("acme") == manifest
    loaded = await snapshots.load("acme", shard.config)
    assert loaded is not None and loaded.tenant == "acme"
    assert loaded.pages() == shard.pages()
    same_top10(shard, loaded)


async def test_no_manifest_means_no_snapshot(snapshots: SnapshotStore) -> None:
    assert await snapshots.load("acme") is None
    assert await snapshots.manifest("acme") is None


async def test_a_new_snapshot_removes_the_old_parts(snapshots: SnapshotStore,
                                                    table: DynamoTable) -> None:
    shard = make_shard()
    first = await snapshots.save(shard)
    shard.delete_page("p0")
    second = await snapshots.save(shard)
    parts = await item_keys(table, "acme", PART_PREFIX)
    assert len(parts) == second.parts
    assert all(second.snapshot_id in k for k in parts)
    assert not any(first.snapshot_id in k for k in parts)
    assert await item_keys(table, "acme", PENDING_PREFIX) == []
    loaded = await snapshots.load("acme", shard.config)
    assert loaded is not None and "p0" not in loaded.pages()


async def test_a_missing_part_is_detected(snapshots: SnapshotStore, table: DynamoTable) -> None:
    manifest = await snapshots.save(make_shard())
    parts = await item_keys(table, "acme", PART_PREFIX)
    await table.delete({"tenantId": "acme", "itemKey": parts[1]})
    with pytest.raises(CorruptSnapshot, match=f"1 of {manifest.parts} parts missing"):
        await snapshots.load("acme")


async def test_an_altered_part_fails_the_checksum(snapshots: SnapshotStore,
                                                  table: DynamoTable) -> None:
    await snapshots.save(make_shard())
    key = (await item_keys(table, "acme", PART_PREFIX))[0]
    item = await table.get({"tenantId": "acme", "itemKey": key})
    assert item is not None
    data = bytearray(item["data"])
    data[100] ^= 0xFF
    await table.put({**item, "data": bytes(data)})
    with pytest.raises(CorruptSnapshot, match="checksum mismatch"):
        await snapshots.load("acme")


async def test_a_manifest_copied_to_another_tenant_is_refused(snapshots: SnapshotStore,
                                                              table: DynamoTable) -> None:
    await snapshots.save(make_shard("acme"))
    for key in [MANIFEST_KEY, *await item_keys(table, "acme", PART_PREFIX)]:
        item = await table.get({"tenantId": "acme", "itemKey": key})
        assert item is not None
        await table.put({**item, "tenantId": "globex"})
    with pytest.raises(CorruptSnapshot, match="not 'globex'"):
        await snapshots.load("globex")


class ManifestFails(DynamoTable):
    """The real table, except that writing a manifest fails: a save dying before its end."""

    async def put(self, item, condition=None, values=None, names=None):  # type: ignore[no-untyped-def]
        if item["itemKey"] == MANIFEST_KEY:
            raise StoreUnavailable("injected: process died before the manifest")
        return await super().put(item, condition, values, names)


async def test_a_half_written_snapshot_is_never_loaded_and_is_swept_later(
    snapshots: SnapshotStore, table: DynamoTable, pool: ThreadPoolExecutor
) -> None:
    shard = make_shard()
    good = await snapshots.save(shard)
    shard.delete_page("p1")
    dying = SnapshotStore(ManifestFails(table.client, table.name, pool),
                          part_bytes=snapshots.part_bytes)
    with pytest.raises(StoreUnavailable):
        await dying.save(shard)
    # The orphaned parts are there, but the manifest still names the good snapshot.
    assert len(await item_keys(table, "acme", PENDING_PREFIX)) == 1
    assert len(await item_keys(table, "acme", PART_PREFIX)) > good.parts
    loaded = await snapshots.load("acme", shard.config)
    assert loaded is not None and "p1" in loaded.pages()
    # A later save sweeps abandoned parts once they are old enough to be no save in flight.
    sweeping = SnapshotStore(table, part_bytes=snapshots.part_bytes, abandon_after_s=0)
    latest = await sweeping.save(shard)
    parts = await item_keys(table, "acme", PART_PREFIX)
    assert len(parts) == latest.parts and all(latest.snapshot_id in k for k in parts)
    assert await item_keys(table, "acme", PENDING_PREFIX) == []


class OldPartsStay(DynamoTable):
    """The real table, except that deleting parts fails: a save dying right after landing."""

    async def delete(self, key):  # type: ignore[no-untyped-def]
        if key["itemKey"].startswith(PART_PREFIX):
            raise StoreUnavailable("injected: process died after the manifest landed")
        await super().delete(key)


async def test_a_save_dying_after_landing_leaves_nothing_behind_for_long(
    snapshots: SnapshotStore, table: DynamoTable, pool: ThreadPoolExecutor
) -> None:
    shard = make_shard()
    first = await snapshots.save(shard)
    shard.delete_page("p2")
    dying = SnapshotStore(OldPartsStay(table.client, table.name, pool),
                          part_bytes=snapshots.part_bytes)
    with pytest.raises(StoreUnavailable):
        await dying.save(shard)
    landed = await snapshots.manifest("acme")
    assert landed is not None and landed.snapshot_id != first.snapshot_id
    loaded = await snapshots.load("acme", shard.config)
    assert loaded is not None and "p2" not in loaded.pages()
    assert len(await item_keys(table, "acme", PART_PREFIX)) == first.parts + landed.parts
    sweeping = SnapshotStore(table, part_bytes=snapshots.part_bytes, abandon_after_s=0)
    latest = await sweeping.save(shard)
    parts = await item_keys(table, "acme", PART_PREFIX)
    assert len(parts) == latest.parts and all(latest.snapshot_id in k for k in parts)
    assert await item_keys(table, "acme", PENDING_PREFIX) == []


async def test_a_concurrent_save_that_loses_cleans_up(
    snapshots: SnapshotStore, table: DynamoTable, pool: ThreadPoolExecutor
) -> None:
    shard = make_shard()
    await snapshots.save(shard)

    class Racer(DynamoTable):
        """Lands another process's manifest just before this save's own."""

        async def put(self, item, condition=None, values=None, names=None):  # type: ignore[no-untyped-def]
            if item["itemKey"] == MANIFEST_KEY and not raced:
                raced.append(await snapshots.save(shard))
            return await super().put(item, condition, values, names)

    raced: list[object] = []
    racer = SnapshotStore(Racer(table.client, table.name, pool),
                          part_bytes=snapshots.part_bytes)
    with pytest.raises(SnapshotConflict):
        await racer.save(shard)
    winner = await snapshots.manifest("acme")
    assert winner == raced[0]
    parts = await item_keys(table, "acme", PART_PREFIX)
    assert winner is not None and len(parts) == winner.parts
    assert await item_keys(table, "acme", PENDING_PREFIX) == []


async def test_delete_removes_everything(snapshots: SnapshotStore, table: DynamoTable) -> None:
    await snapshots.save(make_shard())
    await snapshots.delete("acme")
    assert await snapshots.load("acme") is None
    assert await item_keys(table, "acme", "shard#") == []
