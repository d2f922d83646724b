"""MindMesh: questions answered from the tenant's own Confluence, with citations.

Retrieval is injected (``Retriever``): the agent never knows whether passages come from a Serve
deployment or an in-process shard, and it only ever asks for the calling tenant's. The answer
comes from Claude (citing passage numbers) when configured, else from the extractive offline
answerer; citations always refer to the returned passages, 1-based.

Every question is asked for a reader (their access tokens, ``embeddings.access``): the retriever
returns only passages of pages that reader may read in Confluence, so the prompt, the answer and
its citations are built from those alone. Nothing is cached across questions, so no answer is
shared between readers.
"""

from __future__ import annotations

from typing import Any, Protocol

from agents.base import Agent
from agents.events import AgentEvent
from agents.mindmesh_models import AnswerIn, AnswerPlan, AskIn, AskOut, Passage
from agents.mindmesh_offline import NO_ANSWER
from agents.mindmesh_offline import answer as offline_answer
from agents.reasoners import ReasoningRequest

SYSTEM_PROMPT = """You are MindMesh, answering questions for a healthcare team from their own
Confluence pages. Answer only from the numbered passages you are given; if they do not contain
the answer, say so. Cite every claim with the passage number in square brackets, e.g. [2], and
list the numbers you cited. Be concise. Placeholders such as [NAME] or [MRN] stand for redacted
patient data: never try to reconstruct them."""


class Retriever(Protocol):
    async def search(self, tenant: str, question: str, k: int, space: str | None,
                     reader: frozenset[str]) -> list[Passage]: ...


class MindMesh(Agent):
    name = "MindMesh"

    def __init__(self, state: Any, reasoner: Any = None, retriever: Retriever | None = None):
        super().__init__(state, reasoner)
        self.retriever = retriever

    async def ask(self, tenant: str, request: AskIn, reader: frozenset[str]) -> AskOut:
        if self.retriever is None:
            raise RuntimeError("MindMesh has no retriever")
        passages = await self.retriever.search(tenant, request.question, request.k,
                                               request.space, reader)
        if not passages:
            return AskOut(answer=NO_ANSWER, citations=[], passages=[], produced_by="offline")
        plan, produced_by, fallback = await self.reason(
            ReasoningRequest(
                tenant=tenant,
                task="answer_with_citations",
                system=SYSTEM_PROMPT,
                input=AnswerIn(question=request.question,
                               passages=[f"{p.title}: {p.text}" for p in passages]),
                output=AnswerPlan,
                offline=offline_answer,
            )
        )
        citations = sorted({c for c in plan.citations if 1 <= c <= len(passages)})
        return AskOut(answer=plan.answer, citations=citations, passages=passages,
                      produced_by=produced_by, fallback_reason=fallback)

    async def handle_event(self, event: AgentEvent) -> dict[str, Any]:
        # Page events are applied by the index writer (serve.mindmesh); nothing to decide here.
        return {"action": "none"}
