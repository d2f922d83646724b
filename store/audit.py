"""The audit trail: who read or changed which tenant data, when, and with what outcome.

Items are keyed by (``tenantId``, ``entryId``). Each tenant's entries form a hash chain:
``entryId`` is the entry's sequence number, zero-padded so that it sorts in append order, and
every entry stores the previous entry's hash (``prevHash``) and its own
(``hash = sha256(canonical JSON of the entry's fields, prevHash included)``). Changing any field
of any entry, removing or inserting one breaks the chain at that point (``verify``). Removing
the newest entries is the one change a chain cannot show by itself; anchoring the head
elsewhere (``store.anchors``) covers that.

Blocks: the intake's drainer appends the entries of many deliveries at once (``append_block``),
one item holding up to ``BLOCK_MAX`` consecutive entries, keyed by its first entry's number
(``count`` says how many). Every entry inside keeps its own number, ``prevHash`` and ``hash``,
so the chain is the same entry by entry whichever way it was written, and ``verify``,
``entries`` and the anchors read entries, never items. An item always starts right after the
newest item's last entry, so items tile the sequence: editing an entry inside a block, removing
a block or swapping two blocks breaks the chain exactly as it does for single entries. One
conditional put per block instead of per request is what lets the audit keep pace with a burst.

Append-only: the chain only ever puts a new sequence number, put-if-absent. Concurrent writers
(ingress replicas) race for the next number; the loser re-reads the head and tries the next one,
so no entry is overwritten and the chain has no fork.

``AuditLog`` does all of the above (numbering, hashing, blocks, the race, reading and verifying
entries) once; a backend only stores and reads items (``_put_new``, ``_last_item``,
``_item_holding``, ``_items_after``), so the in-memory twin (``InMemoryAuditLog``, for tests
and offline tools) cannot drift from the chain format of the DynamoDB log
(``store.audit_dynamo.DynamoAuditLog``). ``tests/store/test_audit.py`` runs one suite over both.

Entries hold ids and action names, never free text: every string still passes through
``compliance.phi.redact`` before it is hashed and stored. A field whose PHI check fails is stored
(and hashed) as ``compliance.fail_closed.WITHHELD``, and the entry is still appended: a gap in
the trail would hide the access, a withheld actor or resource only blurs it.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import logging
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

import metrics
from compliance.fail_closed import redact_or
from store.errors import AlreadyExists, StoreError, StoreUnavailable

log = logging.getLogger("clinisight.audit")

GENESIS = "0" * 64
SEQ_WIDTH = 12  # 10^12 entries per tenant before the sort order would break
MAX_APPEND_ATTEMPTS = 50
# The fields a hash covers, in the order the canonical JSON sorts them anyway.
HASHED = ("tenantId", "entryId", "at", "actor", "action", "resource", "requestId", "outcome",
          "status", "prevHash")
MAX_FIELD_CHARS = 512
# Entries per block item: at most ~3 KB each (five fields of 512 characters and the rest), so a
# block stays well under DynamoDB's 400 KB item limit.
BLOCK_MAX = 100
# The fields of an entry the caller supplies; the chain adds tenantId, entryId and the hashes.
ENTRY_FIELDS = ("at", "actor", "action", "resource", "requestId", "outcome", "status")


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


def expand(item: dict[str, Any]) -> list[dict[str, Any]]:
    """The entries an item holds: the item itself (one entry), or a block's list."""
    if "entries" not in item:
        return [item]
    entries = item["entries"]
    if not isinstance(entries, list):
        return []
    # Numbers inside a nested map come back as Decimal (from_item converts the top level).
    return [{k: int(v) if isinstance(v, Decimal) else v for k, v in e.items()}
            for e in entries if isinstance(e, dict)]


class AuditLog(ABC):
    """Append and read per-tenant hash chains; a backend supplies the four item primitives
    and ``ping``."""

    def __init__(self, head_cache: int = 10_000,
                 register: Callable[[str], Awaitable[None]] | None = None) -> None:
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
        last = await self._last_item(tenant)
        if not last:
            return 0, GENESIS
        newest = expand(last)[-1]
        return int(newest["entryId"]), str(newest["hash"])

    def _remember(self, tenant: str, head: tuple[int, str]) -> None:
        self._heads[tenant] = head
        self._heads.move_to_end(tenant)
        while len(self._heads) > self._head_cache:
            self._heads.popitem(last=False)

    async def append(self, tenant: str, *, actor: str, action: str, resource: str,
                     request_id: str, outcome: str, status: int) -> AuditEntry:
        """Add an entry at the end of ``tenant``'s chain; return it as stored."""
        try:
            entry = await self._append(tenant, actor=actor, action=action, resource=resource,
                                       request_id=request_id, outcome=outcome, status=status)
        except Exception:
            metrics.inc("clinisight_audit_appends_total", outcome="error")
            raise
        metrics.inc("clinisight_audit_appends_total", outcome="ok")
        return entry

    async def _append(self, tenant: str, *, actor: str, action: str, resource: str,
                      request_id: str, outcome: str, status: int) -> AuditEntry:
        # Appends of one tenant from this process go one at a time: racing ourselves would only
        # turn into conditional-put failures. Other replicas are handled by the condition.
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            entry = {"at": datetime.now(UTC).isoformat(timespec="milliseconds"),
                     "actor": actor, "action": action, "resource": resource,
                     "requestId": request_id, "outcome": outcome, "status": status}
            (stored,) = await self._put_linked(tenant, [entry], block=False)
            return stored

    async def append_block(self, tenant: str, entries: list[dict[str, Any]]) -> list[AuditEntry]:
        """Add ``entries`` (each with the ``ENTRY_FIELDS``) at the end of ``tenant``'s chain,
        ``BLOCK_MAX`` to an item, one conditional put per item; return them as stored."""
        out: list[AuditEntry] = []
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:
            for i in range(0, len(entries), BLOCK_MAX):
                try:
                    out.extend(await self._put_linked(tenant, entries[i : i + BLOCK_MAX],
                                                      block=True))
                except Exception:
                    metrics.inc("clinisight_audit_appends_total", outcome="error")
                    raise
        if out:
            metrics.inc("clinisight_audit_appends_total", len(out), outcome="ok")
        return out

    async def _put_linked(self, tenant: str, entries: list[dict[str, Any]],
                          block: bool) -> list[AuditEntry]:
        """Chain ``entries`` after the head and put them as one item (a block, or a single
        entry as before blocks existed); re-read the head and retry when another writer took
        the next number. The caller holds the tenant's lock."""
        head = self._heads.get(tenant) or await self._read_head(tenant)
        cleaned = [{k: (int(e[k]) if k == "status" else e[k] if k == "at" else _clean(str(e[k])))
                    for k in ENTRY_FIELDS} for e in entries]
        for _ in range(MAX_APPEND_ATTEMPTS):
            seq, prev = head
            linked: list[dict[str, Any]] = []
            for n, entry in enumerate(cleaned, start=1):
                fields: dict[str, Any] = {"tenantId": tenant, "entryId": _seq_id(seq + n),
                                          **entry, "prevHash": prev}
                fields["hash"] = prev = entry_hash(fields)
                linked.append(fields)
            item = ({"tenantId": tenant, "entryId": _seq_id(seq + 1), "count": len(linked),
                     "entries": linked} if block else linked[0])
            try:
                await self._put_new(item)
            except AlreadyExists:
                head = await self._read_head(tenant)  # another writer took seq + 1
                continue
            self._remember(tenant, (seq + len(linked), linked[-1]["hash"]))
            await self._listed(tenant)
            return [AuditEntry.model_validate(f) for f in linked]
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
        cursor = None  # read from the item holding entry ``after + 1`` (a block may start earlier)
        if after > 0:
            holder = await self._item_holding(tenant, _seq_id(after + 1))
            if holder is not None and int(holder["entryId"]) > 1:
                cursor = _seq_id(int(holder["entryId"]) - 1)
        while limit is None or len(out) < limit:
            want = page_size if limit is None else min(page_size, limit - len(out))
            items = await self._items_after(tenant, cursor, want)
            for item in items:
                out.extend(AuditEntry.model_validate(e) for e in expand(item)
                           if int(e["entryId"]) > after)
            if len(items) < want:
                break
            cursor = items[-1]["entryId"]
        return out if limit is None else out[:limit]

    async def verify(self, tenant: str, page_size: int = 500) -> ChainReport:
        """Walk the whole chain: numbers 1, 2, 3 …, each ``prevHash`` the previous ``hash``,
        each ``hash`` recomputed from the entry's fields."""
        prev, count, cursor = GENESIS, 0, None
        while True:
            items = await self._items_after(tenant, cursor, page_size)
            for item in items:
                entries = expand(item)
                if "entries" in item and (item.get("count") != len(entries) or not entries
                                          or entries[0].get("entryId") != item["entryId"]):
                    return ChainReport(tenant, False, count, prev, str(item.get("entryId")),
                                       "block does not hold the entries its key and count "
                                       "name (modified)")
                for entry in entries:
                    entry_id = str(entry.get("entryId"))
                    problem = None
                    if entry_id != _seq_id(count + 1):
                        problem = (f"expected entry {_seq_id(count + 1)}: entries missing or "
                                   "inserted")
                    elif any(k not in entry for k in (*HASHED, "hash")):
                        problem = "fields missing"
                    elif entry["tenantId"] != tenant:
                        problem = "entry of another tenant"
                    elif entry["prevHash"] != prev:
                        problem = "prevHash is not the previous entry's hash"
                    elif entry_hash(entry) != entry["hash"]:
                        problem = "hash does not match the entry's fields (modified)"
                    if problem:
                        return ChainReport(tenant, False, count, prev, entry_id, problem)
                    prev, count = entry["hash"], count + 1
            if len(items) < page_size:
                return ChainReport(tenant, True, count, prev)
            cursor = items[-1]["entryId"]

    # What a backend supplies: items as stored (a single entry, or a block), keyed by
    # (tenantId, entryId), entry ids compared as strings (they are zero-padded numbers).

    @abstractmethod
    async def _put_new(self, item: dict[str, Any]) -> None:
        """Store ``item`` unless its key is taken; ``AlreadyExists`` if it is."""

    @abstractmethod
    async def _last_item(self, tenant: str) -> dict[str, Any] | None:
        """The tenant's item with the highest entry id (a consistent read), or None."""

    @abstractmethod
    async def _item_holding(self, tenant: str, entry_id: str) -> dict[str, Any] | None:
        """The item keyed ``entry_id`` or, failing that, the nearest before it (the block
        that holds entry ``entry_id``, if it exists)."""

    @abstractmethod
    async def _items_after(self, tenant: str, after: str | None,
                           limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` items keyed after ``after`` (from the first if None), in key order."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise ``StoreUnavailable`` if the log cannot be reached."""


class InMemoryAuditLog(AuditLog):
    """For tests and offline tools only: one process, nothing persisted.

    ``items`` (tenant → entry id → item) is the storage; pass one log's ``items`` to another
    to get a second writer with its own head cache, as another replica would be. Tests also
    change it to tamper with a chain, as they change the table under the DynamoDB log. Each
    primitive yields to the event loop first, as a call to a server would, so that concurrent
    writers interleave and race for numbers here too; the check and the write of ``_put_new``
    have no await between them, which makes it put-if-absent."""

    def __init__(self, head_cache: int = 10_000,
                 register: Callable[[str], Awaitable[None]] | None = None,
                 items: dict[str, dict[str, dict[str, Any]]] | None = None) -> None:
        super().__init__(head_cache=head_cache, register=register)
        self.items: dict[str, dict[str, dict[str, Any]]] = {} if items is None else items

    async def _put_new(self, item: dict[str, Any]) -> None:
        await asyncio.sleep(0)
        chain = self.items.setdefault(item["tenantId"], {})
        if item["entryId"] in chain:
            raise AlreadyExists(f"audit entry {item['entryId']} of {item['tenantId']!r}")
        chain[item["entryId"]] = copy.deepcopy(item)

    def _keys(self, tenant: str) -> list[str]:
        return sorted(self.items.get(tenant, {}))

    def _read(self, tenant: str, key: str) -> dict[str, Any]:
        return copy.deepcopy(self.items[tenant][key])

    async def _last_item(self, tenant: str) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        keys = self._keys(tenant)
        return self._read(tenant, keys[-1]) if keys else None

    async def _item_holding(self, tenant: str, entry_id: str) -> dict[str, Any] | None:
        await asyncio.sleep(0)
        before = [k for k in self._keys(tenant) if k <= entry_id]
        return self._read(tenant, before[-1]) if before else None

    async def _items_after(self, tenant: str, after: str | None,
                           limit: int) -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        keys = [k for k in self._keys(tenant) if after is None or k > after]
        return [self._read(tenant, k) for k in keys[:limit]]

    async def ping(self) -> None:
        return None
