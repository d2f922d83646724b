"""End to end: epic-created events/s fully processed, and time from accept to done.

    .venv/bin/python benchmarks/e2e_bench.py [--events 200] [--levels 1:2:1,10:0:1,50:0:1,50:0:10]

1. Starts the stack as users do (``clinisight up``, own data dir and free ports, no Anthropic
   key, so the agents use their offline planners) with the per-tenant rate limit turned off
   (``CLINISIGHT_RATE_LIMIT_PER_S=0``): the default 50/s per tenant would turn this load into
   429s and measure the limiter, not the pipeline. Webhook secrets for the bench's tenants are
   given in ``CLINISIGHT_JIRA_WEBHOOK_SECRETS``.
2. For each level ``clients:rate:tenants`` posts ``--events`` distinct signed Jira
   ``jira:issue_created`` webhooks for epics (the real Jira Cloud fixture, its issue made an
   epic with its own key, a summary and bullet-point description from a SciFact abstract,
   varied labels and priority) from that many concurrent httpx clients, paced at ``rate``
   events/s (0: as fast as they go), round robin over that many fresh tenants (so TaskSmith's
   per-tenant state starts empty). The default: 2/s on one tenant (latency below overload),
   10 and 50 unpaced clients on one tenant, and 50 unpaced clients over 10 tenants.
3. Reads the Events table directly (dynalite, a key-only projection, every 0.5 s) until every
   accepted event is final. An epic-created event runs TaskSmith, CareTrack and RoadmapSmith.
4. Reports events/s fully processed (done / (last finish − first accept), both from the event
   records), accept→done latency percentiles (record ``acceptedAt`` → ``updatedAt`` of the
   final write), final status counts, events lost (accepted − done − failed), and whether
   TaskSmith's state holds one proposal per done event. Writes benchmarks/reports/e2e.md and
   benchmarks/results/e2e.json.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    CLI,
    MODEL_CACHE,
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
from serve.auth import sign_jira_body  # noqa: E402
from store.factory import Stores, open_stores  # noqa: E402

FIXTURE = (ROOT.parent / "shared" / "fixtures" / "jira"
           / "mattermost__webhook-cloud-issue-created-many-fields.json")
FINAL = {"done", "failed", "ignored"}
LABELS = [["phi", "lab-results"], ["portal"], ["integration", "fhir"], ["reporting"], []]
PRIORITIES = ["Highest", "High", "Medium", "Low"]



class Epics:
    """Distinct epic-created webhooks: the real fixture with SciFact-derived content."""

    def __init__(self) -> None:
        self.base = json.loads(FIXTURE.read_text())
        lines = (SCIFACT / "corpus.jsonl").read_text().splitlines()
        self.docs = [json.loads(line) for line in lines]

    def webhook(self, n: int) -> dict[str, Any]:
        doc = self.docs[n % len(self.docs)]
        sentences = re.split(r"(?<=[.!?])\s+", doc["text"])[:6]
        payload = copy.deepcopy(self.base)
        payload["timestamp"] = int(time.time() * 1000)
        issue = payload["issue"]
        issue["key"], issue["id"] = f"CARE-{n + 1}", str(40000 + n)
        f = issue["fields"]
        f["issuetype"] = {**f["issuetype"], "name": "Epic", "hierarchyLevel": 1}
        f["project"] = {**f["project"], "key": "CARE", "name": "Care Delivery"}
        f["summary"] = (doc["title"] or f"Clinical workflow {n}")[:200]
        f["description"] = "h3. Goals\n" + "\n".join(f"* {s}" for s in sentences)
        f["labels"] = LABELS[n % len(LABELS)]
        f["priority"] = {**f["priority"], "name": PRIORITIES[n % len(PRIORITIES)]}
        return payload


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def send_all(url: str, jobs: list[tuple[str, str, bytes, str]], concurrency: int,
                   rate: float) -> tuple[set[str], Counter[str], list[float]]:
    """Post every job from ``concurrency`` workers, job i not before i / ``rate`` s (0: at
    once); return the accepted ids, the HTTP outcomes and the POST round trips in ms."""
    accepted: set[str] = set()
    outcomes: Counter[str] = Counter()
    post_ms: list[float] = []
    queue = list(reversed(list(enumerate(jobs))))
    start = time.monotonic()
    async with httpx.AsyncClient(base_url=url, timeout=30.0,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker() -> None:
            while queue:
                i, (tenant, event_id, body, secret) = queue.pop()
                if rate > 0:
                    await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
                headers = {"content-type": "application/json",
                           "x-hub-signature": sign_jira_body(body, secret),
                           "x-atlassian-webhook-identifier": event_id}
                for _ in range(5):
                    t0 = time.perf_counter()
                    try:
                        resp = await client.post("/v1/jira/webhooks", params={"tenant": tenant},
                                                 content=body, headers=headers)
                    except httpx.HTTPError as exc:
                        outcomes[type(exc).__name__] += 1
                        continue
                    outcomes[str(resp.status_code)] += 1
                    if resp.status_code == 429:  # only if the limiter was left on
                        await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
                        continue
                    post_ms.append((time.perf_counter() - t0) * 1000)
                    # 200: a retry of a delivery that was accepted but whose answer was lost.
                    if resp.status_code in (200, 202) and resp.json()["status"] != "ignored":
                        accepted.add(event_id)
                    break

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted, outcomes, post_ms


def read_events(stores: Stores, table: str, tenant: str) -> list[dict[str, Any]]:
    """Every event of ``tenant``: id, status, times, attempts; no payload."""
    items: list[dict[str, Any]] = []
    for page in stores.client.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="tenantId = :t",
            ExpressionAttributeValues={":t": {"S": tenant}}, ConsistentRead=True,
            ProjectionExpression="eventId, #s, acceptedAt, updatedAt, attempts",
            ExpressionAttributeNames={"#s": "status"}):
        items += [{k: next(iter(v.values())) for k, v in i.items()} for i in page["Items"]]
    return [i for i in items if not i["eventId"].startswith("~")]


async def run_level(url: str, stores: Stores, table: str, epics: Epics, first: int,
                    events: int, level: tuple[int, float, int], tenants: dict[str, str],
                    timeout_s: float) -> dict[str, Any]:
    concurrency, rate, _ = level
    names = list(tenants)
    jobs = []
    for i in range(events):
        tenant = names[i % len(names)]
        body = json.dumps(epics.webhook(first + i)).encode()
        jobs.append((tenant, f"bench-{first + i:06d}", body, tenants[tenant]))
    started = time.time()
    accepted, outcomes, post_ms = await send_all(url, jobs, concurrency, rate)
    sent_s = time.time() - started
    deadline = time.monotonic() + timeout_s
    while True:
        rows = {}
        for tenant in names:
            for item in await asyncio.to_thread(read_events, stores, table, tenant):
                rows[item["eventId"]] = item
        mine = [rows[e] for e in accepted if e in rows]
        if all(r["status"] in FINAL for r in mine) and len(mine) == len(accepted):
            break
        if time.monotonic() > deadline:
            print(f"  timed out with {sum(r['status'] not in FINAL for r in mine)} unfinished")
            break
        await asyncio.sleep(0.5)
    status = Counter(r["status"] for r in mine)
    done = [r for r in mine if r["status"] == "done"]
    latency = [int(r["updatedAt"]) - int(r["acceptedAt"]) for r in done]
    span_ms = (max(int(r["updatedAt"]) for r in done) - min(int(r["acceptedAt"]) for r in mine)
               if done else 0)
    proposals, state_kb = 0, 0.0
    for tenant in names:
        rec = await stores.state.get(tenant, "TaskSmith")
        if rec is not None:
            proposals += sum(p["eventId"] in accepted for p in rec.data.get("proposals", []))
            state_kb = max(state_kb, len(json.dumps(rec.data)) / 1000)
    lost = len(accepted) - status["done"] - status["failed"]
    return {
        "concurrency": concurrency, "rate": rate, "tenants": len(names), "events": events,
        "accepted": len(accepted),
        "http": dict(outcomes), "status": dict(status), "lost": lost,
        "retried": sum(int(r.get("attempts", 0)) > 1 for r in mine),
        "events_per_s": round(len(done) / (span_ms / 1000), 2) if span_ms else 0.0,
        "offered_per_s": round(len(accepted) / sent_s, 2) if sent_s else 0.0,
        "latency_ms": {q: round(pct([float(v) for v in latency], q), 1)
                       for q in (50, 95, 99, 100)},
        "accept_ms": {q: round(pct(post_ms, q), 1) for q in (50, 95, 99)},
        "proposals": proposals, "state_kb": round(state_kb, 1),
        "seconds": round(time.time() - started, 1),
    }


def report(levels: list[dict[str, Any]], command: str, load_start: str, seconds: float,
           up_s: float) -> str:
    rows = [[lv["concurrency"], f"{lv['rate']:g}" if lv["rate"] else "-", lv["tenants"],
             lv["accepted"], f"{lv['offered_per_s']:.1f}", f"{lv['events_per_s']:.2f}",
             lv["latency_ms"][50], lv["latency_ms"][95], lv["latency_ms"][99],
             lv["latency_ms"][100], lv["accept_ms"][50], lv["accept_ms"][95],
             " ".join(f"{k} {v}" for k, v in sorted(lv["status"].items())), lv["lost"],
             lv["retried"], f"{lv['proposals']} ({lv['state_kb']:.0f} KB)"] for lv in levels]
    http = Counter[str]()
    for lv in levels:
        http.update(lv["http"])
    return "\n".join([
        "# End to end: epic-created events through TaskSmith",
        "",
        f"Command: `{command}`",
        "",
        f"{machine_info()}; load average {load_start} at the start, {load_average()} at the "
        f"end; {seconds:.0f} s in all, of which {up_s:.0f} s `clinisight up`. Local stack "
        "(dynalite, local Ray, Serve) on loopback, offline reasoners (no Anthropic key), "
        "**per-tenant rate limit off** (`CLINISIGHT_RATE_LIMIT_PER_S=0`; the default 50/s per "
        "tenant would answer the unpaced levels with 429s). Each event is a distinct signed "
        "Jira `jira:issue_created` webhook for an epic and runs TaskSmith, CareTrack and "
        "RoadmapSmith; each level has fresh tenants, events spread over them round robin.",
        "",
        markdown_table(["clients", "paced /s", "tenants", "accepted", "accepted/s", "done/s",
                        "p50 ms", "p95 ms", "p99 ms", "max ms", "202 p50 ms", "202 p95 ms",
                        "final status", "lost", "retried", "proposals (state)"], rows,
                       "rrrrrrrrrrrrlrrl"),
        "",
        "clients = concurrent HTTP senders; paced = the offered rate when limited (- = as fast "
        "as the clients go; the 202 comes before processing, so clients do not bound the work "
        "in flight). done/s = done events / (last finish − first accept), from the event "
        "records; latency is accept → final write of each done event (record `acceptedAt` → "
        "`updatedAt`); 202 ms is the client's POST round trip; lost = accepted − done − "
        "failed; retried = events that took more than one attempt (a failed attempt is "
        "released and re-driven by the orchestrator's periodic pass); proposals = TaskSmith "
        "proposals in the level's state for its events (one per done event means no update "
        "was lost or doubled), with the largest tenant state's JSON size.",
        "",
        f"HTTP answers over all levels: {dict(sorted(http.items()))}.",
    ])


def parse_levels(spec: str) -> list[tuple[int, float, int]]:
    """"clients:rate:tenants,..." (rate 0: unpaced) → [(clients, rate, tenants), ...]."""
    levels = []
    for part in spec.split(","):
        c, r, t = (part.split(":") + ["0", "1"])[:3]
        levels.append((int(c), float(r), int(t)))
    return levels


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200, help="per level")
    ap.add_argument("--levels", default="1:2:1,10:0:1,50:0:1,50:0:10",
                    help="clients:rate/s:tenants per level; rate 0 = unpaced")
    ap.add_argument("--timeout", type=float, default=600.0, help="per level, after sending")
    args = ap.parse_args()
    levels = parse_levels(args.levels)
    command = (f".venv/bin/python benchmarks/e2e_bench.py --events {args.events} "
               f"--levels {args.levels}")
    load_start, started = load_average(), time.perf_counter()

    work = Path(tempfile.mkdtemp(prefix="e2e-bench-"))
    tenants = [{f"bench-l{i}-t{k}": secrets.token_hex(32) for k in range(lv[2])}
               for i, lv in enumerate(levels)]
    dyn_port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("ANTHROPIC_API_KEY", "SENTRY_DSN"))}
    env.update({"CLINISIGHT_DATA_DIR": str(work / "data"),
                "CLINISIGHT_HTTP_PORT": str(free_port()),
                "CLINISIGHT_DYNAMODB_LOCAL_PORT": str(dyn_port),
                "CLINISIGHT_RATE_LIMIT_PER_S": "0",
                "CLINISIGHT_JIRA_WEBHOOK_SECRETS": json.dumps(
                    {t: s for level in tenants for t, s in level.items()}),
                "CLINISIGHT_MODEL_CACHE_DIR": str(MODEL_CACHE), "HF_HUB_OFFLINE": "1"})
    up = subprocess.run([CLI, "up"], env=env, capture_output=True, text=True, timeout=600)
    up_s = time.perf_counter() - started
    if up.returncode != 0:
        sys.exit(f"stack did not start: {up.stdout} {up.stderr}")
    url = json.loads(up.stdout)["url"]
    settings = Settings(_env_file=None, stage="dev",
                        dynamodb_endpoint=f"http://127.0.0.1:{dyn_port}", data_dir=work / "data")
    stores = open_stores(settings, threads=4)
    results = []
    try:
        epics = Epics()
        for i, level in enumerate(levels):
            lv = asyncio.run(run_level(url, stores, settings.table("Events"), epics,
                                       i * args.events, args.events, level, tenants[i],
                                       args.timeout))
            results.append(lv)
            print(json.dumps(lv), flush=True)
    finally:
        subprocess.run([CLI, "down"], env=env, capture_output=True, timeout=120)

    lost = sum(lv["lost"] for lv in results)
    if lost == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:  # keep the event log and the stack's logs for a look
        print(f"{lost} event(s) lost; data and logs kept in {work}")
    figures: dict[str, Any] = {
        **{k: [lv[k] for lv in results] for k in (
            "concurrency", "rate", "tenants", "events_per_s", "offered_per_s", "lost",
            "retried", "proposals")},
        "events": [lv["accepted"] for lv in results],
        **{f"latency_ms_{name}": [lv["latency_ms"][q] for lv in results]
           for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100))},
        "accept_ms_p50": [lv["accept_ms"][50] for lv in results],
        "accept_ms_p95": [lv["accept_ms"][95] for lv in results],
        "failed": [lv["status"].get("failed", 0) for lv in results],
    }
    targets = [Target("events lost end to end", "0", str(lost), lost == 0)]
    text = report(results, command, load_start, time.perf_counter() - started, up_s)
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "e2e.md").write_text(text + "\n")
    write_result("e2e", figures, targets, command)
    print(text)


if __name__ == "__main__":
    main()
