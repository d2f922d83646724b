"""A failed DynamoDB condition is ``ConditionFailed`` at the table; each store says what it
means: a versioned write's loss is ``VersionConflict``, a put-if-absent's ``AlreadyExists``."""

from __future__ import annotations

import pytest

from store.errors import AlreadyExists, ConditionFailed, VersionConflict
from store.factory import Stores


async def test_a_failed_condition_at_the_table_is_condition_failed_only(stores: Stores) -> None:
    item = {"tenantId": "t1", "agentName": "probe", "version": 1}
    await stores.state.table.put(item, condition="attribute_not_exists(agentName)")
    with pytest.raises(ConditionFailed) as caught:
        await stores.state.table.put(item, condition="attribute_not_exists(agentName)")
    # Not read as a duplicate or a version conflict by whoever catches it: the caller decides.
    assert not isinstance(caught.value, (AlreadyExists, VersionConflict))


async def test_a_lost_versioned_write_is_a_version_conflict(stores: Stores) -> None:
    await stores.state.save("t1", "A", {"n": 1}, 0)
    with pytest.raises(VersionConflict):
        await stores.state.save("t1", "A", {"n": 2}, 0)


async def test_an_audit_entry_number_taken_is_already_exists(stores: Stores) -> None:
    # The chain's race for the next number reads this as "another replica appended first".
    await stores.audit.append("t1", actor="u", action="read", resource="r", request_id="q1",
                              outcome="ok", status=200)
    stored = await stores.audit._last_item("t1")  # type: ignore[attr-defined]
    assert stored is not None
    with pytest.raises(AlreadyExists):
        await stores.audit._put_new(dict(stored))  # type: ignore[attr-defined]
