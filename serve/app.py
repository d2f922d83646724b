"""The application builder: the whole deployment graph in one place."""

from __future__ import annotations

from typing import Any, cast

from ray.serve import Application
from ray.serve.deployment import Deployment

from agents.registry import AGENTS
from config.settings import Settings
from serve.agent_server import AgentServer
from serve.ingress import Ingress
from serve.mindmesh import EmbedderServer, MindMeshServer
from serve.orchestrator import Orchestrator
from serve.sweeper import Sweeper
from serve.tenant_index import TenantIndex


def _d(cls: Any) -> Deployment:
    # @serve.deployment turns the class into a Deployment; Ray's typing keeps the class type.
    return cast(Deployment, cls)


def build_app(settings: Settings) -> Application:
    agents = {name: _d(AgentServer).options(name=name).bind(settings, name) for name in AGENTS}
    # MindMesh: one embedder for online queries, the index partitions, and the agent over them.
    embedder = _d(EmbedderServer).bind(settings)
    indexes = [
        _d(TenantIndex).options(name=f"TenantIndex{i}").bind(settings, i)
        for i in range(settings.index_partitions)
    ]
    agents["MindMesh"] = _d(MindMeshServer).bind(settings, embedder, indexes)
    orchestrator = _d(Orchestrator).bind(settings, agents)
    # CareTrack's scheduled sweep; the ingress holds every agent for POST …/agents/{a}/run.
    sweeper = _d(Sweeper).bind(settings, agents["CareTrack"])
    return _d(Ingress).bind(settings, orchestrator, {**agents, "Sweeper": sweeper})
