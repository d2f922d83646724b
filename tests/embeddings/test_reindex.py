"""The reindex pipeline in-process on real parts: the fixture export folder, the real embedding
model, a real shard manager snapshotting to DynamoDB (dynalite)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from compliance.phi import redact
from config.settings import Settings
from embeddings.chunking import Chunk
from embeddings.confluence import FolderSource
from embeddings.embedder import Embedder, make_embedder
from embeddings.jobs import JobStore, ReindexProgress
from embeddings.reindex import ChunkingOptions, EmbedStream, IndexWriter, reindex_space
from embeddings.snapshot_policy import SnapshotPolicy
from index.manager import ShardManager, open_manager
from store.factory import Stores
from tests.utils.servers import SHARED

EXPORT = SHARED / "fixtures" / "confluence"


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return make_embedder("torch", Path("/nonexistent-unused"), threads=2)


def local_stream(embedder: Embedder, die_at: float | None = None) -> EmbedStream:
    """Embeds in batches of 16; with ``die_at``, dies once that share of the texts is done."""

    def stream(texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        for start in range(0, len(texts), 16):
            if die_at is not None and start >= die_at * len(texts):
                raise RuntimeError("embedding worker died")
            idx = np.arange(start, min(start + 16, len(texts)))
            yield idx, embedder.encode([texts[i] for i in idx.tolist()])
    return stream


def manager(settings: Settings) -> ShardManager:
    return open_manager(settings, threads=4)


class FailingWriter(ShardManager):
    """A real manager handed one page whose vectors the shard refuses, as a corrupt page's."""

    bad_page = "544178405"

    async def upsert_pages(self, tenant: str,
                           pages: Sequence[tuple[str, Sequence[Chunk], np.ndarray]]
                           ) -> dict[str, str]:
        return await super().upsert_pages(
            tenant, [(p, c, 2 * v if p == self.bad_page else v) for p, c, v in pages])


class CountingWriter(ShardManager):
    """A real manager that counts the calls a reindex makes of it."""

    upsert_calls = 0
    snapshot_calls = 0

    async def upsert_pages(self, tenant: str,
                           pages: Sequence[tuple[str, Sequence[Chunk], np.ndarray]]
                           ) -> dict[str, str]:
        self.upsert_calls += 1
        return await super().upsert_pages(tenant, pages)

    async def snapshot(self, tenant: str) -> dict[str, int]:
        self.snapshot_calls += 1
        return await super().snapshot(tenant)


class RestartingIndex:
    """An index partition whose process restarts after the first batch of pages, before any
    snapshot: from then on a fresh manager serves, holding only what was snapshotted."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.manager = manager(settings)
        self.batches: list[list[str]] = []

    async def upsert_page(self, tenant: str, page_id: str, chunks: list[Chunk],
                          vectors: np.ndarray) -> None:
        await self.manager.upsert_page(tenant, page_id, chunks, vectors)

    async def upsert_pages(self, tenant: str,
                           pages: Sequence[tuple[str, Sequence[Chunk], np.ndarray]]
                           ) -> dict[str, str]:
        self.batches.append([p for p, _, _ in pages])
        if len(self.batches) == 2:
            self.manager = manager(self.settings)
        return await self.manager.upsert_pages(tenant, pages)

    async def delete_page(self, tenant: str, page_id: str) -> None:
        await self.manager.delete_page(tenant, page_id)

    async def snapshot(self, tenant: str) -> dict[str, int]:
        return await self.manager.snapshot(tenant)


async def run(stores: Stores, writer: IndexWriter, stream: EmbedStream,
              snapshots: SnapshotPolicy | None = None) -> ReindexProgress:
    progress = ReindexProgress(job_id="rx-test", tenant="t1", space="QM", source=str(EXPORT))
    return await reindex_space(progress, source=FolderSource(EXPORT), jobs=JobStore(stores.state),
                               writer=writer, embed_stream=stream, redact=redact,
                               chunking=ChunkingOptions(600, 80),
                               snapshots=snapshots or SnapshotPolicy(interval_s=30))


async def test_a_failing_page_is_reported_and_the_rest_go_on(
    settings: Settings, stores: Stores, embedder: Embedder
) -> None:
    writer = FailingWriter(manager(settings).snapshots)
    done = await run(stores, writer, local_stream(embedder))
    assert done.status == "succeeded"
    assert (done.seen, done.embedded, done.failed) == (4, 3, 1)
    assert done.failures == [{"pageId": FailingWriter.bad_page, "error": "ValueError"}]
    assert FailingWriter.bad_page not in (await JobStore(stores.state).space("t1", "QM")).pages
    assert FailingWriter.bad_page not in await writer.pages("t1")


async def test_a_job_that_dies_midway_resumes_without_redoing_finished_pages(
    settings: Settings, stores: Stores, embedder: Embedder
) -> None:
    with pytest.raises(RuntimeError, match="worker died"):
        await run(stores, manager(settings), local_stream(embedder, die_at=0.75),
                  SnapshotPolicy(interval_s=0, max_share=1.0))  # after every batch written
    durable = (await JobStore(stores.state).space("t1", "QM")).pages
    assert 0 < len(durable) < 4, "some pages should have been durable before the crash"
    # A new process (fresh manager: only what was snapshotted survives) resumes the space.
    fresh = manager(settings)
    resumed = await run(stores, fresh, local_stream(embedder))
    assert resumed.skipped == len(durable) and resumed.embedded == 4 - len(durable)
    assert set(await fresh.pages("t1")) == {"1454342158", "544112828", "544178405", "793608206"}


async def test_unchanged_space_is_all_skipped_and_search_finds_pages(
    settings: Settings, stores: Stores, embedder: Embedder
) -> None:
    writer = manager(settings)
    await run(stores, writer, local_stream(embedder))
    again = await run(stores, writer, local_stream(embedder))
    assert (again.skipped, again.embedded) == (4, 0)
    q = "Identity provider SAML metadata"
    hits = await writer.search("t1", embedder.encode([q])[0], q, k=5)
    assert hits[0].chunk.page_id == "1454342158"
    assert await writer.search("t2", embedder.encode([q])[0], q, k=5) == []


async def test_pages_go_in_batches_and_one_snapshot_ends_a_short_job(
    settings: Settings, stores: Stores, embedder: Embedder
) -> None:
    writer = CountingWriter(manager(settings).snapshots)
    # No snapshot by time: eleven batches on a loaded machine can outlast a short interval.
    done = await run(stores, writer, local_stream(embedder), SnapshotPolicy(interval_s=3600))
    assert (done.embedded, done.failed) == (4, 0)
    # 162 chunk texts (94, 32, 11 and 25 a page, each within the model's 254 tokens) in batches
    # of 16: the four pages complete in four of the eleven batches (the 6th, 8th, 9th, 11th).
    assert (writer.upsert_calls, writer.snapshot_calls) == (4, 1)
    assert set(done.stages) >= {"list", "chunk", "embed_first", "embed", "upsert",
                                "final_snapshot", "record"}
    assert len((await JobStore(stores.state).space("t1", "QM")).pages) == 4


async def test_pages_lost_before_a_snapshot_are_reported_not_recorded(
    settings: Settings, stores: Stores, embedder: Embedder
) -> None:
    index = RestartingIndex(settings)
    done = await run(stores, index, local_stream(embedder), SnapshotPolicy(interval_s=3600))
    lost = index.batches[0]
    assert lost and len(index.batches) > 1
    assert done.failures == [{"pageId": p, "error": "NotInSnapshot"} for p in lost]
    assert (done.embedded, done.failed) == (4 - len(lost), len(lost))
    recorded = (await JobStore(stores.state).space("t1", "QM")).pages
    assert set(recorded) == set(await index.manager.pages("t1")) and not set(lost) & set(recorded)
    again = await run(stores, manager(settings), local_stream(embedder))
    assert (again.skipped, again.embedded, again.failed) == (4 - len(lost), len(lost), 0)
