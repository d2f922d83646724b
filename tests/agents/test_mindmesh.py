"""MindMesh on real parts in process: the fixture pages indexed into a real shard (dynalite
snapshots), the real embedding model, and Claude as a local Messages API server."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from agents.mindmesh import MindMesh
from agents.mindmesh_models import AskIn, Passage
from agents.reasoners import ClaudeReasoner
from compliance.fail_closed import FALLBACK_REASON
from compliance.phi import redact
from config.settings import Settings
from embeddings.confluence import FolderSource
from embeddings.embedder import Embedder, make_embedder
from embeddings.jobs import JobStore, ReindexProgress
from embeddings.reindex import reindex_space
from index.manager import ShardManager, open_manager
from store.factory import Stores
from tests.utils.anthropic import tool_use_reply
from tests.utils.http import Recorded, Reply, ScriptedServer
from tests.utils.phi import break_phi_check
from tests.utils.servers import SHARED

EXPORT = SHARED / "fixtures" / "confluence"
READER = frozenset({"*", "u:reader"})


class ShardRetriever:
    """The retriever contract over an in-process shard manager (serve uses Serve handles).

    The reader is not applied here: access filtering is the index's, tested in tests/index and
    against the real stack in tests/serve/test_mindmesh_access_e2e.py."""

    def __init__(self, manager: ShardManager, embedder: Embedder) -> None:
        self.manager, self.embedder = manager, embedder

    async def search(self, tenant: str, question: str, k: int, space: str | None,
                     reader: frozenset[str]) -> list[Passage]:
        hits = await self.manager.search(tenant, self.embedder.encode([question])[0], question,
                                         k, space)
        return [Passage(chunk_id=h.chunk.chunk_id, text=h.chunk.text, page_id=h.chunk.page_id,
                        title=h.chunk.title, url=h.chunk.url, version=h.chunk.version,
                        space_key=h.chunk.space_key, heading_path=list(h.chunk.heading_path),
                        score=h.score) for h in hits]


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return make_embedder("torch", Path("/unused"), threads=2)


@pytest.fixture
async def retriever(settings: Settings, stores: Stores, embedder: Embedder) -> ShardRetriever:
    manager = open_manager(settings, threads=4)

    def stream(texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield np.arange(len(texts)), embedder.encode(list(texts))

    await reindex_space(ReindexProgress(job_id="j", tenant="t1", space="QM"),
                        source=FolderSource(EXPORT), jobs=JobStore(stores.state), writer=manager,
                        embed_stream=stream, redact=redact)
    return ShardRetriever(manager, embedder)


async def test_claude_answer_cites_only_returned_passages(
    stores: Stores, retriever: ShardRetriever
) -> None:
    answer = {"answer": "Paste the IdP's SAML metadata XML [1]. See also [9].",
              "citations": [1, 9]}
    seen: list[Recorded] = []

    def respond(req: Recorded) -> Reply:
        seen.append(req)
        return tool_use_reply("answer_with_citations", answer)

    with ScriptedServer(respond) as server:
        reasoner = ClaudeReasoner(api_key="k", model="claude-test", base_url=server.url,
                                  redact=redact)
        agent = MindMesh(stores.state, reasoner, retriever=retriever)
        out = await agent.ask("t1", AskIn(
            question="Patient John Smith, MRN 4829103, cannot log in: how is SAML set up?", k=3),
            READER)
    assert out.produced_by == "claude:claude-test"
    assert out.citations == [1], "a citation beyond the returned passages must be dropped"
    assert len(out.passages) == 3 and out.passages[0].page_id == "1454342158"
    body = seen[0].json()
    prompt = body["messages"][0]["content"]
    assert "John Smith" not in prompt and "4829103" not in prompt, "PHI reached the LLM"
    assert "Identity Providers" in prompt and body["tools"][0]["name"] == "answer_with_citations"


async def test_a_question_that_cannot_be_checked_is_answered_offline(
    stores: Stores, retriever: ShardRetriever, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer = {"answer": "from Claude [1]", "citations": [1]}
    with ScriptedServer(lambda _: tool_use_reply("answer_with_citations", answer)) as server:
        reasoner = ClaudeReasoner(api_key="k", model="claude-test", base_url=server.url,
                                  max_retries=0, redact=redact)
        agent = MindMesh(stores.state, reasoner, retriever=retriever)
        broken = break_phi_check(monkeypatch)
        out = await agent.ask("t1", AskIn(
            question="Patient John Smith, MRN 4829103, cannot log in: how is SAML set up?", k=3),
            READER)
    assert server.requests == [], "the question reached the Messages API unchecked"
    assert any("4829103" in text for text in broken.checked)
    assert out.produced_by == "offline" and out.fallback_reason == FALLBACK_REASON
    assert out.passages and out.answer != answer["answer"]
    assert out.model_dump(by_alias=True)["fallbackReason"] == FALLBACK_REASON


async def test_offline_answer_and_tenant_isolation(stores: Stores,
                                                   retriever: ShardRetriever) -> None:
    agent = MindMesh(stores.state, retriever=retriever)
    out = await agent.ask("t1", AskIn(question="SAML identity provider metadata", k=5), READER)
    assert out.produced_by == "offline" and out.citations
    assert all(1 <= c <= len(out.passages) for c in out.citations)
    other = await agent.ask("t2", AskIn(question="SAML identity provider metadata", k=5), READER)
    assert other.passages == [] and other.citations == []
