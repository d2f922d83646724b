"""The scheduled sweep: CareTrack re-evaluates every tenant every ``caretrack_sweep_interval_s``.

The seed ran this on an EventBridge schedule; inside the cluster it is a small deployment with
one replica and a loop. Why a deployment of its own rather than a loop in the orchestrator: the
orchestrator scales out with event load and every replica would sweep, while the sweep wants
exactly one runner; it also keeps a slow sweep from competing with event processing, and Serve
restarts it on its own when its loop dies (``check_health``). Should two replicas ever run (a
restart overlapping), nothing breaks: a sweep only reconciles findings, which is idempotent.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from agents.caretrack import TenantDirectory
from agents.events import AgentEvent
from config.settings import Settings
from serve.background import Periodic
from store.factory import open_stores

log = logging.getLogger("clinisight.sweeper")


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.05},
                  max_ongoing_requests=10)
class Sweeper:
    def __init__(self, settings: Settings, caretrack: DeploymentHandle) -> None:
        self.settings = settings
        self.caretrack = caretrack
        self.directory = TenantDirectory(open_stores(settings).state)
        self.last: dict[str, Any] = {}
        # Sleep first: a sweep at start-up would only slow the stack's readiness.
        interval = settings.caretrack_sweep_interval_s
        self.loop = Periodic("sweep", self.sweep, interval, first_delay_s=interval)
        self.loop.ensure()

    async def sweep(self) -> dict[str, Any]:
        """Sweep every tenant now; one tenant failing does not stop the others."""
        self.loop.ensure()
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

    async def health(self) -> str:
        self.loop.ensure()
        return "ok"

    def check_health(self) -> None:
        """Serve's replica health check: a dead sweep loop restarts the replica."""
        self.loop.check()
