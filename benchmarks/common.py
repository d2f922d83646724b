"""Helpers shared by the retrieval and embedding benchmarks: the SciFact subset, its query
split, the ranking metrics, corpus-embedding caching and a description of the machine.

Benchmarks run as scripts (``.venv/bin/python benchmarks/retrieval_eval.py``); each puts the
project root on ``sys.path`` before importing this module. The product never imports it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCIFACT = ROOT.parent / "shared" / "data" / "scifact-subset"
REPORTS = ROOT / "benchmarks" / "reports"
# Under the project's data dir, which git ignores: models exported by the embedder, cached
# corpus embeddings.
DATA_DIR = ROOT / ".clinisight"
MODEL_CACHE = DATA_DIR / "models"
BENCH_CACHE = DATA_DIR / "bench-cache"

# Query split, fixed before any result was seen: parity of sha256(SALT:query-id). Even → tuning,
# odd → held out. Fusion parameters are chosen on the tuning split only.
SPLIT_SALT = "clinisight-fusion-split-v1"


def split_of(query_id: str) -> str:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{query_id}".encode()).hexdigest()
    return "tune" if int(digest[:8], 16) % 2 == 0 else "heldout"


@dataclass(frozen=True)
class Dataset:
    corpus: dict[str, str]  # id → text to index (title and text joined)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id → {doc id: relevance}

    def query_ids(self, split: str) -> list[str]:
        """Query ids with judgements in ``split`` ("tune", "heldout" or "all"), sorted."""
        ids = sorted(q for q in self.queries if q in self.qrels)
        return ids if split == "all" else [q for q in ids if split_of(q) == split]


def load_beir(folder: Path = SCIFACT) -> Dataset:
    corpus: dict[str, str] = {}
    with open(folder / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            # BEIR's convention for dense and lexical baselines: title, a space, then text.
            corpus[doc["_id"]] = f"{doc.get('title') or ''} {doc['text']}".strip()
    queries: dict[str, str] = {}
    with open(folder / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            query = json.loads(line)
            queries[query["_id"]] = query["text"]
    qrels: dict[str, dict[str, int]] = {}
    with open(folder / "qrels" / "test.tsv", encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            qid, did, score = line.rstrip("\n").split("\t")
            if int(score) > 0:
                qrels.setdefault(qid, {})[did] = int(score)
    return Dataset(corpus, queries, qrels)


Run = Mapping[str, Sequence[str]]  # query id → doc ids, best first


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains, as BEIR's pytrec_eval computes it."""
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    hits = sum(1 for d in ranked[:k] if relevant.get(d, 0) > 0)
    return hits / len(relevant) if relevant else 0.0


def mean_metric(run: Run, data: Dataset, query_ids: Sequence[str], metric: str) -> float:
    if not query_ids:
        return float("nan")
    if metric == "ndcg@10":
        values = [ndcg_at(run[q], data.qrels[q], 10) for q in query_ids]
    elif metric == "recall@100":
        values = [recall_at(run[q], data.qrels[q], 100) for q in query_ids]
    else:
        raise ValueError(f"Unknown metric {metric!r}")
    return float(np.mean(values))


def cached_embeddings(
    embedder: object, texts: Sequence[str], cache_dir: Path = BENCH_CACHE, batch_size: int = 64
) -> tuple[np.ndarray, dict[str, object]]:
    """``embedder.encode(texts)``, cached on disk by embedder name, model file and texts.

    Returns the vectors and how they were made: seconds and tokens of the run that computed
    them, when, and whether this call read them from the cache.
    """
    from embeddings.embedder import MAX_SEQ_LENGTH, Embedder

    assert isinstance(embedder, Embedder)
    digest = hashlib.sha256(f"{embedder.name}|{MAX_SEQ_LENGTH}|{batch_size}".encode())
    model_path = getattr(embedder, "model_path", None)  # the exported file, for onnx backends
    if model_path is not None:
        digest.update(Path(model_path).name.encode())
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    key = digest.hexdigest()[:20]
    vectors_path = cache_dir / f"{embedder.backend}-{key}.npy"
    meta_path = vectors_path.with_suffix(".json")
    if vectors_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return np.load(vectors_path), {**meta, "cached": True}
    start = time.perf_counter()
    vectors = embedder.encode(texts, batch_size=batch_size)
    seconds = time.perf_counter() - start
    meta = {
        "seconds": round(seconds, 2),
        "tokens": embedder.count_tokens(texts),
        "texts": len(texts),
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = vectors_path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    os.replace(tmp, vectors_path)
    meta_path.write_text(json.dumps(meta))
    return vectors, {**meta, "cached": False}


def machine_info() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"Python {platform.python_version()} on {platform.machine()}, {cpu}, "
        f"{os.cpu_count()} logical CPUs"
    )


def load_average() -> str:
    """The 1-minute load average now: how much else the machine was doing."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str) -> str:
    """``align``: one character per column, "l" or "r"."""
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(marks) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


RESULTS = ROOT / "benchmarks" / "results"


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, as measured: ``met`` is None when it could not be measured."""

    name: str  # what is measured, e.g. "intake p99 at 100 connections"
    goal: str  # the target as written, e.g. "≤ 100 ms"
    value: str  # the measured figure with its unit, e.g. "41 ms"
    met: bool | None


def write_result(name: str, figures: Mapping[str, object], targets: Sequence[Target],
                 command: str) -> Path:
    """Write ``benchmarks/results/<name>.json``: the figures ``benchmarks/report.py`` plots.

    ``figures`` is the benchmark's own data (JSON-serialisable); ``targets`` the issue targets it
    checks. The machine, its load average and the time are added here, so every result says
    under what conditions it was taken.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    doc = {
        "name": name,
        "command": command,
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine_info(),
        "load_average_end": load_average(),
        "figures": figures,
        "targets": [t.__dict__ for t in targets],
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    os.replace(tmp, path)
    return path


# The CLI beside this interpreter: benchmarks start stacks as users do (`clinisight up`).
CLI = str(Path(sys.executable).with_name("clinisight"))


def free_port() -> int:
    """A TCP port free on loopback now, for a stack or server a benchmark starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
