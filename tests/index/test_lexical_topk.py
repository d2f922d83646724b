"""``LexicalIndex.search`` returns exactly what scoring every document gives.

The oracle is a separate bm25s index over the live chunks, scored with ``get_scores`` (every
document), filtered by space and cut to the top ``k`` by score then chunk id: what the index did
before its pruned search. Scores must match to the bit, not approximately: fusion and tie-breaks
see them.
"""

from __future__ import annotations

import bm25s
import numpy as np
import pytest

from embeddings.chunking import Chunk
from index.lexical import LexicalIndex, tokenize
from tests.index.factories import page_chunks

SPACES = ["ENG", "OPS", "HR", "TINY"]


class Oracle:
    """bm25s over ``chunks``, every document scored for each query."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks = chunks
        self.bm25 = bm25s.BM25()
        self.bm25.index([tokenize(c.embed_text) for c in chunks], show_progress=False)

    def search(self, query: str, k: int, space: str | None = None) -> list[tuple[str, float]]:
        ids = self.bm25.get_tokens_ids(tokenize(query))
        if not ids:
            return []
        scores = self.bm25.get_scores(ids)
        hits = [(c.chunk_id, float(s)) for c, s in zip(self.chunks, scores, strict=True)
                if s > 0 and (space is None or c.space_key == space)]
        return sorted(hits, key=lambda h: (-h[1], h[0]))[:k]


def zipf_text(rng: np.random.Generator, words: int, vocab: int = 400) -> str:
    ranks = np.minimum(rng.zipf(1.3, words), vocab)
    return " ".join(f"w{r}" for r in ranks)


def corpus(rng: np.random.Generator, pages: int) -> dict[str, list[Chunk]]:
    """Pages of Zipf-distributed words, of varied lengths, in spaces of very different sizes;
    every seventh page repeats another's text, for ties."""
    out: dict[str, list[Chunk]] = {}
    for p in range(pages):
        n_chunks = int(rng.integers(1, 6))
        if p % 7 == 6:
            texts = [c.text for c in out[f"p{p - 6}"]]
        else:
            texts = [zipf_text(rng, int(rng.integers(3, 40))) for _ in range(n_chunks)]
        space = "TINY" if p % 50 == 0 else SPACES[p % 3]
        out[f"p{p}"] = page_chunks(f"p{p}", texts, space=space, title="Notes")
    return out


def queries(rng: np.random.Generator, n: int) -> list[str]:
    out = [zipf_text(rng, int(rng.integers(1, 7))) for _ in range(n)]
    # Repeated terms (bm25s counts each occurrence), unknown words, and only the commonest.
    return out + ["w1 w1 w2", "w3 nosuchword", "nosuchword", "w1 w2 w3 w1", "notes w1",
                  "w1"]


def assert_same(index: LexicalIndex, pages: dict[str, list[Chunk]], qs: list[str]) -> None:
    oracle = Oracle([c for page in pages.values() for c in page])
    for query in qs:
        for space in (None, "ENG", "TINY", "NOPE"):
            for k in (1, 10, 50):
                got = index.search(query, k, space)
                assert got == oracle.search(query, k, space), (query, space, k)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(7)


def test_top_k_equals_scoring_every_document(rng: np.random.Generator) -> None:
    pages = corpus(rng, 600)
    index = LexicalIndex()
    for page_id, chunks in pages.items():
        index.upsert_page(page_id, chunks)
    assert_same(index, pages, queries(rng, 120))


def test_top_k_equals_scoring_every_document_after_updates(rng: np.random.Generator) -> None:
    pages = corpus(rng, 600)
    index = LexicalIndex()
    for page_id, chunks in pages.items():
        index.upsert_page(page_id, chunks)
    index.search("w1", 5)  # built once before the updates
    for p in range(0, 600, 9):  # delete some pages, replace others with new versions
        page_id = f"p{p}"
        if p % 2:
            index.delete_page(page_id)
            del pages[page_id]
        else:
            pages[page_id] = page_chunks(page_id, [zipf_text(rng, 12), zipf_text(rng, 30)],
                                         version=2, space="OPS", title="Notes")
            index.upsert_page(page_id, pages[page_id])
    assert_same(index, pages, queries(rng, 60))


def test_many_ties_go_to_the_lowest_chunk_ids() -> None:
    index = LexicalIndex()
    for p in range(300, 0, -1):  # inserted in reverse, so index order is not id order
        index.upsert_page(f"p{p:03d}", page_chunks(f"p{p:03d}", ["insulin pump"], title="x"))
    hits = index.search("insulin", 10)
    assert [c for c, _ in hits] == [f"p{p:03d}:1:0" for p in range(1, 11)]
    assert len({s for _, s in hits}) == 1
