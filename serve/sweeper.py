"""The scheduled sweep: CareTrack re-evaluates every tenant every ``caretrack_sweep_interval_s``.

The seed ran this on an EventBridge schedule; inside the cluster it is a small deployment with
one replica and a loop. Why a deployment of its own rather than a loop in the orchestrator: the
orchestrator scales out with event load and every replica would sweep, while the sweep wants
exactly one runner; it also keeps a slow sweep from competing with event processing, and Serve
restarts it on its own when its loop dies (``check_health``). Should two replicas ever run (a
restart overlapping), nothing breaks: a sweep only reconciles findings, which is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from agents.caretrack import TenantDirectory
from agents.events import AgentEvent
from config.settings import Settings
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
        self._loop: asyncio.Task[None] | None = None
        self._ensure_loop()

    def _ensure_loop(self) -> None:
        if self._loop is not None and not self._loop.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # constructed outside the event loop: started on the first call
            return
        self._loop = loop.create_task(self._forever())

    async def _forever(self) -> None:
        while True:
            # Sleep first: a sweep at start-up would only slow the stack's readiness.
            await asyncio.sleep(self.settings.caretrack_sweep_interval_s)
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("sweep failed: %s", type(exc).__name__)

    async def sweep(self) -> dict[str, Any]:
        """Sweep every tenant now; one tenant failing does not stop the others."""
        self._ensure_loop()
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
        self._ensure_loop()
        return "ok"

    def check_health(self) -> None:
        """Serve's replica health check: a dead sweep loop restarts the replica."""
        if self._loop is not None and self._loop.done():
            raise RuntimeError("sweep loop stopped")
