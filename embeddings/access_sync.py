"""Keeping the index's access records current: read a space's permissions, re-point its pages.

Used by the reindex (every run, for every page it sees, embedded again or not), by page events
(``permissions_updated`` and ``moved`` re-point the space's pages, which covers the page and its
descendants; a changed page gets its own), and by the periodic resync. Re-pointing never
re-embeds: only the access id beside a page's chunks changes (``index.shard.set_access``).

A permission that cannot be read denies: when the listing itself fails, every page of the space
is pointed at ``DENY`` rather than left with a grant that may no longer hold. A 401 is not a
permission but missing credentials: it is raised (the reindex and the event fail and are
retried; the resync skips the space and keeps the last access read).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from embeddings.access import DENY, Expr, page_expr
from embeddings.confluence import ConfluenceError, PageSource
from embeddings.confluence_access import AccessSource, access_for
from embeddings.jobs import JobStore
from embeddings.reindex_sink import IndexWriter

log = logging.getLogger(__name__)


async def space_exprs(access: AccessSource, space: str,
                      page_ids: Iterable[str]) -> tuple[dict[str, Expr], str | None]:
    """Each page's expression, and the error name when the space's access was unreadable."""
    ids = list(page_ids)
    try:
        grants = await access.space_grants(space)
        facts = await access.space_facts(space)
    except ConfluenceError as exc:
        if exc.status == 401:
            raise  # credentials, not permissions: the caller decides

        log.warning("access of space %s unreadable (%s): its pages deny", space,
                    type(exc).__name__)
        return {p: DENY for p in ids}, type(exc).__name__
    return {p: page_expr(grants, facts.get(p)) for p in ids}, None


async def refresh_space(tenant: str, space: str, page_ids: Iterable[str], *,
                        access: AccessSource, writer: IndexWriter) -> tuple[int, str | None]:
    """Re-point the pages at their current expressions; (pages moved, error name or None)."""
    exprs, error = await space_exprs(access, space, page_ids)
    moved = await writer.set_access(tenant, exprs) if exprs else 0
    return moved, error


async def refresh_page(tenant: str, space: str, page_id: str, *, access: AccessSource,
                       writer: IndexWriter) -> int:
    """Re-point one page (before its new chunks go in, so they are never visible unfiltered)."""
    try:
        grants = await access.space_grants(space)
        facts = await access.page_facts(page_id)
        expr = page_expr(grants, facts)
    except ConfluenceError as exc:
        if exc.status == 401:
            raise
        log.warning("access of page %s unreadable (%s): it denies", page_id, type(exc).__name__)
        expr = DENY
    return await writer.set_access(tenant, {page_id: expr})


async def resync_tenant(tenant: str, *, jobs: JobStore, writer: IndexWriter,
                        open_source: Callable[[str], PageSource],
                        close_source: Callable[[PageSource], Awaitable[None]]
                        ) -> dict[str, dict[str, object]]:
    """The periodic pass for one tenant: every indexed space's access read again, its pages
    re-pointed where it changed, a snapshot when any did. Answers per space what moved."""
    site = await jobs.site(tenant)
    out: dict[str, dict[str, object]] = {}
    for space, source_url in sorted(site.spaces.items()):
        state = await jobs.space(tenant, space)
        source = open_source(source_url)
        try:
            access = access_for(source)
            if access is None:
                continue
            moved, error = await refresh_space(tenant, space, state.pages, access=access,
                                               writer=writer)
        except ConfluenceError as exc:
            if exc.status != 401:
                raise
            # No usable credentials now (a Forge tenant's system token expired, say): the
            # pages keep what the last read found; events and the next reindex still apply.
            log.warning("access resync of tenant %s space %s: unauthorized; skipped", tenant,
                        space)
            out[space] = {"repointed": 0, "error": "unauthorized"}
            continue
        finally:
            await close_source(source)
        if moved:
            await writer.snapshot(tenant)
        out[space] = {"repointed": moved, **({"error": error} if error else {})}
    return out
