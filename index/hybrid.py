"""Fusing dense and lexical rankings into one.

``fuse`` is the one entry point the shards call; its internals may change (the retrieval
benchmark in benchmarks/ decides), its signature does not.
"""

from __future__ import annotations

from collections.abc import Sequence

Ranked = Sequence[tuple[str, float]]  # (id, score), best first


def rrf(rankings: Sequence[Ranked], k: int = 60) -> list[tuple[str, float]]:
    """Plain reciprocal-rank fusion (Cormack et al., 2009): sum of 1 / (k + rank)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, (doc_id, _) in enumerate(ranking, start=1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def fuse(dense: Ranked, lexical: Ranked, *, k: int = 10) -> list[tuple[str, float]]:
    """The top ``k`` ids of the fused ranking, best first, with their fused scores."""
    return rrf([dense, lexical])[:k]
