"""One tenant's search index: FAISS vectors, BM25 terms and the chunks they point to.

Dense side: a FAISS ``IndexIDMap2`` whose int64 ids are allocated here and mapped to chunk ids;
the chunks themselves are kept beside it, so a hit is a citable ``Chunk`` without another store.
It starts exact (``IndexFlatIP``: vectors are L2-normalized, so inner product is cosine). When
the shard reaches ``approx_threshold`` live vectors it *tries* HNSW (``IndexHNSWFlat`` in an
``IndexIDMap2``): it builds the graph, measures recall@10 against the exact index on a sample of
queries (recent real queries when it has seen enough, else its own vectors with noise added),
with each ``efSearch`` in ``hnsw_ef_search`` in turn, and switches to the first that reaches
``min_recall``. Otherwise it stays exact and tries again when it has doubled. The outcome is
recorded (``approx_status``) and travels with snapshots.

HNSW in FAISS cannot remove vectors, so in that mode a replaced or deleted chunk becomes a
tombstone: it leaves the chunk maps at once and every search excludes it with an ``IDSelector``;
when tombstones pass ``compact_ratio`` of the graph it is rebuilt from the live vectors (and its
recall measured again). The exact index removes for real (``remove_ids``, linear in its size).

Access: each page points to an access expression id (``embeddings.access``); the expressions
live here once each (a space has few distinct ones). ``set_access`` re-points pages without
touching their vectors, and snapshots carry both. A search for a reader (their tokens) first
resolves the ids whose expressions the reader satisfies, then searches only those pages' chunks:
in FAISS through the same id-set machinery as the space filter (exact scoring over the allowed
vectors when they are at most ``exact_subset_max``, an ``IDSelectorBatch`` otherwise), in BM25
through a mask. Nothing is cut to the top ``n`` before the filter, and every hit is checked again
against its page's expression before it is returned. A page without an access record is read by
nobody; a search without a reader (benchmarks, tests of ranking) is unfiltered.

Filters: a space filter is applied inside FAISS with an ``IDSelectorBatch`` of that space's ids,
so the best ``n`` of the space come back however small it is, not the space's share of a global
top ``n``. In HNSW mode a space of at most ``exact_subset_max`` vectors is instead scored exactly
over just its vectors: a filtered graph walk loses recall when few nodes qualify. Lexical
candidates are filtered the same way (see ``index.lexical``).

Size: past the ~500-line guide; the HNSW gate (``_try_approx`` and its helpers) is the piece to
move to a module of its own (``index/approx.py``) when it next grows.

Thread-safety: a shard is used from async code in one process, with the CPU-bound calls run in
worker threads (``asyncio.to_thread``), so one ``threading.Lock`` guards every method: a search
never sees half a page replaced, and searches of one shard run one at a time (shards of
different tenants run in parallel). A shard serves one tenant; it has no notion of any other.
"""

from __future__ import annotations

import json
import logging
import struct
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import faiss
import numpy as np
from pydantic import BaseModel, ConfigDict

from config.settings import TENANT_RE
from embeddings.access import Expr
from embeddings.chunking import Chunk
from index.access_table import AccessTable, Filter, FilterCache, subset_search
from index.hybrid import fuse
from index.lexical import LexicalIndex

__all__ = ["SearchHit", "ShardConfig", "ShardDump", "ShardFormatError", "TenantShard"]

log = logging.getLogger(__name__)

IndexKind = Literal["exact", "hnsw"]
_MAGIC = b"CSSHARD1"
# faiss-cpu's bundled type stubs lack SearchParametersHNSW and the selectors' signatures.
_faiss: Any = faiss
_RECALL_AT = 10


class ShardFormatError(ValueError):
    """Serialized shard bytes that cannot be read back (wrong magic, version, size or tenant)."""


@dataclass(frozen=True)
class ShardConfig:
    """Tuning of a shard; the defaults suit 384-d sentence embeddings."""

    dim: int = 384
    candidate_depth: int = 50  # dense and lexical candidates each, before fusion
    approx_threshold: int = 50_000  # live vectors at which HNSW is tried
    min_recall: float = 0.95  # recall@10 against exact that HNSW must reach
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: tuple[int, ...] = (32, 64, 128, 256)  # tried in order; first good one wins
    recall_queries: int = 200
    exact_subset_max: int = 10_000  # HNSW mode: a space this small is scored exactly
    compact_ratio: float = 0.25  # HNSW mode: rebuild when tombstones pass this share
    recent_queries: int = 256  # query vectors kept to measure recall on at switch time
    seed: int = 0
    # OpenMP threads for FAISS calls (None: OpenMP's default, one per core). The setting is
    # per calling thread in OpenMP, so the shard applies it on every call, in whatever worker
    # thread runs it. One thread suits replicas sharing a node: a single query gains nothing
    # from more, and idle OpenMP threads spin against other processes' work (a 2000-vector
    # HNSW build went from 0.5 s to 5 s with the default on a busy 2-core machine).
    faiss_threads: int | None = 1


class SearchHit(BaseModel):
    """One fused result; a side's score is None when the chunk was not in its candidates."""

    model_config = ConfigDict(frozen=True)

    chunk: Chunk
    score: float
    dense_score: float | None
    lexical_score: float | None


@dataclass(frozen=True)
class ShardDump:
    """``TenantShard.dump``'s bytes with what they hold."""

    data: bytes
    generation: int  # the shard's mutation counter at the dump
    vector_count: int  # live chunks
    index_kind: IndexKind


@dataclass
class _ApproxStatus:
    kind: IndexKind = "exact"
    ef_search: int | None = None
    recall: float | None = None  # measured at the last attempt (switch or not)
    attempted_at: int | None = None  # live vectors at the last attempt
    attempted: str | None = None  # when (ISO 8601)
    history: list[dict[str, Any]] = field(default_factory=list)


class TenantShard:
    """Chunks of one tenant's pages with their vectors; hybrid search over them."""

    def __init__(self, tenant: str, config: ShardConfig | None = None) -> None:
        if not TENANT_RE.match(tenant):
            raise ValueError(f"invalid tenant id {tenant!r}")
        self.tenant = tenant
        self.config = config or ShardConfig()
        self._lock = threading.Lock()
        self._index = self._flat()
        self._status = _ApproxStatus()
        self._next_attempt = self.config.approx_threshold
        self._next_id = 0
        self._chunks: dict[int, Chunk] = {}
        self._ids: dict[str, int] = {}  # chunk id -> int id
        self._pages: dict[str, list[int]] = {}
        self._spaces: dict[str, set[int]] = {}
        self._space_arrays: dict[str, np.ndarray] = {}
        self._tombstones: set[int] = set()
        self._tomb_sel: tuple[Any, Any] | None = None
        self._access = AccessTable()
        self._filters = FilterCache()
        self._lexical = LexicalIndex()
        self._meta_bytes = 0
        self._recent: deque[np.ndarray] = deque(maxlen=self.config.recent_queries)
        self.generation = 0  # bumped by every mutation; snapshots record it

    # -- reading ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._chunks)

    @property
    def index_kind(self) -> IndexKind:
        return self._status.kind

    @property
    def approx_status(self) -> dict[str, Any]:
        """The last approximate-index decision: kind, efSearch, recall measured, when, history."""
        with self._lock:
            return asdict(self._status)

    def pages(self) -> dict[str, int]:
        """Every indexed page with the version its chunks came from."""
        with self._lock:
            return {p: self._chunks[ids[0]].version for p, ids in self._pages.items()}

    def access_of(self, page_id: str) -> str | None:
        """The access expression id the page points to (None: no record, nobody reads it)."""
        with self._lock:
            return self._access.of(page_id)

    def access_exprs(self) -> dict[str, Expr]:
        """Every access expression pages point to, by id."""
        with self._lock:
            return self._access.in_use()

    def get(self, chunk_id: str) -> Chunk | None:
        with self._lock:
            i = self._ids.get(chunk_id)
            return self._chunks[i] if i is not None else None

    def memory_bytes(self) -> int:
        """Estimated resident size: vectors (and HNSW links), id maps, chunks, BM25 postings."""
        with self._lock:
            stored = self._index.ntotal
            per_vector = self.config.dim * 4 + 64  # the vector, IDMap2's id map and reverse map
            if self._status.kind == "hnsw":
                per_vector += self.config.hnsw_m * 2 * 4 + 16  # level-0 links, levels
            return stored * per_vector + self._meta_bytes + self._lexical.memory_bytes()

    # -- writing ----------------------------------------------------------------------------

    def upsert_page(self, page_id: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Replace every chunk of ``page_id`` with ``chunks`` (row i of ``vectors`` is chunk i's).

        Atomic for readers: the page's old chunks and its new ones are never both, nor neither,
        visible. Everything is validated before anything changes. No chunks removes the page.
        """
        chunks = list(chunks)
        vecs = self._check_page(page_id, chunks, vectors)
        with self._lock:
            self._threads()
            for chunk in chunks:
                owner = self._ids.get(chunk.chunk_id)
                if owner is not None and self._chunks[owner].page_id != page_id:
                    raise ValueError(f"chunk id {chunk.chunk_id!r} belongs to another page")
            old = self._pages.get(page_id, [])
            new = np.arange(self._next_id, self._next_id + len(chunks), dtype=np.int64)
            if len(chunks):
                self._index.add_with_ids(vecs, new)  # first: if it fails, nothing changed
            self._next_id += len(chunks)
            self._forget(page_id, old)
            for i, chunk in zip(new.tolist(), chunks, strict=True):
                self._chunks[i] = chunk
                self._ids[chunk.chunk_id] = i
                self._spaces.setdefault(chunk.space_key, set()).add(i)
                self._meta_bytes += _chunk_bytes(chunk)
                self._space_arrays.pop(chunk.space_key, None)
            if chunks:
                self._pages[page_id] = new.tolist()
            access = self._access.add_ids(page_id, new.tolist())
            self._lexical.upsert_page(page_id, chunks, access or "")
            self.generation += 1
            self._maintain()

    def delete_page(self, page_id: str) -> None:
        """Remove every chunk of ``page_id`` and its access record; unknown pages are ignored."""
        with self._lock:
            if page_id in self._pages:
                self._threads()
                self._forget(page_id, self._pages[page_id])  # reads the page's access id
                self._lexical.delete_page(page_id)
                self._access.drop(page_id)
                self.generation += 1
                self._maintain()
            elif self._access.drop(page_id):
                self.generation += 1

    def set_access(self, pages: dict[str, Expr]) -> int:
        """Point each page (indexed or about to be) at its access expression; answer how many
        pages changed. Vectors and BM25 postings are untouched: only the id beside them moves."""
        moved = 0
        with self._lock:
            for page_id, expr in pages.items():
                ids = self._pages.get(page_id, [])
                if not self._access.point(page_id, expr, ids):
                    continue
                moved += 1
                if ids:
                    self._lexical.relabel(page_id, self._access.of(page_id) or "")
            if moved:
                self.generation += 1
        return moved

    def _check_page(self, page_id: str, chunks: list[Chunk], vectors: np.ndarray) -> np.ndarray:
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim != 2 or vecs.shape != (len(chunks), self.config.dim):
            raise ValueError(
                f"page {page_id!r}: vectors must have shape ({len(chunks)}, {self.config.dim}), "
                f"got {vecs.shape}"
            )
        seen: set[str] = set()
        for chunk in chunks:
            if chunk.page_id != page_id:
                raise ValueError(f"chunk {chunk.chunk_id!r} is of page {chunk.page_id!r}, "
                                 f"not {page_id!r}")
            if chunk.version != chunks[0].version:
                raise ValueError(f"page {page_id!r}: chunks of versions {chunks[0].version} "
                                 f"and {chunk.version} in one upsert")
            if chunk.chunk_id in seen:
                raise ValueError(f"page {page_id!r}: chunk id {chunk.chunk_id!r} twice")
            seen.add(chunk.chunk_id)
        if len(chunks):
            norms = np.linalg.norm(vecs, axis=1)
            if not np.all(np.abs(norms - 1.0) < 1e-2):
                raise ValueError(f"page {page_id!r}: vectors must be L2-normalized "
                                 f"(norms {norms.min():.3f}..{norms.max():.3f})")
        return vecs

    def _forget(self, page_id: str, ids: list[int]) -> None:
        """Drop ``ids`` from the maps and from the index (tombstones in HNSW mode)."""
        if not ids:
            return
        if self._status.kind == "exact":
            self._index.remove_ids(np.array(ids, dtype=np.int64))
        else:
            self._tombstones.update(ids)
            self._tomb_sel = None
        self._access.remove_ids(page_id, ids)
        for i in ids:
            chunk = self._chunks.pop(i)
            del self._ids[chunk.chunk_id]
            self._spaces[chunk.space_key].discard(i)
            self._space_arrays.pop(chunk.space_key, None)
            self._meta_bytes -= _chunk_bytes(chunk)
        self._pages.pop(page_id, None)

    # -- searching --------------------------------------------------------------------------

    def search(self, query_vec: np.ndarray, query_text: str, k: int = 10,
               space: str | None = None, reader: frozenset[str] | None = None
               ) -> list[SearchHit]:
        """The ``k`` best chunks for a query: dense and lexical top-``candidate_depth`` fused.

        ``space`` restricts both sides to one Confluence space, and ``reader`` (the tokens of
        ``embeddings.access.reader_tokens``) to the pages that reader may read, before either
        side is cut.
        """
        q = np.asarray(query_vec, dtype=np.float32).reshape(1, -1)
        return self.search_many(q, [query_text], k, space, reader)[0]

    def search_many(self, query_vecs: np.ndarray, query_texts: Sequence[str], k: int = 10,
                    space: str | None = None, reader: frozenset[str] | None = None
                    ) -> list[list[SearchHit]]:
        """``search`` for a batch of queries: one FAISS call for all their vectors."""
        q = np.ascontiguousarray(query_vecs, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != self.config.dim or q.shape[0] != len(query_texts):
            raise ValueError(f"query vectors must have shape ({len(query_texts)}, "
                             f"{self.config.dim}), got {q.shape}")
        depth = max(self.config.candidate_depth, k)
        with self._lock:
            self._threads()
            self._recent.extend(q.copy())
            allowed = self._allowed(reader)
            if allowed is not None and not allowed:
                return [[] for _ in query_texts]
            dense = self._dense(q, depth, self._filtered(space, allowed))
            out = []
            for ranked, text in zip(dense, query_texts, strict=True):
                lexical = self._lexical.search(text, depth, space, allowed) if text else []
                hits = self._hits(ranked, lexical, k)
                if reader is not None:  # checked again, from the page's own expression
                    hits = [h for h in hits if self._access.readable(h.chunk.page_id, reader)]
                out.append(hits)
            return out

    def _allowed(self, reader: frozenset[str] | None) -> frozenset[str] | None:
        """The access ids whose expressions ``reader`` satisfies; None when nothing needs
        filtering (no reader, or one who may read every chunk: searched as unfiltered, and as
        fast)."""
        return self._access.allowed(reader, len(self._chunks)) if reader is not None else None

    def _filtered(self, space: str | None, allowed: frozenset[str] | None) -> Filter | None:
        """The int ids a search may return, or None for all of them (kept: ``FilterCache``)."""
        if allowed is None and space is None:
            return None
        key = (self.generation, space, allowed)
        hit = self._filters.get(key)
        if hit is not None:
            return hit
        if allowed is None:
            members = self._space_ids(space) if space is not None else np.zeros(0, np.int64)
        else:
            members = self._access.members(allowed)
            if space is not None:
                members = np.intersect1d(members, self._space_ids(space), assume_unique=True)
        return self._filters.put(key, Filter(members))

    def dense_search(self, query_vecs: np.ndarray, n: int, space: str | None = None,
                     reader: frozenset[str] | None = None) -> list[list[tuple[str, float]]]:
        """Dense candidates only, (chunk id, cosine) best first: for benchmarks and debugging."""
        q = np.ascontiguousarray(query_vecs, dtype=np.float32).reshape(-1, self.config.dim)
        with self._lock:
            self._threads()
            allowed = self._allowed(reader)
            return [[(self._chunks[i].chunk_id, s) for i, s in r]
                    for r in self._dense(q, n, self._filtered(space, allowed))]

    def lexical_search(self, query_text: str, n: int, space: str | None = None,
                       reader: frozenset[str] | None = None) -> list[tuple[str, float]]:
        """Lexical candidates only, (chunk id, BM25) best first: for benchmarks and debugging."""
        with self._lock:
            allowed = self._allowed(reader)
            return self._lexical.search(query_text, n, space, allowed)

    def _hits(self, dense: list[tuple[int, float]], lexical: list[tuple[str, float]],
              k: int) -> list[SearchHit]:
        dense_ids = [(self._chunks[i].chunk_id, s) for i, s in dense]
        d_scores = dict(dense_ids)
        l_scores = dict(lexical)
        return [
            SearchHit(chunk=self._chunks[self._ids[cid]], score=score,
                      dense_score=d_scores.get(cid), lexical_score=l_scores.get(cid))
            for cid, score in fuse(dense_ids, lexical, k=k)
        ]

    def _dense(self, q: np.ndarray, n: int,
               only: Filter | None) -> list[list[tuple[int, float]]]:
        """Top ``n`` (int id, score) per query row among ``only`` (None: all live ids).

        Few members are scored exactly over just their vectors, in either mode: cheaper than a
        full scan behind a selector, and exact where a filtered HNSW walk loses recall.
        """
        empty: list[list[tuple[int, float]]] = [[] for _ in range(len(q))]
        if not self._chunks or n <= 0:
            return empty
        hnsw = self._status.kind == "hnsw"
        sel: Any = None
        batch: Any = None  # FAISS keeps raw pointers to selectors: they must outlive the call
        ef = self._ef() if hnsw else None
        if only is not None:
            members = only.members
            if members.size == 0:
                return empty
            n = min(n, int(members.size))
            if members.size <= self.config.exact_subset_max:
                if only.vecs is None:
                    only.vecs = self._index.reconstruct_batch(members)
                return subset_search(q, members, only.vecs, n)
            if only.batch is None:
                only.batch = _faiss.IDSelectorBatch(members)
            batch = sel = only.batch
            if hnsw:
                if self._tombstones:
                    sel = _faiss.IDSelectorAnd(batch, self._tombstone_selector())
                # Fewer qualifying nodes on the walk: widen it in proportion, within reason.
                share = members.size / len(self._chunks)
                ef = min(4 * self._ef(), int(self._ef() / max(share, 1e-3)))
        else:
            n = min(n, len(self._chunks))
            if hnsw and self._tombstones:
                sel = self._tombstone_selector()
        scores, ids = self._index.search(q, n, params=_params(ef, sel))
        return [[(int(i), float(s)) for i, s in zip(row_i, row_s, strict=True) if i >= 0]
                for row_i, row_s in zip(ids, scores, strict=True)]

    def _space_ids(self, space: str) -> np.ndarray:
        arr = self._space_arrays.get(space)
        if arr is None:
            arr = np.fromiter(sorted(self._spaces.get(space, ())), dtype=np.int64)
            self._space_arrays[space] = arr
        return arr

    def _tombstone_selector(self) -> Any:
        if self._tomb_sel is None:
            inner = _faiss.IDSelectorBatch(np.fromiter(self._tombstones, dtype=np.int64))
            self._tomb_sel = (inner, _faiss.IDSelectorNot(inner))
        return self._tomb_sel[1]

    def _threads(self) -> None:
        if self.config.faiss_threads is not None:
            faiss.omp_set_num_threads(self.config.faiss_threads)

    def _ef(self) -> int:
        return self._status.ef_search or self.config.hnsw_ef_search[-1]

    # -- exact <-> approximate ------------------------------------------------------------------

    def _maintain(self) -> None:
        """After a mutation: try HNSW when big enough; compact HNSW when tombstones pile up."""
        live = len(self._chunks)
        if self._status.kind == "exact":
            if live >= self._next_attempt:
                self._try_approx()
        elif len(self._tombstones) > self.config.compact_ratio * self._index.ntotal:
            log.info("tenant %s: compacting HNSW (%d tombstones, %d live)", self.tenant,
                     len(self._tombstones), live)
            if live >= self.config.approx_threshold:
                self._try_approx()
            else:
                self._rebuild_exact()

    def _live(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of every live chunk, in index order.

        Without tombstones the vectors are a view of the index's own storage, not a copy (1.5 GB
        at 1M vectors): valid only while the current index lives, so callers build from them
        before replacing it.
        """
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        inner = _faiss.downcast_index(self._index.index)
        if isinstance(inner, faiss.IndexHNSWFlat):
            inner = _faiss.downcast_index(inner.storage)
        n, dim = self._index.ntotal, self.config.dim
        vecs = _faiss.rev_swig_ptr(inner.get_xb(), n * dim).reshape(n, dim)
        if self._tombstones:
            alive = np.fromiter((i not in self._tombstones for i in ids.tolist()), dtype=bool,
                                count=ids.size)
            ids, vecs = ids[alive], vecs[alive]
        return ids, vecs

    def _recall_sample(self, vecs: np.ndarray) -> np.ndarray:
        """Recent real queries if there are enough; else stored vectors with equal-norm noise
        (cosine about 0.7 to their source, like a question to the passage answering it)."""
        want = self.config.recall_queries
        if len(self._recent) >= want:
            return np.ascontiguousarray(np.stack(list(self._recent)[-want:]))
        rng = np.random.default_rng(self.config.seed)
        rows = vecs[rng.choice(len(vecs), size=min(want, len(vecs)), replace=False)]
        noise = rng.standard_normal(rows.shape).astype(np.float32)
        noise /= np.linalg.norm(noise, axis=1, keepdims=True)
        sample = rows + noise
        sample /= np.linalg.norm(sample, axis=1, keepdims=True)
        return np.ascontiguousarray(sample, dtype=np.float32)

    def _try_approx(self) -> None:
        """Build HNSW over the live vectors; adopt it only if it reaches ``min_recall``."""
        cfg = self.config
        ids, vecs = self._live()
        queries = self._recall_sample(vecs)
        if self._status.kind == "exact":
            _, truth = self._index.search(queries, _RECALL_AT)
        else:  # compacting: the ground truth needs an exact index of the live vectors
            exact = self._flat()
            exact.add_with_ids(vecs, ids)
            _, truth = exact.search(queries, _RECALL_AT)
            del exact
        hnsw = faiss.IndexHNSWFlat(cfg.dim, cfg.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        hnsw.hnsw.efConstruction = cfg.hnsw_ef_construction
        candidate = faiss.IndexIDMap2(hnsw)
        candidate.add_with_ids(vecs, ids)
        depth = max(cfg.candidate_depth, _RECALL_AT)
        chosen: tuple[int, float] | None = None
        recall = 0.0
        for ef in cfg.hnsw_ef_search:
            _, got = candidate.search(queries, depth, params=_params(ef, None))
            recall = _recall(got[:, :_RECALL_AT], truth)
            if recall >= cfg.min_recall:
                chosen = (ef, recall)
                break
        when = datetime.now(UTC).isoformat(timespec="seconds")
        entry = {"at": when, "live": len(ids), "recall": round(recall, 4),
                 "efSearch": chosen[0] if chosen else None, "switched": chosen is not None}
        self._status.history = [*self._status.history[-9:], entry]
        self._status.recall, self._status.attempted_at = recall, len(ids)
        self._status.attempted = when
        if chosen is None:
            log.info("tenant %s: HNSW recall@10 %.3f < %.2f at %d vectors; staying exact",
                     self.tenant, recall, cfg.min_recall, len(ids))
            if self._status.kind == "hnsw":
                self._rebuild_exact(ids, vecs)
            self._next_attempt = max(2 * len(ids), cfg.approx_threshold)
            return
        log.info("tenant %s: switched to HNSW (efSearch %d, recall@10 %.3f, %d vectors)",
                 self.tenant, chosen[0], recall, len(ids))
        self._index = candidate
        self._status.kind, self._status.ef_search = "hnsw", chosen[0]
        self._tombstones.clear()
        self._tomb_sel = None

    def _rebuild_exact(self, ids: np.ndarray | None = None, vecs: np.ndarray | None = None) -> None:
        if ids is None or vecs is None:
            ids, vecs = self._live()
        index = self._flat()
        index.add_with_ids(vecs, ids)
        self._index = index
        self._status.kind, self._status.ef_search = "exact", None
        self._tombstones.clear()
        self._tomb_sel = None
        self._next_attempt = self.config.approx_threshold

    def _flat(self) -> Any:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.config.dim))

    # -- serialization --------------------------------------------------------------------------

    def dump(self) -> ShardDump:
        """The shard as bytes (FAISS index and metadata), taken under the lock: consistent."""
        with self._lock:
            meta = {
                "format": 1,
                "tenant": self.tenant,
                "dim": self.config.dim,
                "nextId": self._next_id,
                "nextAttempt": self._next_attempt,
                "status": asdict(self._status),
                "tombstones": sorted(self._tombstones),
                # Insertion order is kept: the lexical index is rebuilt in the same order.
                "chunks": [[i, c.model_dump(mode="json")] for i, c in self._chunks.items()],
                # Absent from snapshots written before access existed: their pages are then
                # read by nobody until a reindex or an access resync points them somewhere.
                "access": self._access.dump(),
            }
            meta_bytes = json.dumps(meta, ensure_ascii=False, separators=(",", ":")).encode()
            index_bytes = faiss.serialize_index(self._index)
            data = b"".join([_MAGIC, struct.pack("<Q", len(meta_bytes)), meta_bytes,
                             index_bytes.tobytes()])
            return ShardDump(data, self.generation, len(self._chunks), self._status.kind)

    @classmethod
    def load(cls, data: bytes, tenant: str, config: ShardConfig | None = None) -> TenantShard:
        """Rebuild a shard from ``dump`` bytes; they must be ``tenant``'s."""
        head = len(_MAGIC) + 8
        if len(data) < head or not data.startswith(_MAGIC):
            raise ShardFormatError("not a serialized shard (bad magic)")
        (meta_len,) = struct.unpack("<Q", data[len(_MAGIC):head])
        try:
            meta = json.loads(data[head:head + meta_len])
            index = faiss.deserialize_index(np.frombuffer(data, np.uint8, offset=head + meta_len))
        except (ValueError, RuntimeError) as exc:
            raise ShardFormatError(f"unreadable shard: {exc}") from exc
        if not isinstance(meta, dict) or meta.get("format") != 1:
            raise ShardFormatError("unknown shard format")
        if meta.get("tenant") != tenant:
            raise ShardFormatError(f"shard is tenant {meta.get('tenant')!r}'s, not {tenant!r}'s")
        shard = cls(tenant, config)
        try:
            shard._restore(meta, index)
        except ShardFormatError:
            raise
        except (KeyError, TypeError, ValueError) as exc:  # pydantic's errors are ValueErrors
            raise ShardFormatError(f"inconsistent shard metadata: {exc!r}") from exc
        return shard

    def _restore(self, meta: dict[str, Any], index: Any) -> None:
        if meta["dim"] != self.config.dim or index.d != self.config.dim:
            raise ShardFormatError(f"shard has dimension {meta['dim']}, "
                                   f"configured {self.config.dim}")
        if index.ntotal != len(meta["chunks"]) + len(meta["tombstones"]):
            raise ShardFormatError(f"index holds {index.ntotal} vectors, metadata "
                                   f"{len(meta['chunks'])} chunks + {len(meta['tombstones'])} "
                                   "tombstones")
        self._index = index
        self._next_id = meta["nextId"]
        self._next_attempt = meta["nextAttempt"]
        self._status = _ApproxStatus(**meta["status"])
        self._tombstones = set(meta["tombstones"])
        self._access.restore(meta.get("access"))
        by_page: dict[str, list[Chunk]] = {}
        for i, raw in meta["chunks"]:
            chunk = Chunk.model_validate(raw)
            self._chunks[i] = chunk
            self._ids[chunk.chunk_id] = i
            self._pages.setdefault(chunk.page_id, []).append(i)
            self._spaces.setdefault(chunk.space_key, set()).add(i)
            self._meta_bytes += _chunk_bytes(chunk)
            by_page.setdefault(chunk.page_id, []).append(chunk)
            self._access.add_ids(chunk.page_id, [i])
        for page_id, chunks in by_page.items():
            self._lexical.upsert_page(page_id, chunks, self._access.of(page_id) or "")


def _params(ef: int | None, sel: Any) -> Any:
    """FAISS search parameters: HNSW's efSearch when given, an id selector when given."""
    if ef is None and sel is None:
        return None
    params = _faiss.SearchParametersHNSW() if ef is not None else _faiss.SearchParameters()
    if ef is not None:
        params.efSearch = ef
    if sel is not None:
        params.sel = sel
    return params


def _recall(got: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(g[g >= 0].tolist()) & set(t[t >= 0].tolist()))
               for g, t in zip(got, truth, strict=True))
    total = sum(int((t >= 0).sum()) for t in truth)
    return hits / total if total else 1.0


def _chunk_bytes(chunk: Chunk) -> int:
    """Rough resident size of a chunk: its strings (up to 2 bytes a character for Hangul) plus
    the model and the entries of the shard's maps that point to it (calibrated against RSS at
    100k chunks: within 10%, see benchmarks/reports/search.md)."""
    strings = [chunk.chunk_id, chunk.page_id, chunk.title, chunk.url, chunk.space_key,
               chunk.text, *chunk.heading_path]
    return 2 * sum(len(s) for s in strings) + 1500
