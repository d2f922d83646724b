"""Access in the reindex and in page events, on real parts: the loopback Confluence over HTTP,
the real embedding model, a real shard manager snapshotting to dynalite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from compliance.phi import redact
from config.settings import Settings
from embeddings.access import reader_tokens
from embeddings.access_sync import resync_tenant
from embeddings.confluence import ConfluenceClient
from embeddings.confluence_access import ConfluenceAccess
from embeddings.egress import SourcePolicy
from embeddings.embedder import Embedder, make_embedder
from embeddings.jobs import JobStore, ReindexProgress
from embeddings.pages import apply_page_event
from embeddings.reindex import (
    ChunkingOptions,
    SourceCredentials,
    close_source,
    open_source,
    reindex_space,
)
from index.manager import ShardManager, open_manager
from store.factory import Stores

from .confluence_server import FakeConfluence, make_page
from .test_reindex import local_stream

TENANT = "acc-t"
A, B = reader_tokens("acc-A"), reader_tokens("acc-B")
MEDIC = reader_tokens("acc-M", [{"id": "gid-medics", "name": "medics"}])
TOPICS = ["sepsis escalation", "ward rota", "credentialing review", "incident review",
          "billing export", "hand hygiene audit"]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return make_embedder("torch", Path("/nonexistent-unused"), threads=2)


@pytest.fixture
def site() -> Iterator[FakeConfluence]:
    pages = [make_page(str(2000 + i), f"{TOPICS[i % len(TOPICS)].title()} {i}",
                       f"How the team handles {TOPICS[i % len(TOPICS)]} case {i}.")
             for i in range(60)]
    fake = FakeConfluence(pages)
    perms = fake.permissions
    perms.space_view = [("user", "acc-A"), ("user", "acc-B"), ("group", "gid-medics")]
    perms.restrict("2000", users=["acc-A"])  # an HR case
    perms.parents["2001"] = "2000"  # unrestricted child of it
    perms.restrict("2002", groups=["medics"])
    fake.start()
    yield fake
    fake.stop()


class CountingEmbed:
    """The real embedder, counting how many texts it was asked to embed."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.texts = embedder, 0

    async def __call__(self, texts: list[str]) -> np.ndarray:
        self.texts += len(texts)
        return await asyncio.to_thread(self.embedder.encode, texts)


async def pages_for(manager: ShardManager, reader: frozenset[str], question: str,
                    embedder: Embedder) -> set[str]:
    hits = await manager.search(TENANT, embedder.encode([question])[0], question, 50,
                                reader=reader)
    return {h.chunk.page_id for h in hits}


async def reindex(site: FakeConfluence, stores: Stores, manager: ShardManager,
                  embedder: Embedder) -> ReindexProgress:
    async with ConfluenceClient(site.url, api="v2") as client:
        return await reindex_space(
            ReindexProgress(job_id="rx", tenant=TENANT, space="QM", source=site.url),
            source=client, jobs=JobStore(stores.state), writer=manager,
            embed_stream=local_stream(embedder), redact=redact,
            access=ConfluenceAccess(client))


async def event(kind: str, page_id: str, site: FakeConfluence, stores: Stores,
                manager: ShardManager, embed: CountingEmbed) -> dict[str, object]:
    return await apply_page_event(
        TENANT, kind, page_id, "QM", None, jobs=JobStore(stores.state), writer=manager,
        embed=embed, redact=redact, chunking=ChunkingOptions(),
        credentials=SourceCredentials(api="v2"), policy=SourcePolicy(allow_loopback=True))


async def test_reindex_reads_access_in_few_requests_and_filters(
        site: FakeConfluence, stores: Stores, settings: Settings, embedder: Embedder) -> None:
    manager = open_manager(settings, threads=4)
    done = await reindex(site, stores, manager, embedder)
    assert done.status == "succeeded" and done.embedded == 60 and done.access_changed == 60
    access_requests = [r for r in site.requests if r.path.endswith(
        ("/permissions", "/byOperation")) or "restrictions" in r.query.get("expand", "")]
    assert len(access_requests) / 60 <= 1 / 25, [r.path for r in access_requests]

    q = "how the team handles sepsis escalation case 0"
    assert "2000" in await pages_for(manager, A, q, embedder)
    assert "2000" not in await pages_for(manager, B, q, embedder)
    assert "2001" not in await pages_for(manager, B, q, embedder), "inherits 2000's {A}"
    assert "2002" in await pages_for(manager, MEDIC, "ward rota case 2", embedder)
    assert "2002" not in await pages_for(manager, A, "ward rota case 2", embedder)
    assert await pages_for(manager, reader_tokens("acc-stranger"), q, embedder) == set()

    # The snapshot carries access: a fresh manager (a restarted replica) filters the same.
    again = open_manager(settings, threads=4)
    assert "2000" not in await pages_for(again, B, q, embedder)
    assert "2000" in await pages_for(again, A, q, embedder)


async def test_permission_and_move_events_repoint_without_re_embedding(
        site: FakeConfluence, stores: Stores, settings: Settings, embedder: Embedder) -> None:
    manager = open_manager(settings, threads=4)
    await reindex(site, stores, manager, embedder)
    embed = CountingEmbed(embedder)
    q = "how the team handles sepsis escalation case 0"
    chunks_before = {h.chunk.chunk_id for h in await manager.search(
        TENANT, embedder.encode([q])[0], q, 200)}

    # 2000's restriction is lifted: 2000 and its descendant 2001 open to B.
    site.permissions.unrestrict("2000")
    out = await event("page_permissions_updated", "2000", site, stores, manager, embed)
    assert out["action"] == "access" and out["repointed"] == 2
    assert {"2000", "2001"} <= await pages_for(manager, B, q, embedder)

    # 2010 moves under 2002 (medics only): A loses it once the move event lands.
    site.permissions.parents["2010"] = "2002"
    q2 = "how the team handles credentialing review case 10"
    assert "2010" in await pages_for(manager, A, q2, embedder)
    out = await event("page_moved", "2010", site, stores, manager, embed)
    assert out["action"] == "access" and out["repointed"] == 1
    assert "2010" not in await pages_for(manager, A, q2, embedder)
    assert "2010" in await pages_for(manager, MEDIC, q2, embedder)

    assert embed.texts == 0, "re-pointing embedded text again"
    chunks_after = {h.chunk.chunk_id for h in await manager.search(
        TENANT, embedder.encode([q])[0], q, 200)}
    assert chunks_after == chunks_before
    # Durable: a fresh manager loads the re-pointed access from the snapshot.
    fresh = open_manager(settings, threads=4)
    assert "2010" not in await pages_for(fresh, A, q2, embedder)


async def test_unreadable_space_permissions_deny_every_page(
        site: FakeConfluence, stores: Stores, settings: Settings, embedder: Embedder) -> None:
    site.permissions.refuse_space_permissions = True
    manager = open_manager(settings, threads=4)
    done = await reindex(site, stores, manager, embedder)
    assert done.status == "succeeded" and done.embedded == 60
    assert done.access_error == "ConfluenceAuthError"  # the refusal is reported, not hidden
    for reader in (A, B, MEDIC):
        assert await pages_for(manager, reader, "ward rota case 2", embedder) == set()


async def test_resync_catches_a_change_no_event_reported(
        site: FakeConfluence, stores: Stores, settings: Settings, embedder: Embedder) -> None:
    manager = open_manager(settings, threads=4)
    await reindex(site, stores, manager, embedder)
    q = "ward rota case 2"
    assert "2002" not in await pages_for(manager, B, q, embedder)
    site.permissions.restrict("2002", groups=["medics", "porters"])
    site.permissions.space_view.append(("user", "acc-P"))  # a new space member
    site.permissions.restrict("2003", users=["acc-P"])
    jobs = JobStore(stores.state)
    assert await jobs.site_tenants() == [TENANT]
    out = await resync_tenant(
        TENANT, jobs=jobs, writer=manager, close_source=close_source,
        open_source=lambda url: open_source(url, SourceCredentials(api="v2"),
                                            SourcePolicy(allow_loopback=True)))
    assert out == {"QM": {"repointed": 60}}, out  # the space grants changed: every page
    assert "2003" in await pages_for(manager, reader_tokens("acc-P"), "billing export case 3",
                                     embedder)
    assert "2003" not in await pages_for(manager, A, "billing export case 3", embedder)
    again = await resync_tenant(
        TENANT, jobs=jobs, writer=manager, close_source=close_source,
        open_source=lambda url: open_source(url, SourceCredentials(api="v2"),
                                            SourcePolicy(allow_loopback=True)))
    assert again == {"QM": {"repointed": 0}}
    # Credentials gone (a Forge tenant's system token expired): the last access read stays.
    site.expected_auth = "Basic bm9ib2R5Om5vdGhpbmc="
    unauthorized = await resync_tenant(
        TENANT, jobs=jobs, writer=manager, close_source=close_source,
        open_source=lambda url: open_source(url, SourceCredentials(api="v2"),
                                            SourcePolicy(allow_loopback=True)))
    assert unauthorized == {"QM": {"repointed": 0, "error": "unauthorized"}}
    assert "2003" in await pages_for(manager, reader_tokens("acc-P"), "billing export case 3",
                                     embedder)
