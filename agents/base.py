"""The agent base: load state, act, snapshot state.

Reasoning (which may take a Claude round trip) happens before the state is touched; only the
merge of its result into state runs inside ``update_state``, which re-reads and retries when a
concurrent writer won the version race. So no update is lost and no LLM call is repeated.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from agents.events import AgentEvent
from agents.reasoners import OfflineReasoner, Reasoner, ReasonerError, ReasoningRequest
from store.errors import VersionConflict
from store.state import StateRecord, StateStore

log = logging.getLogger(__name__)

R = TypeVar("R")
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)

MAX_CONFLICT_RETRIES = 20


class Agent(ABC):
    name: ClassVar[str]

    def __init__(self, state: StateStore, reasoner: Reasoner | None = None) -> None:
        self.state = state
        self.reasoner = reasoner or OfflineReasoner()
        self._offline = OfflineReasoner()

    @abstractmethod
    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        """Act on one routed event; return a small JSON summary for the event log."""

    async def load(self, tenant: str) -> StateRecord | None:
        return await self.state.get(tenant, self.name)

    async def update_state(
        self, tenant: str, change: Callable[[dict[str, Any]], R]
    ) -> tuple[R, StateRecord]:
        """Apply ``change`` (which mutates the state dict) and save, retrying on conflict."""
        for _ in range(MAX_CONFLICT_RETRIES):
            current = await self.state.get(tenant, self.name)
            data = current.data if current else {}
            outcome = change(data)
            try:
                saved = await self.state.save(
                    tenant, self.name, data, expected_version=current.version if current else 0
                )
            except VersionConflict:
                continue
            return outcome, saved
        raise VersionConflict(f"{tenant}/{self.name}", None)

    async def reason(self, request: ReasoningRequest[In, Out]) -> tuple[Out, str, str | None]:
        """(result, produced_by, fallback reason). Claude failing falls back to offline."""
        try:
            return await self.reasoner.reason(request), self.reasoner.produced_by, None
        except ReasonerError as exc:
            if isinstance(self.reasoner, OfflineReasoner):
                raise
            log.warning("agent %s: reasoner failed (%s); using offline planner", self.name, exc)
            return await self._offline.reason(request), self._offline.produced_by, str(exc)
