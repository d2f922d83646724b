"""Jira backfill jobs and the periodic reconciliation sweep, per tenant.

``JiraSync`` runs the jobs (``serve.jira_backfill``) with whatever hands events to the agents:
the agents' deployments in the cluster (``JiraSyncServer``), the agents in-process elsewhere (the
ingress without Serve, tests, the benchmark). Its sweep asks each tenant's Jira for the issues
updated since that tenant's last sweep began, minus ``jira_sync_overlap_s``: the windows
overlap, so an issue changed while a sweep ran, or a clock a little off, is read again, and
reading an issue twice changes nothing. The window is a relative JQL date (``updated >=
-95m``), which Jira evaluates the same whatever the calling user's time zone. Each tenant has
its own schedule: its next sweep is due ``jira_sync_interval_s`` after its last one began,
times a factor drawn from [1 - ``jira_sync_jitter``, 1 + ``jira_sync_jitter``]; the loop
(``sweep_due``) takes the tenants that are due.

Credentials, as the write-back does: the Forge app's system token when the call came through
Forge (``x-forge-oauth-system``; the install event carries one), the configured API token
otherwise. A system token is kept in memory only, for that tenant's next sweeps, and dropped
the first time Jira refuses it; a tenant with neither is skipped by the sweep and says so.

The cluster runs it in a deployment of its own (``serve.jira_sync_server``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Coroutine
from datetime import datetime
from typing import TYPE_CHECKING, Any

from agents.caretrack import TenantDirectory
from agents.events import AgentEvent
from agents.jira_client import JiraClient, JiraCredentials, JiraError
from agents.jira_fields import FieldCache, JiraFieldMap, discover
from agents.registry import make_agent
from config.settings import Settings
from embeddings.jobs import now
from serve.jira_backfill import SYNC_AGENTS, Apply, SyncJobs, SyncProgress, new_job, run_sync
from store.factory import Stores

if TYPE_CHECKING:  # imported by the deployment only: importing ray.serve is slow and noisy
    from ray.serve.handle import DeploymentHandle

log = logging.getLogger("clinisight.jira_sync")



class NoJiraCredentials(ValueError):
    """Neither a Forge system token nor an API token this tenant may use (HTTP 400)."""


class JobConflict(Exception):
    """The job named cannot be resumed now (HTTP 409)."""


class JobNotFound(LookupError):
    """No such job for this tenant (HTTP 404)."""


def credentials_for(settings: Settings, tenant: str,
                    forge_token: str | None) -> JiraCredentials | None:
    """The caller's Forge system token if sent, else the configured API token (if it may)."""
    if forge_token:
        return JiraCredentials.forge_system(settings.atlassian_api_url, tenant, forge_token)
    usable = settings.jira_tenant in (None, tenant)
    if settings.jira_base_url and settings.jira_email and settings.jira_api_token and usable:
        return JiraCredentials.api_token(settings.jira_base_url, settings.jira_email,
                                         settings.jira_api_token.get_secret_value())
    return None


def in_process_apply(settings: Settings, stores: Stores) -> Apply:
    """Agents built in this process (no Serve)."""
    agents = {name: make_agent(name, settings, stores.state) for name in SYNC_AGENTS}

    async def apply(name: str, events: list[AgentEvent]) -> dict[str, Any]:
        async with stores.names.active(events[0].tenant):
            return await agents[name].handle_events(events)
    return apply


def handle_apply(handles: dict[str, DeploymentHandle]) -> Apply:
    async def apply(name: str, events: list[AgentEvent]) -> dict[str, Any]:
        return dict(await handles[name].handle_events.remote(
            [e.model_dump(mode="json") for e in events]))
    return apply


class JiraSync:
    def __init__(self, settings: Settings, stores: Stores, apply: Apply) -> None:
        self.settings = settings
        self.stores = stores
        self.apply = apply
        self.jobs = SyncJobs(stores.state)
        self.fields = FieldCache(stores.state, settings.jira_fields,
                                 settings.jira_fields_refresh_s)
        self.directory = TenantDirectory(stores.state)
        self.tokens: dict[str, str] = {}  # tenant → latest Forge system token (memory only)
        self.running: dict[str, asyncio.Task[SyncProgress]] = {}  # job id → its task

    def _client(self, creds: JiraCredentials) -> JiraClient:
        return JiraClient(creds, timeout_s=self.settings.jira_timeout_s,
                          max_retries=self.settings.jira_max_retries)

    def _creds(self, tenant: str, forge_token: str | None) -> JiraCredentials:
        if forge_token:
            self.tokens[tenant] = forge_token
        creds = credentials_for(self.settings, tenant, forge_token or self.tokens.get(tenant))
        if creds is None:
            raise NoJiraCredentials(
                "no Jira credentials: call through Forge (x-forge-oauth-system) or configure "
                "CLINISIGHT_JIRA_BASE_URL, _JIRA_EMAIL and _JIRA_API_TOKEN")
        return creds

    async def field_map(self, tenant: str, jira: JiraClient) -> JiraFieldMap:
        """The tenant's map, read from Jira when never read or older than the refresh age."""
        found = await self.fields.get(tenant)
        if self.fields.stale(found):
            found = await self.fields.put(tenant, discover(await jira.fields()))
            log.info("jira fields tenant=%s discovered %s", tenant,
                     {k: len(v) for k, v in found.public().items() if isinstance(v, list)})
        assert found is not None
        return found

    async def start_backfill(self, tenant: str, jql: str | None = None,
                             forge_token: str | None = None,
                             resume: str | None = None) -> dict[str, Any]:
        """Start (or resume) a backfill; answers its progress at once."""
        creds = self._creds(tenant, forge_token)
        if resume is not None:
            progress = await self.jobs.get(tenant, resume)
            if progress is None:
                raise JobNotFound(f"no Jira job {resume!r} for tenant {tenant!r}")
            if progress.status == "succeeded" or resume in self.running:
                raise JobConflict(f"job {resume!r} is {progress.status}; only a failed or "
                                  "stopped job resumes")
        else:
            progress = new_job(tenant, jql or self.settings.jira_backfill_jql)
        progress.status = "running"
        await self.jobs.save(progress)
        self._spawn(progress.job_id, self._run(progress, creds))
        return progress.public()

    def _spawn(self, job_id: str, coro: Coroutine[Any, Any, SyncProgress]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.running[job_id] = task
        task.add_done_callback(lambda _: self.running.pop(job_id, None))

    async def _run(self, progress: SyncProgress, creds: JiraCredentials) -> SyncProgress:
        try:
            async with self._client(creds) as jira:
                fields = await self.field_map(progress.tenant, jira)
                done = await run_sync(
                    progress, jira=jira, fields=fields, apply=self.apply, jobs=self.jobs,
                    page_size=self.settings.jira_page_size,
                    batch_size=self.settings.jira_apply_batch)
        except JiraError as exc:  # the field list could not be read
            progress.status, progress.error, progress.finished_at = "failed", str(exc), now()
            progress.error_status = exc.status
            await self.jobs.save(progress)
            done = progress
        if done.error_status in (401, 403):
            self.tokens.pop(progress.tenant, None)  # expired or revoked: not for the sweep
        if done.status == "succeeded" and done.kind == "backfill":
            await self.directory.add(progress.tenant)  # the sweep's tenant list
            started = datetime.fromisoformat(done.started_at).timestamp()
            await self.jobs.record_sweep(progress.tenant, backfillJob=done.job_id,
                                         backfillStartedAt=started)
        return done

    async def progress(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        found = await self.jobs.get(tenant, job_id)
        return found.public() if found else None

    async def wait(self, job_id: str) -> None:
        """Until the job runs no more in this process (tests, the benchmark)."""
        task = self.running.get(job_id)
        if task is not None:
            await asyncio.shield(task)

    def window_s(self, last: dict[str, Any], started: float) -> float:
        """How far back this sweep reads: since the last sweep (or backfill) began, plus the
        overlap; one interval plus the overlap for a tenant never swept."""
        since = last.get("sweepStartedAt") or last.get("backfillStartedAt")
        span = started - float(since) if since else self.settings.jira_sync_interval_s
        return max(span, 0.0) + self.settings.jira_sync_overlap_s

    async def reconcile(self, tenant: str) -> dict[str, Any]:
        """One tenant's sweep now: apply every issue updated in the window."""
        started = time.time()
        last = await self.jobs.last_sweep(tenant)
        minutes = math.ceil(self.window_s(last, started) / 60)
        try:
            creds = self._creds(tenant, None)
        except NoJiraCredentials:
            return {"tenant": tenant, "status": "skipped", "reason": "no Jira credentials"}
        progress = new_job(tenant, f"updated >= -{minutes}m ORDER BY updated ASC", "reconcile")
        done = await self._run(progress, creds)
        # Each tenant keeps its own schedule, jittered, so tenants swept together once drift
        # apart and do not all call Jira (and write their state) in the same minute.
        jitter = self.settings.jira_sync_jitter
        next_at = started + self.settings.jira_sync_interval_s * random.uniform(  # noqa: S311
            1 - jitter, 1 + jitter)
        if done.status == "succeeded":
            await self.jobs.record_sweep(tenant, sweepStartedAt=started, sweepJob=done.job_id,
                                         nextSweepAt=next_at)
        else:  # the window stays where it was; try again at the next due time
            await self.jobs.record_sweep(tenant, nextSweepAt=next_at)
        return {"tenant": tenant, "status": done.status, "jobId": done.job_id,
                "applied": done.applied, "windowMinutes": minutes}

    async def sweep_due(self) -> dict[str, Any]:
        """The tenants whose next sweep is due (never swept: due now); the loop's pass."""
        now_s = time.time()
        due = [t for t in await self.directory.tenants()
               if float((await self.jobs.last_sweep(t)).get("nextSweepAt") or 0) <= now_s]
        return await self.sweep(due)

    async def sweep(self, tenants: list[str] | None = None) -> dict[str, Any]:
        """``tenants`` (default every known one) now; one failing does not stop the others."""
        outcome: dict[str, Any] = {}
        for tenant in tenants if tenants is not None else await self.directory.tenants():
            try:
                outcome[tenant] = await self.reconcile(tenant)
            except Exception as exc:
                outcome[tenant] = {"status": "failed", "error": type(exc).__name__}
                log.warning("jira sweep of tenant %s failed: %s", tenant, type(exc).__name__)
        return outcome
