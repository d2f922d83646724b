"""The application builder: the whole deployment graph in one place.

No ``from __future__ import annotations`` here: Ray Serve reads ``build_app``'s annotation to
turn a Serve config's ``args`` into ``Settings`` (``serve deploy`` with
``import_path: serve.app:build_app``); a string annotation would hand it a plain dict instead.
"""

from typing import Any, cast

from ray.serve import Application
from ray.serve.deployment import Deployment

from agents.registry import AGENTS
from config.settings import Settings
from serve.agent_server import AgentServer
from serve.ingress import Ingress
from serve.jira_backfill import SYNC_AGENTS
from serve.jira_sync_server import JiraSyncServer
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
    # Jira backfills and the reconciliation sweep hand issue batches to the mirror agents.
    jira_sync = _d(JiraSyncServer).bind(
        settings, {name: agents[name] for name in SYNC_AGENTS})
    ingress = _d(Ingress)
    if settings.ingress_replicas != 1:  # left unset otherwise, as `serve build` writes it
        ingress = ingress.options(num_replicas=settings.ingress_replicas)
    return ingress.bind(settings, orchestrator,
                        {**agents, "Sweeper": sweeper, "JiraSync": jira_sync})


def __getattr__(name: str) -> Application:
    """``serve.app:app``, the application built from this environment's settings.

    Built on access (PEP 562), never at import: replicas import this module in other
    processes. It exists for ``serve build serve.app:app``, which takes only a built
    application (deploy/serve_config.yaml is that output, edited as its header says).
    """
    if name == "app":
        return build_app(Settings())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
