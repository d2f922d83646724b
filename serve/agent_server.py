"""One Serve deployment class for every agent, bound once per agent name."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from typing import Any

from ray import serve

import metrics
from agents.events import AgentEvent
from agents.registry import make_agent
from config.settings import Settings
from serve.observability import init_observability, tenant_scope, zero_agent_series
from store.factory import open_stores


@serve.deployment(ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=50)
class AgentServer:
    def __init__(self, settings: Settings, agent_name: str) -> None:
        init_observability(settings, "agent", agent=agent_name)
        if settings.processing_nice:
            os.nice(settings.processing_nice)  # intake first: see Settings.processing_nice
        self.stores = open_stores(settings)
        self.agent = make_agent(agent_name, settings, self.stores.state)
        zero_agent_series(agent_name)

    def _run(self) -> AbstractContextManager[None]:
        return metrics.counted("clinisight_agent_runs_total", "clinisight_agent_run_seconds",
                               agent=self.agent.name)

    async def handle_event(self, event: dict[str, Any]) -> dict[str, Any]:
        parsed = AgentEvent.model_validate(event)
        # The tenant's known names outside the Sentry scope: its report is redacted with them.
        async with self.stores.names.active(parsed.tenant):
            with tenant_scope(parsed.tenant, self.agent.name), self._run():  # Sentry, metrics
                return await self.agent.handle_event(parsed)

    async def handle_events(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """A batch of one tenant's events (a Jira backfill or reconciliation page)."""
        parsed = [AgentEvent.model_validate(e) for e in events]
        if not parsed:
            return {"action": "none", "events": 0}
        async with self.stores.names.active(parsed[0].tenant):
            with tenant_scope(parsed[0].tenant, self.agent.name), self._run():
                return await self.agent.handle_events(parsed)

    async def health(self) -> str:
        return "ok"
