"""The reads behind `clinisight status`: backlog per tenant, failures, jobs by key prefix."""

from __future__ import annotations

import asyncio

from serve.status import error_parts
from store.events import EventStatus
from store.factory import Stores


async def test_backlog_counts_unfinished_per_tenant_with_the_oldest(stores: Stores) -> None:
    ev = stores.events
    for i in range(3):
        await ev.record("ta", f"a{i}", "jira", "jira:issue_created", {"i": i})
        await asyncio.sleep(0.005)  # distinct acceptance times
    await ev.record("tb", "b0", "forge", "x", {"i": 0})
    await ev.record("tb", "b1", "forge", "x", {}, EventStatus.IGNORED)  # finished at once
    await ev.finish("ta", "a0", EventStatus.DONE, ["TaskSmith"])

    backlog = await ev.backlog()
    assert set(backlog) == {"ta", "tb"}
    assert backlog["ta"].events == 2 and backlog["ta"].oldest_event_id == "a1"
    assert backlog["tb"].events == 1 and backlog["tb"].oldest_event_id == "b0"
    assert not backlog["ta"].truncated
    assert (await ev.backlog(limit=1))["ta"].truncated


async def test_failures_are_the_events_with_an_error_newest_first_without_payloads(
        stores: Stores) -> None:
    ev = stores.events
    for i in range(3):
        await ev.record("tf", f"e{i}", "jira", "jira:issue_updated", {"secret": "Jane Roe"})
    await ev.claim("tf", "e0", 30)
    await ev.release("tf", "e0", "TimeoutError in agent CareTrack")
    await asyncio.sleep(0.005)
    await ev.claim("tf", "e1", 30)
    await ev.finish("tf", "e1", EventStatus.FAILED, ["DealFlow"], None,
                    "ValueError in agent DealFlow")
    await ev.claim("tf", "e2", 30)
    await ev.finish("tf", "e2", EventStatus.DONE, ["DealFlow"])

    failures = await ev.failures("tf")
    assert [f.event_id for f in failures] == ["e1", "e0"]
    assert all(f.payload is None for f in failures)
    assert [error_parts(f.error) for f in failures] == [("ValueError", "DealFlow"),
                                                         ("TimeoutError", "CareTrack")]
    assert error_parts("RuntimeError in agent processing") == ("RuntimeError", "unknown")


async def test_state_records_by_key_prefix(stores: Stores) -> None:
    await stores.state.save("tj", "~reindex#rx-1", {"status": "running"}, 0)
    await stores.state.save("tj", "~reindex#rx-2", {"status": "succeeded"}, 0)
    await stores.state.save("tj", "TaskSmith", {"proposals": []}, 0)
    found = await stores.state.with_prefix("tj", "~reindex#")
    assert sorted(r.agent for r in found) == ["~reindex#rx-1", "~reindex#rx-2"]
    assert {r.data["status"] for r in found} == {"running", "succeeded"}
