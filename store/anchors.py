"""Anchors of the audit chains: each tenant's head (sequence, hash), published where the audit
writers do not rewrite it, so that removing the newest audit entries is detected.

A hash chain shows any edit, insertion or removal inside it, but a chain cut short at its end
still verifies (``store.audit``). Publishing the head now and then closes that: a chain shorter
than its anchor, or whose entry at the anchor's sequence has another hash, has lost or rewritten
entries. Two places hold anchors:

* ``ClinisightAuditAnchors-{stage}``, one item per tenant (sort key ``kind = "head"``), written
  only with a condition that lets its sequence move forward (the same sequence is accepted only
  with the same hash). The audit appenders register a tenant here at seq 0 the first time they
  write for it in a process, so the periodic pass (``serve.sweeper``) finds every tenant through
  the sparse ``listed`` index. The condition stops a rolled-back or stale writer, not someone
  holding the table's PutItem permission; for that:
* a checkpoint file (``clinisight audit anchor`` writes one): every anchor published, with the
  SHA-256 of its canonical JSON, for an auditor to keep where nobody can rewrite it (S3 Object
  Lock in compliance mode on AWS; README). ``clinisight audit verify --checkpoint FILE`` checks
  the chain against it as well.

What an anchor cannot show: entries appended after it and removed before the next one. The
verify report says how many entries that window holds now (``unanchored``).
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from store.audit import GENESIS, AuditLog
from store.dynamo import DynamoTable
from store.errors import ConditionFailed, StoreError

HEAD = "head"
CHECKPOINT_FORMAT = "clinisight-audit-checkpoint/1"


@dataclass(frozen=True)
class Anchor:
    tenant: str
    seq: int
    hash: str
    at: str

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Published:
    """What ``AnchorStore.publish`` did: ``anchor`` is the table's anchor afterwards."""

    anchor: Anchor
    moved: bool  # the table holds this head now (also when it already did)
    reason: str | None = None  # why it did not move, when that is a finding

    def public(self) -> dict[str, Any]:
        return {**self.anchor.public(), "moved": self.moved, "reason": self.reason}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _anchor(item: dict[str, Any]) -> Anchor:
    return Anchor(str(item["tenantId"]), int(item["seq"]), str(item["hash"]), str(item["at"]))


class AnchorStore:
    """The anchors table."""

    def __init__(self, client: Any, table_name: str, executor: ThreadPoolExecutor) -> None:
        self.table = DynamoTable(client, table_name, executor)

    async def register(self, tenant: str) -> None:
        """List ``tenant`` for the periodic pass (an anchor at seq 0, if it has none yet)."""
        try:
            await self.table.put(
                {"tenantId": tenant, "kind": HEAD, "seq": 0, "hash": GENESIS, "at": _now(),
                 "listed": "1"},
                condition="attribute_not_exists(tenantId)")
        except ConditionFailed:  # listed already
            pass

    async def latest(self, tenant: str) -> Anchor | None:
        item = await self.table.get({"tenantId": tenant, "kind": HEAD})
        return _anchor(item) if item else None

    async def publish(self, tenant: str, seq: int, hash_: str) -> Published:
        """Move ``tenant``'s anchor to (seq, hash) unless that would move it backwards or give
        an anchored sequence another hash; either is a finding (the chain lost or rewrote
        entries since), reported and never written."""
        new = Anchor(tenant, seq, hash_, _now())
        try:
            await self.table.put(
                {"tenantId": tenant, "kind": HEAD, "seq": seq, "hash": hash_, "at": new.at,
                 "listed": "1"},
                condition="attribute_not_exists(tenantId) OR seq < :seq OR "
                "(seq = :seq AND #h = :h)",
                values={":seq": seq, ":h": hash_}, names={"#h": "hash"})
        except ConditionFailed:  # a newer head is published, or another hash at this one
            current = await self.latest(tenant)
            if current is None:  # removed in between: publish on the next pass
                return Published(new, False, "the anchor changed during publication")
            if current.seq > seq:
                return Published(current, False,
                                 f"chain head {seq} is behind the anchor at {current.seq}: "
                                 f"{current.seq - seq} or more newest entries removed")
            return Published(current, False,
                             f"entry {seq} has another hash than the one anchored: rewritten")
        return Published(new, True)

    async def tenants(self) -> list[str]:
        """Every tenant registered or anchored, through the sparse index (no scan)."""
        items = await self.table.query("listed = :l", {":l": "1"}, index="listed")
        return sorted({str(i["tenantId"]) for i in items})

    async def ping(self) -> None:
        await self.table.ping()


async def anchor_tenant(audit: AuditLog, anchors: AnchorStore, tenant: str) -> Published:
    """Publish ``tenant``'s current chain head."""
    seq, head = await audit.head(tenant)
    published = await anchors.publish(tenant, seq, head)
    if published.reason and published.anchor.seq > seq:
        # Another publisher (the sweeper, the CLI) may have anchored a newer head after our
        # read: only a chain still behind the anchor has lost entries.
        now, _ = await audit.head(tenant)
        if now >= published.anchor.seq:
            return Published(published.anchor, False)
    return published


@dataclass(frozen=True)
class AnchoredReport:
    """``verify_anchored``'s answer: the chain's own check, then each anchor's."""

    tenant: str
    ok: bool
    entries: int
    head: str
    anchor: Anchor | None  # the newest of the anchors checked
    missing: int  # entries the chain lacks below an anchor (a lower bound)
    unanchored: int  # entries after the newest anchor: their removal would not show
    broken_at: str | None = None
    reason: str | None = None

    def public(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "ok": self.ok, "entries": self.entries,
                "head": self.head, "anchor": self.anchor.public() if self.anchor else None,
                "missing": self.missing, "unanchored": self.unanchored,
                "brokenAt": self.broken_at, "reason": self.reason}


async def verify_anchored(audit: AuditLog, tenant: str,
                          anchors: list[Anchor]) -> AnchoredReport:
    """Verify ``tenant``'s chain, then that it reaches every anchor in ``anchors`` with the
    anchored hash at the anchored sequence."""
    chain = await audit.verify(tenant)
    newest = max(anchors, key=lambda a: a.seq, default=None)
    report = AnchoredReport(tenant, chain.ok, chain.entries, chain.head, newest, 0,
                            max(chain.entries - (newest.seq if newest else 0), 0),
                            chain.broken_at, chain.reason)
    if not chain.ok:
        return report
    for anchor in sorted(anchors, key=lambda a: -a.seq):
        if anchor.seq == 0:
            continue
        if chain.entries < anchor.seq:
            missing = anchor.seq - chain.entries
            return _failed(report, missing, f"the chain ends at entry {chain.entries} but was "
                           f"anchored at {anchor.seq} ({anchor.at}): at least {missing} newest "
                           "entries removed")
        (entry,) = await audit.entries(tenant, after=anchor.seq - 1, limit=1)
        if entry.hash != anchor.hash:
            return _failed(report, 0, f"entry {anchor.seq} does not have the hash anchored at "
                           f"{anchor.at}: the chain was rewritten", entry.entry_id)
    return report


def _failed(report: AnchoredReport, missing: int, reason: str,
            broken_at: str | None = None) -> AnchoredReport:
    return AnchoredReport(report.tenant, False, report.entries, report.head, report.anchor,
                          missing, report.unanchored, broken_at, reason)


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def checkpoint(stage: str, anchors: list[Anchor]) -> dict[str, Any]:
    """The auditor's export of ``anchors``: canonical JSON with its own SHA-256, which shows
    damage to the file; keeping it unrewritable is the storage's job (Object Lock)."""
    body = {"format": CHECKPOINT_FORMAT, "stage": stage, "at": _now(),
            "anchors": [a.public() for a in sorted(anchors, key=lambda a: a.tenant)]}
    return {**body, "sha256": _digest(body)}


def read_checkpoint(data: dict[str, Any], tenant: str) -> Anchor | None:
    """``tenant``'s anchor in a checkpoint; ``ValueError`` if the file is not one or altered."""
    body = {k: v for k, v in data.items() if k != "sha256"}
    if data.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"not an audit checkpoint (format {data.get('format')!r})")
    if _digest(body) != data.get("sha256"):
        raise ValueError("the checkpoint's sha256 does not match its contents (altered)")
    for a in data.get("anchors", []):
        if a.get("tenant") == tenant:
            return Anchor(str(a["tenant"]), int(a["seq"]), str(a["hash"]), str(a["at"]))
    return None


async def anchor_all(audit: AuditLog, anchors: AnchorStore,
                     tenants: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Publish the head of each of ``tenants`` (default: every listed tenant); one tenant
    failing does not stop the others. Per tenant: ``Published.public()`` or ``{"error": …}``."""
    out: dict[str, dict[str, Any]] = {}
    for tenant in tenants if tenants is not None else await anchors.tenants():
        try:
            out[tenant] = (await anchor_tenant(audit, anchors, tenant)).public()
        except StoreError as exc:
            out[tenant] = {"tenant": tenant, "error": f"{type(exc).__name__}: {exc}"}
    return out
