"""The audit trail on DynamoDB (``store.audit`` says what the chain is; this stores its items).

``ClinisightAudit-{stage}``, partition ``tenantId``, sort ``entryId``. A new item is put on
``attribute_not_exists(entryId)``: that condition is what makes concurrent replicas race for the
next number instead of overwriting each other. Real DynamoDB transactions would not add anything
here (and dynalite lacks them). Reads are consistent: a writer that lost a race must see the
winner's item when it re-reads the head. The table has no TTL: entries are kept for as long as
the table is, which must be at least the six years HIPAA asks for (45 CFR 164.316(b)(2)); we say
seven.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from store.audit import AuditLog
from store.dynamo import DynamoTable, from_item, to_item
from store.errors import AlreadyExists, ConditionFailed


class AuditTable(DynamoTable):
    """The audit table's reads beyond ``DynamoTable``'s."""

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

    async def holding(self, tenant: str, entry_id: str) -> dict[str, Any] | None:
        """The item whose key is ``entry_id`` or the nearest before it: the single entry or
        the block that holds entry ``entry_id`` if it exists."""
        resp = await self._call(
            self.client.query, TableName=self.name,
            KeyConditionExpression="tenantId = :t AND entryId <= :e",
            ExpressionAttributeValues=to_item({":t": tenant, ":e": entry_id}),
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


class DynamoAuditLog(AuditLog):
    """Per-tenant hash chains in one DynamoDB table."""

    def __init__(self, client: Any, table_name: str, executor: ThreadPoolExecutor,
                 head_cache: int = 10_000,
                 register: Callable[[str], Awaitable[None]] | None = None) -> None:
        super().__init__(head_cache=head_cache, register=register)
        self.table = AuditTable(client, table_name, executor)

    async def _put_new(self, item: dict[str, Any]) -> None:
        try:
            await self.table.put(item, condition="attribute_not_exists(entryId)")
        except ConditionFailed as exc:
            raise AlreadyExists(f"audit entry {item['entryId']} of {item['tenantId']!r}") from exc

    async def _last_item(self, tenant: str) -> dict[str, Any] | None:
        return await self.table.last(tenant)

    async def _item_holding(self, tenant: str, entry_id: str) -> dict[str, Any] | None:
        return await self.table.holding(tenant, entry_id)

    async def _items_after(self, tenant: str, after: str | None,
                           limit: int) -> list[dict[str, Any]]:
        return await self.table.page(tenant, after, limit)

    async def ping(self) -> None:
        await self.table.ping()
