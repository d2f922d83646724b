"""State: snapshot save and restore time against snapshot size, on a real DynamoDB API server.

    .venv/bin/python benchmarks/state_bench.py [--reps 20] [--sizes 1K,100K,8M]

Default sizes: 1K, 10K, 100K, 400K (one item's limit), 1M, 4M, 8M, and 16M and 32M past the
issue's range, to see where a save passes 1 s.


1. Starts dynalite as the local stack does (``node_modules/.bin/dynalite --path <tmp>`` on a free
   port) and creates the tables with ``store.dynamo.ensure_tables``.
2. For each size builds an agent state of that many bytes of JSON, made the way the agents make
   it: TaskSmith proposals (the offline planner run on epics whose summaries and bullet-point
   descriptions come from SciFact abstracts), topped up with CareTrack-style tracked-issue
   records to land on the size.
3. Saves it through ``store.state.DynamoStateStore`` (JSON, zlib, split into checksummed parts
   past one item, conditional head put, old parts deleted) and restores it with ``get`` (parts
   fetched, checksum verified, JSON decoded), ``--reps`` times each after one untimed save, so
   every timed save replaces an earlier version as an agent's does.
4. Prints median and p95 ms, MB/s of JSON and DynamoDB items per snapshot; writes
   benchmarks/reports/state.md and benchmarks/results/state.json.

The issue sets no target for state; the largest size whose p95 save stays under 1 s is noted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agents.caretrack_models import TrackedIssue  # noqa: E402
from agents.tasksmith_models import EpicIn, Proposal  # noqa: E402
from agents.tasksmith_offline import plan_epic  # noqa: E402
from benchmarks.common import (  # noqa: E402
    REPORTS,
    SCIFACT,
    Target,
    free_port,
    load_average,
    machine_info,
    markdown_table,
    write_result,
)
from config.settings import Settings  # noqa: E402
from serve.stack import dynalite_command  # noqa: E402
from store.dynamo import ensure_tables  # noqa: E402
from store.factory import open_stores  # noqa: E402
from store.state import DynamoStateStore  # noqa: E402

UNITS = {"K": 1_000, "M": 1_000_000}
SAVE_BUDGET_MS = 1000.0


def parse_size(text: str) -> int:
    text = text.strip().upper()
    return int(float(text[:-1]) * UNITS[text[-1]]) if text[-1] in UNITS else int(text)



def start_dynalite(path: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*dynalite_command(), "--host", "127.0.0.1", "--port", str(port), "--path", str(path),
         "--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("dynalite did not start")


class StateMaker:
    """Agent-state JSON of a chosen size, from SciFact-derived epics and issue records."""

    def __init__(self) -> None:
        lines = (SCIFACT / "corpus.jsonl").read_text().splitlines()
        self.docs = [json.loads(line) for line in lines]
        self.start = datetime(2026, 1, 5, 9, tzinfo=UTC)

    def proposal(self, n: int) -> dict[str, Any]:
        doc = self.docs[n % len(self.docs)]
        sentences = re.split(r"(?<=[.!?])\s+", doc["text"])[:8]
        epic = EpicIn(key=f"CARE-{1000 + n}", id=str(20000 + n),
                      summary=(doc["title"] or "Clinical workflow")[:200],
                      description="\n".join(f"* {s}" for s in sentences),
                      labels=["phi"] if n % 3 == 0 else ["portal"], priority="High",
                      project_key="CARE")
        plan = plan_epic(epic)
        return Proposal(
            proposal_id=f"{epic.key}-{n:016x}", epic_key=epic.key, epic_id=epic.id,
            event_id=f"h-{n:040x}", content_hash=f"{n:016x}",
            status="superseded" if n % 4 == 0 else "proposed",
            subtasks=plan.subtasks, rationale=plan.rationale, produced_by="offline",
            created_at=(self.start + timedelta(minutes=7 * n)).isoformat(timespec="seconds"),
        ).model_dump(mode="json", by_alias=True)

    def issue(self, n: int) -> dict[str, Any]:
        doc = self.docs[(n * 7 + 3) % len(self.docs)]
        at = self.start + timedelta(hours=n)
        return TrackedIssue(
            key=f"CARE-{5000 + n}", summary=(doc["title"] or "Follow-up")[:120],
            issue_type=("Story", "Task", "Bug")[n % 3], status=("To Do", "In Progress")[n % 2],
            status_category=("new", "indeterminate")[n % 2], status_since=at.isoformat(),
            priority=("High", "Medium", "Low")[n % 3],
            assignee=f"5cedcb4355a88a0fc8638{n % 97:03d}",
            labels=["phi", "lab-results"] if n % 5 == 0 else ["portal"],
            components=["Patient Portal"], phi_kinds=["mrn"] if n % 5 == 0 else [],
            due_date=(at + timedelta(days=14)).date().isoformat(), created=at.isoformat(),
            parent_key=f"CARE-{1000 + n % 50}",
        ).model_dump(mode="json", by_alias=True)

    def state(self, size: int) -> dict[str, Any]:
        """A state whose compact JSON is ``size`` bytes, give or take one issue record."""
        state: dict[str, Any] = {"proposals": [], "issues": {}}
        used, n = len(json.dumps(state, separators=(",", ":"))), 0
        while True:  # proposals while one more fits, then smaller issue records
            p = self.proposal(n)
            cost = len(json.dumps(p, separators=(",", ":"))) + 1
            if used + cost > size:
                break
            state["proposals"].append(p)
            used, n = used + cost, n + 1
        while used < size:
            i = self.issue(n)
            cost = len(json.dumps({i["key"]: i}, separators=(",", ":")))
            if used + cost // 2 > size and state["issues"]:
                break
            state["issues"][i["key"]] = i
            used, n = used + cost, n + 1
        return state


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


async def measure(store: DynamoStateStore, data: dict[str, Any], agent: str,
                  reps: int) -> tuple[list[float], list[float], int]:
    """Save and restore timings in ms, and the DynamoDB items one snapshot takes."""
    saved = await store.save("bench", agent, data, 0)  # untimed: later saves replace a version
    version, save_ms, load_ms = saved.version, [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        version = (await store.save("bench", agent, data, version)).version
        save_ms.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        got = await store.get("bench", agent)
        load_ms.append((time.perf_counter() - t0) * 1000)
        if got is None or got.version != version:
            raise RuntimeError(f"restore of {agent} returned {got and got.version}, not {version}")
    if got is None or got.data != data:
        raise RuntimeError(f"restore of {agent} differs from what was saved")
    head = await store.table.get({"tenantId": "bench", "agentName": agent})
    assert head is not None
    return save_ms, load_ms, 1 + int(head.get("blobParts", 0))


def codec_ms(data: dict[str, Any], reps: int) -> tuple[list[float], list[float]]:
    """The CPU part alone, as the store does it: JSON + zlib, and back."""
    encode, decode = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        packed = zlib.compress(json.dumps(data, separators=(",", ":"),
                                          ensure_ascii=False).encode(), 6)
        t1 = time.perf_counter()
        json.loads(zlib.decompress(packed))
        encode.append((t1 - t0) * 1000)
        decode.append((time.perf_counter() - t1) * 1000)
    return encode, decode


async def run(store: DynamoStateStore, sizes: list[int], reps: int) -> dict[str, list[Any]]:
    maker = StateMaker()
    fig: dict[str, list[Any]] = {k: [] for k in (
        "sizes_bytes", "compressed_bytes", "save_ms_p50", "save_ms_p95", "restore_ms_p50",
        "restore_ms_p95", "save_mb_s", "restore_mb_s", "items", "encode_ms_p50",
        "decode_ms_p50")}
    await measure(store, maker.state(2_000), "Warmup", 2)
    for size in sizes:
        data = maker.state(size)
        raw = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        save_ms, load_ms, items = await measure(store, data, f"Bench{size}", reps)
        encode_ms, decode_ms = codec_ms(data, max(3, reps // 4))
        row = {"sizes_bytes": len(raw), "compressed_bytes": len(zlib.compress(raw, 6)),
               "save_ms_p50": pct(save_ms, 50), "save_ms_p95": pct(save_ms, 95),
               "restore_ms_p50": pct(load_ms, 50), "restore_ms_p95": pct(load_ms, 95),
               "save_mb_s": len(raw) / 1e6 / (pct(save_ms, 50) / 1000),
               "restore_mb_s": len(raw) / 1e6 / (pct(load_ms, 50) / 1000), "items": items,
               "encode_ms_p50": pct(encode_ms, 50), "decode_ms_p50": pct(decode_ms, 50)}
        for k, v in row.items():
            fig[k].append(round(v, 2) if isinstance(v, float) else v)
        print(f"{len(raw):>9} B  {items} item(s)  save p50 {row['save_ms_p50']:.1f} ms "
              f"p95 {row['save_ms_p95']:.1f} ms  restore p50 {row['restore_ms_p50']:.1f} ms "
              f"p95 {row['restore_ms_p95']:.1f} ms", flush=True)
    return fig


def report(fig: dict[str, list[Any]], command: str, reps: int, load_start: str,
           seconds: float) -> tuple[str, list[Target]]:
    rows = [[f"{s / 1000:,.0f}", f"{c / 1000:,.0f}", i, f"{sp:.1f}", f"{s95:.1f}", f"{sm:.1f}",
             f"{rp:.1f}", f"{r95:.1f}", f"{rm:.1f}", f"{en:.1f}", f"{de:.1f}"]
            for s, c, i, sp, s95, sm, rp, r95, rm, en, de in zip(
                fig["sizes_bytes"], fig["compressed_bytes"], fig["items"], fig["save_ms_p50"],
                fig["save_ms_p95"], fig["save_mb_s"], fig["restore_ms_p50"],
                fig["restore_ms_p95"], fig["restore_mb_s"], fig["encode_ms_p50"],
                fig["decode_ms_p50"], strict=True)]
    under = [s for s, p in zip(fig["sizes_bytes"], fig["save_ms_p95"], strict=True)
             if p < SAVE_BUDGET_MS]
    largest = f"{max(under) / 1e6:.2f} MB" if under else "none measured"
    targets = [Target("largest snapshot saved under 1 s (p95), informational", "none set",
                      largest, None)]
    lines = [
        "# State snapshots: save and restore time against size",
        "",
        f"Command: `{command}`",
        "",
        f"{machine_info()}; load average {load_start} at the start, {load_average()} at the "
        f"end; {seconds:.0f} s in all. dynalite (the local DynamoDB API server, data on disk) "
        "on loopback, `store.state.DynamoStateStore` called in-process.",
        "",
        "Content: a TaskSmith state (proposals from the offline planner on SciFact-derived "
        "epics, ~5 KB each) topped up with CareTrack-style tracked-issue records. Size is the "
        "state's compact JSON; it is zlib-compressed before it is stored, and split into "
        "350 KB parts past 300 KB compressed. Each save replaces the previous version (its "
        f"old parts are deleted); {reps} timed saves and restores per size, after one untimed "
        "save.",
        "",
        markdown_table(["JSON KB", "stored KB", "items", "save p50 ms", "save p95 ms",
                        "save MB/s", "restore p50 ms", "restore p95 ms", "restore MB/s",
                        "encode ms", "decode ms"], rows, "rrrrrrrrrrr"),
        "",
        f"Largest snapshot whose p95 save stays under 1 s: **{largest}** (informational; the "
        "issue sets no target for state). MB/s is JSON bytes over the median time. Encode and "
        "decode (medians) are the CPU part alone, in this process: `json.dumps` + zlib level "
        "6, and zlib + `json.loads`; the rest of a save or restore is DynamoDB round trips.",
    ]
    return "\n".join(lines), targets


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1K,10K,100K,400K,1M,4M,8M,16M,32M")
    ap.add_argument("--reps", type=int, default=20)
    args = ap.parse_args()
    sizes = [parse_size(s) for s in args.sizes.split(",")]
    command = f".venv/bin/python benchmarks/state_bench.py --reps {args.reps} --sizes {args.sizes}"

    load_start, started = load_average(), time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="state-bench-"))
    port = free_port()
    dynalite = start_dynalite(work / "dynalite", port)
    try:
        settings = Settings(_env_file=None, stage="bench",
                            dynamodb_endpoint=f"http://127.0.0.1:{port}",
                            data_dir=work / "data", anthropic_api_key=None, sentry_dsn=None)
        stores = open_stores(settings)
        ensure_tables(stores.client, settings)
        fig = asyncio.run(run(stores.state, sizes, args.reps))
    finally:
        dynalite.terminate()
        dynalite.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    text, targets = report(fig, command, args.reps, load_start, time.perf_counter() - started)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "state.md").write_text(text + "\n")
    write_result("state", fig, targets, command)
    print(text)


if __name__ == "__main__":
    main()
