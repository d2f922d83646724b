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
from embeddings.reindex import ChunkingOptions, EmbedStream, reindex_space
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
            yield idx, embedder.encode([texts[i] for i in idx])
    return stream


def manager(settings: Settings) -> ShardManager:
    return open_manager(settings, threads=4)


class FailingWriter(ShardManager):
    """A real manager whose upsert of one page fails, as a corrupt page would."""

    bad_page = "544178405"

    async def upsert_page(self, tenant: str, page_id: str, chunks: Sequence[Chunk],
                          vectors: np.ndarray) -> None:
        if page_id == self.bad_page:
            raise ValueError("page could not be indexed")
        await super().upsert_page(tenant, page_id, chunks, vectors)


async def run(stores: Stores, writer: ShardManager, stream: EmbedStream,
              snapshot_every: int = 50) -> ReindexProgress:
    progress = ReindexProgress(job_id="rx-test", tenant="t1", space="QM", source=str(EXPORT))
    return await reindex_space(progress, source=FolderSource(EXPORT), jobs=JobStore(stores.state),
                               writer=writer, embed_stream=stream, redact=redact,
                               chunking=ChunkingOptions(600, 80), snapshot_every=snapshot_every)


async def test_a_failing_page_is_reported_and_the_rest_go_on(
    settings: Settings, stores: Stores, embedder: Embedder
) -> None:
    writer = FailingWriter(manager(settings).snapshots)
    done = await run(stores, writer, local_stream(embedder))
    assert done.status == "succeeded"
    assert (done.seen, done.embedded, done.failed) == (4, 3, 1)
    assert done.failures == [{"pageId": FailingWriter.bad_page, "error": "ValueError"}]
    assert FailingWriter.bad_page not in (await JobStore(stores.state).space("t1", "QM")).pages


async def test_a_job_that_dies_midway_resumes_without_redoing_finished_pages(
    settings: Settings, stores: Stores, embedder: Embedder
) -> None:
    with pytest.raises(RuntimeError, match="worker died"):
        await run(stores, manager(settings), local_stream(embedder, die_at=0.75),
                  snapshot_every=1)
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
