"""Who may read a shard's chunks: each page's access expression id, and what a search keeps.

``AccessTable`` holds the expressions (``embeddings.access``; a space has a handful) once each,
the id each page points to, and the shard's int ids behind each expression. Re-pointing a page
moves its int ids from one set to another; nothing about its vectors or BM25 postings changes.
It is the shard's state, guarded by the shard's lock (not thread-safe on its own).

``Filter`` is what a filtered search may return (sorted int ids) with what is built from them
on demand: their vectors for exact scoring, or a FAISS selector; ``FilterCache`` keeps the last
few per shard generation.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from embeddings.access import Expr, allows, expr_id

__all__ = ["AccessTable", "Filter", "FilterCache", "subset_search"]


class AccessTable:
    def __init__(self) -> None:
        self._exprs: dict[str, Expr] = {}  # access id -> expression
        self._pages: dict[str, str] = {}  # page id -> access id
        self._ids: dict[str, set[int]] = {}  # access id -> live int ids
        self._arrays: dict[str, np.ndarray] = {}  # the same, sorted, built on demand

    def of(self, page_id: str) -> str | None:
        return self._pages.get(page_id)

    def in_use(self) -> dict[str, Expr]:
        used = set(self._pages.values())
        return {a: self._exprs[a] for a in sorted(used)}

    def point(self, page_id: str, expr: Expr, ids: list[int]) -> bool:
        """Point the page (whose live int ids are ``ids``) at ``expr``; whether it moved."""
        access = expr_id(expr)
        self._exprs.setdefault(access, expr)
        before = self._pages.get(page_id)
        if before == access:
            return False
        self._pages[page_id] = access
        if ids:
            if before is not None:
                self._discard(before, ids)
            self._add(access, ids)
        return True

    def add_ids(self, page_id: str, ids: list[int]) -> str | None:
        """New chunks of the page; answers its access id (None: no record)."""
        access = self._pages.get(page_id)
        if access is not None and ids:
            self._add(access, ids)
        return access

    def remove_ids(self, page_id: str, ids: list[int]) -> None:
        access = self._pages.get(page_id)
        if access is not None:
            self._discard(access, ids)

    def drop(self, page_id: str) -> bool:
        return self._pages.pop(page_id, None) is not None

    def allowed(self, reader: frozenset[str], live: int) -> frozenset[str] | None:
        """The access ids ``reader`` satisfies that have chunks; None when those are all
        ``live`` chunks (nothing to filter)."""
        allowed = frozenset(a for a, e in self._exprs.items()
                            if self._ids.get(a) and allows(e, reader))
        if sum(len(self._ids[a]) for a in allowed) == live:
            return None
        return allowed

    def readable(self, page_id: str, reader: frozenset[str]) -> bool:
        """The page's own expression, evaluated again (the check of every hit)."""
        access = self._pages.get(page_id)
        return access is not None and allows(self._exprs[access], reader)

    def members(self, allowed: frozenset[str]) -> np.ndarray:
        """The sorted int ids behind ``allowed``."""
        parts = [self._array(a) for a in sorted(allowed)]
        return np.sort(np.concatenate(parts)) if parts else np.zeros(0, np.int64)

    def dump(self) -> dict[str, Any]:
        return {"exprs": self.in_use(), "pages": dict(self._pages)}

    def restore(self, meta: dict[str, Any] | None) -> None:
        """From ``dump``'s dict (None: a snapshot older than access: no page has a record).
        Raises ``ValueError`` when a page points to an expression the dict lacks."""
        meta = meta or {"exprs": {}, "pages": {}}
        self._exprs = {str(a): tuple(tuple(str(t) for t in c) for c in e)
                       for a, e in meta["exprs"].items()}
        self._pages = {str(p): str(a) for p, a in meta["pages"].items()}
        missing = set(self._pages.values()) - set(self._exprs)
        if missing:
            raise ValueError(f"access ids without their expression: {sorted(missing)[:3]}")

    def _add(self, access: str, ids: list[int]) -> None:
        self._ids.setdefault(access, set()).update(ids)
        self._arrays.pop(access, None)

    def _discard(self, access: str, ids: list[int]) -> None:
        if access in self._ids:
            self._ids[access].difference_update(ids)
            self._arrays.pop(access, None)

    def _array(self, access: str) -> np.ndarray:
        arr = self._arrays.get(access)
        if arr is None:
            arr = np.fromiter(sorted(self._ids.get(access, ())), dtype=np.int64)
            self._arrays[access] = arr
        return arr


class Filter:
    """The int ids a filtered search may return (sorted), with what is built from them on
    demand: their vectors (exact scoring) or a FAISS selector."""

    __slots__ = ("batch", "members", "vecs")

    def __init__(self, members: np.ndarray) -> None:
        self.members = members
        self.vecs: np.ndarray | None = None
        self.batch: Any = None


class FilterCache:
    """The last ``kept`` filters by key (the key carries the shard's generation, so a write
    makes the old ones unreachable; they then age out). Readers with the same groups ask
    again, and sorted ids, their vectors and a selector cost more to build than a search."""

    def __init__(self, kept: int = 4) -> None:
        self.kept = kept
        self._filters: OrderedDict[tuple[Any, ...], Filter] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> Filter | None:
        hit = self._filters.get(key)
        if hit is not None:
            self._filters.move_to_end(key)
        return hit

    def put(self, key: tuple[Any, ...], made: Filter) -> Filter:
        self._filters[key] = made
        while len(self._filters) > self.kept:
            self._filters.popitem(last=False)
        return made

    def clear(self) -> None:
        self._filters.clear()


def subset_search(q: np.ndarray, members: np.ndarray, vecs: np.ndarray,
                  n: int) -> list[list[tuple[int, float]]]:
    """Exact top ``n`` of ``members`` (rows of ``vecs``) per query row, ties to the lower id."""
    scores = q @ vecs.T
    out = []
    for row in scores:
        top = np.argpartition(-row, n - 1)[:n] if n < row.size else np.arange(row.size)
        top = top[np.lexsort((members[top], -row[top]))]
        out.append([(int(members[t]), float(row[t])) for t in top])
    return out
