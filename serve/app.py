"""The application builder: the whole deployment graph in one place."""

from __future__ import annotations

from ray.serve import Application

from agents.registry import AGENTS
from config.settings import Settings
from serve.agent_server import AgentServer
from serve.ingress import Ingress
from serve.orchestrator import Orchestrator


def build_app(settings: Settings) -> Application:
    agents = {name: AgentServer.options(name=name).bind(settings, name) for name in AGENTS}
    orchestrator = Orchestrator.bind(settings, agents)
    return Ingress.bind(settings, orchestrator)
