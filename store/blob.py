"""Values larger than one DynamoDB item (400 KB), split across items, never truncated.

A value is zlib-compressed; if it still exceeds ``INLINE_MAX`` it is cut into parts stored as
sibling items under the same partition key, with sort keys ``~part#<name>#<token>#<i>``. The
``~`` sorts after every agent name and event id, so a range query ``sk < "~"`` never sees parts.
The head item, written last by the caller (conditionally), names the token, the part count and
a SHA-256 of the whole; a reader fetches the parts of the token the head names, so a half-written
or abandoned set of parts is never read, and a missing or altered part is detected.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib
from typing import Any

from store.dynamo import DynamoTable
from store.errors import CorruptItem

INLINE_MAX = 300_000  # bytes kept inside the head item; the item limit is 400 KB in all
PART_SIZE = 350_000
PART_PREFIX = "~part#"


class BlobCodec:
    """Reads and writes large values for one table whose keys are (``pk``, ``sk``)."""

    def __init__(self, table: DynamoTable, pk: str, sk: str) -> None:
        self.table = table
        self.pk = pk
        self.sk = sk

    def _part_key(self, pk_value: str, name: str, token: str, index: int) -> dict[str, str]:
        return {self.pk: pk_value, self.sk: f"{PART_PREFIX}{name}#{token}#{index:06d}"}

    async def write(self, pk_value: str, name: str, data: bytes) -> dict[str, Any]:
        """Store ``data``; return the attributes the caller puts on its head item."""
        packed = zlib.compress(data, 6)
        digest = hashlib.sha256(packed).hexdigest()
        if len(packed) <= INLINE_MAX:
            return {"blob": packed, "blobSha256": digest, "blobParts": 0}
        token = secrets.token_hex(6)
        chunks = [packed[i : i + PART_SIZE] for i in range(0, len(packed), PART_SIZE)]
        for i, chunk in enumerate(chunks):
            await self.table.put({**self._part_key(pk_value, name, token, i), "data": chunk})
        return {"blobParts": len(chunks), "blobToken": token, "blobSha256": digest}

    async def read(self, head: dict[str, Any]) -> bytes:
        """The value a head item names, checksum verified."""
        parts = int(head.get("blobParts", 0))
        if parts == 0:
            packed = head.get("blob")
            if packed is None:
                raise CorruptItem(f"item {head.get(self.sk)!r} has no value")
        else:
            prefix = f"{PART_PREFIX}{head[self.sk]}#{head['blobToken']}#"
            items = await self.table.query(
                f"{self.pk} = :p AND begins_with({self.sk}, :s)",
                {":p": head[self.pk], ":s": prefix},
            )
            if len(items) != parts:
                raise CorruptItem(
                    f"item {head[self.sk]!r}: {len(items)} of {parts} parts present"
                )
            packed = b"".join(i["data"] for i in sorted(items, key=lambda i: i[self.sk]))
        if hashlib.sha256(packed).hexdigest() != head.get("blobSha256"):
            raise CorruptItem(f"item {head[self.sk]!r}: checksum mismatch")
        return zlib.decompress(packed)

    async def delete_parts(self, pk_value: str, name: str, head: dict[str, Any]) -> None:
        """Remove the parts a (superseded or abandoned) head named."""
        for i in range(int(head.get("blobParts", 0))):
            await self.table.delete(self._part_key(pk_value, name, head["blobToken"], i))
