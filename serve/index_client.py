"""Talking to the tenant index partitions: which partition holds a tenant, and the calls.

Tenants are spread over ``index_partitions`` TenantIndex deployments by rendezvous hashing
(highest random weight): each tenant has exactly one writer, a partition's tenants move only if
the partition count changes, and adding a partition moves just the tenants it wins.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
from ray.serve.handle import DeploymentHandle

from agents.mindmesh_models import Passage
from embeddings.access import Expr
from embeddings.chunking import Chunk


def partition_for(tenant: str, partitions: int) -> int:
    def weight(i: int) -> int:
        return int.from_bytes(hashlib.sha256(f"{i}:{tenant}".encode()).digest()[:8], "big")

    return max(range(partitions), key=weight)


class IndexClient:
    """The index writer (reindex, page events) and the retriever (MindMesh) over handles."""

    def __init__(self, indexes: list[DeploymentHandle], embedder: DeploymentHandle | None = None):
        if not indexes:
            raise ValueError("at least one TenantIndex partition is required")
        self.indexes = indexes
        self.embedder = embedder

    def _for(self, tenant: str) -> DeploymentHandle:
        return self.indexes[partition_for(tenant, len(self.indexes))]

    async def upsert_page(self, tenant: str, page_id: str, chunks: list[Chunk],
                          vectors: np.ndarray) -> None:
        await self._for(tenant).upsert_page.remote(
            tenant, page_id, [c.model_dump() for c in chunks], np.asarray(vectors, np.float32)
        )

    async def upsert_pages(self, tenant: str,
                           pages: Sequence[tuple[str, Sequence[Chunk], np.ndarray]]
                           ) -> dict[str, str]:
        failed: dict[str, str] = await self._for(tenant).upsert_pages.remote(tenant, [
            (page_id, [c.model_dump() for c in chunks], np.asarray(vecs, np.float32))
            for page_id, chunks, vecs in pages
        ])
        return failed

    async def delete_page(self, tenant: str, page_id: str) -> None:
        await self._for(tenant).delete_page.remote(tenant, page_id)

    async def set_access(self, tenant: str, pages: dict[str, Expr]) -> int:
        moved: int = await self._for(tenant).set_access.remote(
            tenant, {p: [list(c) for c in e] for p, e in pages.items()})
        return moved

    async def snapshot(self, tenant: str) -> dict[str, int]:
        held: dict[str, int] = await self._for(tenant).snapshot.remote(tenant)
        return held

    async def search(self, tenant: str, question: str, k: int, space: str | None,
                     reader: frozenset[str]) -> list[Passage]:
        """The best passages among the pages ``reader`` may read (filtered before ranking)."""
        if self.embedder is None:
            raise RuntimeError("searching needs the embedder")
        vector = await self.embedder.embed.remote(question)
        hits: list[dict[str, Any]] = await self._for(tenant).search.remote(
            tenant, vector, question, k, space, sorted(reader)
        )
        return [Passage.model_validate(h) for h in hits]
