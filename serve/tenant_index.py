"""A TenantIndex partition: the shards of the tenants that hash to it (``serve.index_client``).

Each partition is its own deployment with one replica, so each tenant has exactly one writer.
Shards load from their latest DynamoDB snapshot on first use and are evicted least recently used
under the memory budget (``index.manager``); a replica that dies comes back from the snapshots.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ray import serve

from config.settings import Settings
from embeddings.chunking import Chunk
from index.manager import open_manager
from serve.observability import init_observability


@serve.deployment(ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=100,
                  num_replicas=1)
class TenantIndex:
    def __init__(self, settings: Settings, partition: int) -> None:
        init_observability(settings, "tenant-index")
        self.partition = partition
        self.manager = open_manager(
            settings, memory_budget_bytes=settings.index_memory_budget_mb * 1024 * 1024
        )

    async def upsert_page(self, tenant: str, page_id: str, chunks: list[dict[str, Any]],
                          vectors: np.ndarray) -> None:
        await self.manager.upsert_page(
            tenant, page_id, [Chunk.model_validate(c) for c in chunks],
            np.asarray(vectors, np.float32),
        )

    async def upsert_pages(self, tenant: str,
                           pages: list[tuple[str, list[dict[str, Any]], np.ndarray]]
                           ) -> dict[str, str]:
        """Many pages in one call (a reindex's batch); the failed ones, page id → error."""
        return await self.manager.upsert_pages(tenant, [
            (page_id, [Chunk.model_validate(c) for c in chunks], np.asarray(vecs, np.float32))
            for page_id, chunks, vecs in pages
        ])

    async def delete_page(self, tenant: str, page_id: str) -> None:
        await self.manager.delete_page(tenant, page_id)

    async def snapshot(self, tenant: str) -> dict[str, int]:
        return await self.manager.snapshot(tenant)

    async def set_access(self, tenant: str, pages: dict[str, list[list[str]]]) -> int:
        return await self.manager.set_access(
            tenant, {p: tuple(tuple(c) for c in e) for p, e in pages.items()})

    async def search(self, tenant: str, vector: np.ndarray, text: str, k: int,
                     space: str | None, reader: list[str] | None = None
                     ) -> list[dict[str, Any]]:
        """The passages ``reader`` (their access tokens) may read; None: unfiltered, for
        callers inside the system only (the question paths always pass a reader)."""
        hits = await self.manager.search(tenant, np.asarray(vector, np.float32), text, k, space,
                                         frozenset(reader) if reader is not None else None)
        return [
            {
                "chunkId": h.chunk.chunk_id,
                "text": h.chunk.text,
                "pageId": h.chunk.page_id,
                "title": h.chunk.title,
                "url": h.chunk.url,
                "version": h.chunk.version,
                "spaceKey": h.chunk.space_key,
                "headingPath": list(h.chunk.heading_path),
                "score": float(h.score),
            }
            for h in hits
        ]

    async def health(self) -> str:
        return "ok"
