"""Agent state: one JSON document per (tenant, agent), versioned.

The seed's three access patterns: save, get, and every agent of a tenant. Writes are conditional
on the version the writer read; losing that race raises ``VersionConflict`` and the caller
re-reads and retries (see ``agents.base``), so no update is lost. State over one item is split
(``store.blob``), never truncated.
"""

from __future__ import annotations

import asyncio
import copy
import json
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from store.blob import BlobCodec
from store.dynamo import DynamoTable
from store.errors import ConditionFailed, VersionConflict

# StateStore.update's retries: a conflict means another replica wrote a moment ago.
MAX_TRIES = 20
FIRST_PAUSE_S, MAX_PAUSE_S = 0.01, 1.0


class StateRecord(BaseModel):
    tenant: str
    agent: str
    data: dict[str, Any]
    version: int
    updated_at: str


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StateStore(ABC):
    """What a state backend must supply."""

    @abstractmethod
    async def get(self, tenant: str, agent: str) -> StateRecord | None:
        """The latest state, or None if the agent never saved any for this tenant."""

    @abstractmethod
    async def save(
        self, tenant: str, agent: str, data: dict[str, Any], expected_version: int
    ) -> StateRecord:
        """Write ``data`` as version ``expected_version + 1``.

        ``expected_version`` is the version the caller read (0 when there was none). Raises
        ``VersionConflict`` if another writer got there first.
        """

    @abstractmethod
    async def list(self, tenant: str) -> list[StateRecord]:
        """Every agent's state for one tenant."""

    async def update(self, tenant: str, agent: str,
                     change: Callable[[dict[str, Any]], dict[str, Any]]) -> StateRecord:
        """Read, ``change`` (given a copy of the data, {} when there is none), write; on a
        ``VersionConflict`` pause and apply ``change`` to what the other writer left, so no
        update is lost. The one retry of a conditional write in the codebase: at most
        ``MAX_TRIES`` writes, pausing 10 ms, doubling to 1 s, jittered, between them; then the
        conflict is raised. Returns the record written."""
        for attempt in range(MAX_TRIES):
            current = await self.get(tenant, agent)
            data = change(dict(current.data) if current else {})
            try:
                return await self.save(tenant, agent, data, current.version if current else 0)
            except VersionConflict:  # another writer got there first
                pause = min(MAX_PAUSE_S, FIRST_PAUSE_S * 2**attempt)
                await asyncio.sleep(random.uniform(pause / 2, pause))  # noqa: S311
        raise VersionConflict(f"{tenant}/{agent}", None)


class InMemoryStateStore(StateStore):
    """For tests and offline tools only: one process, nothing persisted."""

    def __init__(self) -> None:
        self._items: dict[tuple[str, str], StateRecord] = {}
        self._lock = asyncio.Lock()

    async def get(self, tenant: str, agent: str) -> StateRecord | None:
        rec = self._items.get((tenant, agent))
        return rec.model_copy(deep=True) if rec else None

    async def save(
        self, tenant: str, agent: str, data: dict[str, Any], expected_version: int
    ) -> StateRecord:
        async with self._lock:
            current = self._items.get((tenant, agent))
            if (current.version if current else 0) != expected_version:
                raise VersionConflict(f"{tenant}/{agent}", expected_version)
            rec = StateRecord(
                tenant=tenant,
                agent=agent,
                data=copy.deepcopy(data),
                version=expected_version + 1,
                updated_at=_now(),
            )
            self._items[(tenant, agent)] = rec
            return rec.model_copy(deep=True)

    async def list(self, tenant: str) -> list[StateRecord]:
        return [r.model_copy(deep=True) for (t, _), r in sorted(self._items.items()) if t == tenant]


class DynamoStateStore(StateStore):
    """``ClinisightAgentState-{stage}``: partition ``tenantId``, sort ``agentName``."""

    def __init__(self, client: Any, table_name: str, executor: ThreadPoolExecutor) -> None:
        self.table = DynamoTable(client, table_name, executor)
        self.blobs = BlobCodec(self.table, "tenantId", "agentName")

    async def _decode(self, item: dict[str, Any]) -> StateRecord:
        data = json.loads(await self.blobs.read(item))
        return StateRecord(
            tenant=item["tenantId"],
            agent=item["agentName"],
            data=data,
            version=int(item["version"]),
            updated_at=item["updatedAt"],
        )

    async def get(self, tenant: str, agent: str) -> StateRecord | None:
        item = await self.table.get({"tenantId": tenant, "agentName": agent})
        return await self._decode(item) if item else None

    async def save(
        self, tenant: str, agent: str, data: dict[str, Any], expected_version: int
    ) -> StateRecord:
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        blob = await self.blobs.write(tenant, agent, raw)
        version = expected_version + 1
        head = {
            "tenantId": tenant,
            "agentName": agent,
            "version": version,
            "updatedAt": _now(),
            **blob,
        }
        try:
            if expected_version == 0:
                old = await self.table.put(head, condition="attribute_not_exists(agentName)")
            else:
                old = await self.table.put(
                    head, condition="version = :v", values={":v": expected_version}
                )
        except ConditionFailed as exc:
            await self.blobs.delete_parts(tenant, agent, blob)
            raise VersionConflict(f"{tenant}/{agent}", expected_version) from exc
        if old:
            await self.blobs.delete_parts(tenant, agent, old)
        return StateRecord(
            tenant=tenant, agent=agent, data=data, version=version, updated_at=head["updatedAt"]
        )

    async def with_prefix(self, tenant: str, prefix: str) -> list[StateRecord]:
        """The tenant's records whose key starts with ``prefix`` (reindex jobs: ``~reindex#``);
        an operator's read (``serve.status``), not part of the ``StateStore`` interface."""
        items = await self.table.query(
            "tenantId = :t AND begins_with(agentName, :p)", {":t": tenant, ":p": prefix})
        return [await self._decode(i) for i in items if "version" in i]

    async def list(self, tenant: str) -> list[StateRecord]:
        # Part items and cache entries sort after "~" (see store.blob); agent names never do.
        items = await self.table.query(
            "tenantId = :t AND agentName < :tilde", {":t": tenant, ":tilde": "~"}
        )
        return [await self._decode(i) for i in items]
