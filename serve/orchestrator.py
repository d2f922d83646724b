"""The orchestrator: drains the intake inbox, processes events, records each outcome.

Three loops in the replica:

* the drainer (``serve.drainer``) moves acknowledged deliveries from the inbox into the event
  log and the audit trail, and queues the new events for processing (with
  ``dispatch_on_accept``; without, they wait in the log for the re-drive);
* ``process_concurrency`` workers take queued events from the tenants in turn
  (``serve.fair_queue``): one tenant's burst does not hold up the others;
* the re-drive, at start-up and every ``redrive_interval_s``, queues unfinished events whose
  lease ran out (a replica died mid-way, Ray restarted), so nothing accepted is lost. Agents
  are idempotent per event, so a re-driven event adds nothing twice.

What is processed is the event the ingress normalised and stored with its agent list: the
orchestrator reads no raw payload and imports no wire model.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

import metrics
from config.settings import Settings
from serve.background import Periodic
from serve.drainer import Drainer
from serve.fair_queue import FairQueue
from serve.observability import init_observability
from store.events import EventStatus
from store.factory import open_stores

log = logging.getLogger("clinisight.orchestrator")

MAX_ATTEMPTS = 3
# An event stored before the ingress normalised events (its raw payload, not an AgentEvent):
# it cannot be processed by this version and is failed with this reason, not dropped.
LEGACY_FORM = "StoredFormUnknown: accepted before normalised storage; deliver it again"


@serve.deployment(ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=100)
class Orchestrator:
    def __init__(self, settings: Settings, agents: dict[str, DeploymentHandle]) -> None:
        init_observability(settings, "orchestrator")
        if settings.processing_nice:
            os.nice(settings.processing_nice)  # intake first: see Settings.processing_nice
        self.settings = settings
        self.agents = agents
        self.stores = open_stores(settings)
        self.drainer = Drainer(self.stores.inbox, self.stores.events, self.stores.audit,
                               settings.drain_batch)
        self.queue = FairQueue()
        self.workers: list[asyncio.Task[None]] = []
        self.drain_loop = Periodic("drain", self._drain_pass, settings.drain_idle_s)
        # Re-drive at start-up, then every interval.
        self.redriver = Periodic("re-drive", self._redrive_pass, settings.redrive_interval_s)
        self._ensure()

    def _ensure(self) -> None:
        """Start the loops once an event loop runs (Serve may construct us outside one)."""
        self.redriver.ensure()
        self.drain_loop.ensure()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.workers = [w for w in self.workers if not w.done()]
        while len(self.workers) < self.settings.process_concurrency:
            self.workers.append(loop.create_task(self._work()))

    async def _drain_pass(self) -> bool:
        drained, fresh = await self.drainer.drain_once()
        if self.settings.dispatch_on_accept:
            for tenant, event_id in fresh:
                self.queue.put(tenant, event_id)
        return drained > 0

    async def _redrive_pass(self) -> None:
        n = await self.redrive()
        if n:
            log.info("queued %d unfinished event(s) again", n)

    async def redrive(self) -> int:
        """Queue every unfinished event (those leased elsewhere are skipped when claimed);
        return how many were not queued already."""
        return sum(self.queue.put(t, e) for t, e in await self.stores.events.list_unfinished())

    async def _work(self) -> None:
        while True:
            tenant, event_id = await self.queue.get()
            try:
                await self.process(tenant, event_id)
            except Exception as exc:  # the event stays unfinished; the re-drive takes it
                log.warning("processing %s failed: %s", event_id, type(exc).__name__)

    async def process(self, tenant: str, event_id: str) -> dict[str, Any]:
        self._ensure()
        record = await self.stores.events.claim(tenant, event_id, self.settings.event_lease_s)
        if record is None or record.payload is None:
            return {"status": "skipped"}
        event = record.payload
        if event.get("event_id") != event_id:
            await self.stores.events.finish(tenant, event_id, EventStatus.FAILED, [], None,
                                            LEGACY_FORM)
            log.error("event %s is in a stored form this version cannot process", event_id)
            return {"status": EventStatus.FAILED.value}
        agents = record.agents
        results: dict[str, Any] = {}
        name = ""
        try:
            for name in agents:
                results[name] = await self.agents[name].handle_event.remote(event)
        except Exception as exc:
            # Only the exception's type and the agent are recorded: its message may quote event
            # content. `clinisight status` reads them back (serve.status.error_parts).
            reason = f"{type(exc).__name__} in agent {name}"
            if record.attempts >= MAX_ATTEMPTS:
                await self.stores.events.finish(tenant, event_id, EventStatus.FAILED, agents,
                                                results, reason)
                log.error("event %s failed after %d attempts", event_id, record.attempts)
                return {"status": EventStatus.FAILED.value}
            await self.stores.events.release(tenant, event_id, reason)
            log.warning("event %s attempt %d failed; will retry", event_id, record.attempts)
            return {"status": EventStatus.ACCEPTED.value}
        await self.stores.events.finish(tenant, event_id, EventStatus.DONE, agents, results)
        lag_s = max(0.0, time.time() - record.accepted_at / 1000)
        for name in agents:
            metrics.observe("clinisight_event_lag_seconds", lag_s, agent=name)
        return {"status": EventStatus.DONE.value, "results": results}

    async def health(self) -> dict[str, str]:
        self._ensure()
        checks = {"orchestrator": "ok"}
        for name, handle in self.agents.items():
            try:
                checks[name] = await asyncio.wait_for(handle.health.remote(), timeout=5)
            except Exception as exc:
                checks[name] = f"error: {type(exc).__name__}"
        return checks

    def check_health(self) -> None:
        """Serve's replica health check: a dead re-drive or drain loop restarts the replica."""
        self.redriver.check()
        self.drain_loop.check()
