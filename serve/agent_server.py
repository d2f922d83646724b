"""One Serve deployment class for every agent, bound once per agent name."""

from __future__ import annotations

from typing import Any

from ray import serve

from agents.events import AgentEvent
from agents.registry import make_agent
from config.settings import Settings
from serve.observability import init_observability, tenant_scope
from store.factory import open_stores


@serve.deployment(ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=50)
class AgentServer:
    def __init__(self, settings: Settings, agent_name: str) -> None:
        init_observability(settings, "agent", agent=agent_name)
        self.stores = open_stores(settings)
        self.agent = make_agent(agent_name, settings, self.stores.state)

    async def handle_event(self, event: dict[str, Any]) -> dict[str, Any]:
        parsed = AgentEvent.model_validate(event)
        # The tenant's known names outside the Sentry scope: its report is redacted with them.
        async with self.stores.names.active(parsed.tenant):
            with tenant_scope(parsed.tenant, self.agent.name):  # a failure reaches Sentry
                return await self.agent.handle_event(parsed)

    async def health(self) -> str:
        return "ok"
