"""How the int8 ONNX model of all-MiniLM-L6-v2 is built from the bundled torch weights.

``build_int8(model_dir, path)`` runs the recipe; ``embeddings.embedder`` decides where the file
lives, caches it and runs it. Each step was chosen by measurement on this project's 2-core
machine (benchmarks/reports/embedding.md; ``onnxruntime`` 1.32):

1. **Export** with the torch.export-based exporter at **opset 23**, mean pooling and L2
   normalisation inside the graph. Opset 23 has an ``Attention`` op, and the exporter maps
   ``scaled_dot_product_attention`` onto it. At opset 20 the exporter spelled attention out
   as MatMul, an Add of the mask, Softmax, then IsNaN and Where, each a full pass over a
   (batch, heads, n, n) tensor: 200 MB per layer for 64 texts of 256 tokens. Those passes
   took 26% of the int8 model's time on such texts with one thread and 38% with two (5% on
   32-token texts): the reason it lost its lead over torch, whose attention is one fused
   kernel, as texts grew.
2. **Dynamic int8** per output channel for the 30 matrices of Q, K, V, the attention output
   and the feed-forward input (onnxruntime's ``quantize_dynamic``; activations to uint8 with
   one scale per tensor at run time; weights in 7 bits, ``reduce_range``, so the kernel of a
   CPU without VNNI does not saturate: see the call). The embedding tables stay fp32: they
   are lookups, so int8 tables saved memory only, and cost accuracy (mean cosine to fp32
   0.9972, not 0.9976).
3. **8-bit blocks** for the 6 feed-forward output matrices, whose inputs (GELU outputs) carry
   the outlier channels known from BERT quantization (Bondarenko et al., "Understanding and
   Overcoming the Challenges of Efficient Transformer Quantization", 2021): one uint8 scale
   per tensor resolves them badly (worst cosine to fp32 on the sample texts of
   tests/embeddings/test_embedder.py fell from 0.985 to 0.974, below the tests' 0.98). These
   become ``MatMulNBits`` with 8-bit weights in blocks of 128 inputs and ``accuracy_level``
   4, which quantizes the activations to int8 per row and block of 128 at run time, so an
   outlier widens the scale of its own block only. Measured against keeping these matrices
   fp32 (as the previous recipe did): the same cosines to fp32 (mean 0.9975 over the
   SciFact-subset corpus), 16-22% more tokens/s on 256-token texts.

Nothing is imported at module level beyond the standard library: torch and onnxruntime load
only when a model is built.
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onnx import ModelProto

__all__ = ["INPUT_NAMES", "OUTPUT_NAME", "RECIPE", "build_int8"]

log = logging.getLogger(__name__)

# Part of the cached file's name (embeddings.embedder hashes it with the weights): change it
# whenever anything below changes, so that no process keeps using a model built the old way.
RECIPE = (
    "mean-l2-in-graph/torch.export/opset23-attention/int8-dynamic-per-channel/fp32-embeddings/"
    "ffn-out-matmulnbits8-b128-acc4/reduce-range/v4"
)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "sentence_embedding"
OPSET = 23
# MatMulNBits over the feed-forward output matrices (1536 inputs: 12 blocks per column).
FFN_OUT_BITS, FFN_OUT_BLOCK, FFN_OUT_ACCURACY = 8, 128, 4


def build_int8(model_dir: Path, path: Path) -> None:
    """Export the sentence-transformers model in ``model_dir`` and write its int8 ONNX model
    to ``path`` (not atomically: the caller renames it into place)."""
    import onnx

    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".build-") as tmp:
        fp32_path, dynamic_path = Path(tmp) / "fp32.onnx", Path(tmp) / "dynamic.onnx"
        _export_fp32(model_dir, fp32_path)
        fp32 = onnx.load(str(fp32_path))
        ffn_out = _ffn_out_matmuls(fp32)
        _quantize_dynamic(fp32, dynamic_path, exclude=ffn_out)
        model = _quantize_blocks(onnx.load(str(dynamic_path)), include=ffn_out)
    onnx.save(model, str(path))


def _export_fp32(model_dir: Path, path: Path) -> None:
    import torch
    from transformers import AutoModel

    class MeanPooled(torch.nn.Module):
        """BERT, then sentence-transformers' Pooling(mean) and Normalize, in one graph."""

        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            tokens = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    # "sdpa" (transformers' default on torch 2.x, stated so that the opset-23 Attention op is
    # what gets exported): scaled_dot_product_attention, which the exporter maps to Attention.
    bert = AutoModel.from_pretrained(
        str(model_dir), local_files_only=True, attn_implementation="sdpa"
    )
    module = MeanPooled(bert).eval()
    # Batch 2 and uneven lengths, so that no dimension is specialised to 0/1 by torch.export.
    example = tuple(
        torch.tensor(rows, dtype=torch.int64)
        for rows in (
            [[101, 7592, 2088, 102, 0], [101, 1037, 2936, 6251, 102]],
            [[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]],
            [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0]],
        )
    )
    dynamic = torch.export.Dim.DYNAMIC
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    with warnings.catch_warnings(), torch.inference_mode(False):
        # torch 2.13's own exporter deep-copies pytree specs through a deprecated LeafSpec
        # path; the warning is about torch's internals, not about this call.
        warnings.filterwarnings(
            "ignore",
            message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
            category=FutureWarning,
        )
        quiet.setLevel(logging.ERROR)  # "torchvision is not installed" notes, one per op
        try:
            torch.onnx.export(
                module,
                example,
                str(path),
                dynamo=True,
                opset_version=OPSET,
                input_names=list(INPUT_NAMES),
                output_names=[OUTPUT_NAME],
                dynamic_shapes={name: {0: dynamic, 1: dynamic} for name in INPUT_NAMES},
                external_data=False,
                optimize=True,
                verbose=False,
            )
        finally:
            quiet.setLevel(level)


def _ffn_out_matmuls(model: ModelProto) -> list[str]:
    """Names of the weight MatMuls fed by GELU: the feed-forward output of each layer."""
    graph = model.graph
    producer = {output: node.op_type for node in graph.node for output in node.output}
    names = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul" and producer.get(node.input[0]) == "Gelu"
    ]
    if not names:  # an exporter that spells GELU otherwise: still correct, less accurate
        log.warning("No GELU-fed MatMul found; quantizing every weight matmul dynamically")
    if "Attention" not in {node.op_type for node in graph.node}:
        # Still correct, but attention then runs as separate ops over (batch, heads, n, n)
        # tensors, several times slower on long texts (see the module docstring).
        log.warning("The export has no Attention op; long texts will be slow")
    return names


class _DropPreprocessAdvice(logging.Filter):
    # onnxruntime's quantizer advises quant_pre_process on the root logger; its symbolic shape
    # inference fails on this graph ("Incomplete symbolic shape inference"), so it is skipped.
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def _quantize_dynamic(model: ModelProto, path: Path, exclude: list[str]) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    drop = _DropPreprocessAdvice()
    root = logging.getLogger()
    root.addFilter(drop)
    try:
        quantize_dynamic(
            model,
            path,
            weight_type=QuantType.QInt8,
            # Per-channel weight scales: with one scale per matrix, cosine to fp32 fell to
            # 0.90-0.95 on some sentences (Korean among them).
            per_channel=True,
            # 7-bit weights: without VNNI (AVX2 only) onnxruntime's u8×s8 kernel adds pairs of
            # products in int16 and saturates; with 8-bit weights the int8 model's cosine to
            # fp32 fell to 0.978 on a Korean sentence on such a CPU, not on one with VNNI.
            reduce_range=True,
            op_types_to_quantize=["MatMul"],  # not Gather: the embedding tables
            nodes_to_exclude=exclude,
        )
    finally:
        root.removeFilter(drop)


def _quantize_blocks(model: ModelProto, include: list[str]) -> ModelProto:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    if not include:
        return model
    config = DefaultWeightOnlyQuantConfig(
        block_size=FFN_OUT_BLOCK,
        is_symmetric=True,
        accuracy_level=FFN_OUT_ACCURACY,
        bits=FFN_OUT_BITS,
        op_types_to_quantize=("MatMul",),
    )
    # The quantizer takes every node of op_types_to_quantize that is not excluded; after
    # dynamic quantization the only float weight MatMuls left are ``include``, and any other
    # is excluded by name all the same.
    others = [n.name for n in model.graph.node if n.op_type == "MatMul" and n.name not in include]
    quantizer = MatMulNBitsQuantizer(model, nodes_to_exclude=others, algo_config=config)
    quantizer.process()
    result = quantizer.model.model
    assert isinstance(result, onnx.ModelProto)
    return result
