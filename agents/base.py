"""The agent base: load state, act, snapshot state.

Reasoning (which may take a Claude round trip) happens before the state is touched; only the
merge of its result into state runs inside ``update_state``, which re-reads and retries when a
concurrent writer won the version race. So no update is lost and no LLM call is repeated.

Writers of one tenant's state take turns within a replica (a lock per tenant), so a burst of one
tenant's events costs one read and one write each instead of a storm of version conflicts;
writers in other replicas are still caught by the version check and retried after a jittered,
growing pause.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

import metrics
from agents.events import AgentEvent
from agents.reasoners import OfflineReasoner, Reasoner, ReasonerError, ReasoningRequest
from store.state import StateRecord, StateStore

log = logging.getLogger(__name__)

R = TypeVar("R")
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class Agent(ABC):
    name: ClassVar[str]

    def __init__(self, state: StateStore, reasoner: Reasoner | None = None) -> None:
        self.state = state
        self.reasoner = reasoner or OfflineReasoner()
        self._offline = OfflineReasoner()
        self._writers: dict[str, asyncio.Lock] = {}  # tenant -> this replica's write turn

    @abstractmethod
    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        """Act on one routed event; return a small JSON summary for the event log."""

    async def handle_events(self, events: list[AgentEvent]) -> dict[str, Any]:
        """Act on a batch of one tenant's events (a backfill page), ending in the state the
        same events one by one would leave. This default runs them one by one; agents whose
        per-event work re-plans or re-evaluates everything override it to do that once."""
        for event in events:
            await self.handle_event(event)
        return {"action": "applied", "events": len(events)}

    async def load(self, tenant: str) -> StateRecord | None:
        return await self.state.get(tenant, self.name)

    async def update_state(
        self, tenant: str, change: Callable[[dict[str, Any]], R]
    ) -> tuple[R, StateRecord]:
        """Apply ``change`` (which mutates the state dict) and save, through the store's one
        retry on conflict (``StateStore.update``): ``change`` runs again on what another
        replica wrote. Returns what the last run of ``change`` returned, and the record."""
        outcome: list[R] = []

        def apply(data: dict[str, Any]) -> dict[str, Any]:
            outcome[:] = [change(data)]
            return data

        async with self._writers.setdefault(tenant, asyncio.Lock()):
            saved = await self.state.update(tenant, self.name, apply)
        return outcome[0], saved

    async def reason(self, request: ReasoningRequest[In, Out]) -> tuple[Out, str, str | None]:
        """(result, produced_by, fallback reason). Claude failing falls back to offline."""
        try:
            return await self.reasoner.reason(request), self.reasoner.produced_by, None
        except ReasonerError as exc:
            if isinstance(self.reasoner, OfflineReasoner):
                raise
            log.warning("agent %s: reasoner failed (%s); using offline planner", self.name, exc)
            outcome = "error"
            try:
                result = await self._offline.reason(request)
                outcome = "fallback_offline"
            finally:
                metrics.inc("clinisight_llm_requests_total", agent=self.name, outcome=outcome)
            return result, self._offline.produced_by, str(exc)
