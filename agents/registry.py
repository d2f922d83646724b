"""Which agents exist, and how a process builds one from the settings."""

from __future__ import annotations

from agents.base import Agent
from agents.caretrack import CareTrack
from agents.dealflow import DealFlow
from agents.reasoners import ClaudeReasoner, OfflineReasoner, Reasoner, StateResponseCache
from agents.roadmapsmith import RoadmapSmith
from agents.tasksmith import TaskSmith
from compliance.phi import redact
from config.settings import Settings
from metrics.redactions import CountedRedact
from store.state import StateStore

AGENTS: dict[str, type[Agent]] = {
    cls.name: cls for cls in (TaskSmith, CareTrack, DealFlow, RoadmapSmith)
}


def make_reasoner(settings: Settings, state: StateStore, agent: str = "unknown") -> Reasoner:
    """Claude when a key is configured, the offline planner otherwise; ``agent`` names the
    caller in the metrics."""
    if settings.anthropic_api_key is None:
        return OfflineReasoner()
    return ClaudeReasoner(
        api_key=settings.anthropic_api_key.get_secret_value(),
        model=settings.anthropic_model,
        base_url=settings.anthropic_base_url,
        max_tokens=settings.anthropic_max_tokens,
        timeout_s=settings.anthropic_timeout_s,
        max_retries=settings.anthropic_max_retries,
        cache=StateResponseCache(state),
        redact=CountedRedact("llm", redact),  # no PHI leaves for the LLM
        agent=agent,
    )


def make_agent(name: str, settings: Settings, state: StateStore) -> Agent:
    try:
        cls = AGENTS[name]
    except KeyError:
        raise ValueError(f"unknown agent {name!r}; known: {', '.join(sorted(AGENTS))}") from None
    return cls(state, make_reasoner(settings, state, name))
