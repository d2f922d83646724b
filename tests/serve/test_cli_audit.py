"""``clinisight audit anchor`` and ``audit verify`` against a real dynalite, in-process: the
operator's commands print JSON, and verify fails (exit 1, JSON says why) once the newest entries
of a tenant were removed after an anchor."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings
from serve.cli import main
from store.audit import SEQ_WIDTH
from store.dynamo import make_client, to_item
from store.factory import open_stores


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> Any:
    monkeypatch.setenv("CLINISIGHT_STAGE", settings.stage)
    monkeypatch.setenv("CLINISIGHT_DYNAMODB_ENDPOINT", str(settings.dynamodb_endpoint))
    monkeypatch.setenv("CLINISIGHT_DATA_DIR", str(settings.data_dir))

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        with pytest.raises(SystemExit) as exited:
            main(list(args))
        return int(exited.value.code or 0), json.loads(capsys.readouterr().out)

    return run


def audited(settings: Settings, tenant: str, n: int) -> None:
    audit = open_stores(settings).audit

    async def append() -> None:
        for i in range(n):
            await audit.append(tenant, actor="acct-1", action="event.read", resource=f"r{i}",
                               request_id=f"q{i}", outcome="ok", status=200)

    asyncio.run(append())  # the tests are sync: the CLI runs its own event loop


def remove(settings: Settings, tenant: str, *seqs: int) -> None:
    client = make_client(settings)
    for seq in seqs:
        client.delete_item(TableName=settings.table("Audit"), Key=to_item(
            {"tenantId": tenant, "entryId": str(seq).zfill(SEQ_WIDTH)}))


def test_verify_fails_once_the_newest_entries_are_removed_after_an_anchor(
        settings: Settings, cli: Any, tmp_path: Path) -> None:
    audited(settings, "acme", 5)
    audited(settings, "zeta", 2)
    code, out = cli("audit", "anchor")  # every tenant
    assert code == 0 and out["ok"], out
    assert {t: r["seq"] for t, r in out["anchors"].items()} == {"acme": 5, "zeta": 2}
    kept = json.loads(Path(out["checkpoint"]).read_text())
    assert Path(out["checkpoint"]).is_relative_to(settings.data_dir)
    assert kept["sha256"] == out["sha256"] and len(kept["anchors"]) == 2

    code, report = cli("audit", "verify", "--tenant", "acme")
    assert code == 0 and report["ok"] and report["missing"] == 0, report
    assert report["anchor"]["seq"] == 5

    remove(settings, "acme", 4, 5)
    code, report = cli("audit", "verify", "--tenant", "acme")
    assert code == 1 and not report["ok"] and report["missing"] == 2, report
    assert "at least 2 newest entries removed" in report["reason"]
    code, report = cli("audit", "verify", "--tenant", "zeta")
    assert code == 0 and report["ok"], "another tenant is not affected"

    # Anchoring the cut chain is refused (non-zero, the reason named); the anchor stays.
    code, out = cli("audit", "anchor", "--tenant", "acme", "--out",
                    str(tmp_path / "after-cut.json"))
    assert code == 1 and out["failed"] == ["acme"]
    assert "behind the anchor" in out["anchors"]["acme"]["reason"]
    assert out["anchors"]["acme"]["seq"] == 5


def test_verify_against_the_auditors_checkpoint(settings: Settings, cli: Any,
                                                       tmp_path: Path) -> None:
    audited(settings, "acme", 3)
    checkpoint = tmp_path / "kept.json"
    code, out = cli("audit", "anchor", "--tenant", "acme", "--out", str(checkpoint))
    assert code == 0 and out["checkpoint"] == str(checkpoint)
    # The table's anchor is deleted along with the newest entry; the checkpoint remembers.
    remove(settings, "acme", 3)
    make_client(settings).delete_item(TableName=settings.table("AuditAnchors"),
                                      Key=to_item({"tenantId": "acme", "kind": "head"}))
    code, report = cli("audit", "verify", "--tenant", "acme")
    assert code == 0 and report["anchor"] is None and report["unanchored"] == 2
    code, report = cli("audit", "verify", "--tenant", "acme", "--checkpoint", str(checkpoint))
    assert code == 1 and report["missing"] == 1, report

    altered = json.loads(checkpoint.read_text())
    altered["anchors"][0]["seq"] = 2
    checkpoint.write_text(json.dumps(altered))
    code, out = cli("audit", "verify", "--tenant", "acme", "--checkpoint", str(checkpoint))
    assert code == 1 and "altered" in out["error"]


def test_verify_needs_a_tenant(cli: Any) -> None:
    code, out = cli("audit", "verify")
    assert code == 1 and "--tenant" in out["error"]


def blocks(settings: Settings, tenant: str, sizes: list[int]) -> None:
    """A chain of single entries and blocks, as the ingress and the drainer write it."""
    audit = open_stores(settings).audit

    async def append() -> None:
        await audit.append(tenant, actor="acct-1", action="event.read", resource="r",
                           request_id="q", outcome="ok", status=200)
        for b, size in enumerate(sizes):
            await audit.append_block(tenant, [
                {"at": "2026-12-05T06:00:00.000+00:00", "actor": "acct-1",
                 "action": "event.ingest", "resource": f"/v1/forge/events#eventId=e{b}-{i}",
                 "requestId": f"b{b}-{i}", "outcome": "ok", "status": 202}
                for i in range(size)])

    asyncio.run(append())


def _item(settings: Settings, tenant: str, seq: int) -> dict[str, Any]:
    resp = make_client(settings).get_item(TableName=settings.table("Audit"), Key=to_item(
        {"tenantId": tenant, "entryId": str(seq).zfill(SEQ_WIDTH)}))
    return dict(resp["Item"])


def _put(settings: Settings, item: dict[str, Any]) -> None:
    make_client(settings).put_item(TableName=settings.table("Audit"), Item=item)


@pytest.mark.parametrize("tamper", ["edited", "deleted", "reordered"])
def test_verify_catches_an_edited_deleted_or_reordered_block(
        settings: Settings, cli: Any, tamper: str) -> None:
    blocks(settings, "acme", [3, 4, 2])  # items at 1 (single), 2-4, 5-8, 9-10
    code, out = cli("audit", "verify", "--tenant", "acme")
    assert code == 0 and out["ok"] and out["entries"] == 10, out
    listed = cli("audit", "list", "--tenant", "acme", "--after", "3", "--limit", "4")[1]
    assert [e["entryId"][-2:] for e in listed["entries"]] == ["04", "05", "06", "07"]
    second = _item(settings, "acme", 5)
    if tamper == "edited":  # one entry inside a block changes its resource
        second["entries"]["L"][1]["M"]["resource"] = {"S": "/v1/forge/events#eventId=other"}
        _put(settings, second)
    elif tamper == "deleted":
        remove(settings, "acme", 5)
    else:  # two blocks of the same size swap places
        first = _item(settings, "acme", 2)
        third = _item(settings, "acme", 9)
        first["entryId"], third["entryId"] = third["entryId"], first["entryId"]
        first["count"], third["count"] = third["count"], first["count"]
        _put(settings, first)
        _put(settings, third)
    code, out = cli("audit", "verify", "--tenant", "acme")
    assert code == 1 and not out["ok"], out
    assert out["brokenAt"] is not None and out["reason"]
