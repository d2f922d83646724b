"""Access benchmark (issue #14): filtering by who may read, against its three targets.

1. **Exactness at 1%.** A 100k-chunk shard (10k pages of 10 chunks, search_bench's synthetic
   clustered vectors and Zipf texts), flat and HNSW; 1% of its pages readable by the reader,
   the rest spread over 20 other access expressions. For each query, the filtered top-10
   (``TenantShard.dense_search``, ``lexical_search`` and ``search`` with the reader) against the
   exact filtered top-10 by brute force: cosine over the allowed vectors; the full BM25 ranking
   of every chunk, then filtered; the fusion of those two at the shard's candidate depth.
2. **Latency.** The shard's hybrid search, one query at a time, for readers allowed 1%, 10%,
   50% and 100% of the pages (100%: the unfiltered path) and with no reader at all.
3. **/ask p99 on the real stack.** The 100k-chunk shard is snapshotted into a local stack's
   DynamoDB (``clinisight up``), then ``POST /v1/tenants/{t}/ask`` is timed end to end (HTTP,
   FIT check, audit, question embedding by the real model, group lookup, the index partition's
   search, the offline answer) for a person allowed 1% of the pages and for one allowed all of
   them (the filter a no-op: the unfiltered baseline), interleaved.
4. **Requests a reindex spends on access.** A reindex (the real ``reindex_space``, the real
   embedder) of a 2000-page space on the loopback Confluence of the tests: a page tree with
   restrictions on 5% of the pages and three ancestors whose restrictions cannot be expanded;
   every request recorded, access requests counted per page.

    .venv/bin/python benchmarks/access_bench.py               # all four (~10 min here)
    .venv/bin/python benchmarks/access_bench.py --no-stack    # without 3

Writes benchmarks/reports/access.md and benchmarks/results/access.json.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import (  # noqa: E402
    MODEL_CACHE,
    Target,
    load_average,
    machine_info,
    write_result,
)
from benchmarks.search_bench import (  # noqa: E402
    PER_PAGE,
    build,
    latencies,
    make_texts,
    make_vectors,
)
from embeddings.access import Expr, allows, canonical, reader_tokens  # noqa: E402
from index.hybrid import fuse  # noqa: E402
from index.shard import ShardConfig, TenantShard  # noqa: E402

REPORT = Path(__file__).parent / "reports" / "access.md"
N = 100_000
OTHER_EXPRS = 20
SHARES = (0.01, 0.10, 0.50, 1.0)


def assign_access(shard: TenantShard, pages: int, rng: np.random.Generator) -> None:
    """Nested page sets: the 1% reader's pages are inside the 10% reader's, and so on; pages
    outside every share are spread over ``OTHER_EXPRS`` expressions the readers fail."""
    order = rng.permutation(pages)
    access: dict[str, Expr] = {}
    for rank, p in enumerate(order.tolist()):
        share = next((s for s in SHARES if rank < s * pages), None)
        if share is not None and share < 1.0:
            # Readable by this share's reader and every wider one.
            names = [f"u:{account(s)}" for s in SHARES if s >= share] + ["u:acc-all"]
            access[str(p)] = canonical([("*",), tuple(names)])
        else:
            access[str(p)] = canonical([("*",), ("u:acc-all", f"u:other-{p % OTHER_EXPRS}")])
    shard.set_access(access)


def account(share: float) -> str:
    """The accountId of the person allowed ``share`` of the pages."""
    return "acc-all" if share >= 1.0 else f"acc-permille-{round(share * 1000)}"


def reader(share: float) -> frozenset[str]:
    return reader_tokens(account(share))


def exact_top10(shard: TenantShard, vecs: np.ndarray, q: np.ndarray, text: str,
                allowed_rows: np.ndarray) -> tuple[list[str], list[str], list[str]]:
    depth = shard.config.candidate_depth
    scores = vecs[allowed_rows] @ q
    top = np.argsort(-scores, kind="stable")[:depth]
    dense = [(f"{allowed_rows[i] // PER_PAGE}:1:{allowed_rows[i] % PER_PAGE}", float(scores[i]))
             for i in top]
    pages = {int(r) // PER_PAGE for r in allowed_rows[::PER_PAGE]}
    lexical = [(c, s) for c, s in shard.lexical_search(text, len(shard))
               if int(c.split(":")[0]) in pages][:depth]
    return ([c for c, _ in dense[:10]], [c for c, _ in lexical[:10]],
            [c for c, _ in fuse(dense, lexical, k=10)])


def exactness_and_latency(args: argparse.Namespace) -> tuple[list[dict[str, Any]],
                                                              dict[str, TenantShard], Any]:
    vecs, queries = make_vectors("clustered", N, args.queries, seed=N)
    texts = make_texts(N, seed=1)
    q_texts = [" ".join(t.split()[:4]) for t in make_texts(args.queries, seed=2)]
    rows: list[dict[str, Any]] = []
    shards: dict[str, TenantShard] = {}
    for mode, config in (("flat", ShardConfig(approx_threshold=10**12, faiss_threads=2)),
                         ("hnsw", ShardConfig(approx_threshold=N, faiss_threads=2))):
        t = time.perf_counter()
        shard, _ = build(vecs, texts, config)
        assign_access(shard, N // PER_PAGE, np.random.default_rng(5))
        shard.config = dataclasses.replace(shard.config, faiss_threads=1)
        print(f"{mode}: built in {time.perf_counter() - t:.0f} s, index {shard.index_kind}",
              flush=True)
        shards[mode] = shard
        few = reader(0.01)
        allowed_pages = np.array(sorted(int(p) for p in shard.pages()
                                        if shard.access_of(p) in _ids_for(shard, few)))
        allowed_rows = (allowed_pages[:, None] * PER_PAGE + np.arange(PER_PAGE)).ravel()
        same = {"dense": 0, "bm25": 0, "hybrid": 0}
        n_eq = min(args.exact_queries, len(queries))
        for i in range(n_eq):
            dense, lexical, hybrid = exact_top10(shard, vecs, queries[i], q_texts[i],
                                                 allowed_rows)
            same["dense"] += [c for c, _ in shard.dense_search(queries[i], 10,
                                                                reader=few)[0]] == dense
            same["bm25"] += [c for c, _ in shard.lexical_search(q_texts[i], 10,
                                                                 reader=few)] == lexical
            same["hybrid"] += [h.chunk.chunk_id for h in shard.search(
                queries[i], q_texts[i], 10, reader=few)] == hybrid
        row: dict[str, Any] = {"index": mode, "kind": shard.index_kind, "chunks": len(shard),
                               "allowed_chunks_1pct": int(allowed_rows.size),
                               "exact_queries": n_eq,
                               **{f"equal_{k}": v for k, v in same.items()}}
        lat = {"none": latencies(lambda i, s=shard: s.search(queries[i], q_texts[i], 10),
                                 args.queries)}
        for share in SHARES:
            r = reader(share)
            lat[f"{share:g}"] = latencies(
                lambda i, r=r, s=shard: s.search(queries[i], q_texts[i], 10, reader=r),
                args.queries)
            # Cold: the shard's kept filters dropped before each query, as for the first
            # question of a reader group after a write.
            lat[f"{share:g} cold"] = latencies(
                lambda i, r=r, s=shard: (s._filters.clear(),
                                         s.search(queries[i], q_texts[i], 10, reader=r)),
                args.queries)
        row["latency_ms"] = {k: {"p50": round(v[0], 2), "p99": round(v[1], 2)}
                             for k, v in lat.items()}
        print("  " + str(row), flush=True)
        rows.append(row)
    return rows, shards, (queries, q_texts)


def _ids_for(shard: TenantShard, tokens: frozenset[str]) -> set[str]:
    return {a for a, e in shard.access_exprs().items() if allows(e, tokens)}


def through_stack(shard: TenantShard, q_texts: list[str], n: int) -> dict[str, Any]:
    from config.settings import Settings
    from index.snapshot import SnapshotStore
    from store.dynamo import DynamoTable, make_client
    from tests.utils.stack import Stack

    tmp = Path(tempfile.mkdtemp(prefix="access-bench-"))
    stack = Stack(tmp / "stack", CLINISIGHT_MODEL_CACHE_DIR=str(MODEL_CACHE), HF_HUB_OFFLINE="1",
                  CLINISIGHT_RATE_LIMIT_PER_S="0")
    stack.up()
    try:
        tenant = "bench-acl"
        endpoint = f"http://127.0.0.1:{stack.settings.dynamodb_local_port}"
        settings = Settings(_env_file=None, data_dir=tmp / "stack", stage="dev",
                            dynamodb_endpoint=endpoint)
        shard.tenant = tenant  # saved as the stack tenant's own shard
        t = time.perf_counter()
        store = SnapshotStore(DynamoTable(make_client(settings), settings.table("Embeddings"),
                                          ThreadPoolExecutor(8)))
        asyncio.run(store.save(shard))
        save_s = time.perf_counter() - t
        times: dict[str, list[float]] = {"filtered_1pct": [], "unfiltered": []}
        principals = {"filtered_1pct": account(0.01), "unfiltered": account(1.0)}
        headers = {k: {"authorization": "Bearer " + stack.token(tenant, principal=p,
                                                                exp=int(time.time()) + 3600)}
                   for k, p in principals.items()}
        t = time.perf_counter()
        for key in principals:  # warm: the partition loads the snapshot on first use
            resp = stack.client.post(f"/v1/tenants/{tenant}/ask", headers=headers[key],
                                     json={"question": q_texts[0], "k": 10}, timeout=300)
            assert resp.status_code == 200, resp.text
        load_s = time.perf_counter() - t
        hits: dict[str, int] = {k: 0 for k in principals}
        for i in range(n):
            for key in (principals if i % 2 == 0 else reversed(list(principals))):
                started = time.perf_counter()
                resp = stack.client.post(f"/v1/tenants/{tenant}/ask", headers=headers[key],
                                         json={"question": q_texts[i % len(q_texts)], "k": 10})
                times[key].append(time.perf_counter() - started)
                assert resp.status_code == 200, resp.text
                hits[key] += len(resp.json()["passages"])
        out = {k: {"p50": round(float(np.percentile(v, 50)) * 1e3, 1),
                   "p99": round(float(np.percentile(v, 99)) * 1e3, 1), "n": len(v),
                   "passages_avg": round(hits[k] / len(v), 2)} for k, v in times.items()}
        return {"snapshot_save_s": round(save_s, 1), "first_asks_s": round(load_s, 1), **out}
    finally:
        stack.down()
        stack.close()


def reindex_requests() -> dict[str, Any]:
    from compliance.phi import redact
    from config.settings import Settings
    from embeddings.confluence import ConfluenceClient
    from embeddings.confluence_access import ConfluenceAccess
    from embeddings.embedder import make_embedder
    from embeddings.jobs import JobStore, ReindexProgress
    from embeddings.reindex import reindex_space
    from index.manager import ShardManager
    from index.snapshot import SnapshotStore
    from store.dynamo import DynamoTable, ensure_tables, make_client
    from store.factory import open_stores
    from tests.embeddings.confluence_server import FakeConfluence, make_page
    from tests.utils.servers import Dynalite

    pages_n = 2000
    rng = np.random.default_rng(3)
    pages = [make_page(str(50_000 + i), f"Ward note {i}", f"Handover and rota notes {i}.")
             for i in range(pages_n)]
    fake = FakeConfluence(pages)
    perms = fake.permissions
    perms.space_view = [("user", f"acc-{i}") for i in range(30)] + [
        ("group", f"gid-team-{i}") for i in range(10)]
    ids = [p.page_id for p in pages]
    for i, pid in enumerate(ids[1:], start=1):  # a tree: each page under an earlier one
        perms.parents[pid] = ids[int(rng.integers(0, i))] if i > 20 else "49999"
    for pid in rng.choice(ids, size=pages_n // 20, replace=False).tolist():
        perms.restrict(pid, users=["acc-1", "acc-2"], groups=["team-3"])
    for pid in ("49999", ids[5], ids[7]):
        perms.unreadable.add(pid)
    fake.start()
    tmp = Path(tempfile.mkdtemp(prefix="access-bench-db-"))
    db = Dynalite(tmp / "db")
    db.start()
    try:
        settings = Settings(_env_file=None, stage="bench", dynamodb_endpoint=db.url,
                            data_dir=tmp / "data", anthropic_api_key=None)
        ensure_tables(make_client(settings), settings)
        stores = open_stores(settings)
        manager = ShardManager(SnapshotStore(DynamoTable(
            make_client(settings), settings.table("Embeddings"), ThreadPoolExecutor(8))))
        embedder = make_embedder("torch", MODEL_CACHE, threads=2)

        def stream(texts: Any) -> Any:
            for a in range(0, len(texts), 256):
                idx = np.arange(a, min(a + 256, len(texts)))
                yield idx, embedder.encode([texts[i] for i in idx.tolist()])

        async def run() -> Any:
            async with ConfluenceClient(fake.url, api="v2", page_size=250) as client:
                return await reindex_space(
                    ReindexProgress(job_id="rx", tenant="bench", space="QM", source=fake.url),
                    source=client, jobs=JobStore(stores.state), writer=manager,
                    embed_stream=stream, redact=redact, access=ConfluenceAccess(client))

        t = time.perf_counter()
        done = asyncio.run(run())
        seconds = time.perf_counter() - t
    finally:
        db.stop()
        fake.stop()
    kinds = {"space permissions": 0, "restriction listing": 0, "byOperation": 0, "other": 0}
    for r in fake.requests:
        if r.path.endswith("/permissions"):
            kinds["space permissions"] += 1
        elif r.path.endswith("/byOperation"):
            kinds["byOperation"] += 1
        elif "restrictions" in r.query.get("expand", ""):
            kinds["restriction listing"] += 1
        else:
            kinds["other"] += 1
    access = kinds["space permissions"] + kinds["restriction listing"] + kinds["byOperation"]
    return {"pages": pages_n, "status": done.status, "embedded": done.embedded,
            "access_changed": done.access_changed, "seconds": round(seconds, 1),
            "requests": kinds, "access_requests": access,
            "access_requests_per_page": round(access / pages_n, 4),
            "page_listing_requests": kinds["other"]}


def _met(met: bool | None) -> str:
    return "–" if met is None else "yes" if met else "no"


def report(rows: list[dict[str, Any]], stack: dict[str, Any] | None, rx: dict[str, Any],
           targets: list[Target], args: argparse.Namespace, wall: float) -> str:
    lines = [
        "# Access filtering (issue #14)", "",
        f"`benchmarks/access_bench.py {' '.join(sys.argv[1:])}` on {machine_info()}; load "
        f"average at start {args.load_at_start}, at the end {load_average()} (the machine is "
        f"shared with other work); took {wall:.0f} s.", "",
        "## Targets", "",
        "| target | goal | measured | met |", "|---|---|---|---|",
        *[f"| {t.name} | {t.goal} | {t.value} | {_met(t.met)} |" for t in targets], "",
        f"## 1. Filtered top-10 against exact filtered top-10 ({N:,} chunks, 1% of pages)", "",
        "| shard | index | allowed chunks | queries | dense equal | BM25 equal | hybrid equal |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['index']} | {r['kind']} | {r['allowed_chunks_1pct']} | "
                     f"{r['exact_queries']} | {r['equal_dense']} | {r['equal_bm25']} | "
                     f"{r['equal_hybrid']} |")
    lines += ["", "## 2. Shard hybrid search latency by the reader's share (ms p50 / p99, one "
              f"thread, {args.queries} queries)", "",
              "Warm: the reader's filter (sorted ids, their vectors or selector) is kept by the "
              "shard between queries (a few, per generation); cold: dropped before each query.",
              "",
              "| shard | no reader | 1% | 10% | 50% | 100% (unfiltered path) | 1% cold "
              "| 10% cold | 50% cold |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lat = r["latency_ms"]
        cell = [f"{lat[k]['p50']} / {lat[k]['p99']}" for k in (
            "none", "0.01", "0.1", "0.5", "1", "0.01 cold", "0.1 cold", "0.5 cold")]
        lines.append(f"| {r['index']} | " + " | ".join(cell) + " |")
    if stack:
        lines += ["", "## 3. `/ask` end to end on a local stack (100k-chunk shard)", "",
                  f"Snapshot saved in {stack['snapshot_save_s']} s; first two asks (the "
                  f"partition loads it) {stack['first_asks_s']} s.", "",
                  "| reader | requests | p50 ms | p99 ms | passages a reply |",
                  "|---|---:|---:|---:|---:|"]
        for key in ("filtered_1pct", "unfiltered"):
            s = stack[key]
            lines.append(f"| {key} | {s['n']} | {s['p50']} | {s['p99']} | {s['passages_avg']} |")
    lines += ["", f"## 4. Requests a reindex spends on access ({rx['pages']} pages)", "",
              f"Reindex {rx['status']} in {rx['seconds']} s, {rx['embedded']} pages embedded, "
              f"{rx['access_changed']} pointed at their access.", "",
              "| requests | count |", "|---|---:|",
              *[f"| {k} | {v} |" for k, v in rx["requests"].items()],
              f"| **access, per page** | **{rx['access_requests_per_page']}** |"]
    lines += ["", "## Reading", "", NOTES]
    return "\n".join(lines) + "\n"


NOTES = """\
- Exactness at 1% holds by construction, not by luck: 1% of 100k chunks is 1,000 vectors, at
  most `exact_subset_max` (10,000), so the dense side scores exactly the allowed vectors in
  either index kind; BM25 runs its exact MaxScore kernel under a mask; fusion sees the same two
  candidate lists the brute force builds.
- The `/ask` baseline ("unfiltered") is a person allowed every page: the shard then takes the
  unfiltered path (the same code as no reader at all), so the comparison is the filter's whole
  cost inside the real request (HTTP, FIT, audit, embedding, group lookup, search, answer).
- Cold filters cost most at 10% on HNSW: 10,000 allowed vectors are copied out of the index
  (`reconstruct_batch`, 15 MB) before they are scored; the shard keeps the last few filters per
  generation, so only the first question of a reader group after a write pays it. Past 10,000
  allowed vectors the HNSW walk runs behind an `IDSelectorBatch` with a widened efSearch: not
  guaranteed exact (the target is stated at 1%).
- Access reads per reindex: one v2 space-permissions listing (25 assignments a page here), one
  v1 restriction listing per 100 pages (with every ancestor's restrictions expanded), and one
  `byOperation` per ancestor the expansion missed (three unreadable ones here), cached per run.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--exact-queries", type=int, default=100)
    parser.add_argument("--ask-requests", type=int, default=300)
    parser.add_argument("--no-stack", action="store_true")
    args = parser.parse_args()
    args.load_at_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    start = time.perf_counter()
    rows, shards, (_, q_texts) = exactness_and_latency(args)
    stack = None if args.no_stack else through_stack(shards["hnsw"], q_texts, args.ask_requests)
    shards.clear()
    rx = reindex_requests()
    print(rx, stack, flush=True)
    targets = [
        Target(f"filtered top-10 = exact filtered top-10 at 1% ({r['index']}, {side})",
               "all queries", f"{r[f'equal_{side}']}/{r['exact_queries']}",
               r[f"equal_{side}"] == r["exact_queries"])
        for r in rows for side in ("dense", "bm25", "hybrid")
    ]
    if stack:
        ratio = stack["filtered_1pct"]["p99"] / stack["unfiltered"]["p99"]
        targets.append(Target("/ask p99 filtered (1%) vs unfiltered, 100k-chunk shard",
                              "≤ 2×", f"{ratio:.2f}× ({stack['filtered_1pct']['p99']} vs "
                              f"{stack['unfiltered']['p99']} ms)", ratio <= 2.0))
    for r in rows:
        lat = r["latency_ms"]
        ratio = lat["0.01"]["p99"] / lat["none"]["p99"]
        targets.append(Target(f"shard hybrid p99 at 1% vs no filter ({r['index']})", "≤ 2×",
                              f"{ratio:.2f}×", ratio <= 2.0))
        cold = lat["0.01 cold"]["p99"] / lat["none"]["p99"]
        targets.append(Target(f"shard hybrid p99 at 1%, cold filter, vs no filter "
                              f"({r['index']})", "≤ 2×", f"{cold:.2f}×", cold <= 2.0))
    per = rx["access_requests_per_page"]
    targets.append(Target("extra requests a reindex spends on access", "≤ 1 per 25 pages",
                          f"{per} per page (1 per {1 / per:.0f} pages)" if per else "0",
                          per <= 1 / 25))
    text = report(rows, stack, rx, targets, args, time.perf_counter() - start)
    print(text)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text)
    command = ".venv/bin/python benchmarks/access_bench.py " + " ".join(sys.argv[1:])
    path = write_result("access", {"shards": rows, "ask": stack, "reindex": rx}, targets,
                        command.strip())
    print(f"wrote {REPORT} and {path}")


if __name__ == "__main__":
    main()
