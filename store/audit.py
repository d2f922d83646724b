"""The audit trail: who read or changed which tenant data, when, and with what outcome.

``ClinisightAudit-{stage}``, partition ``tenantId``, sort ``entryId``. Each tenant's entries form
a hash chain: ``entryId`` is the entry's sequence number, zero-padded so that it sorts in append
order, and every entry stores the previous entry's hash (``prevHash``) and its own
(``hash = sha256(canonical JSON of the entry's fields, prevHash included)``). Changing any field
of any entry, removing or inserting one breaks the chain at that point (``verify``). Removing
the newest entries is the one change a chain cannot show by itself; anchoring the head
elsewhere (``store.anchors``) covers that.

Append-only: this module only ever puts a new sequence number, conditionally on
``attribute_not_exists(entryId)``. Concurrent writers (ingress replicas) race for the next
number; the loser re-reads the head and tries the next one, so no entry is overwritten and the
chain has no fork. Real DynamoDB transactions would not add anything here (and dynalite lacks
them). The table has no TTL: entries are kept for as long as the table is, which must be at
least the six years HIPAA asks for (45 CFR 164.316(b)(2)); we say seven.

Entries hold ids and action names, never free text: every string still passes through
``compliance.phi.redact`` before it is hashed and stored. A field whose PHI check fails is stored
(and hashed) as ``compliance.fail_closed.WITHHELD``, and the entry is still appended: a gap in
the trail would hide the access, a withheld actor or resource only blurs it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from compliance.fail_closed import redact_or
from store.dynamo import DynamoTable, from_item, to_item
from store.errors import AlreadyExists, StoreError, StoreUnavailable

log = logging.getLogger("clinisight.audit")

GENESIS = "0" * 64
SEQ_WIDTH = 12  # 10^12 entries per tenant before the sort order would break
MAX_APPEND_ATTEMPTS = 50
# The fields a hash covers, in the order the canonical JSON sorts them anyway.
HASHED = ("tenantId", "entryId", "at", "actor", "action", "resource", "requestId", "outcome",
          "status", "prevHash")
MAX_FIELD_CHARS = 512


class AuditEntry(BaseModel):
    """One stored entry (``hash`` covers every other field)."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    tenant: str = Field(alias="tenantId")
    entry_id: str = Field(alias="entryId")
    at: str
    actor: str
    action: str
    resource: str
    request_id: str = Field(alias="requestId")
    outcome: str
    status: int
    prev_hash: str = Field(alias="prevHash")
    hash: str

    @property
    def seq(self) -> int:
        return int(self.entry_id)

    def public(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` found: ``ok`` and, if not, the first entry that breaks the chain."""

    tenant: str
    ok: bool
    entries: int
    head: str
    broken_at: str | None = None
    reason: str | None = None

    def public(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "ok": self.ok, "entries": self.entries,
                "head": self.head, "brokenAt": self.broken_at, "reason": self.reason}


def entry_hash(fields: dict[str, Any]) -> str:
    """sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the hashed fields."""
    canonical = json.dumps({k: fields[k] for k in HASHED}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _seq_id(seq: int) -> str:
    return str(seq).zfill(SEQ_WIDTH)


def _clean(value: str) -> str:
    return redact_or(value[:MAX_FIELD_CHARS])


class _AuditTable(DynamoTable):
    async def last(self, tenant: str) -> dict[str, Any] | None:
        """The newest entry of a tenant (a consistent read, newest first, one item)."""
        resp = await self._call(
            self.client.query, TableName=self.name,
            KeyConditionExpression="tenantId = :t",
            ExpressionAttributeValues=to_item({":t": tenant}),
            ScanIndexForward=False, Limit=1, ConsistentRead=True,
        )
        items = resp.get("Items", [])
        return from_item(items[0]) if items else None

    async def page(self, tenant: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` entries after the entry id ``after``, oldest first."""
        condition, values = "tenantId = :t", {":t": tenant}
        if after is not None:  # a key condition may not compare with an empty string
            condition, values = condition + " AND entryId > :after", {**values, ":after": after}
        resp = await self._call(
            self.client.query, TableName=self.name, KeyConditionExpression=condition,
            ExpressionAttributeValues=to_item(values), Limit=limit, ConsistentRead=True,
        )
        return [from_item(i) for i in resp.get("Items", [])]


class AuditLog:
    """Append and read one table's per-tenant hash chains."""

    def __init__(self, client: Any, table_name: str, executor: ThreadPoolExecutor,
                 head_cache: int = 10_000,
                 register: Callable[[str], Awaitable[None]] | None = None) -> None:
        self.table = _AuditTable(client, table_name, executor)
        # Lists a tenant for the periodic anchoring (store.anchors.AnchorStore.register), once
        # per tenant and process: a put that fails its condition after the first time.
        self._register = register
        self._registered: set[str] = set()
        # Per tenant, in this process: the last (seq, hash) we saw, so an append usually costs
        # one conditional put and no read; a stale head only costs a failed put and a re-read.
        self._heads: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._head_cache = head_cache
        self._locks: dict[str, asyncio.Lock] = {}

    async def _read_head(self, tenant: str) -> tuple[int, str]:
        last = await self.table.last(tenant)
        return (int(last["entryId"]), str(last["hash"])) if last else (0, GENESIS)

    def _remember(self, tenant: str, head: tuple[int, str]) -> None:
        self._heads[tenant] = head
        self._heads.move_to_end(tenant)
        while len(self._heads) > self._head_cache:
            self._heads.popitem(last=False)

    async def append(self, tenant: str, *, actor: str, action: str, resource: str,
                     request_id: str, outcome: str, status: int) -> AuditEntry:
        """Add an entry at the end of ``tenant``'s chain; return it as stored."""
        # Appends of one tenant from this process go one at a time: racing ourselves would only
        # turn into conditional-put failures. Other replicas are handled by the condition.
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            head = self._heads.get(tenant) or await self._read_head(tenant)
            for _ in range(MAX_APPEND_ATTEMPTS):
                seq, prev = head
                fields: dict[str, Any] = {
                    "tenantId": tenant,
                    "entryId": _seq_id(seq + 1),
                    "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "actor": _clean(actor),
                    "action": _clean(action),
                    "resource": _clean(resource),
                    "requestId": _clean(request_id),
                    "outcome": _clean(outcome),
                    "status": int(status),
                    "prevHash": prev,
                }
                fields["hash"] = entry_hash(fields)
                try:
                    await self.table.put(fields, condition="attribute_not_exists(entryId)")
                except AlreadyExists:
                    head = await self._read_head(tenant)  # another writer took seq + 1
                    continue
                self._remember(tenant, (seq + 1, fields["hash"]))
                await self._listed(tenant)
                return AuditEntry.model_validate(fields)
        raise StoreUnavailable(
            f"audit append for tenant {tenant!r} lost {MAX_APPEND_ATTEMPTS} races in a row"
        )

    async def _listed(self, tenant: str) -> None:
        if self._register is None or tenant in self._registered:
            return
        try:
            await self._register(tenant)
        except StoreError as exc:  # the entry is in; listing is tried again on the next one
            log.warning("audit anchor registration of tenant %s failed: %s", tenant,
                        type(exc).__name__)
            return
        self._registered.add(tenant)

    async def head(self, tenant: str) -> tuple[int, str]:
        """(number of entries, hash of the newest) of a tenant's chain."""
        return await self._read_head(tenant)

    async def entries(self, tenant: str, after: int = 0, limit: int | None = None,
                      page_size: int = 500) -> list[AuditEntry]:
        """Entries with a sequence number above ``after``, oldest first."""
        out: list[AuditEntry] = []
        cursor = _seq_id(after) if after else None
        while limit is None or len(out) < limit:
            want = page_size if limit is None else min(page_size, limit - len(out))
            items = await self.table.page(tenant, cursor, want)
            out.extend(AuditEntry.model_validate(i) for i in items)
            if len(items) < want:
                break
            cursor = items[-1]["entryId"]
        return out

    async def verify(self, tenant: str, page_size: int = 500) -> ChainReport:
        """Walk the whole chain: numbers 1, 2, 3 …, each ``prevHash`` the previous ``hash``,
        each ``hash`` recomputed from the entry's fields."""
        prev, count, cursor = GENESIS, 0, None
        while True:
            items = await self.table.page(tenant, cursor, page_size)
            for item in items:
                entry_id = str(item.get("entryId"))
                problem = None
                if entry_id != _seq_id(count + 1):
                    problem = f"expected entry {_seq_id(count + 1)}: entries missing or inserted"
                elif any(k not in item for k in (*HASHED, "hash")):
                    problem = "fields missing"
                elif item["prevHash"] != prev:
                    problem = "prevHash is not the previous entry's hash"
                elif entry_hash(item) != item["hash"]:
                    problem = "hash does not match the entry's fields (modified)"
                if problem:
                    return ChainReport(tenant, False, count, prev, entry_id, problem)
                prev, count = item["hash"], count + 1
            if len(items) < page_size:
                return ChainReport(tenant, True, count, prev)
            cursor = items[-1]["entryId"]

    async def ping(self) -> None:
        await self.table.ping()
