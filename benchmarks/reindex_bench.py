"""Reindex throughput: pages/s end to end through the running system vs. embedding alone.

    .venv/bin/python benchmarks/reindex_bench.py [--pages 2000] [--backend onnx-int8]

1. Generates a space of N pages (SciFact abstracts as the page bodies, two headed sections per
   page) as an export folder, the layout ``embeddings.confluence.FolderSource`` reads.
2. Starts a local stack with the CLI (own data dir and ports), runs
   ``clinisight reindex --source <folder>`` and times it: pages → text → PHI redaction → chunks →
   Ray Data embedding actors → shard upserts → snapshots, as users run it.
3. In this process, chunks the same pages the same way and times the embedding model alone on
   those chunk texts, with the same backend and thread count.
4. Prints both rates and their ratio and writes benchmarks/reports/reindex.md.

The issue's target: the pipeline around the model costs at most 20%, i.e. end to end ≥ 80% of
the embedding-only rate.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import MODEL_CACHE, REPORTS, SCIFACT  # noqa: E402
from compliance.phi import redact  # noqa: E402
from embeddings.chunking import chunk_page  # noqa: E402
from embeddings.confluence import FolderSource  # noqa: E402
from embeddings.embedder import make_embedder  # noqa: E402

CLI = str(Path(sys.executable).with_name("clinisight"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def generate_space(folder: Path, pages: int) -> None:
    docs = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").read_text().splitlines()]
    for n in range(pages):
        a, b = docs[n % len(docs)], docs[(n * 7 + 3) % len(docs)]
        page_id = str(900_000_000 + n)
        body = (f"<h1>Summary</h1><p>{a['text']}</p>"
                f"<h2>Related work</h2><ul><li>{b['title'] or 'Related'}</li></ul>"
                f"<p>{b['text']}</p>")
        page = {
            "id": page_id, "type": "page", "title": f"Research note {n}: {a['title'][:60]}",
            "space": {"key": "BENCH"}, "version": {"number": 1},
            "body": {"storage": {"value": body, "representation": "storage"}},
            "_links": {"webui": f"/spaces/BENCH/pages/{page_id}", "base": "https://bench.local/wiki"},
        }
        (folder / page_id).mkdir()
        (folder / page_id / "page.v1.json").write_text(json.dumps(page))


async def chunk_texts(folder: Path, max_chars: int, overlap: int) -> list[str]:
    texts: list[str] = []
    async for page in FolderSource(folder).iter_pages("BENCH"):
        texts.extend(c.embed_text for c in chunk_page(page, max_chars=max_chars,
                                                       overlap=overlap, redact=redact))
    return texts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=2000)
    ap.add_argument("--backend", default="onnx-int8", choices=["torch", "onnx-int8"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="reindex-bench-"))
    folder = work / "space"
    folder.mkdir()
    generate_space(folder, args.pages)
    env = {**os.environ, "CLINISIGHT_DATA_DIR": str(work / "data"),
           "CLINISIGHT_HTTP_PORT": str(free_port()),
           "CLINISIGHT_DYNAMODB_LOCAL_PORT": str(free_port()),
           "CLINISIGHT_MODEL_CACHE_DIR": str(MODEL_CACHE),
           "CLINISIGHT_EMBED_BACKEND": args.backend,
           "CLINISIGHT_EMBED_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1"}

    # Embedding alone, same texts, same backend and threads.
    texts = asyncio.run(chunk_texts(folder, 600, 80))
    embedder = make_embedder(args.backend, MODEL_CACHE, threads=args.threads)  # type: ignore[arg-type]
    embedder.encode(texts[:64])  # warm up
    started = time.perf_counter()
    embedder.encode(texts, batch_size=64)
    embed_s = time.perf_counter() - started
    del embedder

    up = subprocess.run([CLI, "up"], env=env, capture_output=True, text=True, timeout=600)
    if up.returncode != 0:
        sys.exit(f"stack did not start: {up.stdout} {up.stderr}")
    try:
        started = time.perf_counter()
        rx = subprocess.run([CLI, "reindex", "--space", "BENCH", "--source", str(folder),
                             "--quiet"], env=env, capture_output=True, text=True, timeout=3600)
        e2e_s = time.perf_counter() - started
        result = json.loads(rx.stdout)
    finally:
        subprocess.run([CLI, "down"], env=env, capture_output=True, timeout=120)
    if result.get("status") != "succeeded":
        sys.exit(f"reindex failed: {result}")

    pages = args.pages
    embed_rate, e2e_rate = pages / embed_s, pages / e2e_s
    lines = [
        "# Reindex throughput",
        "",
        f"Command: `.venv/bin/python benchmarks/reindex_bench.py --pages {pages} "
        f"--backend {args.backend} --threads {args.threads}`",
        "",
        f"Generated space: {pages} pages, {len(texts)} chunks (600 chars, 80 overlap).",
        "",
        "| path | seconds | pages/s | chunks/s |",
        "|---|---:|---:|---:|",
        f"| embedding alone (in-process) | {embed_s:.1f} | {embed_rate:.1f} | "
        f"{len(texts) / embed_s:.1f} |",
        f"| end to end (`clinisight reindex`) | {e2e_s:.1f} | {e2e_rate:.1f} | "
        f"{result['chunks'] / e2e_s:.1f} |",
        "",
        f"End to end reaches **{100 * e2e_rate / embed_rate:.0f}%** of the embedding-only rate "
        "(target ≥ 80%). End to end includes the CLI round trips, Ray Data start-up, the "
        "shard upserts through Serve and the DynamoDB snapshots.",
        "",
        f"Job: {json.dumps({k: result[k] for k in ('seen', 'embedded', 'failed', 'chunks')})}",
    ]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "reindex.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
