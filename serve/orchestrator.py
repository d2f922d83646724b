"""The orchestrator: claims an accepted event, routes it to agents, records the outcome.

It also re-drives: at start-up and every ``redrive_interval_s`` it claims unfinished events whose
lease ran out (a replica died mid-way, Ray restarted) and processes them again, so nothing
accepted is lost. Agents are idempotent per event, so a re-driven event adds nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from config.settings import Settings
from serve.background import Periodic
from serve.observability import init_observability
from serve.routing import route
from serve.wire import kind_of, to_agent_event
from store.events import EventStatus
from store.factory import open_stores

log = logging.getLogger("clinisight.orchestrator")

MAX_ATTEMPTS = 3


@serve.deployment(ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=100)
class Orchestrator:
    def __init__(self, settings: Settings, agents: dict[str, DeploymentHandle]) -> None:
        init_observability(settings, "orchestrator")
        self.settings = settings
        self.agents = agents
        self.stores = open_stores(settings)
        # Re-drive at start-up, then every interval.
        self.redriver = Periodic("re-drive", self._redrive_pass, settings.redrive_interval_s)
        self.redriver.ensure()

    async def _redrive_pass(self) -> None:
        n = await self.redrive()
        if n:
            log.info("re-drove %d unfinished event(s)", n)

    async def redrive(self) -> int:
        """Process every unfinished event that can be claimed; return how many ran."""
        done = 0
        for tenant, event_id in await self.stores.events.list_unfinished():
            outcome = await self.process(tenant, event_id)
            done += outcome["status"] != "skipped"
        return done

    async def process(self, tenant: str, event_id: str) -> dict[str, Any]:
        self.redriver.ensure()
        record = await self.stores.events.claim(tenant, event_id, self.settings.event_lease_s)
        if record is None or record.payload is None:
            return {"status": "skipped"}
        kind = kind_of(record.source, record.event_type)
        event = to_agent_event(tenant, event_id, record.source, kind or "", record.payload)
        agents = route(event) if kind else []
        results: dict[str, Any] = {}
        try:
            for name in agents:
                results[name] = await self.agents[name].handle_event.remote(
                    event.model_dump(mode="json")
                )
        except Exception as exc:
            # Only the exception's type is recorded: its message may quote event content.
            reason = f"{type(exc).__name__} in agent processing"
            if record.attempts >= MAX_ATTEMPTS:
                await self.stores.events.finish(tenant, event_id, EventStatus.FAILED, agents,
                                                results, reason)
                log.error("event %s failed after %d attempts", event_id, record.attempts)
                return {"status": EventStatus.FAILED.value}
            await self.stores.events.release(tenant, event_id, reason)
            log.warning("event %s attempt %d failed; will retry", event_id, record.attempts)
            return {"status": EventStatus.ACCEPTED.value}
        await self.stores.events.finish(tenant, event_id, EventStatus.DONE, agents, results)
        return {"status": EventStatus.DONE.value, "results": results}

    async def health(self) -> dict[str, str]:
        self.redriver.ensure()
        checks = {"orchestrator": "ok"}
        for name, handle in self.agents.items():
            try:
                checks[name] = await asyncio.wait_for(handle.health.remote(), timeout=5)
            except Exception as exc:
                checks[name] = f"error: {type(exc).__name__}"
        return checks

    def check_health(self) -> None:
        """Serve's replica health check: a dead re-drive loop restarts the replica."""
        self.redriver.check()
