"""Chunks and unit vectors for index tests: seeded, no embedding model."""

from __future__ import annotations

import numpy as np

from embeddings.chunking import Chunk, make_chunk_id

DIM = 384


def unit_vectors(n: int, seed: int = 0, dim: int = DIM) -> np.ndarray:
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def clustered_vectors(n: int, seed: int = 0, clusters: int = 50, spread: float = 0.6,
                      dim: int = DIM) -> np.ndarray:
    """Unit vectors around a few centres, closer to real embeddings than uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    noise = rng.standard_normal((n, dim)).astype(np.float32) * (spread / np.sqrt(dim))
    v = centres[rng.integers(0, clusters, n)] + noise
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


def page_chunks(page_id: str, texts: list[str], version: int = 1, space: str = "ENG",
                title: str | None = None) -> list[Chunk]:
    return [
        Chunk(
            chunk_id=make_chunk_id(page_id, version, i),
            page_id=page_id,
            version=version,
            title=title or f"Page {page_id}",
            url=f"https://example.atlassian.net/wiki/spaces/{space}/pages/{page_id}",
            space_key=space,
            heading_path=["Overview"],
            text=text,
            ordinal=i,
        )
        for i, text in enumerate(texts)
    ]


def texts(page_id: str, n: int) -> list[str]:
    return [f"passage {i} of {page_id} about topic{(i * 7) % 13}" for i in range(n)]
