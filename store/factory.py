"""Open the stores a process needs from the settings (one client, one thread pool)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from config.settings import Settings
from store.dynamo import make_client
from store.events import EventLog
from store.state import DynamoStateStore


@dataclass
class Stores:
    client: Any
    state: DynamoStateStore
    events: EventLog

    async def ping(self) -> None:
        await self.events.ping()
        await self.state.table.ping()


def open_stores(settings: Settings, threads: int = 32) -> Stores:
    client = make_client(settings)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dynamodb")
    return Stores(
        client=client,
        state=DynamoStateStore(client, settings.table("AgentState"), pool),
        events=EventLog(client, settings.table("Events"), pool),
    )

