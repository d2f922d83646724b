"""Audit chain anchors on a real DynamoDB API server: a chain cut short after its anchor fails
verification, the anchor only moves forward, every tenant is found for the periodic pass."""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import Settings
from store.anchors import (
    Anchor,
    anchor_all,
    anchor_tenant,
    checkpoint,
    read_checkpoint,
    verify_anchored,
)
from store.audit import SEQ_WIDTH, AuditLog
from store.dynamo import make_client, to_item
from store.factory import Stores, open_stores


async def add(log: AuditLog, tenant: str = "t1", n: int = 1) -> None:
    for i in range(n):
        await log.append(tenant, actor="acct-1", action="agent_state.read",
                         resource=f"tenants/{tenant}/agents/A/{i}", request_id=f"req-{i}",
                         outcome="ok", status=200)


def delete_newest(settings: Settings, tenant: str, first: int, last: int) -> None:
    """What a writer hiding its tracks does: remove entries ``first``..``last``."""
    client = make_client(settings)
    for seq in range(first, last + 1):
        client.delete_item(TableName=settings.table("Audit"), Key=to_item(
            {"tenantId": tenant, "entryId": str(seq).zfill(SEQ_WIDTH)}))


async def anchored(stores: Stores, tenant: str = "t1") -> Any:
    latest = await stores.anchors.latest(tenant)
    return await verify_anchored(stores.audit, tenant, [latest] if latest else [])


@pytest.mark.parametrize("removed", [1, 3])
async def test_removing_the_newest_entries_after_an_anchor_fails_verify(
        settings: Settings, stores: Stores, removed: int) -> None:
    await add(stores.audit, n=6)
    published = await anchor_tenant(stores.audit, stores.anchors, "t1")
    assert published.moved and published.anchor.seq == 6
    report = await anchored(stores)
    assert report.ok and report.missing == 0 and report.unanchored == 0

    delete_newest(settings, "t1", 7 - removed, 6)
    assert (await stores.audit.verify("t1")).ok, "the chain alone cannot see this"
    report = await anchored(stores)
    assert not report.ok and report.missing == removed
    assert report.entries == 6 - removed
    assert f"at least {removed} newest entries removed" in (report.reason or "")


async def test_entries_after_the_anchor_pass_and_are_counted_unanchored(
        stores: Stores) -> None:
    await add(stores.audit, n=4)
    await anchor_tenant(stores.audit, stores.anchors, "t1")
    await add(stores.audit, n=2)
    report = await anchored(stores)
    assert report.ok and report.entries == 6 and report.unanchored == 2
    assert report.anchor is not None and report.anchor.seq == 4


async def test_a_cut_chain_grown_back_past_its_anchor_is_a_rewrite(
        settings: Settings, stores: Stores) -> None:
    await add(stores.audit, n=5)
    await anchor_tenant(stores.audit, stores.anchors, "t1")
    delete_newest(settings, "t1", 4, 5)
    await add(open_stores(settings).audit, n=3)  # a fresh writer, no cached head: 4, 5, 6 again
    assert (await stores.audit.verify("t1")).ok
    report = await anchored(stores)
    assert not report.ok and report.broken_at == "000000000005"
    assert "rewritten" in (report.reason or "")


async def test_the_anchor_never_moves_backwards(settings: Settings, stores: Stores) -> None:
    anchors = stores.anchors
    assert (await anchors.publish("t1", 5, "h5")).moved
    back = await anchors.publish("t1", 3, "h3")
    assert not back.moved and back.anchor.seq == 5 and "behind the anchor" in (back.reason or "")
    other = await anchors.publish("t1", 5, "forged")
    assert not other.moved and "rewritten" in (other.reason or "")
    assert (await anchors.publish("t1", 5, "h5")).moved, "the same head again is fine"
    await anchors.register("t1")  # listing an anchored tenant leaves its anchor alone
    latest = await anchors.latest("t1")
    assert latest is not None and (latest.seq, latest.hash) == (5, "h5")
    assert (await anchors.publish("t1", 7, "h7")).moved
    assert (await anchors.latest("t1")) is not None

    # Cutting the chain, then anchoring: refused, and the anchor stays where it was.
    await add(stores.audit, tenant="t2", n=4)
    await anchor_tenant(stores.audit, stores.anchors, "t2")
    delete_newest(settings, "t2", 3, 4)
    refused = await anchor_tenant(stores.audit, stores.anchors, "t2")
    assert not refused.moved and "2 or more newest entries removed" in (refused.reason or "")
    t2 = await anchors.latest("t2")
    assert t2 is not None and t2.seq == 4


async def test_every_tenant_with_a_chain_is_listed_and_anchored(stores: Stores) -> None:
    await add(stores.audit, tenant="acme", n=2)
    await add(stores.audit, tenant="zeta", n=3)
    assert await stores.anchors.tenants() == ["acme", "zeta"]
    outcome = await anchor_all(stores.audit, stores.anchors)
    assert {t: (r["seq"], r["moved"]) for t, r in outcome.items()} == {
        "acme": (2, True), "zeta": (3, True)}


async def test_a_checkpoint_still_catches_a_cut_when_the_table_anchor_is_gone(
        settings: Settings, stores: Stores) -> None:
    await add(stores.audit, n=5)
    await anchor_tenant(stores.audit, stores.anchors, "t1")
    latest = await stores.anchors.latest("t1")
    assert latest is not None
    kept = checkpoint(settings.stage, [latest])
    # Someone with the table's permissions removes entries and the anchor with them.
    delete_newest(settings, "t1", 5, 5)
    make_client(settings).delete_item(TableName=settings.table("AuditAnchors"),
                                      Key=to_item({"tenantId": "t1", "kind": "head"}))
    assert (await anchored(stores)).ok, "without any anchor only the chain is checked"
    from_file = read_checkpoint(kept, "t1")
    assert from_file == latest and read_checkpoint(kept, "other") is None
    report = await verify_anchored(stores.audit, "t1", [from_file])
    assert not report.ok and report.missing == 1


def test_an_altered_checkpoint_is_refused() -> None:
    kept = checkpoint("dev", [Anchor("t1", 9, "ab" * 32, "2026-01-01T00:00:00.000+00:00")])
    assert read_checkpoint(kept, "t1") is not None
    kept["anchors"][0]["seq"] = 3
    with pytest.raises(ValueError, match="altered"):
        read_checkpoint(kept, "t1")
    with pytest.raises(ValueError, match="not an audit checkpoint"):
        read_checkpoint({"anchors": []}, "t1")


async def test_a_newer_anchor_published_meanwhile_is_no_finding(
        stores: Stores, monkeypatch: pytest.MonkeyPatch) -> None:
    await add(stores.audit, n=3)
    stale = await stores.audit.head("t1")
    await add(stores.audit, n=1)
    assert (await anchor_tenant(stores.audit, stores.anchors, "t1")).anchor.seq == 4
    # A second publisher read the head before the first published a newer one.
    reads = [stale]
    real_head = stores.audit.head

    async def head(tenant: str) -> tuple[int, str]:
        return reads.pop() if reads else await real_head(tenant)

    monkeypatch.setattr(stores.audit, "head", head)
    late = await anchor_tenant(stores.audit, stores.anchors, "t1")
    assert not late.moved and late.reason is None and late.anchor.seq == 4
