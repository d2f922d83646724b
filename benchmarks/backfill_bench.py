"""Jira backfill throughput and memory: issues/s from a local Jira into the agents' state.

    .venv/bin/python benchmarks/backfill_bench.py [--issues 10000] [--throttle-every 0]

1. Starts a dynalite (its own data dir and port) and the local Jira site of the tests
   (``tests.agents.jira_server``, CM and TM projects, epics, stories, sub-tasks) in a process of
   its own, so neither its CPU nor its memory counts as the backfill's.
2. Runs one backfill as the ``JiraSync`` deployment runs it (``serve.jira_backfill.run_sync``:
   field discovery, enhanced-search pages of 100, the webhook's normalisation, CareTrack, DealFlow
   and RoadmapSmith in this process taking a batch of ``jira_apply_batch`` issues at a time, each
   writing its state to DynamoDB once per batch), the tenant as on install day (no roster, no
   capacity: the agents track and evaluate; nothing to plan with).
3. Samples this process's resident memory after every batch: streamed means the peak does not
   grow with the issues fetched. What does grow is the agents' own state (CareTrack mirrors every
   issue), which is read and written whole per batch; the report gives its size. The same site
   paged with the events handed to nobody shows what the backfill alone holds.
4. Unless ``--no-stack``: starts a local stack with the CLI, configured with an API token for
   the local Jira, and times ``clinisight jira backfill`` as users run it (the ingress, the
   ``JiraSyncServer`` deployment, the agents' deployments by handle), sampling the resident
   memory of the ``JiraSyncServer`` replica.
5. Writes benchmarks/reports/backfill.md and benchmarks/results/backfill.json.

Target (issue #18): ≥ 200 issues/s for 10,000 issues, memory flat.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agents.events import AgentEvent  # noqa: E402
from agents.jira_client import JiraClient, JiraCredentials  # noqa: E402
from agents.jira_fields import discover  # noqa: E402
from benchmarks.common import (  # noqa: E402
    MODEL_CACHE,
    Target,
    load_average,
    machine_info,
    markdown_table,
    write_result,
)
from config.settings import Settings  # noqa: E402
from serve.jira_backfill import SyncJobs, SyncProgress, new_job, run_sync  # noqa: E402
from serve.jira_sync import in_process_apply  # noqa: E402
from store.dynamo import ensure_tables, make_client  # noqa: E402
from store.factory import open_stores  # noqa: E402
from tests.utils.servers import Dynalite  # noqa: E402

REPORT = ROOT / "benchmarks" / "reports" / "backfill.md"


def replica_rss_mb(name: str) -> float:
    """Resident memory of the process whose command line names ``name`` (a Serve replica)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if name.encode() not in (proc / "cmdline").read_bytes():
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            continue
    return 0.0


def through_stack(issues: int, url: str, tmp: Path) -> dict[str, Any]:
    """``clinisight jira backfill`` against a stack started for it; the replica's RSS sampled."""
    import threading

    from tests.utils.stack import Stack

    stack = Stack(tmp / "stack", CLINISIGHT_JIRA_BASE_URL=url,
                  CLINISIGHT_JIRA_EMAIL="bench@clinic.org", CLINISIGHT_JIRA_API_TOKEN="token",
                  CLINISIGHT_MODEL_CACHE_DIR=str(MODEL_CACHE), HF_HUB_OFFLINE="1")
    stack.up()
    samples: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            samples.append(round(replica_rss_mb("JiraSyncServer"), 1))

    try:
        sampler = threading.Thread(target=sample, daemon=True)
        started = time.perf_counter()
        sampler.start()
        code, out = stack.cli("jira", "backfill", "--tenant", "dev", "--quiet", timeout=3600)
        seconds = time.perf_counter() - started
        stop.set()
        sampler.join(5)
    finally:
        stack.down()
        stack.close()
    applied = int(out.get("applied", 0)) if isinstance(out, dict) else 0
    # The CLI polls every 0.5 s: its wall time is the job's to within that.
    return {"exit": code, "status": out.get("status") if isinstance(out, dict) else None,
            "applied": applied, "seconds": round(seconds, 2),
            "issues_per_s": round(applied / seconds, 1) if seconds else 0.0,
            "replica_rss_first_mb": samples[0] if samples else None,
            "replica_rss_peak_mb": max(samples) if samples else None,
            "replica_rss_samples": samples}


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_jira(issues: int, throttle_every: int | None) -> tuple[subprocess.Popen[str], str]:
    cmd = [sys.executable, "-m", "tests.agents.jira_server", "--issues", str(issues)]
    if throttle_every:
        cmd += ["--throttle-every", str(throttle_every)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = json.loads(proc.stdout.readline())["url"]
    return proc, str(url)


async def discard(name: str, events: list[AgentEvent]) -> dict[str, Any]:
    return {"events": len(events)}


async def backfill(settings: Settings, url: str, agents: bool = True
                   ) -> tuple[SyncProgress, list[dict[str, Any]], float, dict[str, int]]:
    """One backfill; ``agents=False`` hands the events to nobody (the paging and the
    normalisation alone: what the backfill itself holds)."""
    stores = open_stores(settings)
    samples: list[dict[str, Any]] = []
    started = time.perf_counter()

    async def sample(p: SyncProgress) -> None:
        samples.append({"applied": p.applied, "s": round(time.perf_counter() - started, 2),
                        "rss_mb": round(rss_mb(), 1)})

    creds = JiraCredentials.api_token(url, "bench@clinic.org", "token")
    async with JiraClient(creds, backoff_s=0.05) as jira:
        fields = discover(await jira.fields())
        progress = new_job("bench" if agents else "bench-paging", settings.jira_backfill_jql)
        done = await run_sync(progress, jira=jira, fields=fields,
                              apply=in_process_apply(settings, stores) if agents else discard,
                              jobs=SyncJobs(stores.state), page_size=settings.jira_page_size,
                              batch_size=settings.jira_apply_batch, on_progress=sample)
    seconds = time.perf_counter() - started
    sizes = {}
    for name in ("CareTrack", "DealFlow", "RoadmapSmith"):
        rec = await stores.state.get("bench", name)
        sizes[name] = len(json.dumps(rec.data)) if rec else 0
    return done, samples, seconds, sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--issues", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=None, help="jira_apply_batch (default: the "
                    "setting's default)")
    ap.add_argument("--throttle-every", type=int, default=0,
                    help="the local Jira answers every n-th search 429 (Retry-After: 0)")
    ap.add_argument("--no-stack", action="store_true",
                    help="skip the run through a local stack and the CLI")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="backfill-bench-") as tmp:
        dynalite = Dynalite(Path(tmp) / "dynalite")
        dynalite.start()
        jira, url = start_jira(args.issues, args.throttle_every or None)
        try:
            update: dict[str, Any] = {}
            if args.batch:
                update["jira_apply_batch"] = args.batch
            settings = Settings(_env_file=None, stage=f"b{uuid.uuid4().hex[:8]}",
                                dynamodb_endpoint=dynalite.url, data_dir=Path(tmp) / "data",
                                anthropic_api_key=None, sentry_dsn=None, **update)
            ensure_tables(make_client(settings), settings)
            # Paging and normalisation alone first, then the same with the agents.
            bare, bare_samples, bare_seconds, _ = asyncio.run(backfill(settings, url, False))
            rss_start = rss_mb()
            done, samples, seconds, sizes = asyncio.run(backfill(settings, url))
            stacked = None if args.no_stack else through_stack(args.issues, url, Path(tmp))
        finally:
            jira.terminate()
            jira.wait(10)
            dynalite.stop()

    rate = done.applied / seconds if seconds else 0.0
    peak = max((s["rss_mb"] for s in samples), default=rss_start)
    after_first = next((s["rss_mb"] for s in samples if s["applied"]), rss_start)
    growth = peak - after_first
    figures = {
        "issues": args.issues, "applied": done.applied, "failed": done.failed,
        "status": done.status, "seconds": round(seconds, 2), "issues_per_s": round(rate, 1),
        "pages": done.pages, "batches": done.batches, "batch_size": settings.jira_apply_batch,
        "throttled": done.throttled, "rss_start_mb": round(rss_start, 1),
        "rss_after_first_batch_mb": after_first, "rss_peak_mb": peak,
        "rss_growth_after_first_batch_mb": round(growth, 1), "state_bytes": sizes,
        "samples": samples, "load_average_end": load_average(),
        "paging_only": {
            "issues_per_s": round(bare.applied / bare_seconds, 1) if bare_seconds else 0.0,
            "seconds": round(bare_seconds, 2), "status": bare.status,
            "rss_after_first_batch_mb": next((s["rss_mb"] for s in bare_samples
                                              if s["applied"]), 0.0),
            "rss_peak_mb": max((s["rss_mb"] for s in bare_samples), default=0.0),
            "samples": bare_samples,
        },
    }
    figures["stack"] = stacked
    targets = [
        Target(f"backfill of {args.issues} issues", "≥ 200 issues/s", f"{rate:.0f} issues/s",
               rate >= 200 and done.status == "succeeded"),
    ]
    if stacked is not None:
        srate = float(stacked["issues_per_s"])
        targets.append(Target(f"backfill of {args.issues} issues through the stack (CLI)",
                              "≥ 200 issues/s", f"{srate:.0f} issues/s",
                              srate >= 200 and stacked["status"] == "succeeded"))
    command = "benchmarks/backfill_bench.py " + " ".join(sys.argv[1:])
    write_result("backfill", figures, targets, command)
    print(json.dumps({k: v for k, v in figures.items() if k != "samples"}, indent=1))
    write_report(figures, targets, command)


def write_report(f: dict[str, Any], targets: list[Target], command: str) -> None:
    rows = [[s["applied"], s["s"], s["rss_mb"]] for s in f["samples"]]
    rss = f"{f['rss_start_mb']} / {f['rss_after_first_batch_mb']} / {f['rss_peak_mb']} MB"
    st = f.get("stack")
    stack_text = "Not run through a stack (`--no-stack`)." if not st else (
        f"Through a local stack, as users run it (`clinisight jira backfill`: the ingress, the "
        f"`JiraSyncServer` deployment, the agents' deployments by handle, Ray between them): "
        f"{st['status']}, {st['applied']} issues in {st['seconds']} s (the CLI's wall time, "
        f"polling every 0.5 s), **{st['issues_per_s']} issues/s**; the `JiraSyncServer` "
        f"replica's resident memory {st['replica_rss_first_mb']} MB at the first sample, "
        f"{st['replica_rss_peak_mb']} MB at the peak (the agents' state lives in their own "
        f"replicas there).")
    state = ", ".join(f"{k} {v:,}" for k, v in f["state_bytes"].items())
    met = "; ".join(f"{t.name}: {t.goal}, measured {t.value} "
                    f"({'met' if t.met else 'NOT met'})" for t in targets)
    bare = f["paging_only"]
    bare_rows = [[s["applied"], s["s"], s["rss_mb"]] for s in bare["samples"]]
    text = f"""# Jira backfill (issue #18)

`{command.strip()}` on {machine_info()}; load average {f['load_average_end']} at the end (the
machine is shared with other work).

A backfill of a local Jira site ({f['issues']} issues in a company-managed and a team-managed
project: epics, stories, sub-tasks; the local server of the tests, in its own process) through
`serve.jira_backfill.run_sync` as the `JiraSync` deployment runs it: field discovery, enhanced
search pages of 100 with only the agents' fields, the webhook's normalisation, and CareTrack,
DealFlow and RoadmapSmith taking {f['batch_size']} issues a batch in this process, each writing
its DynamoDB state (dynalite) once per batch. Install day: no roster or capacity yet.

| figure | value |
|---|---:|
| status | {f['status']} |
| issues applied | {f['applied']} (failed {f['failed']}) |
| wall time | {f['seconds']} s |
| **throughput** | **{f['issues_per_s']} issues/s** |
| pages, batches | {f['pages']}, {f['batches']} |
| 429s waited out | {f['throttled']} |
| RSS at start / after the first batch / peak | {rss} |
| RSS growth after the first batch | {f['rss_growth_after_first_batch_mb']} MB |
| agent state at the end (JSON bytes) | {state} |

Targets: {met}.

The same site paged and normalised with the events handed to nobody (what the backfill itself
holds): {bare['issues_per_s']} issues/s, resident {bare['rss_after_first_batch_mb']} MB after
the first batch and {bare['rss_peak_mb']} MB at the peak.

{stack_text}

Memory per batch with the agents (issues applied so far, seconds, resident MB):

{markdown_table(['applied', 's', 'RSS MB'], rows, 'rrr')}

Paging alone:

{markdown_table(['applied', 's', 'RSS MB'], bare_rows, 'rrr')}

Reading it: nothing the search returns is held past its batch (pages are turned into events and
dropped once the agents took them), so what grows is the agents' own state, which is what they
are for: CareTrack mirrors every issue and is read and written whole per batch, which is also
why the later batches are slower than the first. A smaller `jira_apply_batch` writes that state
more often; a larger one holds more events at once.
"""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(text)


if __name__ == "__main__":
    main()
