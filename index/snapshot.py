"""Shard snapshots in DynamoDB (``ClinisightEmbeddings-{stage}``), under the 400 KB item limit.

A snapshot is the shard's bytes (``TenantShard.dump``: the FAISS index from
``faiss.serialize_index`` and the metadata as JSON), zlib-compressed and cut into parts of at most
``part_bytes``. Items, all under the tenant's partition (``tenantId``), sort key ``itemKey``:

    shard#pending#<id>          written first: names the parts a save is about to write
    shard#part#<id>#<000000>    the parts
    shard#manifest              written LAST: id, part count, SHA-256, sizes, vector count

The manifest is the only way in: a load reads it, fetches exactly the parts it names, checks
that all are there and that their SHA-256 matches, so a half-written snapshot (parts without a
manifest) is never loaded and a missing or altered part is detected (``CorruptSnapshot``). The
manifest put is conditional on the snapshot it replaces, so of two concurrent saves one wins and
the other cleans up after itself (``SnapshotConflict``); nothing ever deletes the parts of the
manifest in place. Once a new manifest lands, the previous snapshot's parts are deleted, and so
are those of saves abandoned midway (a pending marker older than ``abandon_after_s``) or that
died between landing their manifest and deleting the parts it replaced.

Vectors are float32 and barely compress; zlib level 1 (fast) mainly shrinks the chunk texts.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import zlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from index.shard import ShardConfig, ShardFormatError, TenantShard
from store.dynamo import DynamoTable
from store.errors import ConditionFailed, CorruptItem, StoreError

__all__ = ["CorruptSnapshot", "SnapshotConflict", "SnapshotManifest", "SnapshotStore"]

MANIFEST_KEY = "shard#manifest"
PART_PREFIX = "shard#part#"
PENDING_PREFIX = "shard#pending#"
PART_BYTES = 350_000  # an item is at most 400 KB, keys and attribute names included


class CorruptSnapshot(CorruptItem):
    """A manifest whose parts are missing, fail the checksum, or do not decode to a shard."""


class SnapshotConflict(StoreError):
    """Another writer landed a snapshot of the same tenant first; this one was discarded."""


class SnapshotManifest(BaseModel):
    """The manifest item; attributes are stored camelCased (``snapshotId``, ``vectorCount``)."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    tenant: str
    snapshot_id: str
    parts: int
    sha256: str  # of the compressed bytes, all parts joined in order
    bytes: int  # compressed
    raw_bytes: int
    vector_count: int  # live chunks
    index_kind: str
    generation: int  # the shard's mutation counter when dumped (meaningful in-process only)
    created_at: str


class SnapshotStore:
    """Saves and loads shards in one table keyed (``tenantId``, ``itemKey``)."""

    def __init__(self, table: DynamoTable, *, part_bytes: int = PART_BYTES,
                 concurrency: int = 8, compress_level: int = 1,
                 abandon_after_s: float = 3600.0) -> None:
        if not 1 <= part_bytes <= PART_BYTES:
            raise ValueError(f"part_bytes must be in 1..{PART_BYTES}, got {part_bytes}")
        self.table = table
        self.part_bytes = part_bytes
        self._concurrency = concurrency
        self._level = compress_level
        self._abandon_after = timedelta(seconds=abandon_after_s)

    # -- saving ---------------------------------------------------------------------------------

    async def save(self, shard: TenantShard) -> SnapshotManifest:
        """Snapshot ``shard``; return the manifest that landed."""
        tenant = shard.tenant
        dump = await asyncio.to_thread(shard.dump)
        packed = await asyncio.to_thread(zlib.compress, dump.data, self._level)
        digest = hashlib.sha256(packed).hexdigest()
        view = memoryview(packed)
        parts = [view[i:i + self.part_bytes] for i in range(0, len(packed), self.part_bytes)]
        created = datetime.now(UTC)
        sid = f"{created.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(4)}"
        manifest = SnapshotManifest(
            tenant=tenant, snapshot_id=sid, parts=len(parts), sha256=digest, bytes=len(packed),
            raw_bytes=len(dump.data), vector_count=dump.vector_count, index_kind=dump.index_kind,
            generation=dump.generation, created_at=created.isoformat(timespec="milliseconds"),
        )
        del dump
        prev = await self.manifest(tenant)
        # The marker also names the snapshot this one replaces: if the process dies after the
        # manifest lands but before the old parts are gone, a later sweep finishes the job.
        await self.table.put({"tenantId": tenant, "itemKey": f"{PENDING_PREFIX}{sid}",
                              "parts": len(parts), "createdAt": manifest.created_at,
                              "replaces": prev.snapshot_id if prev else None,
                              "replacesParts": prev.parts if prev else None})
        await self._each(partial(self._put_part, tenant, sid, i, part)
                         for i, part in enumerate(parts))
        item = {"tenantId": tenant, "itemKey": MANIFEST_KEY,
                **manifest.model_dump(by_alias=True, exclude={"tenant"})}
        try:
            if prev is None:
                await self.table.put(item, condition="attribute_not_exists(itemKey)")
            else:
                await self.table.put(item, condition="snapshotId = :prev",
                                     values={":prev": prev.snapshot_id})
        except ConditionFailed as exc:
            await self._discard(tenant, sid, len(parts))
            raise SnapshotConflict(
                f"tenant {tenant!r}: another snapshot landed while {sid} was written"
            ) from exc
        if prev is not None:
            await self._delete_parts(tenant, prev.snapshot_id, prev.parts)
        await self.table.delete({"tenantId": tenant, "itemKey": f"{PENDING_PREFIX}{sid}"})
        await self._sweep(tenant, sid, created)
        return manifest

    async def _put_part(self, tenant: str, sid: str, i: int, part: memoryview) -> None:
        # The part is copied out of the packed buffer only now, not all parts up front.
        await self.table.put({"tenantId": tenant, "itemKey": _part_key(sid, i),
                              "data": bytes(part)})

    async def delete(self, tenant: str) -> None:
        """Remove the tenant's snapshot entirely (manifest first, then its parts)."""
        prev = await self.manifest(tenant)
        if prev is None:
            return
        await self.table.delete({"tenantId": tenant, "itemKey": MANIFEST_KEY})
        await self._delete_parts(tenant, prev.snapshot_id, prev.parts)

    async def _discard(self, tenant: str, sid: str, parts: int) -> None:
        await self._delete_parts(tenant, sid, parts)
        await self.table.delete({"tenantId": tenant, "itemKey": f"{PENDING_PREFIX}{sid}"})

    async def _delete_parts(self, tenant: str, sid: str, parts: int) -> None:
        await self._each(
            partial(self.table.delete, {"tenantId": tenant, "itemKey": _part_key(sid, i)})
            for i in range(parts)
        )

    async def _sweep(self, tenant: str, current: str, now: datetime) -> None:
        """Finish what dead saves left: a marker of the current snapshot (died after landing)
        still names the parts it replaced; any other marker old enough that no save can be in
        flight names parts that never landed, or that a later snapshot replaced. All deletes
        are idempotent, and the current snapshot's parts are never among them."""
        markers = await self.table.query(
            "tenantId = :t AND begins_with(itemKey, :p)", {":t": tenant, ":p": PENDING_PREFIX}
        )
        for marker in markers:
            sid = marker["itemKey"][len(PENDING_PREFIX):]
            if sid != current:
                if now - datetime.fromisoformat(marker["createdAt"]) < self._abandon_after:
                    continue
                await self._delete_parts(tenant, sid, int(marker["parts"]))
            if marker.get("replaces") and marker["replaces"] != current:
                await self._delete_parts(tenant, marker["replaces"], int(marker["replacesParts"]))
            await self.table.delete({"tenantId": tenant, "itemKey": marker["itemKey"]})

    async def _each(self, calls: Iterable[Callable[[], Awaitable[object]]]) -> None:
        """Run the calls with at most ``concurrency`` in flight; the first error propagates."""
        sem = asyncio.Semaphore(self._concurrency)

        async def run(call: Callable[[], Awaitable[object]]) -> None:
            async with sem:
                await call()

        try:
            async with asyncio.TaskGroup() as group:
                for call in calls:
                    group.create_task(run(call))
        except ExceptionGroup as group_error:
            # Callers catch store errors, not groups of them; the others were cancelled.
            raise group_error.exceptions[0]  # noqa: B904 (its own cause is kept)

    # -- loading --------------------------------------------------------------------------------

    async def manifest(self, tenant: str) -> SnapshotManifest | None:
        item = await self.table.get({"tenantId": tenant, "itemKey": MANIFEST_KEY})
        if item is None:
            return None
        return SnapshotManifest.model_validate({**item, "tenant": item["tenantId"]})

    async def load(self, tenant: str, config: ShardConfig | None = None) -> TenantShard | None:
        """The tenant's latest snapshot as a shard, or None if it has none.

        Raises ``CorruptSnapshot`` when a part is missing, the checksum fails, or the bytes are
        not this tenant's shard.
        """
        manifest = await self.manifest(tenant)
        if manifest is None:
            return None
        parts: list[bytes | None] = [None] * manifest.parts

        async def fetch(i: int) -> None:
            item = await self.table.get({"tenantId": tenant,
                                         "itemKey": _part_key(manifest.snapshot_id, i)})
            parts[i] = item["data"] if item is not None else None

        await self._each(partial(fetch, i) for i in range(manifest.parts))
        missing = [i for i, p in enumerate(parts) if p is None]
        if missing:
            raise CorruptSnapshot(
                f"tenant {tenant!r} snapshot {manifest.snapshot_id}: {len(missing)} of "
                f"{manifest.parts} parts missing (first: {missing[0]})"
            )
        packed = b"".join(p for p in parts if p is not None)
        if len(packed) != manifest.bytes or hashlib.sha256(packed).hexdigest() != manifest.sha256:
            raise CorruptSnapshot(
                f"tenant {tenant!r} snapshot {manifest.snapshot_id}: checksum mismatch"
            )
        try:
            raw = await asyncio.to_thread(zlib.decompress, packed)
            shard = await asyncio.to_thread(TenantShard.load, raw, tenant, config)
        except (zlib.error, ShardFormatError) as exc:
            raise CorruptSnapshot(
                f"tenant {tenant!r} snapshot {manifest.snapshot_id}: {exc}"
            ) from exc
        if len(shard) != manifest.vector_count:
            raise CorruptSnapshot(
                f"tenant {tenant!r} snapshot {manifest.snapshot_id}: {len(shard)} chunks, "
                f"manifest says {manifest.vector_count}"
            )
        return shard


def _part_key(sid: str, i: int) -> str:
    return f"{PART_PREFIX}{sid}#{i:06d}"
