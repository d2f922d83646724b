"""Fusing dense and lexical rankings into one.

``fuse`` is the one entry point the shards call; its internals may change (the retrieval
benchmark in benchmarks/ decides), its signature does not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Ranked = Sequence[tuple[str, float]]  # (id, score), best first

# Lowest score each side can produce: the cosine of two unit vectors, and BM25 (a sum of
# non-negative term weights; 0 means no query term matched).
DENSE_FLOOR = -1.0
LEXICAL_FLOOR = 0.0
# Chosen on the tuning split of the SciFact subset's queries only (the best 3-point moving
# average of nDCG@10 over weights 0 to 1 by 0.05); see benchmarks/reports/retrieval.md.
DENSE_WEIGHT = 0.6


def rrf(rankings: Sequence[Ranked], k: int = 60) -> list[tuple[str, float]]:
    """Plain reciprocal-rank fusion (Cormack et al., 2009): sum of 1 / (k + rank)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def normalize(ranked: Ranked, floor: float) -> dict[str, float]:
    """Theoretical-min-max normalisation of one list: ``(s - floor) / (max - floor)``.

    The list's best score maps to 1 and the lowest score the scorer can produce to 0, so the
    scale does not depend on how deep the list was cut (a min-max over the list would move with
    its last, arbitrary, score). Scores below ``floor`` (a scorer that breaks its promise) lower
    it. An id listed twice keeps its first (best) score; NaN and infinite scores are dropped.
    """
    scores: dict[str, float] = {}
    for doc_id, score in ranked:
        if doc_id not in scores and math.isfinite(score):
            scores[doc_id] = float(score)
    if not scores:
        return {}
    low = min(floor, *scores.values())
    span = max(scores.values()) - low
    # Nothing above the floor (say, BM25 scores all 0): no evidence for any of them.
    return {d: (s - low) / span if span > 0 else 0.0 for d, s in scores.items()}


def convex(
    dense: Ranked, lexical: Ranked, *, dense_weight: float = DENSE_WEIGHT
) -> list[tuple[str, float]]:
    """``w · dense' + (1 - w) · lexical'`` over the union of both lists, best first.

    ``'`` is ``normalize`` with each side's floor; an id absent from one list scores 0 (the
    floor) on that side. Ties go to the smaller id.
    """
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must be within [0, 1], got {dense_weight}")
    fused: dict[str, float] = {}
    for ranked, floor, weight in (
        (dense, DENSE_FLOOR, dense_weight),
        (lexical, LEXICAL_FLOOR, 1.0 - dense_weight),
    ):
        for doc_id, score in normalize(ranked, floor).items():
            fused[doc_id] = fused.get(doc_id, 0.0) + weight * score
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse(
    dense: Ranked, lexical: Ranked, *, k: int = 10, dense_weight: float = DENSE_WEIGHT
) -> list[tuple[str, float]]:
    """The top ``k`` ids of the fused ranking, best first, with their fused scores.

    ``dense`` holds cosine similarities (inner products of unit vectors), ``lexical`` BM25
    scores, each best first. The fused score is a convex combination of theoretically
    normalised scores, "TM2C2" in Bruch, Gai and Ingber, "An Analysis of Fusion Functions for
    Hybrid Retrieval" (ACM TOIS 2023): each side is scaled by ``(s - floor) / (max - floor)``
    (floor -1 for cosine, 0 for BM25), an id missing from one side's list scores 0 there, and
    the two are mixed with ``dense_weight`` (0.6) and ``1 - dense_weight``. Fused scores lie in
    [0, 1].

    Why scores and not ranks (RRF): ranks drop how far apart the scores are. When BM25 finds
    one document far above the rest (a rare term they share) or the dense side is unsure
    (flat cosines), the scores say so and ranks do not. Bruch et al. found this combination
    better than RRF in and out of domain, needing few queries to set its one weight. Why the
    theoretical floor and not each list's minimum: the scale then does not move with the
    candidate depth.

    A consequence to know: cosines of related texts sit far above -1, so dense scores land in
    the upper part of their scale. A document only BM25 found (an exact error code, say)
    scores at most ``1 - w`` = 0.4, while one only the dense side found scores
    ``0.6 · (cos + 1) / (max cos + 1)``, above 0.4 unless its cosine is more than a third of
    ``max cos + 1`` below the top: BM25-only finds rank below nearly all dense-only ones.
    Documents both sides found, the usual case near the top, are unaffected.

    Measurements (SciFact subset, held-out queries apart from the tuning ones) and the variant
    that was tried: benchmarks/reports/retrieval.md.

    Works from the lists alone: either may be empty, they may differ in length, repeated ids
    keep their first score, NaN scores are ignored, and equal fused scores are ordered by id,
    so the result is deterministic. ``k`` ≤ 0 gives an empty list.
    """
    if k <= 0:
        return []
    return convex(dense, lexical, dense_weight=dense_weight)[:k]
