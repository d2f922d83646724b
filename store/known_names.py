"""Per-tenant known names: their keyed digests in DynamoDB, and each process's matchers.

``ClinisightPhiNames-{stage}``, partition ``tenantId``, sort ``nameKey``:

* ``n#<digest>``: one registered name, as its keyed digest (``compliance.known_names.digest``,
  hex) with its word count (``words``). Never the name: neither this table, nor a log line, nor
  an audit entry holds one in clear. Each tenant's digests are keyed with its own key, derived
  from ``phi_names_key`` (``tenant_key``), so one name has unrelated digests in two tenants and
  the table does not show which tenants share a patient. A registry of 100k names is 100k
  small items, written 25 to a BatchWriteItem call and read back with a paginated Query.
* ``version``: the tenant's registry version, incremented (``ADD``) after every write. A reader
  compares it with the version its names were read at and reads the names again only when it
  moved: one GetItem per refresh instead of the whole registry.

The version is bumped after the items are written and read before them, so names read at
version v hold at least every write that bumped to v or before; a write that failed midway
leaves some items without a bump, which the next successful write makes visible. No
transactions are needed (dynalite has none).

``KnownNamesCache`` is what the rest of the code uses: each tenant's ``KnownNames`` in this
process, re-checked every ``phi_names_refresh_s``; ``add`` writes through and the process that
accepted the names matches them at once. ``active(tenant)`` makes the tenant's matcher current
(``compliance.known_names.use_known_names``) for a block of work.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import SecretStr

from compliance.known_names import (
    MAX_NAME_CHARS,
    KnownNames,
    digest,
    token_count,
    use_known_names,
)
from store.dynamo import DynamoTable
from store.errors import StoreError

log = logging.getLogger("clinisight.known_names")

NAME_PREFIX = "n#"
VERSION_KEY = "version"
MIN_KEY_CHARS = 32


def tenant_key(key: bytes, tenant: str) -> bytes:
    """The key of one tenant's digests: keyed BLAKE2b of the tenant id under ``key``."""
    return hashlib.blake2b(tenant.encode(), key=key, person=b"clinisight-tnt",
                           digest_size=32).digest()


@dataclass(frozen=True)
class NameDigests:
    """A tenant's registry as read: its version and digest (hex) → word count."""

    version: int
    digests: Mapping[str, int] = field(default_factory=dict)


class NameDigestStore(ABC):
    """What a known-names backend must supply."""

    @abstractmethod
    async def add(self, tenant: str, digests: Mapping[str, int]) -> int:
        """Store each digest (hex → the name's word count); return the tenant's new version.
        Adding a digest already there changes nothing but the version."""

    @abstractmethod
    async def version(self, tenant: str) -> int:
        """The tenant's registry version (0: nothing was ever added)."""

    @abstractmethod
    async def load(self, tenant: str) -> NameDigests:
        """Every digest of the tenant, and the version read before them."""


class InMemoryNameDigestStore(NameDigestStore):
    """For tests and offline tools only: one process, nothing persisted."""

    def __init__(self) -> None:
        self._tenants: dict[str, NameDigests] = {}

    async def add(self, tenant: str, digests: Mapping[str, int]) -> int:
        current = self._tenants.get(tenant, NameDigests(0))
        self._tenants[tenant] = NameDigests(current.version + 1,
                                            {**current.digests, **digests})
        return current.version + 1

    async def version(self, tenant: str) -> int:
        return self._tenants.get(tenant, NameDigests(0)).version

    async def load(self, tenant: str) -> NameDigests:
        current = self._tenants.get(tenant, NameDigests(0))
        return NameDigests(current.version, dict(current.digests))


class _NamesTable(DynamoTable):
    async def digests(self, tenant: str, page_size: int | None) -> dict[str, int]:
        """Every ``n#`` item of the tenant, read raw and projected: 100k items through boto3's
        deserializer would cost seconds of CPU."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": "tenantId = :t AND begins_with(nameKey, :p)",
            "ExpressionAttributeValues": {":t": {"S": tenant}, ":p": {"S": NAME_PREFIX}},
            "ProjectionExpression": "nameKey, words",
            "ConsistentRead": True,
        }
        if page_size:
            kwargs["Limit"] = page_size
        digests: dict[str, int] = {}
        cut = len(NAME_PREFIX)
        while True:
            resp = await self._call(self.client.query, **kwargs)
            for item in resp.get("Items", []):
                digests[item["nameKey"]["S"][cut:]] = int(item["words"]["N"])
            last = resp.get("LastEvaluatedKey")
            if not last:
                return digests
            kwargs["ExclusiveStartKey"] = last


class DynamoNameDigestStore(NameDigestStore):
    """``ClinisightPhiNames-{stage}``: partition ``tenantId``, sort ``nameKey``."""

    def __init__(self, client: Any, table_name: str, executor: ThreadPoolExecutor,
                 page_size: int | None = None) -> None:
        self.table = _NamesTable(client, table_name, executor)
        self.page_size = page_size  # items per Query page (None: DynamoDB's 1 MB pages)

    async def add(self, tenant: str, digests: Mapping[str, int]) -> int:
        await self.table.batch_put([
            {"tenantId": tenant, "nameKey": NAME_PREFIX + d, "words": int(n)}
            for d, n in digests.items()
        ])
        head = await self.table.update({"tenantId": tenant, "nameKey": VERSION_KEY},
                                       "ADD #v :one", {":one": 1}, names={"#v": "version"})
        return int(head["version"])

    async def version(self, tenant: str) -> int:
        head = await self.table.get({"tenantId": tenant, "nameKey": VERSION_KEY})
        return int(head["version"]) if head else 0

    async def load(self, tenant: str) -> NameDigests:
        version = await self.version(tenant)  # before the items: see the module's docstring
        return NameDigests(version, await self.table.digests(tenant, self.page_size))


class KnownNamesNotConfigured(Exception):
    """No key for the known names' digests (``CLINISIGHT_PHI_NAMES_KEY``): none can be added."""


class AddedNames(NamedTuple):
    added: int  # names that were not registered yet (duplicates within a request count once)
    total: int  # the tenant's registered names after the write


@dataclass(frozen=True)
class _Entry:
    version: int
    matcher: KnownNames | None  # None: no names (the digests live only in the matcher)
    checked: float

    @property
    def total(self) -> int:
        return len(self.matcher) if self.matcher is not None else 0


class KnownNamesCache:
    """Each tenant's ``KnownNames`` in this process, re-checked every ``refresh_s``.

    Without a key every tenant has no known names and ``add`` raises
    ``KnownNamesNotConfigured``. When a refresh fails the names already held are kept (and
    checked again after ``refresh_s``); a tenant whose names were never read fails with the
    store's error, so its text is not handled without them.
    """

    def __init__(self, store: NameDigestStore, key: SecretStr | None, refresh_s: float = 60.0,
                 max_tenants: int = 1000, clock: Callable[[], float] = time.monotonic) -> None:
        secret = key.get_secret_value() if key is not None else None
        if secret is not None and len(secret) < MIN_KEY_CHARS:
            raise ValueError(f"the known-names key (CLINISIGHT_PHI_NAMES_KEY) must be at least "
                             f"{MIN_KEY_CHARS} characters")
        self.store = store
        self._key = secret.encode() if secret is not None else None
        self.refresh_s = refresh_s
        self.max_tenants = max_tenants
        self.clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    @property
    def enabled(self) -> bool:
        return self._key is not None

    async def matcher(self, tenant: str) -> KnownNames | None:
        """The tenant's matcher (None: no names registered, or no key)."""
        if self._key is None:
            return None
        entry = self._fresh(tenant)
        if entry is not None:
            return entry.matcher
        async with self._locks.setdefault(tenant, asyncio.Lock()):
            entry = self._fresh(tenant)  # refreshed while this one waited
            if entry is not None:
                return entry.matcher
            held = self._entries.get(tenant)
            try:
                entry = await self._refresh(tenant, held)
            except StoreError as exc:
                if held is None:
                    raise
                log.warning("known names of tenant %s not refreshed (%s); keeping version %d",
                            tenant, type(exc).__name__, held.version)
                entry = _Entry(held.version, held.matcher, self.clock())
            self._remember(tenant, entry)
            return entry.matcher

    async def add(self, tenant: str, names: Iterable[str]) -> AddedNames:
        """Register ``names`` for ``tenant`` (as digests); this process matches them at once."""
        if self._key is None:
            raise KnownNamesNotConfigured(
                "known names need a key: set CLINISIGHT_PHI_NAMES_KEY (dev mode makes one)")
        wanted: dict[str, int] = {}
        for i, name in enumerate(names):
            words = token_count(name)
            if not words or len(name) > MAX_NAME_CHARS:
                raise ValueError(f"names[{i}] is not a name: no letter or digit, or over "
                                 f"{MAX_NAME_CHARS} characters")
            wanted[digest(tenant_key(self._key, tenant), name)] = words
        async with self._locks.setdefault(tenant, asyncio.Lock()):
            entry = await self._refresh(tenant, self._entries.get(tenant))
            held = entry.matcher
            new = {d: n for d, n in wanted.items() if held is None or d not in held}
            if new:
                version = await self.store.add(tenant, new)
                if version == entry.version + 1:
                    entry = self._entry(tenant, version, new, held)
                else:  # another process wrote in between: read what it added too
                    entry = await self._refresh(tenant, None)
            self._remember(tenant, entry)
            return AddedNames(added=len(new), total=entry.total)

    @asynccontextmanager
    async def active(self, tenant: str) -> AsyncIterator[KnownNames | None]:
        """Within the block, the PHI detector also finds ``tenant``'s known names."""
        names = await self.matcher(tenant)
        with use_known_names(names):
            yield names

    def _fresh(self, tenant: str) -> _Entry | None:
        entry = self._entries.get(tenant)
        if entry is None or self.clock() - entry.checked >= self.refresh_s:
            return None
        self._entries.move_to_end(tenant)
        return entry

    async def _refresh(self, tenant: str, held: _Entry | None) -> _Entry:
        version = await self.store.version(tenant)
        if held is not None and held.version == version:
            return _Entry(held.version, held.matcher, self.clock())
        if version == 0:
            return self._entry(tenant, 0, {})
        loaded = await self.store.load(tenant)
        return self._entry(tenant, loaded.version, loaded.digests)

    def _entry(self, tenant: str, version: int, digests: Mapping[str, int],
               base: KnownNames | None = None) -> _Entry:
        """An entry for ``digests`` (hex → word count), added to ``base``'s."""
        matcher = base
        if digests and self._key is not None:
            matcher = KnownNames(
                tenant_key(self._key, tenant), [*(base.digests if base else ()), *digests],
                {*(base.lengths if base else ()), *digests.values()})
        return _Entry(version, matcher, self.clock())

    def _remember(self, tenant: str, entry: _Entry) -> None:
        self._entries[tenant] = entry
        self._entries.move_to_end(tenant)
        while len(self._entries) > self.max_tenants:
            evicted, _ = self._entries.popitem(last=False)
            self._locks.pop(evicted, None)
