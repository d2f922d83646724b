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

Not thread-safe: the owning ``TenantShard`` serializes access with its lock.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Sequence

import bm25s
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
        self._order: list[str] = []  # document position in the built index -> chunk id
        self._rank = np.zeros(0, dtype=np.int64)  # document position -> rank of its chunk id
        self._masks: dict[str, np.ndarray] = {}  # space key -> float mask over documents
        self._dirty = False
        self._postings = 0  # tokens kept, all chunks together

    def __len__(self) -> int:
        return len(self._tokens)

    @property
    def dirty(self) -> bool:
        """Whether the next search rebuilds the index."""
        return self._dirty

    def upsert_page(self, page_id: str, chunks: Sequence[Chunk]) -> None:
        """Replace every chunk of ``page_id`` with ``chunks`` (none: the page is removed)."""
        self.delete_page(page_id)
        for chunk in chunks:
            # Interned: a corpus repeats the same few thousand words in every chunk.
            tokens = [sys.intern(t) for t in tokenize(chunk.embed_text)]
            self._tokens[chunk.chunk_id] = tokens
            self._space[chunk.chunk_id] = chunk.space_key
            self._postings += len(tokens)
        if chunks:
            self._by_page[page_id] = [c.chunk_id for c in chunks]
        self._dirty = True

    def delete_page(self, page_id: str) -> None:
        for chunk_id in self._by_page.pop(page_id, []):
            self._postings -= len(self._tokens.pop(chunk_id))
            del self._space[chunk_id]
            self._dirty = True

    def rebuild(self) -> None:
        """Build the BM25 index from the kept tokens now (``search`` does it when dirty)."""
        self._order = list(self._tokens)
        self._rank = np.empty(len(self._order), dtype=np.int64)
        self._rank[np.argsort(np.array(self._order, dtype=object))] = np.arange(len(self._order))
        self._masks = {}
        if self._order:
            bm25 = bm25s.BM25(k1=self._k1, b=self._b)
            bm25.index([self._tokens[c] for c in self._order], show_progress=False)
            self._bm25 = bm25
        else:
            self._bm25 = None
        self._dirty = False

    def search(self, query: str, k: int, space: str | None = None) -> list[tuple[str, float]]:
        """The ``k`` best chunks for ``query`` (only those of ``space`` when given), best first.

        Chunks sharing no term with the query are not returned, so fewer than ``k`` may come
        back. The space filter is a weight mask applied to every document's score before the
        top ``k`` are cut, so a small space is never crowded out by others.
        """
        if self._dirty:
            self.rebuild()
        tokens = tokenize(query)
        if self._bm25 is None or not tokens or k <= 0:
            return []
        scores = self._bm25.get_scores(tokens)
        if space is not None:
            scores = scores * self._mask(space)
        return self._top(scores, k)

    def _mask(self, space: str) -> np.ndarray:
        mask = self._masks.get(space)
        if mask is None:
            mask = np.fromiter((self._space[c] == space for c in self._order), dtype=np.float32,
                               count=len(self._order))
            self._masks[space] = mask
        return mask

    def _top(self, scores: np.ndarray, k: int) -> list[tuple[str, float]]:
        hits = np.flatnonzero(scores > 0)
        if hits.size > k:
            # Keep every document scoring at least the k-th best, ties included, so the cut
            # below never depends on where a document sits in the index.
            kth = np.partition(scores[hits], hits.size - k)[hits.size - k]
            hits = hits[scores[hits] >= kth]
        # Best score first, ties broken by chunk id.
        hits = hits[np.lexsort((self._rank[hits], -scores[hits]))][:k]
        return [(self._order[i], float(scores[i])) for i in hits]

    def memory_bytes(self) -> int:
        """A rough estimate: kept token lists (8 bytes a token: the strings are interned) plus
        the sparse index (about 12 bytes a posting), and per-chunk overhead."""
        return self._postings * (8 + 12) + len(self._tokens) * 200
