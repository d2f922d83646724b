"""Searching only what a reader may read: filtered before ranking, exact at 1%, re-pointable."""

from __future__ import annotations

import numpy as np
import pytest

from embeddings.access import DENY, Expr, canonical, reader_tokens
from index.hybrid import fuse
from index.shard import ShardConfig, TenantShard
from tests.index.factories import clustered_vectors, page_chunks, texts

PER_PAGE = 2
ONLY_A: Expr = canonical([("*",), ("u:acc-A",)])
ONLY_B: Expr = canonical([("*",), ("u:acc-B",)])
A, B = reader_tokens("acc-A"), reader_tokens("acc-B")
QUERIES = ["passage about topic3", "topic7 passage 1", "topic11", "passage 0 of p17"]


def build(pages: int, config: ShardConfig, share_a: float = 0.01) -> tuple[TenantShard,
                                                                       np.ndarray, set[str]]:
    """``pages`` pages of two chunks; every 1/share_a-th page readable by A, the rest by B."""
    shard = TenantShard("acme", config)
    vecs = clustered_vectors(pages * PER_PAGE, seed=3)
    step = round(1 / share_a)
    readable = {f"p{p}" for p in range(0, pages, step)}
    shard.set_access({f"p{p}": ONLY_A if f"p{p}" in readable else ONLY_B
                      for p in range(pages)})
    for p in range(pages):
        page = f"p{p}"
        shard.upsert_page(page, page_chunks(page, texts(page, PER_PAGE)),
                          vecs[p * PER_PAGE:(p + 1) * PER_PAGE])
    return shard, vecs, readable


def exact(shard: TenantShard, vecs: np.ndarray, q: np.ndarray, text: str, pages: set[str],
          k: int = 10) -> tuple[list[str], list[str], list[str]]:
    """Exact filtered top-k by brute force: dense, BM25 (the full unfiltered ranking, then
    filtered) and their fusion at the shard's candidate depth."""
    depth = shard.config.candidate_depth
    rows = [i for i in range(len(vecs)) if f"p{i // PER_PAGE}" in pages]
    scores = vecs[rows] @ q
    order = np.argsort(-scores, kind="stable")
    dense = [(f"p{rows[i] // PER_PAGE}:1:{rows[i] % PER_PAGE}", float(scores[i]))
             for i in order[:depth]]
    lexical = [(c, s) for c, s in shard.lexical_search(text, len(shard))
               if c.split(":")[0] in pages][:depth]
    return ([c for c, _ in dense[:k]], [c for c, _ in lexical[:k]],
            [c for c, _ in fuse(dense, lexical, k=k)])


@pytest.mark.parametrize("config", [
    ShardConfig(approx_threshold=10**9),  # flat
    ShardConfig(approx_threshold=3000, min_recall=0.5),  # HNSW
], ids=["flat", "hnsw"])
def test_filtered_top10_equals_exact_filtered_top10_at_one_percent(config: ShardConfig) -> None:
    shard, vecs, readable = build(2000, config)
    assert shard.index_kind == ("hnsw" if config.approx_threshold == 3000 else "exact")
    rng = np.random.default_rng(7)
    for n, text in enumerate(QUERIES):
        q = vecs[rng.integers(len(vecs))] + rng.standard_normal(384).astype(np.float32) * 0.05
        q = (q / np.linalg.norm(q)).astype(np.float32)
        dense, lexical, hybrid = exact(shard, vecs, q, text, readable)
        got_dense = [c for c, _ in shard.dense_search(q, 10, reader=A)[0]]
        got_lexical = [c for c, _ in shard.lexical_search(text, 10, reader=A)]
        got = [h.chunk.chunk_id for h in shard.search(q, text, k=10, reader=A)]
        assert got_dense == dense, n
        assert got_lexical == lexical, n
        assert got == hybrid, n
        assert all(c.split(":")[0] in readable for c in got)
        # Unfiltered, A's pages are crowded out: the filter is not a cut of a global top-k.
        unfiltered = [h.chunk.chunk_id for h in shard.search(q, text, k=10)]
        assert sum(c.split(":")[0] in readable for c in unfiltered) < 10


def test_large_allowed_share_goes_through_the_selector_and_stays_exact() -> None:
    shard, vecs, readable = build(600, ShardConfig(approx_threshold=10**9, exact_subset_max=50),
                                  share_a=0.5)
    q = vecs[11]
    dense, _, hybrid = exact(shard, vecs, q, "topic5 passage", readable)
    assert [c for c, _ in shard.dense_search(q, 10, reader=A)[0]] == dense
    assert [h.chunk.chunk_id for h in shard.search(q, "topic5 passage", 10, reader=A)] == hybrid


def test_repointing_moves_access_without_re_embedding() -> None:
    shard, vecs, readable = build(300, ShardConfig(approx_threshold=10**9))
    q = vecs[2 * 5]  # page p5: B's
    assert "p5" not in readable
    before = shard._index.ntotal
    assert all(h.chunk.page_id != "p5" for h in shard.search(q, "passage 0 of p5", 10, reader=A))
    shard.lexical_search("warm the BM25 build", 1)
    assert shard.set_access({"p5": ONLY_A}) == 1
    assert shard.set_access({"p5": ONLY_A}) == 0  # unchanged: nothing moves
    assert shard._index.ntotal == before and not shard._lexical.dirty
    assert shard.search(q, "passage 0 of p5", 10, reader=A)[0].chunk.page_id == "p5"
    assert all(h.chunk.page_id != "p5" for h in shard.search(q, "passage 0 of p5", 10, reader=B))
    assert shard.access_of("p5") == shard.access_of("p0")


def test_pages_without_access_or_denied_are_read_by_no_reader() -> None:
    shard = TenantShard("acme", ShardConfig(approx_threshold=10**9))
    vecs = clustered_vectors(4, seed=1)
    shard.upsert_page("p0", page_chunks("p0", texts("p0", 2)), vecs[:2])
    shard.upsert_page("p1", page_chunks("p1", texts("p1", 2)), vecs[2:])
    shard.set_access({"p1": DENY})
    for reader in (A, B, reader_tokens("anyone")):
        assert shard.search(vecs[0], "passage", 10, reader=reader) == []
    assert len(shard.search(vecs[0], "passage", 10)) == 4  # a system search (no reader)


def test_snapshots_carry_access_and_deleting_a_page_drops_it() -> None:
    shard, vecs, readable = build(300, ShardConfig(approx_threshold=10**9))
    q = vecs[0]
    want = [h.chunk.chunk_id for h in shard.search(q, "topic3", 10, reader=A)]
    loaded = TenantShard.load(shard.dump().data, "acme", shard.config)
    assert [h.chunk.chunk_id for h in loaded.search(q, "topic3", 10, reader=A)] == want
    assert loaded.access_exprs() == {shard.access_of("p0"): ONLY_A,
                                     shard.access_of("p1"): ONLY_B}
    loaded.delete_page("p0")
    assert loaded.access_of("p0") is None
    assert all(h.chunk.page_id != "p0" for h in loaded.search(q, "topic3", 10, reader=A))
