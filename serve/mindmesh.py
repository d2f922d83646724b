"""MindMesh's deployments: the online embedder, and the agent (ask, reindex jobs, page events).

The tenant index partitions live in ``serve.tenant_index``; they are reached through
``IndexClient``, which routes each tenant to its one partition.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import ray
from ray import serve
from ray.serve.handle import DeploymentHandle

import metrics
from agents.events import AgentEvent
from agents.mindmesh import MindMesh
from agents.mindmesh_models import AskIn
from agents.registry import make_reasoner
from compliance.phi import redact
from config.settings import Settings
from embeddings.access_sync import resync_tenant
from embeddings.confluence import PageSource
from embeddings.confluence_access import access_for
from embeddings.jobs import JobStore, ReindexProgress, now
from embeddings.pages import apply_page_event
from embeddings.reindex import (
    ChunkingOptions,
    SourceCredentials,
    close_source,
    open_source,
    ray_data_embed_stream,
    reindex_space,
)
from embeddings.snapshot_policy import SnapshotPolicy
from metrics.redactions import CountedRedact
from serve import sources
from serve.background import Periodic
from serve.index_client import IndexClient
from serve.observability import init_observability, tenant_scope, zero_agent_series
from serve.readers import ReaderCache
from serve.reindex_metrics import ReindexRates
from store.factory import open_stores

log = logging.getLogger("clinisight.mindmesh")


def resolve_backend(settings: Settings) -> str:
    if settings.embed_backend != "auto":
        return settings.embed_backend
    from embeddings.embedder import DEFAULT_BACKEND

    return str(DEFAULT_BACKEND)


def credentials(settings: Settings, oauth_token: str | None = None) -> SourceCredentials:
    from pydantic import SecretStr

    return SourceCredentials(
        email=settings.confluence_email,
        api_token=settings.confluence_api_token,
        oauth_token=SecretStr(oauth_token) if oauth_token else None,
        api=settings.confluence_api,
    )


@serve.deployment(ray_actor_options={"num_cpus": 0.3}, max_ongoing_requests=200)
class EmbedderServer:
    """Online query embedding; concurrent requests are batched into one model call."""

    def __init__(self, settings: Settings) -> None:
        from embeddings.embedder import make_embedder

        init_observability(settings, "embedder")
        self.embedder = make_embedder(
            resolve_backend(settings),  # type: ignore[arg-type]
            settings.models_dir,
            threads=settings.embed_threads,
        )

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)
    async def embed(self, texts: list[str]) -> list[np.ndarray]:
        vectors = await asyncio.to_thread(self.embedder.encode, texts)
        return list(vectors)

    async def embed_many(self, texts: list[str]) -> np.ndarray:
        return await asyncio.to_thread(self.embedder.encode, texts)

    async def health(self) -> str:
        return "ok"


def _run_reindex(settings: Settings, progress: dict[str, Any], indexes: list[DeploymentHandle],
                 oauth_token: str | None) -> dict[str, Any]:
    """The body of the reindex Ray job (runs as a Ray task, outside any replica)."""
    init_observability(settings, "reindex", agent="MindMesh")

    async def main() -> dict[str, Any]:
        stores = open_stores(settings)
        jobs = JobStore(stores.state)
        prog = ReindexProgress.model_validate(progress)
        source: PageSource | None = None
        rates = ReindexRates(prog)
        try:
            source = open_source(prog.source or "", credentials(settings, oauth_token),
                                 sources.policy(settings))
            async with stores.names.active(prog.tenant):
                done = await reindex_space(
                    prog,
                    source=source,
                    jobs=jobs,
                    writer=IndexClient(indexes),
                    embed_stream=ray_data_embed_stream(
                        resolve_backend(settings), settings.models_dir,
                        batch_size=settings.embed_batch_size, actors=1,
                        threads=settings.embed_threads, num_cpus=settings.embed_actor_cpus,
                    ),
                    redact=CountedRedact("index", redact),
                    chunking=ChunkingOptions(settings.chunk_max_chars, settings.chunk_overlap),
                    snapshots=SnapshotPolicy(settings.reindex_snapshot_interval_s),
                    on_progress=rates.update,
                    access=access_for(source),
                )
        except Exception as exc:
            # A refused source (SourceRefused) fails the job like any other error; its message
            # names the rule, never a server path.
            prog.status = "failed"
            prog.error = f"{type(exc).__name__}: {exc}"[:500]
            prog.finished_at = now()
            await jobs.save_progress(prog)
            return prog.public()
        finally:
            rates.finish()
            if source is not None:
                await close_source(source)
        return done.public()

    return asyncio.run(main())


def _run() -> AbstractContextManager[None]:
    return metrics.counted("clinisight_agent_runs_total", "clinisight_agent_run_seconds",
                           agent="MindMesh")


@serve.deployment(ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=100)
class MindMeshServer:
    def __init__(self, settings: Settings, embedder: DeploymentHandle,
                 indexes: list[DeploymentHandle]) -> None:
        init_observability(settings, "agent", agent="MindMesh")
        self.settings = settings
        self.stores = open_stores(settings)
        self.jobs = JobStore(self.stores.state)
        self.embedder = embedder
        self.indexes = indexes
        self.client = IndexClient(indexes, embedder)
        self.agent = MindMesh(self.stores.state,
                              make_reasoner(settings, self.stores.state, "MindMesh"),
                              retriever=self.client)
        self.redact = CountedRedact("index", redact)
        zero_agent_series("MindMesh")
        self.redact.zero()
        self._watchers: set[asyncio.Task[None]] = set()
        self.readers = ReaderCache(self._member_of, settings.access_group_ttl_s)
        # The latest Forge system token seen per tenant (asks, reindexes), in memory only: the
        # periodic access resync of a Forge tenant has no other credentials.
        self._system_tokens: dict[str, str] = {}
        interval = settings.access_resync_interval_s
        self.resync_loop = Periodic("access-resync", self.resync_all, interval,
                                    first_delay_s=interval, jitter=0.1)
        self.resync_loop.ensure()

    async def ask(self, tenant: str, request: dict[str, Any], account_id: str,
                  oauth_token: str | None = None) -> dict[str, Any]:
        """Answer ``account_id`` (the FIT principal) from the pages they may read; their groups
        are read with the request's Forge system token when it carries one."""
        self.resync_loop.ensure()
        if not account_id:
            raise PermissionError("a question needs the asking person's accountId")
        if oauth_token:
            self._system_tokens[tenant] = oauth_token
        reader = await self.readers.tokens(tenant, account_id, oauth_token)
        async with self.stores.names.active(tenant):
            with tenant_scope(tenant, "MindMesh"), _run():  # Sentry (tagged), metrics
                out = await self.agent.ask(tenant, AskIn.model_validate(request), reader)
        return out.model_dump(mode="json", by_alias=True)

    async def _member_of(self, tenant: str, account_id: str,
                         oauth_token: str | None) -> list[dict[str, Any]] | None:
        """The person's groups from the tenant's site (None: the tenant indexed nothing)."""
        site = await self.jobs.site(tenant)
        if site.source is None:
            return None
        source = open_source(site.source, credentials(self.settings, oauth_token),
                             sources.policy(self.settings))
        try:
            access = access_for(source)
            return await access.member_of(account_id) if access is not None else None
        finally:
            await close_source(source)

    async def resync(self, tenant: str) -> dict[str, Any]:
        """Read every indexed space's permissions again and re-point what changed."""
        return await resync_tenant(
            tenant, jobs=self.jobs, writer=self.client, close_source=close_source,
            open_source=lambda url: open_source(
                url, credentials(self.settings, self._system_tokens.get(tenant)),
                sources.policy(self.settings)))

    async def resync_all(self) -> None:
        """The periodic pass: every tenant with an indexed space; one failing spares the rest."""
        for tenant in await self.jobs.site_tenants():
            try:
                await self.resync(tenant)
            except Exception as exc:
                log.warning("access resync of tenant %s failed: %s", tenant,
                            type(exc).__name__)

    async def start_reindex(self, tenant: str, space: str, source: str | None,
                            oauth_token: str | None = None) -> dict[str, Any]:
        """Start a reindex job; the source defaults to the one the space was indexed from."""
        if source is None:
            source = (await self.jobs.space(tenant, space)).source
            if source is None:
                raise ValueError(f"space {space!r} has no known source: pass one")
        if oauth_token:
            self._system_tokens[tenant] = oauth_token
        progress = ReindexProgress(job_id=f"rx-{uuid.uuid4().hex[:12]}", tenant=tenant,
                                   space=space, source=source)
        await self.jobs.save_progress(progress)
        task = ray.remote(num_cpus=0)(_run_reindex)
        ref = task.remote(self.settings, progress.model_dump(mode="json"), self.indexes,
                          oauth_token)
        watcher = asyncio.get_running_loop().create_task(self._watch(progress, ref))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return progress.public()

    async def _watch(self, progress: ReindexProgress, ref: Any) -> None:
        """A job whose worker died never reports; record that it failed."""
        try:
            await ref
        except Exception as exc:
            current = await self.jobs.progress(progress.tenant, progress.job_id) or progress
            current.status = "failed"
            current.error = f"job worker died: {type(exc).__name__}"
            current.finished_at = now()
            await self.jobs.save_progress(current)

    async def reindex_progress(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        progress = await self.jobs.progress(tenant, job_id)
        return progress.public() if progress else None

    async def handle_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A Confluence page event: re-embed the page, or drop it from the index."""
        page = AgentEvent.model_validate(event).page
        if page is None or not page.space_key:
            return {"action": "skipped", "reason": "the event names no page and space"}

        async def embed(texts: list[str]) -> np.ndarray:
            return await self.embedder.embed_many.remote(texts)

        async with self.stores.names.active(event["tenant"]):
            with _run():
                return await apply_page_event(
                    event["tenant"], event["kind"], page.page_id, page.space_key,
                    page.version, jobs=self.jobs, writer=self.client, embed=embed,
                    redact=self.redact,
                    chunking=ChunkingOptions(self.settings.chunk_max_chars,
                                             self.settings.chunk_overlap),
                    credentials=credentials(self.settings),
                    policy=sources.policy(self.settings),
                )

    async def health(self) -> str:
        """Ok when the embedder and every index partition answer."""
        self.resync_loop.ensure()
        checks = [self.embedder.health.remote(), *(i.health.remote() for i in self.indexes)]
        results = await asyncio.gather(*checks, return_exceptions=True)
        bad = [type(r).__name__ for r in results if r != "ok"]
        return "ok" if not bad else f"error: {', '.join(bad)}"
