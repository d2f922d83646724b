"""The shards of one process: loaded on first use, evicted least-recently-used under a budget.

Every call names its tenant and is answered from that tenant's shard alone: shards are kept in
a mapping keyed by tenant, a shard is created or loaded for exactly the tenant asked for (and a
snapshot that is another tenant's is refused, see ``TenantShard.load``), and no call reaches a
shard through anything but its tenant's key.

Memory: each shard's size is estimated (``TenantShard.memory_bytes``: vectors x dim x 4, HNSW
links, chunk metadata, BM25 postings). After a call that may have grown the total, shards nobody
is using are evicted, least recently used first, until the total is within
``memory_budget_bytes``; a shard with changes not yet snapshotted is snapshotted first, and is
kept if that fails (over budget beats losing data). The shard in use is never evicted, so a
single shard larger than the budget stays loaded.

Concurrency: all of it is asyncio in one process. Per tenant, an ``asyncio.Lock`` serializes
loading and eviction (a call waiting for a shard being evicted gets it reloaded from the
snapshot just written), and another serializes snapshots. CPU-bound shard work runs in worker
threads; the shard's own lock makes that safe.

The manager has the shape of ``embeddings.reindex.IndexWriter`` (``upsert_page``,
``upsert_pages``, ``delete_page``, ``set_access``, ``snapshot``), so a reindex job can write
through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass

import numpy as np

import metrics
from config.settings import TENANT_RE, Settings
from embeddings.access import Expr
from embeddings.chunking import Chunk
from index.shard import SearchHit, ShardConfig, TenantShard
from index.snapshot import SnapshotManifest, SnapshotStore
from store.dynamo import DynamoTable, make_client
from store.errors import StoreError

__all__ = ["ShardManager", "open_manager"]

log = logging.getLogger(__name__)

DEFAULT_MEMORY_BUDGET = 2 * 1024**3


@dataclass
class _Slot:
    shard: TenantShard
    saved_generation: int  # the shard's generation in its latest snapshot
    bytes: int
    pins: int = 0

    @property
    def dirty(self) -> bool:
        return self.shard.generation != self.saved_generation


class ShardManager:
    """Tenant shards of this process, backed by snapshots in ``snapshots``."""

    def __init__(self, snapshots: SnapshotStore, *,
                 memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
                 config: ShardConfig | None = None) -> None:
        self.snapshots = snapshots
        self.memory_budget_bytes = memory_budget_bytes
        self.config = config or ShardConfig()
        self._slots: OrderedDict[str, _Slot] = OrderedDict()  # least recently used first
        self._load_locks: dict[str, asyncio.Lock] = {}
        self._save_locks: dict[str, asyncio.Lock] = {}

    # -- the tenant-facing calls ----------------------------------------------------------------

    async def search(self, tenant: str, query_vec: np.ndarray, query_text: str, k: int = 10,
                     space: str | None = None, reader: frozenset[str] | None = None
                     ) -> list[SearchHit]:
        """``TenantShard.search`` on ``tenant``'s shard."""
        async with self._use(tenant) as slot:
            with metrics.timed("clinisight_search_seconds", mode=slot.shard.index_kind):
                return await asyncio.to_thread(slot.shard.search, query_vec, query_text, k,
                                               space, reader)

    async def search_many(self, tenant: str, query_vecs: np.ndarray, query_texts: Sequence[str],
                          k: int = 10, space: str | None = None,
                          reader: frozenset[str] | None = None) -> list[list[SearchHit]]:
        async with self._use(tenant) as slot:
            with metrics.timed("clinisight_search_seconds", mode=slot.shard.index_kind):
                return await asyncio.to_thread(slot.shard.search_many, query_vecs,
                                               query_texts, k, space, reader)

    async def set_access(self, tenant: str, pages: dict[str, Expr]) -> int:
        """``TenantShard.set_access``: re-point pages at access expressions; how many moved."""
        async with self._use(tenant, grows=True) as slot:
            return await asyncio.to_thread(slot.shard.set_access, pages)

    async def upsert_page(self, tenant: str, page_id: str, chunks: Sequence[Chunk],
                          vectors: np.ndarray) -> None:
        async with self._use(tenant, grows=True) as slot:
            await asyncio.to_thread(slot.shard.upsert_page, page_id, chunks, vectors)

    async def upsert_pages(self, tenant: str,
                           pages: Sequence[tuple[str, Sequence[Chunk], np.ndarray]]
                           ) -> dict[str, str]:
        """``upsert_page`` for each (page id, chunks, vectors), in one worker-thread hop.

        A page the shard refuses (bad vectors, a chunk id of another page) is left as it was
        (``TenantShard.upsert_page`` checks before it changes anything) and named in the
        answer, page id → error name; the others go in.
        """
        def upsert_all(shard: TenantShard) -> dict[str, str]:
            failed = {}
            for page_id, chunks, vectors in pages:
                try:
                    shard.upsert_page(page_id, chunks, vectors)
                except Exception as exc:  # one bad page must not fail the others
                    failed[page_id] = type(exc).__name__
            return failed

        async with self._use(tenant, grows=True) as slot:
            return await asyncio.to_thread(upsert_all, slot.shard)

    async def delete_page(self, tenant: str, page_id: str) -> None:
        async with self._use(tenant, grows=True) as slot:
            await asyncio.to_thread(slot.shard.delete_page, page_id)

    async def pages(self, tenant: str) -> dict[str, int]:
        async with self._use(tenant) as slot:
            return slot.shard.pages()

    async def snapshot(self, tenant: str) -> dict[str, int]:
        """Snapshot ``tenant``'s shard if it changed since its last snapshot; answer the page
        versions that snapshot holds.

        They are read from the shard once it is saved (loaded from the snapshot if it was not
        in memory), so a writer can tell which of its pages are durable: one whose shard was
        lost before the save (its process restarted) is missing. Only a change landing between
        the save and the read could show a page the snapshot lacks; a writer asks after its
        own writes have returned.
        """
        async with self._use(tenant) as slot:
            if slot.dirty:
                await self._save(tenant, slot)
            return await asyncio.to_thread(slot.shard.pages)

    async def snapshot_all(self) -> None:
        """Snapshot every loaded shard with unsaved changes (at shutdown, say)."""
        for tenant in list(self._slots):
            slot = self._slots.get(tenant)  # evicted meanwhile: saved then
            if slot is not None and slot.dirty:
                await self.snapshot(tenant)

    # -- introspection --------------------------------------------------------------------------

    def loaded(self) -> list[str]:
        """Tenants whose shards are in memory, least recently used first."""
        return list(self._slots)

    def memory_bytes(self) -> int:
        return sum(s.bytes for s in self._slots.values())

    # -- lifecycle ------------------------------------------------------------------------------

    @asynccontextmanager
    async def _use(self, tenant: str, grows: bool = False) -> AsyncIterator[_Slot]:
        """Pin ``tenant``'s shard (loading it if needed) for the duration of a call."""
        if not TENANT_RE.match(tenant):
            raise ValueError(f"invalid tenant id {tenant!r}")
        async with self._lock(self._load_locks, tenant):
            slot = self._slots.get(tenant)
            loaded = slot is None
            if slot is None:
                shard = await self.snapshots.load(tenant, self.config)
                if shard is None:
                    shard = TenantShard(tenant, self.config)
                if shard.tenant != tenant:  # load refuses this already; never serve it
                    raise RuntimeError(f"shard of {shard.tenant!r} loaded for {tenant!r}")
                slot = _Slot(shard, shard.generation, shard.memory_bytes())
                self._slots[tenant] = slot
                log.info("tenant %s: shard loaded (%d chunks, %s)", tenant, len(shard),
                         shard.index_kind)
            self._slots.move_to_end(tenant)
            slot.pins += 1
        try:
            yield slot
        finally:
            slot.pins -= 1
            if grows:
                slot.bytes = await asyncio.to_thread(slot.shard.memory_bytes)
        if loaded or grows:
            await self._evict_over_budget(keep=tenant)

    async def _evict_over_budget(self, keep: str) -> None:
        tried: set[str] = set()
        while self.memory_bytes() > self.memory_budget_bytes:
            victim = next((t for t, s in self._slots.items()
                           if t != keep and s.pins == 0 and t not in tried), None)
            if victim is None:
                return
            tried.add(victim)
            await self._evict(victim)

    async def _evict(self, tenant: str) -> None:
        async with self._lock(self._load_locks, tenant):
            slot = self._slots.get(tenant)
            if slot is None or slot.pins:
                return
            if slot.dirty:
                try:
                    await self._save(tenant, slot)
                except StoreError as exc:
                    log.warning("tenant %s: snapshot before eviction failed (%s); kept loaded",
                                tenant, type(exc).__name__)
                    return
            # The load lock was held throughout, so nobody could pin (and change) the shard.
            if slot.dirty:
                return
            del self._slots[tenant]
            log.info("tenant %s: shard evicted (%d bytes estimated)", tenant, slot.bytes)

    async def _save(self, tenant: str, slot: _Slot) -> SnapshotManifest | None:
        async with self._lock(self._save_locks, tenant):
            if not slot.dirty:  # a save that finished while this one waited covered it
                return None
            manifest = await self.snapshots.save(slot.shard)
            slot.saved_generation = max(slot.saved_generation, manifest.generation)
            return manifest

    @staticmethod
    def _lock(locks: dict[str, asyncio.Lock], tenant: str) -> asyncio.Lock:
        lock = locks.get(tenant)
        if lock is None:
            lock = locks[tenant] = asyncio.Lock()
        return lock


def open_manager(settings: Settings, *, memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET,
                 config: ShardConfig | None = None, threads: int = 16) -> ShardManager:
    """A manager whose snapshots live in ``ClinisightEmbeddings-{stage}`` (own client and pool)."""
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="index-dynamodb")
    table = DynamoTable(make_client(settings), settings.table("Embeddings"), pool)
    return ShardManager(SnapshotStore(table), memory_budget_bytes=memory_budget_bytes,
                        config=config)
