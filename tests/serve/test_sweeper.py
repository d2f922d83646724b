"""The sweeper's pass over every tenant CareTrack tracks, without Ray: its handle to CareTrack is
replaced by a direct call into a real CareTrack agent on dynalite."""

from __future__ import annotations

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.caretrack import CareTrack
from agents.caretrack_models import CareTrackIn, IssueRecordIn
from agents.events import AgentEvent
from config.settings import Settings
from store.factory import open_stores

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from serve.sweeper import Sweeper


class _Method:
    def __init__(self, agent: CareTrack) -> None:
        self.agent = agent

    async def remote(self, event: dict[str, Any]) -> dict[str, Any]:
        if event["tenant"] == "broken":
            raise RuntimeError("replica died")
        return await self.agent.handle_event(AgentEvent.model_validate(event))


class DirectHandle:
    """What the sweeper uses of a DeploymentHandle: ``handle_event.remote(...)``."""

    def __init__(self, agent: CareTrack) -> None:
        self.handle_event = _Method(agent)


async def test_sweep_visits_every_tracked_tenant_and_survives_one_failing(
        settings: Settings) -> None:
    stores = open_stores(settings)
    agent = CareTrack(stores.state)
    old = datetime.now(UTC) - timedelta(days=40)
    for tenant in ("acme", "broken", "zeta"):
        await agent.run(tenant, CareTrackIn(issues=[IssueRecordIn(
            key="S-1", summary="x", status="In Progress", status_since=old, priority="Low",
            assignee="a", created=datetime.now(UTC))]))
    sweeper = Sweeper.func_or_class(settings, DirectHandle(agent))
    outcome = await sweeper.sweep()
    assert set(outcome) == {"acme", "broken", "zeta"}
    assert outcome["broken"] == {"error": "RuntimeError"}
    assert outcome["acme"]["action"] == "evaluated" and outcome["acme"]["open"] == 1
    assert await sweeper.health() == "ok"
    sweeper.check_health()
    assert sweeper.loop.task is not None and not sweeper.loop.task.done()
    sweeper.loop.cancel()
