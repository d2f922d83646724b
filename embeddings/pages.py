"""Single-page changes from Confluence events (created, updated, moved, trashed, deleted,
permissions updated).

The event names the page but carries no body, so the page is fetched from the source its space
was indexed from. A space that was never indexed has nothing to keep current: the event is
acknowledged and skipped (the first reindex of the space will pick the page up).

A page whose PHI check fails is not indexed and its version is not recorded: the event fails
with ``PhiCheckFailed`` naming the page id (never its text), the orchestrator re-drives it, and
the next reindex of the space redoes the page if the event runs out of attempts.

Access (``embeddings.access_sync``): a created or updated page is pointed at its expression
before its new chunks go in; ``permissions_updated`` and ``moved`` change what the page's
descendants inherit, so they re-point every indexed page of the space (one listing request per
``ACCESS_PAGE_SIZE`` pages), embedding nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from compliance.phi import PhiCheckFailed
from embeddings.access_sync import refresh_page, refresh_space
from embeddings.confluence_access import access_for
from embeddings.egress import SourcePolicy
from embeddings.jobs import JobStore
from embeddings.reindex import (
    ChunkingOptions,
    IndexWriter,
    Redact,
    SourceCredentials,
    close_source,
    open_source,
)

log = logging.getLogger(__name__)

Embed = Callable[[list[str]], Awaitable[np.ndarray]]
REMOVING = {"page_trashed", "page_deleted"}
REPOINTING = {"page_permissions_updated", "page_moved"}


async def apply_page_event(
    tenant: str,
    kind: str,
    page_id: str,
    space: str,
    version: int | None,
    *,
    jobs: JobStore,
    writer: IndexWriter,
    embed: Embed,
    redact: Redact,
    chunking: ChunkingOptions,
    credentials: SourceCredentials,
    policy: SourcePolicy | None = None,
) -> dict[str, Any]:
    state = await jobs.space(tenant, space)
    if kind in REMOVING:
        if page_id not in state.pages:
            return {"action": "skipped", "reason": "page not indexed"}
        await writer.delete_page(tenant, page_id)
        await writer.snapshot(tenant)
        await jobs.record_pages(tenant, space, {}, [page_id], None)
        return {"action": "removed", "pageId": page_id}
    if state.source is None:
        return {"action": "skipped", "reason": f"space {space!r} was never indexed"}
    if kind in REPOINTING:
        source = open_source(state.source, credentials, policy)
        try:
            access = access_for(source)
            if access is None:
                return {"action": "skipped", "reason": "the source carries no permissions"}
            moved, error = await refresh_space(tenant, space, state.pages, access=access,
                                               writer=writer)
        finally:
            await close_source(source)
        if moved:
            await writer.snapshot(tenant)
        return {"action": "access", "pageId": page_id, "repointed": moved,
                **({"accessError": error} if error else {})}
    if version is not None and state.pages.get(page_id) == version:
        return {"action": "unchanged", "pageId": page_id}
    source = open_source(state.source, credentials, policy)
    try:
        current = await source.get_page(page_id)
        access = access_for(source)
        if current is not None and access is not None:
            await refresh_page(tenant, space, page_id, access=access, writer=writer)
    finally:
        await close_source(source)
    if current is None:  # gone by the time we looked: treat as removed
        if page_id in state.pages:
            await writer.delete_page(tenant, page_id)
            await writer.snapshot(tenant)
            await jobs.record_pages(tenant, space, {}, [page_id], None)
        return {"action": "removed", "pageId": page_id}
    try:
        chunks = chunking.chunk(current, redact)
    except PhiCheckFailed as exc:
        log.warning("page %s of tenant %s not indexed: its PHI check failed", page_id, tenant)
        raise PhiCheckFailed(f"page {page_id} not indexed: its PHI check failed") from exc
    vectors = (await embed([c.embed_text for c in chunks])
               if chunks else np.zeros((0, 384), np.float32))
    await writer.upsert_page(tenant, current.page_id, chunks, np.asarray(vectors, np.float32))
    await writer.snapshot(tenant)
    await jobs.record_pages(tenant, space, {current.page_id: current.version}, [], None)
    return {"action": "indexed", "pageId": current.page_id, "version": current.version,
            "chunks": len(chunks)}
