"""Open the stores a process needs from the settings (one client, one thread pool)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from config.settings import Settings
from store.anchors import AnchorStore
from store.audit import AuditLog
from store.audit_dynamo import DynamoAuditLog
from store.dynamo import make_client
from store.events import EventLog
from store.events_dynamo import DynamoEventLog
from store.inbox import DynamoInbox, Inbox
from store.known_names import DynamoNameDigestStore, KnownNamesCache
from store.state import DynamoStateStore


@dataclass
class Stores:
    client: Any
    state: DynamoStateStore
    events: EventLog
    inbox: Inbox  # acknowledged deliveries on their way to the event log
    names: KnownNamesCache  # each tenant's known names (compliance.known_names)
    audit: AuditLog
    anchors: AnchorStore  # the audit chains' published heads

    async def ping(self) -> None:
        await self.events.ping()
        await self.state.table.ping()


def open_stores(settings: Settings, threads: int = 32) -> Stores:
    client = make_client(settings)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dynamodb")
    anchors = AnchorStore(client, settings.table("AuditAnchors"), pool)
    return Stores(
        client=client,
        state=DynamoStateStore(client, settings.table("AgentState"), pool),
        events=DynamoEventLog(client, settings.table("Events"), pool),
        inbox=DynamoInbox(client, settings.table("Inbox"), pool),
        names=KnownNamesCache(
            DynamoNameDigestStore(client, settings.table("PhiNames"), pool),
            settings.phi_names_key, settings.phi_names_refresh_s,
        ),
        audit=DynamoAuditLog(client, settings.table("Audit"), pool, register=anchors.register),
        anchors=anchors,
    )

