from __future__ import annotations

import itertools
import math

import pytest

from index.hybrid import DENSE_WEIGHT, fuse, normalize, rrf

# Realistic shapes: MiniLM cosines between 0.2 and 0.7, BM25 scores in the units to tens;
# both lists cut at the same depth (5).
DENSE = [("d1", 0.71), ("both", 0.69), ("d3", 0.55), ("d4", 0.41), ("d5", 0.30)]
LEXICAL = [("l1", 14.2), ("both", 13.9), ("l3", 9.0), ("l4", 4.4), ("l5", 2.0)]


def ids(ranked: list[tuple[str, float]]) -> list[str]:
    return [doc_id for doc_id, _ in ranked]


def test_ids_from_both_lists_appear() -> None:
    fused = fuse(DENSE, LEXICAL, k=100)
    assert set(ids(fused)) == set(ids(DENSE)) | set(ids(LEXICAL))
    scores = [s for _, s in fused]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_an_id_high_in_both_beats_ids_high_in_one() -> None:
    fused = ids(fuse(DENSE, LEXICAL, k=10))
    assert fused[0] == "both"  # second on each side, first fused
    assert fused.index("d1") < fused.index("d5") and fused.index("l1") < fused.index("l5")


def test_empty_inputs() -> None:
    assert fuse([], []) == []
    assert fuse([], [], k=0) == []
    assert ids(fuse(DENSE, [], k=10)) == ids(DENSE)
    assert ids(fuse([], LEXICAL, k=10)) == ids(LEXICAL)


@pytest.mark.parametrize("k", [0, 1, 3, 9, 50])
def test_k_is_respected(k: int) -> None:
    union = len(set(ids(DENSE)) | set(ids(LEXICAL)))
    assert len(fuse(DENSE, LEXICAL, k=k)) == min(k, union)
    assert fuse(DENSE, LEXICAL, k=-1) == []


def test_ties_are_broken_by_id_whatever_the_input_order() -> None:
    dense = [("b", 0.5), ("a", 0.5), ("c", 0.5)]
    lexical = [("z", 3.0), ("y", 3.0), ("x", 3.0)]
    expected = fuse(dense, lexical, k=10)
    # a, b and c tie, and so do x, y and z: within a tie, the smaller id comes first.
    assert ids(expected) == ["a", "b", "c", "x", "y", "z"]
    for d, x in itertools.product(itertools.permutations(dense), itertools.permutations(lexical)):
        assert fuse(list(d), list(x), k=10) == expected


def test_lists_of_different_length() -> None:
    dense = [(f"d{i}", 0.8 - i * 0.01) for i in range(50)]
    lexical = [("d7", 3.0)]  # the only BM25 match: every other id scores 0 there
    fused = fuse(dense, lexical, k=5)
    assert ids(fused)[0] == "d7"
    assert len(fuse(dense, lexical, k=100)) == 50


def test_weight_one_or_zero_gives_one_side_order() -> None:
    assert ids(fuse(DENSE, LEXICAL, k=5, dense_weight=1.0)) == ids(DENSE)
    assert ids(fuse(DENSE, LEXICAL, k=5, dense_weight=0.0)) == ids(LEXICAL)
    with pytest.raises(ValueError, match="dense_weight must be within"):
        fuse(DENSE, LEXICAL, dense_weight=1.5)


def test_scale_does_not_depend_on_the_candidate_depth() -> None:
    # The floor, not the list's last score, anchors 0: cutting the list deeper or shallower
    # leaves every remaining score where it was.
    deep = normalize(DENSE, floor=-1.0)
    shallow = normalize(DENSE[:2], floor=-1.0)
    assert shallow == {d: deep[d] for d in shallow}
    assert deep["d1"] == 1.0
    assert math.isclose(deep["d5"], (0.30 + 1.0) / (0.71 + 1.0))


def test_degenerate_scores() -> None:
    # A repeated id keeps its first score; NaN is ignored; BM25 all zero is no evidence.
    assert normalize([("a", 2.0), ("a", 9.0), ("b", float("nan"))], floor=0.0) == {"a": 1.0}
    assert normalize([("a", 0.0), ("b", 0.0)], floor=0.0) == {"a": 0.0, "b": 0.0}
    fused = dict(fuse([("x", 0.2), ("z", -0.2)], [("x", 0.0), ("y", 0.0)], k=3))
    assert fused["x"] == pytest.approx(DENSE_WEIGHT)  # top dense, nothing from BM25
    assert fused["y"] == 0.0


def test_default_weight_is_the_tuned_one() -> None:
    assert fuse(DENSE, LEXICAL, k=10) == fuse(DENSE, LEXICAL, k=10, dense_weight=DENSE_WEIGHT)


def test_rrf_is_plain_reciprocal_rank_fusion() -> None:
    fused = dict(rrf([DENSE, LEXICAL], k=60))
    assert math.isclose(fused["both"], 2 / 62)
    assert math.isclose(fused["d1"], 1 / 61)
