"""DynamoDB access: the client, the table definitions, and a small async table wrapper.

boto3 is synchronous; every call runs on a dedicated thread pool so the event loop of a Ray
replica never blocks. The low-level client is used (not ``boto3.resource``) because clients are
thread-safe and resources are not. Only operations that both real DynamoDB and dynalite support
are used: no transactions, no TTL. Table protections that dynalite lacks (point-in-time
recovery, deletion protection, KMS encryption) are asked of AWS only (``ensure_tables``).
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

import metrics
from config.settings import Settings
from store.errors import ConditionFailed, InvalidKey, StoreUnavailable

T = TypeVar("T")

BATCH_WRITE_MAX = 25  # items per BatchWriteItem call (DynamoDB's limit)
BATCH_GET_MAX = 100  # keys per BatchGetItem call (DynamoDB's limit)

# DynamoDB's (and dynalite's) words for a key it will not hold; not "reserved keyword", which
# is an expression of ours and so a bug, not the caller's input.
_KEY_REFUSED = re.compile(r"(?i)size of hashkey|range keys? has exceeded|key attribute")
_SER = TypeSerializer()
_DESER = TypeDeserializer()

# Table kind -> (partition key, sort key, global secondary indexes)
TABLES: dict[str, tuple[str, str, list[dict[str, Any]]]] = {
    "AgentState": ("tenantId", "agentName", []),
    "Events": (
        "tenantId",
        "eventId",
        [
            {
                # Sparse index: only unfinished events carry `unfinished`, so re-driving reads
                # just those, never the whole log.
                "IndexName": "unfinished",
                "KeySchema": [
                    {"AttributeName": "unfinished", "KeyType": "HASH"},
                    {"AttributeName": "acceptedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
            {
                # Sparse index: a finished event carries `payloadHeld` until the retention pass
                # removes its payload (store.events.EventLog.purge_payloads), so the pass reads
                # only those, oldest finished first. The blob's part names come along so its
                # parts can be deleted without reading the item.
                "IndexName": "payloadHeld",
                "KeySchema": [
                    {"AttributeName": "payloadHeld", "KeyType": "HASH"},
                    {"AttributeName": "finishedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE",
                               "NonKeyAttributes": ["blobParts", "blobToken"]},
            },
        ],
    ),
    "Audit": ("tenantId", "entryId", []),
    # The intake inbox (store.inbox): deliveries acknowledged by group commit, waiting to be
    # drained into Events. Keyed like Events, so a delivery still here is found by its id; the
    # drainer reads them oldest first through the `pending` index, whose partition is one of a
    # few shards so a burst does not write one index partition (1,000 writes/s each on AWS).
    "Inbox": (
        "tenantId",
        "eventId",
        [
            {
                "IndexName": "pending",
                "KeySchema": [
                    {"AttributeName": "shard", "KeyType": "HASH"},
                    {"AttributeName": "acceptedAt", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    ),
    # Each tenant's published audit chain head (store.anchors): one item per tenant, moved only
    # forward. Every tenant with a chain carries `listed`, so the periodic pass finds them all
    # through this sparse index without a scan.
    "AuditAnchors": (
        "tenantId",
        "kind",
        [
            {
                "IndexName": "listed",
                "KeySchema": [
                    {"AttributeName": "listed", "KeyType": "HASH"},
                    {"AttributeName": "tenantId", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    ),
    "Embeddings": ("tenantId", "itemKey", []),
    "PhiNames": ("tenantId", "nameKey", []),
}
_EXTRA_ATTRS = {
    "Events": [("unfinished", "S"), ("acceptedAt", "N"), ("payloadHeld", "S"),
               ("finishedAt", "N")],
    "AuditAnchors": [("listed", "S")],
    "Inbox": [("shard", "S"), ("acceptedAt", "N")],
}


def make_client(settings: Settings) -> Any:
    """A DynamoDB client for the configured endpoint (local server) or AWS."""
    kwargs: dict[str, Any] = {
        "region_name": settings.aws_region,
        "config": Config(
            retries={"max_attempts": 5, "mode": "standard"},
            max_pool_connections=64,
            connect_timeout=3,
            read_timeout=10,
        ),
    }
    if settings.dynamodb_endpoint:
        kwargs["endpoint_url"] = settings.dynamodb_endpoint
    if settings.aws_access_key_id and settings.aws_secret_access_key:
        kwargs["aws_access_key_id"] = settings.aws_access_key_id.get_secret_value()
        kwargs["aws_secret_access_key"] = settings.aws_secret_access_key.get_secret_value()
    elif settings.dynamodb_endpoint and not settings.aws_profile:
        # A local DynamoDB API server accepts any credentials but botocore insists on some.
        kwargs["aws_access_key_id"] = "local"
        kwargs["aws_secret_access_key"] = "local"
    session = boto3.session.Session(profile_name=settings.aws_profile)
    return session.client("dynamodb", **kwargs)


def ensure_tables(client: Any, settings: Settings, timeout_s: float = 60.0) -> list[str]:
    """Create every Clinisight table that does not exist yet; return the names created.

    Against AWS (no ``dynamodb_endpoint``) a new table has deletion protection on and, with
    ``kms_key_arn`` set, SSE under that customer-managed key; every table gets point-in-time
    recovery (idempotent) and any index added since it was created (HIPAA 164.308(a)(7) asks for
    a backup; 164.312(a)(2)(iv) for encryption at rest). A local endpoint gets none of it:
    dynalite accepts the CreateTable fields but ignores them, and answers
    UnknownOperationException to UpdateContinuousBackups and a ValidationException to an
    on-demand index added by UpdateTable.
    """
    aws = settings.dynamodb_endpoint is None
    existing: set[str] = set()
    for page in client.get_paginator("list_tables").paginate():
        existing.update(page["TableNames"])
    created = []
    for kind in TABLES:
        name = settings.table(kind)
        if name in existing:
            if aws:
                _add_missing_index(client, name, kind)
            continue
        try:
            client.create_table(**_table_spec(kind, name, settings, aws))
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceInUseException":
                raise
        created.append(name)
    deadline = time.monotonic() + timeout_s
    for name in created:
        while client.describe_table(TableName=name)["Table"]["TableStatus"] != "ACTIVE":
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"table {name} did not become ACTIVE in {timeout_s}s")
            time.sleep(0.2)
    if aws:
        for kind in TABLES:
            _enable_pitr(client, settings.table(kind), deadline)
    return created


def _table_spec(kind: str, name: str, settings: Settings, aws: bool) -> dict[str, Any]:
    pk, sk, gsis = TABLES[kind]
    attrs = [(pk, "S"), (sk, "S"), *_EXTRA_ATTRS.get(kind, [])]
    spec: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": t} for a, t in attrs],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if gsis:
        spec["GlobalSecondaryIndexes"] = gsis
    if aws:
        spec["DeletionProtectionEnabled"] = True
        if settings.kms_key_arn:
            spec["SSESpecification"] = {"Enabled": True, "SSEType": "KMS",
                                        "KMSMasterKeyId": settings.kms_key_arn}
    return spec


def _add_missing_index(client: Any, name: str, kind: str) -> None:
    """Add the first index of ``TABLES`` an existing table lacks (DynamoDB builds one index at a
    time; run ``ensure_tables`` again once it is ACTIVE for the next)."""
    pk, sk, gsis = TABLES[kind]
    table = client.describe_table(TableName=name)["Table"]
    have = {g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])}
    missing = [g for g in gsis if g["IndexName"] not in have]
    if not missing:
        return
    attrs = [(pk, "S"), (sk, "S"), *_EXTRA_ATTRS.get(kind, [])]
    client.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in attrs],
        GlobalSecondaryIndexUpdates=[{"Create": missing[0]}],
    )


def _enable_pitr(client: Any, name: str, deadline: float) -> None:
    while True:
        try:
            client.update_continuous_backups(
                TableName=name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
            return
        except ClientError as exc:
            # A table created moments ago may still be enabling its backups.
            code = exc.response["Error"]["Code"]
            if code != "ContinuousBackupsUnavailableException" or time.monotonic() > deadline:
                raise
            time.sleep(1.0)


async def _backoff(attempt: int) -> None:
    """The pause before sending unprocessed items or keys again: exponential, jittered, at
    most a second (AWS: "retry ... using exponential backoff")."""
    pause = min(1.0, 0.05 * 2**attempt)
    await asyncio.sleep(random.uniform(pause / 2, pause))  # noqa: S311


def to_item(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _SER.serialize(v) for k, v in data.items() if v is not None}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: _DESER.deserialize(v) for k, v in item.items()}
    for k, v in out.items():
        # Numbers come back as Decimal; every number we store is an integer or a float.
        if type(v).__name__ == "Decimal":
            out[k] = int(v) if v == v.to_integral_value() else float(v)
        elif type(v).__name__ == "Binary":
            out[k] = bytes(v)
    return out


class DynamoTable:
    """One table, async: every boto3 call runs on the store's thread pool.

    Errors are translated here, once: a failed condition becomes ``ConditionFailed`` (the caller
    says what it means), a key DynamoDB will not hold ``InvalidKey``, anything else
    ``StoreUnavailable``.
    """

    def __init__(self, client: Any, name: str, executor: ThreadPoolExecutor) -> None:
        self.client = client
        self.name = name
        self._executor = executor
        # The metric label: "Events" of "ClinisightEvents-dev" (a bounded set, stage aside).
        self.kind = name.removeprefix("Clinisight").rsplit("-", 1)[0]

    async def _call(self, fn: Callable[..., T], **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        try:
            return await loop.run_in_executor(self._executor, lambda: fn(**kwargs))
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(f"condition failed on {self.name}") from exc
            message = exc.response["Error"].get("Message", "")
            if code == "ValidationException" and _KEY_REFUSED.search(message):
                # "Size of hashkey has exceeded ...", "... range keys has exceeded ...", "... key
                # attribute cannot contain an empty string value": the input, not the store.
                raise InvalidKey(f"{self.name}: {message}") from exc
            raise StoreUnavailable(f"DynamoDB {code} on {self.name}") from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(f"DynamoDB unreachable for {self.name}: {exc}") from exc
        finally:
            metrics.observe("clinisight_dynamodb_seconds", time.perf_counter() - started,
                            table=self.kind, op=getattr(fn, "__name__", "other"))

    async def get(self, key: Mapping[str, Any]) -> dict[str, Any] | None:
        resp = await self._call(
            self.client.get_item, TableName=self.name, Key=to_item(key), ConsistentRead=True
        )
        item = resp.get("Item")
        return from_item(item) if item else None

    async def put(self, item: Mapping[str, Any], condition: str | None = None,
                  values: Mapping[str, Any] | None = None,
                  names: Mapping[str, str] | None = None) -> dict[str, Any] | None:
        """Put an item (if ``condition`` holds); return the item it replaced, if any."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Item": to_item(item),
            "ReturnValues": "ALL_OLD",
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = to_item(values)
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        resp = await self._call(self.client.put_item, **kwargs)
        old = resp.get("Attributes")
        return from_item(old) if old else None

    async def update(self, key: Mapping[str, Any], expression: str, values: Mapping[str, Any],
                     condition: str | None = None,
                     names: Mapping[str, str] | None = None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": to_item(key),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": to_item(values),
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        resp = await self._call(self.client.update_item, **kwargs)
        return from_item(resp.get("Attributes", {}))

    async def batch_put(self, items: Sequence[Mapping[str, Any]], concurrency: int = 4,
                        attempts: int = 8) -> None:
        """Put ``items`` (no two with the same key) with BatchWriteItem, ``BATCH_WRITE_MAX`` a
        call, ``concurrency`` calls at a time. Items a call leaves unprocessed (throttling) are
        sent again after a growing, jittered pause, as AWS advises; still unprocessed after
        ``attempts`` calls: ``StoreUnavailable``. Not atomic: on an error some items are in."""
        gate = asyncio.Semaphore(concurrency)

        async def write(chunk: Sequence[Mapping[str, Any]]) -> None:
            async with gate:
                await self._batch_write([{"PutRequest": {"Item": to_item(item)}}
                                         for item in chunk], attempts)

        chunks = [items[i : i + BATCH_WRITE_MAX] for i in range(0, len(items), BATCH_WRITE_MAX)]
        await asyncio.gather(*(write(c) for c in chunks))

    async def batch_get(self, keys: Sequence[Mapping[str, Any]], projection: str | None = None,
                        names: Mapping[str, str] | None = None,
                        attempts: int = 8) -> list[dict[str, Any]]:
        """The items of ``keys`` that exist (any order), ``BATCH_GET_MAX`` keys a call,
        consistent reads; keys a call leaves unprocessed are asked again after a growing,
        jittered pause, then ``StoreUnavailable``."""
        found: list[dict[str, Any]] = []
        for i in range(0, len(keys), BATCH_GET_MAX):
            request: dict[str, Any] = {"Keys": [to_item(k) for k in keys[i : i + BATCH_GET_MAX]],
                                       "ConsistentRead": True}
            if projection:
                request["ProjectionExpression"] = projection
            if names:
                request["ExpressionAttributeNames"] = dict(names)
            for attempt in range(attempts):
                resp = await self._call(self.client.batch_get_item,
                                        RequestItems={self.name: request})
                found.extend(from_item(item) for item in resp.get("Responses", {})
                             .get(self.name, []))
                left = resp.get("UnprocessedKeys", {}).get(self.name)
                if not left:
                    break
                request = left
                await _backoff(attempt)
            else:
                raise StoreUnavailable(f"DynamoDB left keys unprocessed on {self.name} "
                                       f"after {attempts} attempts")
        return found

    async def batch_delete(self, keys: Sequence[Mapping[str, Any]], attempts: int = 8) -> None:
        """Delete ``keys`` with BatchWriteItem (no conditions), retrying unprocessed ones."""
        for i in range(0, len(keys), BATCH_WRITE_MAX):
            await self._batch_write([{"DeleteRequest": {"Key": to_item(k)}}
                                     for k in keys[i : i + BATCH_WRITE_MAX]], attempts)

    async def _batch_write(self, pending: list[dict[str, Any]], attempts: int) -> None:
        """One BatchWriteItem of at most 25 requests, sent again for what DynamoDB leaves in
        ``UnprocessedItems`` (throttling) after a growing, jittered pause, as AWS advises;
        still unprocessed after ``attempts`` calls: ``StoreUnavailable``."""
        for attempt in range(attempts):
            resp = await self._call(self.client.batch_write_item,
                                    RequestItems={self.name: pending})
            pending = resp.get("UnprocessedItems", {}).get(self.name, [])
            if not pending:
                return
            await _backoff(attempt)
        raise StoreUnavailable(
            f"DynamoDB left {len(pending)} item(s) unprocessed on {self.name} "
            f"after {attempts} attempts")

    async def delete(self, key: Mapping[str, Any]) -> None:
        await self._call(self.client.delete_item, TableName=self.name, Key=to_item(key))

    async def query(self, condition: str, values: Mapping[str, Any],
                    names: Mapping[str, str] | None = None, index: str | None = None,
                    limit: int | None = None, filter: str | None = None,
                    projection: str | None = None) -> list[dict[str, Any]]:
        """All items matching a key condition, following pagination (``limit`` caps the total).

        ``filter`` drops items after DynamoDB has read them (they are still read and billed);
        ``projection`` names the attributes to return."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
        }
        if names:
            kwargs["ExpressionAttributeNames"] = dict(names)
        if filter:
            kwargs["FilterExpression"] = filter
        if projection:
            kwargs["ProjectionExpression"] = projection
        if index:
            kwargs["IndexName"] = index
        else:
            kwargs["ConsistentRead"] = True
        items: list[dict[str, Any]] = []
        while True:
            resp = await self._call(self.client.query, **kwargs)
            items.extend(from_item(i) for i in resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items[:limit] if limit is not None else items
            kwargs["ExclusiveStartKey"] = last

    async def ping(self) -> None:
        await self._call(self.client.describe_table, TableName=self.name)
