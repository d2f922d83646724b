"""Nothing accepted is lost: events survive a stop of Serve, Ray and the DynamoDB server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from serve.routing import route
from serve.wire import to_agent_event
from store.events import EventLog
from store.factory import open_stores
from tests.utils.payloads import jira_epic
from tests.utils.servers import Dynalite
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack


async def _record(log: EventLog, event_id: str, key: str, summary: str) -> None:
    # Stored as the drainer stores a delivery: the normalised event and its agents.
    event = to_agent_event("dev", event_id, "jira", "issue_created",
                           jira_epic(key=key, summary=summary))
    await log.record("dev", event_id, "jira", "jira:issue_created",
                     event.model_dump(mode="json"), agents=route(event))


async def _leave_unfinished(log: EventLog) -> None:
    # Recorded by a drainer that died before the event was processed.
    await _record(log, "orphan-1", "RS-ORPHAN", "Orphaned patient epic")
    # Claimed by an orchestrator that died mid-processing (its lease runs out).
    await _record(log, "leased-1", "RS-LEASED", "Leased patient epic")
    assert await log.claim("dev", "leased-1", lease_s=0.5) is not None


def test_accepted_events_finish_after_restart(tmp_path: Path, models_dir: str) -> None:
    stack = Stack(tmp_path / "data", CLINISIGHT_MODEL_CACHE_DIR=models_dir)
    stack.up()
    try:
        sent = [
            stack.post_jira(jira_epic(key=f"RS-{i}", summary=f"Patient epic {i}"))
            for i in range(6)
        ]
        assert all(r.status_code == 202 for r in sent)
        ids = [r.json()["eventId"] for r in sent]
    finally:
        stack.down()

    # Everything is down. Bring up only the DynamoDB server, on the stack's own data.
    dyn = Dynalite(stack.settings.data_dir / "dynamodb", port=stack.settings.dynamodb_local_port)
    dyn.start()
    try:
        settings = stack.settings.model_copy(update={"dynamodb_endpoint": dyn.url})
        stores = open_stores(settings)
        asyncio.run(_leave_unfinished(stores.events))
    finally:
        dyn.stop()

    stack.up()
    try:
        for event_id in [*ids, "orphan-1", "leased-1"]:
            assert stack.wait_final(event_id, timeout=60)["status"] == "done"
        proposals = stack.state("TaskSmith")["data"]["proposals"]
        keys = sorted(p["epicKey"] for p in proposals)
        assert keys == sorted([f"RS-{i}" for i in range(6)] + ["RS-ORPHAN", "RS-LEASED"])
        assert len(keys) == len(set(keys)), "an event was processed twice"
    finally:
        stack.down()
        stack.close()
