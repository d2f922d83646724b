"""Reasoners: Claude (Messages API, tool use) when a key is configured, else an offline planner.

Both take a ``ReasoningRequest`` and return the request's output model, so an agent never knows
which one ran except through ``produced_by``, which it records on the result.

Claude specifics:
- Structured output by tool use: one tool whose ``input_schema`` is the output model's JSON
  schema, forced with ``tool_choice``; the tool input is validated with the same model.
- The system prompt carries ``cache_control`` so repeated calls reuse the cached prefix.
- 429, 529 (overloaded) and 5xx are retried with exponential backoff by the SDK itself
  (``max_retries``); every call has a timeout.
- Answers are cached by a hash of (model, system, schema, input), per tenant, so a redelivered
  event is not billed twice.
- Each call is counted (``clinisight_llm_requests_total`` ok or retried, tokens, seconds);
  an agent counts the calls its offline planner answered instead (``agents.base``).
- The prompt passes through ``redact`` first: no PHI leaves for the LLM. When the PHI check
  fails (``PhiCheckFailed``) the prompt is not sent: ``ReasonerError(FALLBACK_REASON)``, so the
  agent answers from its offline planner and records ``fallbackReason: "phi_check_failed"``.
"""

from __future__ import annotations

import hashlib
import json
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import anthropic
from pydantic import BaseModel

import metrics
from compliance.fail_closed import FALLBACK_REASON
from compliance.phi import PhiCheckFailed
from store.errors import VersionConflict
from store.state import StateStore

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class ReasonerError(Exception):
    """The reasoner could not produce a valid answer."""


@dataclass(frozen=True)
class ReasoningRequest(Generic[In, Out]):
    tenant: str
    task: str  # short tool name, e.g. "propose_subtasks"
    system: str
    input: In
    output: type[Out]
    offline: Callable[[In], Out]


class Reasoner(ABC):
    @property
    @abstractmethod
    def produced_by(self) -> str:
        """Recorded on every result: "offline" or "claude:<model>"."""

    @abstractmethod
    async def reason(self, request: ReasoningRequest[In, Out]) -> Out: ...


class OfflineReasoner(Reasoner):
    """Runs the agent's own deterministic planner."""

    @property
    def produced_by(self) -> str:
        return "offline"

    async def reason(self, request: ReasoningRequest[In, Out]) -> Out:
        return request.offline(request.input)


class ResponseCache(ABC):
    @abstractmethod
    async def get(self, tenant: str, key: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def put(self, tenant: str, key: str, value: dict[str, Any]) -> None: ...


class StateResponseCache(ResponseCache):
    """Cached answers kept beside the tenant's agent state (keys sort after "~", out of lists)."""

    def __init__(self, state: StateStore) -> None:
        self.state = state

    async def get(self, tenant: str, key: str) -> dict[str, Any] | None:
        rec = await self.state.get(tenant, f"~llm#{key}")
        return rec.data if rec else None

    async def put(self, tenant: str, key: str, value: dict[str, Any]) -> None:
        try:
            await self.state.save(tenant, f"~llm#{key}", value, expected_version=0)
        except VersionConflict:
            pass  # another replica cached the same answer first


def _identity(text: str) -> str:
    return text


class ClaudeReasoner(Reasoner):
    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        max_tokens: int = 4096,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        cache: ResponseCache | None = None,
        redact: Callable[[str], str] = _identity,
        agent: str = "unknown",
    ) -> None:
        self.agent = agent  # the metrics label of this reasoner's calls
        self.model = model
        self.max_tokens = max_tokens
        self.cache = cache
        self.redact = redact
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    @property
    def produced_by(self) -> str:
        return f"claude:{self.model}"

    def _cache_key(self, system: str, schema: dict[str, Any], prompt: str) -> str:
        blob = json.dumps([self.model, system, schema, prompt], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    async def reason(self, request: ReasoningRequest[In, Out]) -> Out:
        schema = request.output.model_json_schema(by_alias=True)
        try:
            prompt = self.redact(request.input.model_dump_json(by_alias=True))
        except PhiCheckFailed as exc:
            raise ReasonerError(FALLBACK_REASON) from exc  # the prompt is not sent
        key = self._cache_key(request.system, schema, prompt)
        if self.cache is not None:
            cached = await self.cache.get(request.tenant, key)
            if cached is not None:
                return request.output.model_validate(cached)
        started = time.perf_counter()
        try:
            # The raw response says how many retries the SDK took (the `retried` outcome).
            raw = await self.client.messages.with_raw_response.create(
                model=self.model,
                max_tokens=self.max_tokens,
                system=[
                    {
                        "type": "text",
                        "text": request.system,
                        "cache_control": {"type": "ephemeral"},
                    }
                ],
                tools=[
                    {
                        "name": request.task,
                        "description": f"Submit the result of {request.task}.",
                        "input_schema": schema,
                    }
                ],
                tool_choice={"type": "tool", "name": request.task},
                messages=[{"role": "user", "content": prompt}],
            )
            message = await raw.parse()
        except anthropic.APIError as exc:
            raise ReasonerError(f"Claude call failed: {type(exc).__name__}") from exc
        finally:
            metrics.observe("clinisight_llm_seconds", time.perf_counter() - started,
                            agent=self.agent)
        metrics.inc("clinisight_llm_tokens_total", message.usage.input_tokens, agent=self.agent,
                    direction="input")
        metrics.inc("clinisight_llm_tokens_total", message.usage.output_tokens,
                    agent=self.agent, direction="output")
        for block in message.content:
            if block.type == "tool_use" and block.name == request.task:
                try:
                    result = request.output.model_validate(block.input)
                except ValueError as exc:
                    raise ReasonerError(f"Claude's {request.task} input was invalid") from exc
                if self.cache is not None:
                    await self.cache.put(
                        request.tenant, key, result.model_dump(mode="json", by_alias=True)
                    )
                # Counted once the answer is usable: one that is not becomes the agent's
                # fallback_offline (agents.base), not both.
                metrics.inc("clinisight_llm_requests_total", agent=self.agent,
                            outcome="retried" if raw.retries_taken else "ok")
                return result
        raise ReasonerError(f"Claude answered without calling {request.task}")
