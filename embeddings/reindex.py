"""Reindexing a Confluence space into the tenant's index, and applying single-page changes.

Pipeline: pages → text → PHI redaction → chunks → embeddings (Ray Data ``map_batches`` on an
actor pool) → shard upserts, a batch of pages per call → snapshots, by time
(``embeddings.snapshot_policy``) and at the end. Incremental: a page whose version is already
indexed is skipped; pages gone from the space are removed. Resumable: page versions are recorded
only after a snapshot that holds them (``embeddings.reindex_sink``), so a job that dies midway
loses nothing and a rerun redoes only what was not yet durable. A page that fails is reported
and the rest go on. The job's progress keeps the wall time of each stage (``stages``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import SecretStr

from embeddings.access_sync import space_exprs
from embeddings.chunking import Chunk, ConfluencePage, chunk_page
from embeddings.confluence import (
    ApiTokenAuth,
    ConfluenceClient,
    FolderSource,
    OAuthTokenAuth,
    PageSource,
)
from embeddings.confluence_access import AccessSource
from embeddings.egress import SourcePolicy, check_folder, check_url
from embeddings.embedder import TEXT_TOKENS, token_counter
from embeddings.jobs import JobStore, ReindexProgress, now
from embeddings.reindex_sink import DurableSink, IndexWriter, PageAssembler, StageClock, fail
from embeddings.snapshot_policy import SnapshotPolicy

log = logging.getLogger(__name__)

Redact = Callable[[str], str]
EmbedStream = Callable[[Sequence[str]], Iterator[tuple[np.ndarray, np.ndarray]]]


@dataclass(frozen=True)
class ChunkingOptions:
    """How pages become passages: at most ``max_chars`` characters each, ``overlap`` shared
    with the next, and (unless ``max_tokens`` is None) no more than the embedding model reads,
    counted by its own tokenizer (``embeddings.chunking`` says why characters alone are not
    enough for Korean or Japanese)."""

    max_chars: int = 600
    overlap: int = 80
    max_tokens: int | None = TEXT_TOKENS

    def chunk(self, page: ConfluencePage, redact: Redact | None) -> list[Chunk]:
        counted = self.max_tokens is not None
        return chunk_page(page, max_chars=self.max_chars, overlap=self.overlap, redact=redact,
                          count_tokens=token_counter() if counted else None,
                          max_tokens=self.max_tokens)


@dataclass(frozen=True)
class SourceCredentials:
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    api: str = "v2"


def open_source(source: str, creds: SourceCredentials | None = None,
                policy: SourcePolicy | None = None) -> PageSource:
    """A Confluence site's base URL (the client adds ``/wiki/...``) or an export folder,
    once ``embeddings.egress`` allows it under ``policy`` (default: public https sites only)."""
    creds = creds or SourceCredentials()
    policy = policy or SourcePolicy()
    if source.startswith(("http://", "https://")):
        check_url(source, policy)
        auth: ApiTokenAuth | OAuthTokenAuth | None = None
        if creds.oauth_token is not None:
            auth = OAuthTokenAuth(token=creds.oauth_token)
        elif creds.email and creds.api_token is not None:
            auth = ApiTokenAuth(email=creds.email, token=creds.api_token)
        return ConfluenceClient(source, auth=auth, api="v1" if creds.api == "v1" else "v2")
    return FolderSource(check_folder(source, policy))


async def close_source(source: PageSource) -> None:
    """Release a source's connections (a REST client has them; an export folder has none)."""
    if isinstance(source, ConfluenceClient):
        await source.aclose()


def ray_data_embed_stream(backend: str, cache_dir: Path, batch_size: int = 64,
                          actors: int = 1, threads: int | None = None,
                          num_cpus: float = 1.0) -> EmbedStream:
    """Embed texts with Ray Data ``map_batches`` on a pool of embedding actors.

    Yields (indices, vectors) batches as they finish; order is preserved, so a page's chunks
    arrive together and the page can be written as soon as its last chunk is embedded.
    """

    def stream(texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        items = ray.data.from_items([{"i": i, "text": t} for i, t in enumerate(texts)])
        ds = items.map_batches(
            EmbedActor,
            fn_constructor_kwargs={"backend": backend, "cache_dir": str(cache_dir),
                                   "threads": threads},
            batch_size=batch_size,
            concurrency=actors,
            num_cpus=num_cpus,
        )
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            yield batch["i"], np.stack(list(batch["vector"])).astype(np.float32)

    return stream


class EmbedActor:
    """A Ray Data actor holding one loaded embedding model."""

    def __init__(self, backend: str, cache_dir: str, threads: int | None) -> None:
        from embeddings.embedder import make_embedder

        self.embedder = make_embedder(backend, Path(cache_dir), threads=threads)  # type: ignore[arg-type]

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        vectors = self.embedder.encode(list(batch["text"]))
        return {"i": batch["i"], "vector": list(vectors)}


async def reindex_space(
    progress: ReindexProgress,
    *,
    source: PageSource,
    jobs: JobStore,
    writer: IndexWriter,
    embed_stream: EmbedStream,
    redact: Redact,
    chunking: ChunkingOptions = ChunkingOptions(),
    snapshots: SnapshotPolicy | None = None,
    on_progress: Callable[[ReindexProgress], Awaitable[None]] | None = None,
    access: AccessSource | None = None,
) -> ReindexProgress:
    """Index the space's changed pages, drop its vanished ones, and point every page it saw at
    its current access expression (``access``; without it pages have no access record and
    nobody reads them)."""
    tenant, space = progress.tenant, progress.space
    clock = StageClock(progress.stages)
    known = (await jobs.space(tenant, space)).pages

    async def report() -> None:
        await jobs.save_progress(progress)
        if on_progress is not None:
            await on_progress(progress)

    # 1. What changed: pages seen now vs. the versions already indexed.
    todo: list[ConfluencePage] = []
    seen: set[str] = set()
    with clock("list"):
        async for page in source.iter_pages(space):
            seen.add(page.page_id)
            progress.seen += 1
            if known.get(page.page_id) == page.version:
                progress.skipped += 1
            else:
                todo.append(page)
    await report()

    # 1b. Who may read each page: set before any new chunk goes in, for every page seen (an
    #     unchanged page whose restrictions changed is re-pointed, not re-embedded).
    if access is not None:
        with clock("access"):
            exprs, progress.access_error = await space_exprs(access, space, sorted(seen))
            progress.access_changed = await writer.set_access(tenant, exprs)

    # 2. Text, redaction and chunks, page by page; a page that fails is reported, not fatal.
    pages = PageAssembler()
    with clock("chunk"):
        for page in todo:
            try:
                chunks = chunking.chunk(page, redact)
            except Exception as exc:  # a malformed page must not stop the space
                fail(progress, page.page_id, type(exc).__name__)
                continue
            pages.add(page, chunks)

    # 3. Embeddings (streamed); the pages each batch completes go to the index in one call;
    #    snapshots when the policy says so, and one at the end.
    sink = DurableSink(progress, jobs, writer, snapshots or SnapshotPolicy(), clock, report)
    if pages.texts:
        iterator = embed_stream(pages.texts)
        with clock("embed_first"):  # includes starting the embedding actors
            batch = await asyncio.to_thread(next, iterator, None)
        while batch is not None:
            pages.vectors_done(batch[0], batch[1])
            await sink.write(pages.ready())
            with clock("embed"):
                batch = await asyncio.to_thread(next, iterator, None)
    await sink.write(pages.ready())  # pages without chunks (empty bodies)
    await sink.make_durable("final_snapshot")
    if progress.access_changed and not todo:
        with clock("final_snapshot"):  # re-pointed only: nothing else made a snapshot
            await writer.snapshot(tenant)

    # 4. Pages gone from the space leave the index.
    gone = sorted(set(known) - seen)
    with clock("remove"):
        for page_id in gone:
            await writer.delete_page(tenant, page_id)
            progress.removed += 1
        if gone:
            await writer.snapshot(tenant)
            await jobs.record_pages(tenant, space, {}, gone, progress.source)
        elif progress.source is not None:
            await jobs.record_pages(tenant, space, {}, [], progress.source)
        if progress.source is not None:
            await jobs.record_site(tenant, space, progress.source)
    progress.status = "succeeded"
    progress.finished_at = now()
    await report()
    return progress
