"""The application builder: the whole deployment graph in one place."""

from __future__ import annotations

from typing import Any, cast

from ray.serve import Application
from ray.serve.deployment import Deployment

from agents.registry import AGENTS
from config.settings import Settings
from serve.agent_server import AgentServer
from serve.ingress import Ingress
from serve.orchestrator import Orchestrator


def _d(cls: Any) -> Deployment:
    # @serve.deployment turns the class into a Deployment; Ray's typing keeps the class type.
    return cast(Deployment, cls)


def build_app(settings: Settings) -> Application:
    agents = {name: _d(AgentServer).options(name=name).bind(settings, name) for name in AGENTS}
    orchestrator = _d(Orchestrator).bind(settings, agents)
    return _d(Ingress).bind(settings, orchestrator)
