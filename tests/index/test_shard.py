from __future__ import annotations

import numpy as np
import pytest

from index.shard import ShardConfig, ShardFormatError, TenantShard
from tests.index.factories import clustered_vectors, page_chunks, texts, unit_vectors

SMALL = ShardConfig(approx_threshold=10**9)


def fill(shard: TenantShard, vecs: np.ndarray, per_page: int = 10,
         spaces: tuple[str, ...] = ("ENG",)) -> None:
    for p in range(len(vecs) // per_page):
        page = f"p{p}"
        chunks = page_chunks(page, texts(page, per_page), space=spaces[p % len(spaces)])
        shard.upsert_page(page, chunks, vecs[p * per_page:(p + 1) * per_page])


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.chunk.chunk_id for h in hits]


def test_upsert_search_and_pages() -> None:
    shard = TenantShard("acme", SMALL)
    vecs = unit_vectors(100)
    fill(shard, vecs)
    assert len(shard) == 100
    assert shard.pages() == {f"p{p}": 1 for p in range(10)}
    hits = shard.search(vecs[42], "", k=5)
    assert ids(hits)[0] == "p4:1:2"
    assert hits[0].dense_score == pytest.approx(1.0, abs=1e-5)
    assert hits[0].lexical_score is None  # no query text
    assert shard.get("p4:1:2") == hits[0].chunk


def test_hybrid_hit_carries_both_scores() -> None:
    shard = TenantShard("acme", SMALL)
    vecs = unit_vectors(50)
    fill(shard, vecs)
    hits = shard.search(vecs[13], "passage 3 of p1", k=3)
    top = hits[0]
    assert top.chunk.chunk_id == "p1:1:3"
    assert top.dense_score is not None and top.lexical_score is not None
    assert top.score == max(h.score for h in hits)


def test_replacing_a_page_drops_its_old_chunks_atomically() -> None:
    shard = TenantShard("acme", SMALL)
    vecs = unit_vectors(40)
    fill(shard, vecs)
    new = unit_vectors(3, seed=9)
    shard.upsert_page("p1", page_chunks("p1", ["fresh a", "fresh b", "fresh c"], version=2), new)
    assert len(shard) == 33
    assert shard.pages()["p1"] == 2
    assert shard.get("p1:1:0") is None
    assert ids(shard.search(new[1], "", k=1)) == ["p1:2:1"]
    # The old vector of p1:1:0 now finds something else.
    assert all(h.chunk.page_id != "p1" or h.chunk.version == 2
               for h in shard.search(vecs[10], "passage 0 of p1", k=40))


def test_delete_page_and_empty_upsert_remove_it() -> None:
    shard = TenantShard("acme", SMALL)
    fill(shard, unit_vectors(30))
    shard.delete_page("p0")
    shard.upsert_page("p1", [], np.zeros((0, 384), np.float32))
    shard.delete_page("never-indexed")
    assert shard.pages() == {"p2": 1}
    assert {h.chunk.page_id for h in shard.search(unit_vectors(1)[0], "passage", k=30)} == {"p2"}


def test_invalid_upserts_change_nothing() -> None:
    shard = TenantShard("acme", SMALL)
    fill(shard, unit_vectors(20))
    before = shard.generation
    chunks = page_chunks("p0", ["a", "b"], version=2)
    with pytest.raises(ValueError, match="shape"):
        shard.upsert_page("p0", chunks, unit_vectors(3))
    with pytest.raises(ValueError, match="is of page"):
        shard.upsert_page("p9", chunks, unit_vectors(2))
    with pytest.raises(ValueError, match="L2-normalized"):
        shard.upsert_page("p0", chunks, unit_vectors(2) * 2)
    with pytest.raises(ValueError, match="twice"):
        shard.upsert_page("p0", [chunks[0], chunks[0]], unit_vectors(2))
    assert shard.generation == before
    assert shard.pages() == {"p0": 1, "p1": 1}
    with pytest.raises(ValueError, match="invalid tenant"):
        TenantShard("../other", SMALL)


@pytest.mark.parametrize("config", [
    SMALL,
    ShardConfig(approx_threshold=300),  # HNSW; a space this small is scored exactly
    ShardConfig(approx_threshold=300, exact_subset_max=0),  # HNSW walk with an IDSelector
], ids=["exact", "hnsw-subset", "hnsw-selector"])
def test_space_filter_is_applied_before_the_cut(config: ShardConfig) -> None:
    shard = TenantShard("acme", config)
    vecs = clustered_vectors(600, clusters=5)
    fill(shard, vecs, spaces=("ENG", "ENG", "ENG", "ENG", "HR"))  # HR: every fifth page
    assert shard.index_kind == ("exact" if config is SMALL else "hnsw")
    shard.delete_page("p9")  # an HR page: a tombstone in HNSW mode
    hr = [i for i in range(600) if (i // 10) % 5 == 4 and i // 10 != 9]
    query = vecs[3]  # an ENG chunk: the global top 50 is mostly ENG
    hits = shard.search(query, "passage", k=20, space="HR")
    assert len(hits) == 20
    assert {h.chunk.space_key for h in hits} == {"HR"}
    assert not any(h.chunk.page_id == "p9" for h in hits)
    dense = shard.dense_search(query[None, :], 10, space="HR")[0]
    truth = np.argsort(-(vecs[hr] @ query))[:10]
    expected = [f"p{hr[t] // 10}:1:{hr[t] % 10}" for t in truth]
    got = [cid for cid, _ in dense]
    if config.exact_subset_max == 0:  # approximate: most of the true top 10
        assert len(set(got) & set(expected)) >= 9
    else:
        assert got == expected
    assert shard.search(query, "passage", k=5, space="NOPE") == []


def test_switches_to_hnsw_only_when_recall_reaches_the_target() -> None:
    vecs = unit_vectors(2500, seed=1)
    good = TenantShard("acme", ShardConfig(approx_threshold=2000))
    fill(good, vecs)
    status = good.approx_status
    assert good.index_kind == "hnsw"
    assert status["recall"] >= 0.95 and status["ef_search"] in (32, 64, 128, 256)
    assert status["history"][-1]["live"] == 2000 and status["history"][-1]["switched"]
    # Still finds a stored vector, and other spaces' or deleted chunks never come back.
    assert ids(good.search(vecs[2222], "", k=1)) == ["p222:1:2"]

    # A graph too sparse for the target: measured, refused, recorded; searches stay exact.
    weak = TenantShard("acme", ShardConfig(approx_threshold=2000, hnsw_m=4,
                                           hnsw_ef_construction=8, hnsw_ef_search=(8,),
                                           candidate_depth=10))
    fill(weak, vecs)
    status = weak.approx_status
    assert weak.index_kind == "exact"
    assert status["recall"] < 0.95 and status["ef_search"] is None
    assert len(status["history"]) == 1  # not retried on every upsert: only at twice the size
    exact = TenantShard("acme", SMALL)
    fill(exact, vecs)
    q = unit_vectors(5, seed=7)
    assert weak.dense_search(q, 10) == exact.dense_search(q, 10)


def test_hnsw_mode_tombstones_deleted_chunks_and_compacts() -> None:
    cfg = ShardConfig(approx_threshold=1000, compact_ratio=0.2)
    shard = TenantShard("acme", cfg)
    vecs = clustered_vectors(1500, seed=3)
    fill(shard, vecs)
    assert shard.index_kind == "hnsw"
    shard.delete_page("p7")
    shard.upsert_page("p8", page_chunks("p8", ["only one now"], version=2), vecs[80:81])
    found = {h.chunk.chunk_id for h in shard.search(vecs[75], "", k=50)}
    assert not any(cid.startswith("p7:") for cid in found)
    assert not any(cid.startswith("p8:1:") for cid in found)
    assert ids(shard.search(vecs[80], "", k=1)) == ["p8:2:0"]
    # Deleting over a fifth of the graph rebuilds it from the live vectors.
    for p in range(10, 45):
        shard.delete_page(f"p{p}")
    assert len(shard) == 1500 - 10 - 9 - 350
    assert shard.index_kind == "hnsw"
    assert ids(shard.search(vecs[1234], "", k=1)) == ["p123:1:4"]
    # Shrinking under the threshold goes back to exact at the next compaction.
    for p in range(45, 120):
        shard.delete_page(f"p{p}")
    assert shard.index_kind == "exact"
    assert ids(shard.search(vecs[1400], "", k=1)) == ["p140:1:0"]


@pytest.mark.parametrize("threshold", [10**9, 500], ids=["exact", "hnsw"])
def test_dump_and_load_give_an_identical_shard(threshold: int) -> None:
    cfg = ShardConfig(approx_threshold=threshold)
    shard = TenantShard("acme", cfg)
    vecs = clustered_vectors(800, seed=5)
    fill(shard, vecs, spaces=("ENG", "HR"))
    shard.delete_page("p3")
    dump = shard.dump()
    assert dump.generation == shard.generation and dump.vector_count == len(shard) == 790
    data = dump.data
    copy = TenantShard.load(data, "acme", cfg)
    assert copy.index_kind == shard.index_kind
    assert copy.approx_status == shard.approx_status
    assert copy.pages() == shard.pages()
    for i, q in enumerate(unit_vectors(20, seed=11)):
        text, space = f"topic{i % 13} passage", ("HR" if i % 3 == 0 else None)
        assert copy.search(q, text, 10, space) == shard.search(q, text, 10, space)
    with pytest.raises(ShardFormatError, match="tenant 'acme'"):
        TenantShard.load(data, "globex", cfg)
    with pytest.raises(ShardFormatError, match="magic"):
        TenantShard.load(b"garbage", "acme", cfg)


def test_search_many_matches_single_searches() -> None:
    shard = TenantShard("acme", SMALL)
    fill(shard, unit_vectors(200))
    q = unit_vectors(4, seed=2)
    texts_ = ["passage 1", "", "topic3", "nothing matches this"]
    batch = shard.search_many(q, texts_, k=7)
    assert batch == [shard.search(v, t, k=7) for v, t in zip(q, texts_, strict=True)]
