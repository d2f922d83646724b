"""The scheduled sweep: CareTrack re-evaluates every tenant every ``caretrack_sweep_interval_s``.

The seed ran this on an EventBridge schedule; inside the cluster it is a small deployment with
one replica and a loop. Why a deployment of its own rather than a loop in the orchestrator: the
orchestrator scales out with event load and every replica would sweep, while the sweep wants
exactly one runner; it also keeps a slow sweep from competing with event processing, and Serve
restarts it on its own when its loop dies (``check_health``). Should two replicas ever run (a
restart overlapping), nothing breaks: a sweep only reconciles findings, which is idempotent.

The same one runner does two housekeeping passes, each idempotent too: it publishes every
tenant's audit chain head (``store.anchors``) every ``audit_anchor_interval_s``, and removes the
payloads of events finished more than ``event_payload_retention_days`` ago
(``EventLog.purge_payloads``) every ``event_payload_purge_interval_s``. With the metrics on it
also sets the per-tenant backlog and index-size gauges (``serve.gauges``) every
``metrics_backlog_interval_s``.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from agents.caretrack import TenantDirectory
from agents.events import AgentEvent
from config.settings import Settings
from index.snapshot import SnapshotStore
from serve.background import Periodic
from serve.gauges import TenantGauges
from store.anchors import anchor_all
from store.dynamo import DynamoTable
from store.factory import open_stores

log = logging.getLogger("clinisight.sweeper")

PURGE_BATCH = 1000
PURGE_ROUNDS = 100  # per pass: 100,000 payloads; a larger backlog goes on in the next pass
FIRST_HOUSEKEEPING_S = 60.0  # after start, so a stack restarted often still gets its passes


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.05},
                  max_ongoing_requests=10)
class Sweeper:
    def __init__(self, settings: Settings, caretrack: DeploymentHandle) -> None:
        self.settings = settings
        self.caretrack = caretrack
        self.stores = open_stores(settings)
        self.directory = TenantDirectory(self.stores.state)
        self.last: dict[str, Any] = {}
        # Sleep first: a sweep at start-up would only slow the stack's readiness.
        interval = settings.caretrack_sweep_interval_s
        self.loop = Periodic("sweep", self.sweep, interval, first_delay_s=interval)
        self.anchorer = Periodic(
            "audit-anchor", self.anchor, settings.audit_anchor_interval_s,
            first_delay_s=min(FIRST_HOUSEKEEPING_S, settings.audit_anchor_interval_s),
            jitter=0.1)
        self.purger = Periodic(
            "payload-purge", self.purge_payloads, settings.event_payload_purge_interval_s,
            first_delay_s=min(FIRST_HOUSEKEEPING_S, settings.event_payload_purge_interval_s),
            jitter=0.1)
        self.loops = [self.loop, self.anchorer, self.purger]
        if settings.metrics_enabled:
            gauges = TenantGauges(self.stores, SnapshotStore(DynamoTable(
                self.stores.client, settings.table("Embeddings"), ThreadPoolExecutor(2))))
            self.loops.append(Periodic("gauges", gauges.update,
                                       settings.metrics_backlog_interval_s))
        self._ensure()

    def _ensure(self) -> None:
        for loop in self.loops:
            loop.ensure()

    async def sweep(self) -> dict[str, Any]:
        """Sweep every tenant now; one tenant failing does not stop the others."""
        self._ensure()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        outcome: dict[str, Any] = {}
        for tenant in await self.directory.tenants():
            event = AgentEvent(tenant=tenant, event_id=f"sweep-{stamp}", kind="sweep",
                               source="schedule")
            try:
                outcome[tenant] = await self.caretrack.handle_event.remote(
                    event.model_dump(mode="json"))
            except Exception as exc:
                outcome[tenant] = {"error": type(exc).__name__}
                log.warning("sweep of tenant %s failed: %s", tenant, type(exc).__name__)
        self.last = {"at": stamp, "tenants": len(outcome)}
        return outcome

    async def anchor(self) -> dict[str, dict[str, Any]]:
        """Publish every listed tenant's audit chain head now."""
        outcome = await anchor_all(self.stores.audit, self.stores.anchors)
        for tenant, result in outcome.items():
            if result.get("reason") or result.get("error"):
                # A head behind its anchor means audit entries were removed: say so loudly.
                log.error("audit anchor of tenant %s: %s", tenant,
                          result.get("reason") or result.get("error"))
        return outcome

    async def purge_payloads(self) -> int:
        """Remove the payloads past their retention now; return how many."""
        days = self.settings.event_payload_retention_days
        cut = int((time.time() - days * 86_400) * 1000)
        total = 0
        for _ in range(PURGE_ROUNDS):
            n = await self.stores.events.purge_payloads(cut, PURGE_BATCH)
            total += n
            if n < PURGE_BATCH:
                break
        if total:
            log.info("removed %d event payload(s) past %g days", total, days)
        return total

    async def health(self) -> str:
        self._ensure()
        return "ok"

    def check_health(self) -> None:
        """Serve's replica health check: a dead loop restarts the replica."""
        for loop in self.loops:
            loop.check()
