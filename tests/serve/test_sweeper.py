"""The sweeper's pass over every tenant CareTrack tracks, without Ray: its handle to CareTrack is
replaced by a direct call into a real CareTrack agent on dynalite."""

from __future__ import annotations

import asyncio
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

from agents.caretrack import CareTrack
from agents.caretrack_models import CareTrackIn, IssueRecordIn
from agents.events import AgentEvent
from config.settings import Settings
from store.events import EventStatus
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
    stop(sweeper)


def stop(sweeper: Sweeper) -> None:
    for loop in (sweeper.loop, sweeper.anchorer, sweeper.purger):
        assert loop.task is not None and not loop.task.done(), loop.name
        loop.cancel()


async def test_housekeeping_anchors_every_audited_tenant_and_purges_old_payloads(
        settings: Settings) -> None:
    # A retention of about 50 ms, so the test can wait it out.
    settings = settings.model_copy(update={"event_payload_retention_days": 0.05 / 86_400})
    stores = open_stores(settings)
    for tenant in ("acme", "zeta"):
        await stores.audit.append(tenant, actor="a", action="event.read", resource="r",
                                  request_id="q", outcome="ok", status=200)
    ev = stores.events
    await ev.record("acme", "old", "jira", "jira:issue_created", {"phi": "x"})
    await ev.claim("acme", "old", lease_s=30)
    await ev.finish("acme", "old", EventStatus.DONE, [], {})
    await asyncio.sleep(0.2)
    await ev.record("acme", "open", "jira", "jira:issue_created", {"phi": "y"})

    sweeper = Sweeper.func_or_class(settings, DirectHandle(CareTrack(stores.state)))
    anchored = await sweeper.anchor()
    assert {t: r["seq"] for t, r in anchored.items()} == {"acme": 1, "zeta": 1}
    latest = await stores.anchors.latest("zeta")
    assert latest is not None and latest.seq == 1
    assert await sweeper.purge_payloads() == 1
    old = await ev.get("acme", "old", with_payload=True)
    assert old is not None and old.payload is None and old.status is EventStatus.DONE
    still = await ev.get("acme", "open", with_payload=True)
    assert still is not None and still.payload == {"phi": "y"}
    # The loops run with jittered pauses around their intervals.
    pauses = {sweeper.anchorer.pause_s() for _ in range(20)}
    interval = settings.audit_anchor_interval_s
    assert len(pauses) > 1 and all(0.9 * interval <= p <= 1.1 * interval for p in pauses)
    stop(sweeper)
