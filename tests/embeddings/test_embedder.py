"""The embedders against the real bundled model; the ONNX export runs once per session."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from filelock import FileLock

from embeddings import onnx_export
from embeddings.embedder import (
    EMBEDDING_DIM,
    MAX_SEQ_LENGTH,
    Embedder,
    OnnxInt8Embedder,
    TorchEmbedder,
    ensure_onnx_int8,
    make_embedder,
    onnx_int8_path,
)

VARIED = [
    "The patient was discharged after three days on oral antibiotics.",
    "환자는 항생제 치료 후 3일 만에 퇴원했습니다.",  # Korean
    "東京は日本の首都です。",
    "How do I reset my VPN password?",
    "Q3 revenue grew 12% year over year to $4.1M.",
    "def add(x, y):\n    return x + y",
    "ok",
    "Insulin resistance is associated with obesity and type 2 diabetes. " * 40,  # > 256 tokens
]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def int8(model_cache: Path) -> OnnxInt8Embedder:
    """Exports and quantizes into this session's own cache dir (15-20 s), once."""
    return OnnxInt8Embedder(model_cache, threads=2)


@pytest.fixture(scope="session")
def fp32() -> TorchEmbedder:
    return TorchEmbedder()


@pytest.fixture(params=["torch", "onnx-int8"])
def embedder(request: pytest.FixtureRequest) -> Iterator[Embedder]:
    """Each backend in turn, for the tests every implementation must pass."""
    fixture = "fp32" if request.param == "torch" else "int8"
    yield request.getfixturevalue(fixture)


def test_vectors_are_unit_length_384_float32(embedder: Embedder) -> None:
    vectors = embedder.encode(VARIED, batch_size=3)
    assert embedder.dim == EMBEDDING_DIM == 384
    assert vectors.shape == (len(VARIED), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_score_higher_than_unrelated(embedder: Embedder) -> None:
    triples = [
        ("How do I reset my password?", "Steps to change a forgotten login password",
         "The cafeteria serves lunch from noon until two."),
        ("Blood pressure medication dosage for adults",
         "Recommended antihypertensive doses in adult patients",
         "Quarterly sales figures for the northern region"),
        ("병원 예약을 취소하는 방법", "진료 예약 취소 절차 안내", "오늘 서울의 날씨는 맑습니다"),
    ]
    for anchor, similar, unrelated in triples:
        a, s, u = embedder.encode([anchor, similar, unrelated])
        assert a @ s > a @ u + 0.1, (anchor, float(a @ s), float(a @ u))


def test_rows_follow_the_input_order(embedder: Embedder) -> None:
    texts = VARIED[:6]
    forward = embedder.encode(texts)
    backward = embedder.encode(texts[::-1])
    np.testing.assert_allclose(backward[::-1], forward, atol=1e-4)


def test_empty_input_and_a_bare_string(embedder: Embedder) -> None:
    assert embedder.encode([]).shape == (0, 384)
    assert embedder.count_tokens([]) == 0
    with pytest.raises(TypeError, match="not a single string"):
        embedder.encode("a string is a sequence of strings too")


def test_tokens_are_counted_as_sentence_transformers_tokenizes(fp32: TorchEmbedder,
                                                               int8: OnnxInt8Embedder) -> None:
    # The bundled tokenizer.json says 128 tokens; the model card (and sentence-transformers)
    # say 256. Both backends must see what sentence-transformers feeds the model.
    reference = fp32._model.tokenizer(
        VARIED, truncation=True, max_length=MAX_SEQ_LENGTH, padding=False
    )["input_ids"]
    assert max(len(ids) for ids in reference) == MAX_SEQ_LENGTH
    expected = sum(len(ids) for ids in reference)
    assert fp32.count_tokens(VARIED) == int8.count_tokens(VARIED) == expected


def test_int8_agrees_with_fp32(fp32: TorchEmbedder, int8: OnnxInt8Embedder) -> None:
    cosines = (fp32.encode(VARIED) * int8.encode(VARIED)).sum(axis=1)
    assert cosines.min() > 0.98, dict(zip(VARIED, cosines.round(4).tolist(), strict=True))


def test_padded_batches_agree_with_texts_alone(fp32: TorchEmbedder,
                                               int8: OnnxInt8Embedder) -> None:
    # Lengths within 75% of each other share a batch, so the shorter ones are padded: their
    # padded positions must neither leak into their vectors nor turn them into NaN.
    texts = [" ".join(["glucose"] * n) for n in (40, 36, 33, 31)]
    batched = int8.encode(texts)
    assert np.isfinite(batched).all()
    alone = np.vstack([int8.encode([t]) for t in texts])
    assert (batched * alone).sum(axis=1).min() > 0.995
    assert (batched * fp32.encode(texts)).sum(axis=1).min() > 0.98


def test_the_int8_graph_follows_the_recipe(int8: OnnxInt8Embedder) -> None:
    # What makes long texts fast: attention as one op per layer (not MatMul, Softmax, IsNaN and
    # Where over (batch, heads, n, n) tensors); int8 for every weight matrix, the GELU-fed
    # ones in 8-bit blocks; embedding tables left fp32.
    graph = onnx.load(str(int8.model_path)).graph
    ops = [node.op_type for node in graph.node]
    assert ops.count("Attention") == 6
    assert ops.count("MatMulInteger") == 30
    assert ops.count("MatMulNBits") == 6
    assert "IsNaN" not in ops and "Softmax" not in ops
    weights = {init.name for init in graph.initializer}
    assert not [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    producer = {out: node.op_type for node in graph.node for out in node.output}
    gelu_fed = [n for n in graph.node if n.op_type == "MatMulNBits"]
    assert all(producer[n.input[0]] == "Gelu" for n in gelu_fed)


def test_the_cache_key_follows_the_recipe(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    before = onnx_int8_path(tmp_path)
    monkeypatch.setattr(onnx_export, "RECIPE", onnx_export.RECIPE + "/changed")
    assert onnx_int8_path(tmp_path) != before
    assert onnx_int8_path(tmp_path).parent == before.parent == tmp_path


def test_onnx_export_is_cached(model_cache: Path, int8: OnnxInt8Embedder) -> None:
    path = int8.model_path
    assert path == onnx_int8_path(model_cache) and path.parent == model_cache
    before = path.stat().st_mtime_ns
    again = OnnxInt8Embedder(model_cache, threads=1)  # a new embedder, same cache: no export
    assert again.model_path == path
    assert path.stat().st_mtime_ns == before
    assert not list(model_cache.glob(".export-*"))  # no export left half-done
    np.testing.assert_allclose(again.encode(VARIED[:2]), int8.encode(VARIED[:2]), atol=1e-5)


def test_an_exporter_waits_for_another_and_uses_its_file(tmp_path: Path) -> None:
    target = onnx_int8_path(tmp_path)
    result: list[Path] = []
    with FileLock(f"{target}.lock"):  # another process is exporting
        waiter = threading.Thread(target=lambda: result.append(ensure_onnx_int8(tmp_path)))
        waiter.start()
        time.sleep(0.5)
        assert waiter.is_alive() and not target.exists()
        target.write_bytes(b"exported by the other process")  # its atomic rename lands
    waiter.join(timeout=30)
    assert result == [target]
    assert target.read_bytes() == b"exported by the other process"


def test_make_embedder_builds_once_per_process(model_cache: Path, int8: OnnxInt8Embedder) -> None:
    first = make_embedder("onnx-int8", model_cache, threads=1)
    assert make_embedder("onnx-int8", model_cache, threads=1) is first
    assert first.name == "all-MiniLM-L6-v2/onnx-int8" and first.backend == "onnx-int8"
    assert first.model_path == int8.model_path  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="Unknown embedding backend 'fp16'"):
        make_embedder("fp16", model_cache)  # type: ignore[arg-type]
