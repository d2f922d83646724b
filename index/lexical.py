"""Per-tenant lexical (BM25) search over chunk texts, with bm25s.

What is indexed is ``Chunk.embed_text`` (title and headings, then the passage): a question
names the page's subject as often as a word of the passage, for the same reason the embedding
sees them.

Tokenization. bm25s's default pattern ``\\b\\w\\w+\\b`` does keep Hangul (``\\w`` is
Unicode-aware), but Korean attaches particles to words and writes compounds without spaces:
``기록은`` (record + topic particle) and ``진료기록`` (medical record) are single tokens that a
query for ``기록`` never matches, and Chinese or Japanese text has no spaces at all. So runs of
CJK characters (Hangul, Han, kana) become overlapping character bigrams (a one-character run stays
a unigram), as Lucene's CJKBigramFilter does; other runs stay whole words. Text is NFKC-normalized
and case-folded first; English stopwords are dropped; nothing is stemmed.

Updates. bm25s builds an immutable sparse index, so ``upsert_page`` and ``delete_page`` only
record the change (tokens are computed then, once per chunk) and mark the index dirty; the next
``search`` rebuilds it from the kept tokens. A rebuild is linear in the corpus' total token count
(measured in benchmarks/reports/search.md); a burst of page updates costs one rebuild, not one
per page.

Search. bm25s's ``get_scores`` adds every posting of every query term into a score array over
all documents before the top ``k`` are cut: at a million chunks a query of common words touches
over two million postings (5-10 ms, most of a hybrid search). ``search`` runs MaxScore instead
(Turtle and Flood, "Query evaluation: strategies and optimizations", 1995), compiled with numba:
documents are visited in order along the postings of the terms that can still lift a document
into the top ``k`` (the "essential" ones); the other terms are looked up only while the
document's upper bound still reaches the ``k``-th best score so far, and a term whose best
score, with those of the weaker terms, falls short of it stops being walked. Terms in a quarter
of the documents or more also keep a dense row of scores, looked up in one read; a query made
only of such terms scores every document from those rows, which beats walking their postings.
Each score is the same float32 sum, in the same order, as bm25s's, and ties go to the lower
chunk id inside the kernel, so the top ``k`` is exactly what scoring every document gives
(tests/index/test_lexical_topk.py checks it against ``get_scores``).

Not thread-safe: the owning ``TenantShard`` serializes access with its lock.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import Any

import bm25s
import numba
import numpy as np
from bm25s.stopwords import STOPWORDS_EN

from embeddings.chunking import Chunk

__all__ = ["LexicalIndex", "tokenize"]

_WORD = re.compile(r"\w+")
# Hangul (jamo, compatibility jamo, syllables), kana, CJK ideographs (with extension A and the
# compatibility block): scripts written without spaces between words, or with particles glued on.
_CJK = (
    "\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff"
)
_SPLIT = re.compile(f"([{_CJK}]+)")
_IS_CJK = re.compile(f"[{_CJK}]")
_STOPWORDS = frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    """Words for Latin-like scripts, character bigrams for CJK runs (see the module docstring)."""
    tokens: list[str] = []
    for word in _WORD.findall(unicodedata.normalize("NFKC", text).casefold()):
        for run in _SPLIT.split(word):
            if not run:
                continue
            if _IS_CJK.match(run):
                if len(run) == 1:
                    tokens.append(run)
                else:
                    tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
            elif run.strip("_") and run not in _STOPWORDS:
                tokens.append(run)
    return tokens


class LexicalIndex:
    """BM25 over one tenant's chunks; chunk ids in, (chunk id, score) best first out."""

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self._k1 = k1
        self._b = b
        self._tokens: dict[str, list[str]] = {}  # chunk id -> tokens
        self._space: dict[str, str] = {}  # chunk id -> space key
        self._by_page: dict[str, list[str]] = {}  # page id -> chunk ids
        self._bm25: bm25s.BM25 | None = None
        self._postings_of: _Postings | None = None
        self._order: list[str] = []  # document position in the built index -> chunk id
        self._rank = np.zeros(0, dtype=np.int64)  # document position -> rank of its chunk id
        self._masks: dict[str, np.ndarray] = {}  # space key -> bool mask over documents
        # Access labels (``index.shard``: the page's access expression id) per chunk, and per
        # document position as small ints, rebuilt lazily after a build or a relabel: a
        # permission change relabels without re-tokenizing or rebuilding BM25.
        self._label: dict[str, str] = {}  # chunk id -> label
        self._label_codes: dict[str, int] = {}
        self._doc_label: np.ndarray | None = None
        self._dirty = False
        self._postings = 0  # tokens kept, all chunks together

    def __len__(self) -> int:
        return len(self._tokens)

    @property
    def dirty(self) -> bool:
        """Whether the next search rebuilds the index."""
        return self._dirty

    def upsert_page(self, page_id: str, chunks: Sequence[Chunk], label: str = "") -> None:
        """Replace every chunk of ``page_id`` with ``chunks`` (none: the page is removed);
        ``label`` is the page's access label (``search``'s ``labels``)."""
        self.delete_page(page_id)
        for chunk in chunks:
            # Interned: a corpus repeats the same few thousand words in every chunk.
            tokens = [sys.intern(t) for t in tokenize(chunk.embed_text)]
            self._tokens[chunk.chunk_id] = tokens
            self._space[chunk.chunk_id] = chunk.space_key
            self._label[chunk.chunk_id] = label
            self._postings += len(tokens)
        if chunks:
            self._by_page[page_id] = [c.chunk_id for c in chunks]
        self._dirty = True

    def delete_page(self, page_id: str) -> None:
        for chunk_id in self._by_page.pop(page_id, []):
            self._postings -= len(self._tokens.pop(chunk_id))
            del self._space[chunk_id]
            del self._label[chunk_id]
            self._dirty = True

    def relabel(self, page_id: str, label: str) -> None:
        """Give the page's chunks another access label; no re-tokenizing, no rebuild."""
        for chunk_id in self._by_page.get(page_id, []):
            self._label[chunk_id] = label
        self._doc_label = None

    def rebuild(self) -> None:
        """Build the BM25 index from the kept tokens now (``search`` does it when dirty)."""
        self._order = list(self._tokens)
        self._rank = np.empty(len(self._order), dtype=np.int64)
        self._rank[np.argsort(np.array(self._order, dtype=object))] = np.arange(len(self._order))
        self._masks = {}
        self._doc_label = None
        self._bm25 = None
        self._postings_of = None
        if self._order:
            bm25 = bm25s.BM25(k1=self._k1, b=self._b)
            bm25.index([self._tokens[c] for c in self._order], show_progress=False)
            self._bm25 = bm25
            self._postings_of = _Postings(bm25.scores, self._rank)
        self._dirty = False

    def search(self, query: str, k: int, space: str | None = None,
               labels: frozenset[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` best chunks for ``query`` (only those of ``space`` when given, and only
        those whose access label is in ``labels`` when given), best first.

        Chunks sharing no term with the query are not returned, so fewer than ``k`` may come
        back. Both filters apply to every document (a mask inside the kernel) before the top
        ``k`` are cut, so a small space or a reader's few pages are never crowded out by
        others. Ties go to the lower chunk id, so the result never depends on where a document
        sits in the index.
        """
        if self._dirty:
            self.rebuild()
        tokens = tokenize(query)
        if self._bm25 is None or self._postings_of is None or not tokens or k <= 0:
            return []
        # Query term ids in query order, repeats kept: bm25s adds a repeated term's score once
        # per occurrence, and so does the kernel.
        terms = np.asarray(self._bm25.get_tokens_ids(tokens), dtype=np.int64)
        if terms.size == 0:
            return []
        mask = self._mask(space) if space is not None else None
        if labels is not None:
            allowed = self._label_mask(labels)
            mask = allowed if mask is None else mask & allowed
            if not mask.any():
                return []
        return self._ranked(*self._postings_of.top(terms, k, mask))

    def _label_mask(self, labels: frozenset[str]) -> np.ndarray:
        if self._doc_label is None:
            codes: dict[str, int] = {}
            self._doc_label = np.fromiter(
                (codes.setdefault(self._label[c], len(codes)) for c in self._order),
                dtype=np.int32, count=len(self._order))
            self._label_codes = codes
        wanted = np.zeros(len(self._label_codes), dtype=bool)
        for label in labels:
            code = self._label_codes.get(label)
            if code is not None:
                wanted[code] = True
        return wanted[self._doc_label] if len(wanted) else np.zeros(0, dtype=bool)

    def _mask(self, space: str) -> np.ndarray:
        mask = self._masks.get(space)
        if mask is None:
            mask = np.fromiter((self._space[c] == space for c in self._order), dtype=bool,
                               count=len(self._order))
            self._masks[space] = mask
        return mask

    def _ranked(self, docs: np.ndarray, scores: np.ndarray) -> list[tuple[str, float]]:
        """``docs`` (positions) with their ``scores``, best first, ties by chunk id."""
        best = np.lexsort((self._rank[docs], -scores))
        return [(self._order[d], float(x))
                for d, x in zip(docs[best].tolist(), scores[best].tolist(), strict=True)]

    def memory_bytes(self) -> int:
        """A rough estimate: kept token lists (8 bytes a token: the strings are interned) plus
        the sparse index (about 12 bytes a posting), per-chunk overhead, and the common terms'
        dense rows (4 bytes a chunk each; as many rows as the last build had: until the first
        build, none are counted)."""
        rows = self._postings_of.dense.shape[0] if self._postings_of is not None else 0
        return self._postings * (8 + 12) + len(self._tokens) * (200 + 4 * rows)


class _Postings:
    """bm25s's postings (a CSC matrix, documents by term, each term's sorted by document), each
    term's best score, dense rows of the common terms, and the search over them."""

    _NO_MASK = np.zeros(0, dtype=bool)

    def __init__(self, scores: dict[str, Any], rank: np.ndarray) -> None:
        self.data: np.ndarray = scores["data"]  # float32 BM25 score of each posting
        self.docs: np.ndarray = scores["indices"]  # its document position
        self.ptr: np.ndarray = scores["indptr"]  # term t's postings: ptr[t]:ptr[t + 1]
        self.rank = rank
        lengths = np.diff(self.ptr)
        # bm25s sorts each term's postings by document (both its CSC backends); the kernel's
        # merge relies on it, so check rather than trust a future version: the document may
        # only fail to increase where a term's postings begin.
        drops = np.flatnonzero(self.docs[1:] <= self.docs[:-1]) + 1
        if not np.all(np.isin(drops, self.ptr)):
            cols = np.repeat(np.arange(lengths.size), lengths)
            order = np.lexsort((self.docs, cols))
            self.docs, self.data = self.docs[order], self.data[order]
        self.best = np.zeros(lengths.size)  # each term's best score
        some = lengths > 0
        self.best[some] = np.maximum.reduceat(self.data, self.ptr[:-1][some])
        # Terms in at least a quarter of the documents also get a dense row of their scores
        # (0 where absent): the kernel looks a document up there in one read instead of a
        # search through the postings. A query of such words alone is the costly case, where
        # most documents need looking up. A row costs 4 bytes a document, at most twice its
        # term's postings (8 bytes each).
        n_docs = int(scores["num_docs"])
        common = np.flatnonzero(lengths * 4 >= n_docs)
        self.dense_row = np.full(lengths.size, -1, dtype=np.int64)
        self.dense_row[common] = np.arange(common.size)
        self.dense = np.zeros((common.size, n_docs), dtype=np.float32)
        for row, t in enumerate(common.tolist()):
            start, end = self.ptr[t], self.ptr[t + 1]
            self.dense[row, self.docs[start:end]] = self.data[start:end]

    def top(self, terms: np.ndarray, k: int,
            mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best documents (positions, any order) and their float32 scores for
        ``terms`` (term ids, repeats kept), ties to the lower rank; only those in ``mask``."""
        uniq, slot = np.unique(terms, return_inverse=True)
        times = np.bincount(slot).astype(np.float64)  # occurrences of each term in the query
        upper = times * self.best[uniq]
        # The kernel wants the terms weakest first; ``slots`` keeps the query's order.
        order = np.argsort(upper, kind="stable")
        where = np.empty_like(order)
        where[order] = np.arange(order.size)
        chosen = uniq[order]
        # Bounds are float64 sums of float32 scores, while a score is a float32 sum: rounded at
        # each of its n additions, it may exceed the exact sum by up to n * 2**-24 of itself.
        # So bounds are stretched by twice that before they prune anything.
        stretch = 1.0 + (terms.size + 1) * 2.0**-23
        return _maxscore(self.data, self.docs, self.rank, self.dense, self.ptr[chosen],
                         self.ptr[chosen + 1], self.dense_row[chosen], times[order],
                         upper[order], where[slot].astype(np.int64),
                         self._NO_MASK if mask is None else mask, k, stretch)


_SEED = 1024  # postings of the strongest term scored to seed the kernel's floor


@numba.njit(cache=True, nogil=True)
def _gallop(docs: np.ndarray, lo: int, end: int, doc: int) -> int:
    """The first position in ``docs[lo:end]`` (ascending) holding ``doc`` or a later one."""
    if lo >= end or docs[lo] >= doc:
        return lo
    step = 1
    hi = lo + 1
    while hi < end and docs[hi] < doc:
        lo = hi
        step *= 2
        hi = lo + step
    hi = min(hi, end)
    lo += 1
    while lo < hi:
        mid = (lo + hi) >> 1
        if docs[mid] < doc:
            lo = mid + 1
        else:
            hi = mid
    return lo


@numba.njit(cache=True, nogil=True)
def _maxscore(data: np.ndarray, docs: np.ndarray, rank: np.ndarray, dense: np.ndarray,
              starts: np.ndarray, ends: np.ndarray, rows: np.ndarray, times: np.ndarray,
              upper: np.ndarray, slots: np.ndarray, mask: np.ndarray, k: int,
              stretch: float) -> tuple[np.ndarray, np.ndarray]:
    """MaxScore over terms ``starts[i]:ends[i]`` of ``docs``/``data``, sorted by ``upper`` (the
    most term ``i`` adds to a score: ``times[i]`` times its best) ascending; ``rows[i]``: the
    term's row of ``dense``, or -1. ``slots``: the query's terms in order, as indexes of those;
    ``mask``: documents allowed (empty: all). Returns the k best documents and their scores,
    in no order."""
    n = starts.size
    below = np.cumsum(upper)  # below[i]: the most terms 0..i add together
    # The k best so far, by score then lower rank, in a heap whose root is the worst of them.
    top_score = np.empty(k, np.float32)
    top_rank = np.empty(k, np.int64)
    top_doc = np.empty(k, np.int64)
    floor = np.float32(0)
    if np.all(rows >= 0):
        # Every term is common: scoring every document from the dense rows (a few sequential
        # reads each) beats walking their long postings.
        size = _scan(rank, dense, rows[slots], mask, k, top_score, top_rank, top_doc)
        return top_doc[:size], top_score[:size]
    if ends[n - 1] - starts[n - 1] > k:
        # Seed the floor: fully score the first postings of the strongest term. Any k
        # documents' scores bound the k-th best from below, and a good floor from the start
        # spares the walk most of the documents it would otherwise score while it rises.
        seed = ends.copy()
        seed[n - 1] = min(ends[n - 1], starts[n - 1] + _SEED)
        if _walk(data, docs, rank, dense, starts, seed, rows, times, below, slots, mask, k,
                 stretch, n - 1, floor, top_score, top_rank, top_doc) == k:
            floor = top_score[0]
    size = _walk(data, docs, rank, dense, starts, ends, rows, times, below, slots, mask, k,
                 stretch, 0, floor, top_score, top_rank, top_doc)
    return top_doc[:size], top_score[:size]


@numba.njit(cache=True, nogil=True)
def _walk(data: np.ndarray, docs: np.ndarray, rank: np.ndarray, dense: np.ndarray,
          starts: np.ndarray, ends: np.ndarray, rows: np.ndarray, times: np.ndarray,
          below: np.ndarray, slots: np.ndarray, mask: np.ndarray, k: int, stretch: float,
          first: int, floor: np.float32, top_score: np.ndarray, top_rank: np.ndarray,
          top_doc: np.ndarray) -> int:
    """One MaxScore walk: terms from ``first`` on are essential at the start, ``floor`` is a
    lower bound on the k-th best score. Fills the heap ``top_*`` from empty; returns its size.

    Once the heap is full, ``floor`` is its root's score (the k-th best so far)."""
    n = starts.size
    cur = starts.copy()  # each term's cursor: postings before it are behind the walk
    vals = np.zeros(n, np.float32)  # the current document's score from each term
    size = 0
    # Terms before ``first`` are non-essential: together they cannot reach ``floor``.
    while first < n and below[first] * stretch < floor:
        first += 1
    filtered = mask.size > 0
    while True:
        doc = -1
        for i in range(first, n):  # the next document of an essential term
            if cur[i] < ends[i] and (doc < 0 or docs[cur[i]] < doc):
                doc = docs[cur[i]]
        if doc < 0:
            break
        partial = 0.0
        for i in range(first, n):
            vals[i] = 0
            if cur[i] < ends[i] and docs[cur[i]] == doc:
                vals[i] = data[cur[i]]
                partial += times[i] * vals[i]
                cur[i] += 1
        if filtered and not mask[doc]:
            continue
        alive = True
        for i in range(first - 1, -1, -1):  # the non-essential terms, strongest first
            if (partial + below[i]) * stretch < floor:
                alive = False
                break
            if rows[i] >= 0:
                vals[i] = dense[rows[i], doc]
            else:
                at = _gallop(docs, cur[i], ends[i], doc)
                cur[i] = at
                vals[i] = data[at] if at < ends[i] and docs[at] == doc else np.float32(0)
            partial += times[i] * vals[i]
        if not alive or partial * stretch < floor:
            continue
        score = np.float32(0)
        for j in slots:  # bm25s's sum: float32, term by term in query order
            score += vals[j]
        if _better(score, rank[doc], floor, size, k, top_score, top_rank):
            size = _offer(score, rank[doc], doc, size, k, top_score, top_rank, top_doc)
            if size == k and top_score[0] > floor:
                floor = top_score[0]
                while first < n and below[first] * stretch < floor:
                    first += 1
    return size


@numba.njit(cache=True, nogil=True)
def _scan(rank: np.ndarray, dense: np.ndarray, rows: np.ndarray, mask: np.ndarray, k: int,
          top_score: np.ndarray, top_rank: np.ndarray, top_doc: np.ndarray) -> int:
    """Every document scored from the dense rows ``rows`` (the query's terms in order); fills
    the heap ``top_*`` from empty and returns its size."""
    size = 0
    floor = np.float32(0)
    filtered = mask.size > 0
    for doc in range(dense.shape[1]):
        if filtered and not mask[doc]:
            continue
        score = np.float32(0)
        for row in rows:  # bm25s's sum: float32, term by term in query order
            score += dense[row, doc]
        if _better(score, rank[doc], floor, size, k, top_score, top_rank):
            size = _offer(score, rank[doc], doc, size, k, top_score, top_rank, top_doc)
            if size == k:
                floor = top_score[0]
    return size


@numba.njit(cache=True, nogil=True, inline="always")
def _better(score: np.float32, r: int, floor: np.float32, size: int, k: int,
            top_score: np.ndarray, top_rank: np.ndarray) -> bool:
    """Whether a document of ``score`` and rank ``r`` enters the heap of the k best so far:
    a positive score, at least ``floor``, and better than the root once the heap is full."""
    if score <= 0 or score < floor:
        return False
    return size < k or score > top_score[0] or (score == top_score[0] and r < top_rank[0])


@numba.njit(cache=True, nogil=True, inline="always")
def _offer(score: np.float32, r: int, doc: int, size: int, k: int, top_score: np.ndarray,
           top_rank: np.ndarray, top_doc: np.ndarray) -> int:
    """Put a document into the heap of the k best (by score, then lower rank; the root is the
    worst of them), replacing the root when full; returns the heap's new size."""
    if size < k:  # sift up from the new leaf
        c = size
        size += 1
        while c > 0:
            up = (c - 1) >> 1
            if top_score[up] < score or (top_score[up] == score and top_rank[up] > r):
                break
            top_score[c], top_rank[c], top_doc[c] = top_score[up], top_rank[up], top_doc[up]
            c = up
    else:  # replace the root, sift down
        c = 0
        while 2 * c + 1 < k:
            w = 2 * c + 1
            if w + 1 < k and (top_score[w + 1] < top_score[w] or (
                    top_score[w + 1] == top_score[w] and top_rank[w + 1] > top_rank[w])):
                w += 1
            if score < top_score[w] or (score == top_score[w] and r > top_rank[w]):
                break
            top_score[c], top_rank[c], top_doc[c] = top_score[w], top_rank[w], top_doc[w]
            c = w
    top_score[c], top_rank[c], top_doc[c] = score, r, doc
    return size
