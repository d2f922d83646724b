"""The write side of a reindex: pages whose vectors are back go to the index in batches, and
become durable (recorded as indexed) only once a snapshot holds them.

``PageAssembler`` turns the embedder's stream of (index, vector) rows back into whole pages;
``DurableSink`` writes them (one ``upsert_pages`` call per batch of ready pages rather than a
round trip per page), snapshots when the ``SnapshotPolicy`` says so, and records page versions
from what the snapshot says it holds; ``StageClock`` keeps where the job's time went.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol

import numpy as np

from embeddings.access import Expr
from embeddings.chunking import Chunk, ConfluencePage
from embeddings.jobs import JobStore, ReindexProgress
from embeddings.snapshot_policy import SnapshotPolicy

REPORT_EVERY_S = 2.0  # progress saved at most this often between snapshots (2 DynamoDB calls)


class IndexWriter(Protocol):
    """Where chunks and their vectors go: the tenant's shard, wherever it lives."""

    async def upsert_page(self, tenant: str, page_id: str, chunks: list[Chunk],
                          vectors: np.ndarray) -> None: ...

    async def upsert_pages(self, tenant: str,
                           pages: Sequence[tuple[str, Sequence[Chunk], np.ndarray]]
                           ) -> dict[str, str]:
        """Upsert each (page id, chunks, vectors); answer page id → error name for those that
        failed (each page is all in or not at all; the others went in)."""
        ...

    async def delete_page(self, tenant: str, page_id: str) -> None: ...

    async def set_access(self, tenant: str, pages: dict[str, Expr]) -> int:
        """Point each page at its access expression (``embeddings.access``), without
        re-embedding; answer how many pages changed."""
        ...

    async def snapshot(self, tenant: str) -> dict[str, int]:
        """Snapshot the shard if it changed; answer the page versions the snapshot holds."""
        ...


def fail(progress: ReindexProgress, page_id: str, error: str) -> None:
    progress.failed += 1
    progress.failures.append({"pageId": page_id, "error": error})


class StageClock:
    """Adds the wall time of each ``with clock("stage"):`` block to ``into[stage]``."""

    def __init__(self, into: dict[str, float]) -> None:
        self.into = into

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = self.into.get(stage, 0.0) + time.perf_counter() - started
            self.into[stage] = round(spent, 3)


Ready = list[tuple[ConfluencePage, list[Chunk], np.ndarray]]


class PageAssembler:
    """Pages' chunk texts in one list for the embedder, and the pages whose vectors are all
    back, in order: a page is ready when its last chunk's vector has arrived."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._pages: list[tuple[ConfluencePage, list[Chunk]]] = []
        self._vectors: dict[int, np.ndarray] = {}
        self._next = 0  # the first page not yet handed out
        self._cursor = 0  # the index of its first chunk's text

    def add(self, page: ConfluencePage, chunks: list[Chunk]) -> None:
        self._pages.append((page, chunks))
        self.texts.extend(c.embed_text for c in chunks)

    def vectors_done(self, indices: np.ndarray, vectors: np.ndarray) -> None:
        for i, vec in zip(indices.tolist(), vectors, strict=True):
            self._vectors[int(i)] = vec

    def ready(self) -> Ready:
        out: Ready = []
        while self._next < len(self._pages):
            page, chunks = self._pages[self._next]
            rows = range(self._cursor, self._cursor + len(chunks))
            if any(i not in self._vectors for i in rows):
                break
            vecs = (np.stack([self._vectors.pop(i) for i in rows]) if chunks
                    else np.zeros((0, 384), np.float32))
            out.append((page, chunks, vecs))
            self._cursor += len(chunks)
            self._next += 1
        return out


class DurableSink:
    """Writes embedded pages to the index, snapshots by the policy, and records a page's
    version only once a snapshot holds it.

    The snapshot answers with the page versions it holds: a page written but missing from it
    (its index replica restarted in between and came back from an older snapshot) is reported
    failed, never recorded, so the next run redoes it.
    """

    def __init__(self, progress: ReindexProgress, jobs: JobStore, writer: IndexWriter,
                 policy: SnapshotPolicy, clock: StageClock,
                 report: Callable[[], Awaitable[None]]) -> None:
        self.progress, self.jobs, self.writer = progress, jobs, writer
        self.policy, self.clock, self.report = policy, clock, report
        self.pending: dict[str, tuple[int, int]] = {}  # page id → (version, chunks): not durable
        self._reported = time.monotonic()

    async def write(self, ready: Ready) -> None:
        if not ready:
            return
        tenant = self.progress.tenant
        with self.clock("upsert"):
            try:
                failed = await self.writer.upsert_pages(
                    tenant, [(page.page_id, chunks, vecs) for page, chunks, vecs in ready])
            except Exception as exc:  # the call as a whole failed: so did each of its pages
                failed = {page.page_id: type(exc).__name__ for page, _, _ in ready}
        for page, chunks, _ in ready:
            if page.page_id in failed:
                fail(self.progress, page.page_id, failed[page.page_id])
                continue
            self.pending[page.page_id] = (page.version, len(chunks))
            self.progress.embedded += 1
            self.progress.chunks += len(chunks)
        if self.pending and self.policy.due():
            await self.make_durable()
        elif time.monotonic() - self._reported >= REPORT_EVERY_S:
            await self._report()

    async def make_durable(self, stage: str = "snapshot") -> None:
        """Snapshot, then record the pending pages the snapshot holds; ``stage`` names the
        time it took in the job's ``stages``."""
        if not self.pending:
            return
        started = time.perf_counter()
        with self.clock(stage):
            held = await self.writer.snapshot(self.progress.tenant)
        self.policy.snapshotted(time.perf_counter() - started)
        done: dict[str, int] = {}
        for page_id, (version, chunks) in self.pending.items():
            if held.get(page_id) == version:
                done[page_id] = version
            else:
                self.progress.embedded -= 1
                self.progress.chunks -= chunks
                fail(self.progress, page_id, "NotInSnapshot")
        self.pending.clear()
        with self.clock("record"):
            await self.jobs.record_pages(self.progress.tenant, self.progress.space, done, [],
                                         self.progress.source)
        await self._report()

    async def _report(self) -> None:
        with self.clock("record"):
            await self.report()
        self._reported = time.monotonic()
