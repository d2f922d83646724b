"""The reads behind `clinisight status`: error parts and jobs by key prefix (the backlog and
failures reads are EventLog's, in ``tests/store/test_events.py``)."""

from __future__ import annotations

from serve.status import error_parts
from store.factory import Stores


def test_an_error_names_its_type_and_agent() -> None:
    assert error_parts("ValueError in agent DealFlow") == ("ValueError", "DealFlow")
    assert error_parts("TimeoutError in agent CareTrack") == ("TimeoutError", "CareTrack")
    assert error_parts("RuntimeError in agent processing") == ("RuntimeError", "unknown")


async def test_state_records_by_key_prefix(stores: Stores) -> None:
    await stores.state.save("tj", "~reindex#rx-1", {"status": "running"}, 0)
    await stores.state.save("tj", "~reindex#rx-2", {"status": "succeeded"}, 0)
    await stores.state.save("tj", "TaskSmith", {"proposals": []}, 0)
    found = await stores.state.with_prefix("tj", "~reindex#")
    assert sorted(r.agent for r in found) == ["~reindex#rx-1", "~reindex#rx-2"]
    assert {r.data["status"] for r in found} == {"running", "succeeded"}
