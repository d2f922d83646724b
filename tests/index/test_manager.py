from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from config.settings import Settings
from index.manager import ShardManager, open_manager
from index.shard import ShardConfig, TenantShard
from index.snapshot import MANIFEST_KEY, SnapshotStore
from store.dynamo import DynamoTable
from store.errors import StoreUnavailable
from tests.index.factories import page_chunks, unit_vectors

CONFIG = ShardConfig(approx_threshold=10**9)


async def fill(manager: ShardManager, tenant: str, n_pages: int = 20, seed: int = 0) -> np.ndarray:
    """Pages p0.. with the same ids in every tenant; texts and vectors differ per tenant."""
    vecs = unit_vectors(n_pages * 10, seed=seed)
    for p in range(n_pages):
        chunks = page_chunks(f"p{p}", [f"{tenant} passage {i} about insulin" for i in range(10)])
        await manager.upsert_page(tenant, f"p{p}", chunks, vecs[p * 10:(p + 1) * 10])
    return vecs


def shard_bytes(n_pages: int = 20) -> int:
    shard = TenantShard("sizing", CONFIG)
    vecs = unit_vectors(n_pages * 10)
    for p in range(n_pages):
        chunks = page_chunks(f"p{p}", [f"sizing passage {i} about insulin" for i in range(10)])
        shard.upsert_page(f"p{p}", chunks, vecs[p * 10:(p + 1) * 10])
    return shard.memory_bytes()


async def test_tenants_never_see_each_others_chunks(snapshots: SnapshotStore) -> None:
    manager = ShardManager(snapshots, config=CONFIG)
    a_vecs = await fill(manager, "acme", seed=1)
    # Tenant B has nothing yet: A's very vectors and words find nothing there.
    assert await manager.search("globex", a_vecs[0], "acme passage insulin", k=10) == []
    assert await manager.pages("globex") == {}
    b_vecs = await fill(manager, "globex", seed=2)
    queries = [(t, v) for t, vecs in (("acme", a_vecs), ("globex", b_vecs)) for v in vecs[:10]]
    results = await asyncio.gather(*(manager.search(t, v, "passage insulin", k=10)
                                     for t, v in queries))
    for (tenant, _), hits in zip(queries, results, strict=True):
        assert len(hits) == 10
        assert all(h.chunk.text.startswith(f"{tenant} ") for h in hits)
    # The same page id in both tenants: deleting B's leaves A's.
    await manager.delete_page("globex", "p0")
    assert "p0" in await manager.pages("acme")
    assert "p0" not in await manager.pages("globex")
    await manager.snapshot_all()
    b = await snapshots.load("globex", CONFIG)
    assert b is not None and all(
        h.chunk.text.startswith("globex ")
        for h in b.search(a_vecs[5], "acme passage insulin", k=50)
    )
    with pytest.raises(ValueError, match="invalid tenant"):
        await manager.search("acme/../globex", a_vecs[0], "", k=1)


async def test_eviction_under_budget_then_reload_gives_identical_results(
    snapshots: SnapshotStore,
) -> None:
    manager = ShardManager(snapshots, memory_budget_bytes=int(1.5 * shard_bytes()),
                           config=CONFIG)
    a_vecs = await fill(manager, "acme", seed=1)
    queries = unit_vectors(10, seed=3)
    before = [await manager.search("acme", q, "insulin passage 3", k=10) for q in queries]
    before.append(await manager.search("acme", a_vecs[7], "", k=10))
    assert await snapshots.manifest("acme") is None
    await fill(manager, "globex", seed=2)
    # Loading B's pages pushed A (least recently used, never snapshotted) out, saved first.
    assert manager.loaded() == ["globex"]
    assert manager.memory_bytes() <= manager.memory_budget_bytes
    assert (await snapshots.manifest("acme")) is not None
    after = [await manager.search("acme", q, "insulin passage 3", k=10) for q in queries]
    after.append(await manager.search("acme", a_vecs[7], "", k=10))
    assert after == before
    assert manager.loaded() == ["acme"]  # and B went out in turn
    b = await snapshots.load("globex", CONFIG)
    assert b is not None and len(b) == 200


async def test_snapshot_writes_only_when_changed(snapshots: SnapshotStore) -> None:
    manager = ShardManager(snapshots, config=CONFIG)
    assert await manager.snapshot("acme") == {}  # no shard, no snapshot: nothing to write
    assert await snapshots.manifest("acme") is None
    await fill(manager, "acme", n_pages=3)
    await manager.snapshot("acme")
    first = await snapshots.manifest("acme")
    await manager.snapshot("acme")
    assert await snapshots.manifest("acme") == first
    await manager.delete_page("acme", "p1")
    await manager.snapshot("acme")
    second = await snapshots.manifest("acme")
    assert first is not None and second is not None
    assert second.snapshot_id != first.snapshot_id and second.vector_count == 20


async def test_snapshot_answers_the_pages_it_holds(snapshots: SnapshotStore) -> None:
    writer = ShardManager(snapshots, config=CONFIG)
    await fill(writer, "acme", n_pages=3)
    assert await writer.snapshot("acme") == {"p0": 1, "p1": 1, "p2": 1}
    await fill(writer, "acme", n_pages=5)
    # Its process restarts before the next snapshot: a fresh manager has only what was saved.
    restarted = ShardManager(snapshots, config=CONFIG)
    assert await restarted.snapshot("acme") == {"p0": 1, "p1": 1, "p2": 1}


async def test_upsert_pages_puts_in_all_but_the_pages_the_shard_refuses(
    snapshots: SnapshotStore,
) -> None:
    manager = ShardManager(snapshots, config=CONFIG)
    vecs = unit_vectors(30)
    pages = [(f"p{p}", page_chunks(f"p{p}", [f"passage {i} about insulin" for i in range(10)]),
              vecs[p * 10:(p + 1) * 10]) for p in range(3)]
    bad = ("p1", pages[1][1], 2 * pages[1][2])  # not unit length
    failed = await manager.upsert_pages("acme", [pages[0], bad, pages[2]])
    assert failed == {"p1": "ValueError"}
    assert await manager.pages("acme") == {"p0": 1, "p2": 1}
    assert manager.memory_bytes() > 0
    hits = await manager.search("acme", vecs[25], "", k=1)
    assert hits[0].chunk.chunk_id == pages[2][1][5].chunk_id


async def test_first_use_loads_once_and_a_fresh_manager_resumes(
    snapshots: SnapshotStore, caplog: pytest.LogCaptureFixture
) -> None:
    writer = ShardManager(snapshots, config=CONFIG)
    vecs = await fill(writer, "acme", n_pages=5)
    await writer.snapshot("acme")
    reader = ShardManager(snapshots, config=CONFIG)
    with caplog.at_level(logging.INFO, logger="index.manager"):
        results = await asyncio.gather(*(reader.search("acme", v, "", k=1) for v in vecs[:8]))
    assert [r[0].chunk.chunk_id for r in results] == [f"p0:1:{i}" for i in range(8)]
    assert sum("shard loaded" in r.getMessage() for r in caplog.records) == 1
    assert await reader.pages("acme") == {f"p{p}": 1 for p in range(5)}


class ManifestFails(DynamoTable):
    async def put(self, item, condition=None, values=None, names=None):  # type: ignore[no-untyped-def]
        if item["itemKey"] == MANIFEST_KEY:
            raise StoreUnavailable("injected: DynamoDB refused the manifest")
        return await super().put(item, condition, values, names)


async def test_a_shard_that_cannot_be_saved_is_not_evicted(
    table: DynamoTable, pool: ThreadPoolExecutor
) -> None:
    failing = SnapshotStore(ManifestFails(table.client, table.name, pool), part_bytes=64_000)
    manager = ShardManager(failing, memory_budget_bytes=int(1.5 * shard_bytes()), config=CONFIG)
    await fill(manager, "acme")
    await fill(manager, "globex")
    assert manager.loaded() == ["acme", "globex"]  # over budget rather than losing A's pages
    assert len(await manager.pages("acme")) == 20


async def test_open_manager_uses_the_stage_embeddings_table(settings: Settings) -> None:
    manager = open_manager(settings, config=CONFIG)
    assert manager.snapshots.table.name == f"ClinisightEmbeddings-{settings.stage}"
    vecs = await fill(manager, "acme", n_pages=2)
    await manager.snapshot("acme")
    again = open_manager(settings, config=CONFIG)
    assert [h.chunk.chunk_id for h in await again.search("acme", vecs[3], "", k=1)] == ["p0:1:3"]
