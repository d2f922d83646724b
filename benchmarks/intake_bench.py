"""Webhook intake under load: Ray Serve against the same handler under plain uvicorn.

    .venv/bin/python benchmarks/intake_bench.py [--levels 1,10,100,1000] [--duration 10]

1. Starts the stack as users do (``clinisight up``, own data dir and ports) with N tenants'
   Jira webhook secrets, the rate limit off (it is a per-tenant policy, not capacity) and
   ``dispatch_on_accept`` off: acceptance is measured alone, and the agents' processing (whose
   rate ``benchmarks/e2e_bench.py`` measures) does not compete for the two cores between
   phases. Beside it, ``benchmarks/plain_ingress.py`` serves the same FastAPI app with the same
   stores under one plain uvicorn process: the ceiling.
2. For each concurrency level, wrk (``benchmarks/intake/intake.lua``) sends real Jira webhook
   payloads (``../shared/fixtures/jira``), each made distinct (issue id, key, summary,
   timestamp, webhook identifier) and signed with its tenant's secret, to one server and then
   the other, side by side, for the same duration. Every request is a new event.
3. Every event id wrk saw acknowledged (202) is looked up in the event log (DynamoDB): an
   acknowledged event that is not there is lost. Status codes, socket errors and timeouts
   (no answer within Forge's 5 s) are counted.
4. Prints the figures and writes ``benchmarks/reports/intake.md`` and
   ``benchmarks/results/intake.json``.

``--serve-env KEY=VALUE`` (repeatable) passes Ray Serve settings to the stack's processes, for
the tuning runs the report records.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import (  # noqa: E402
    CLI,
    REPORTS,
    Target,
    free_port,
    load_average,
    machine_info,
    markdown_table,
    write_result,
)
from benchmarks.cpu_sampler import CpuSampler  # noqa: E402

LUA = ROOT / "benchmarks" / "intake" / "intake.lua"
FIXTURES = ROOT.parent / "shared" / "fixtures" / "jira"
# Payloads that Clinisight routes (issue created / updated): every one is a real new event.
PAYLOADS = [
    "mattermost__webhook-cloud-issue-created-many-fields.json",
    "mattermost__webhook-issue-updated-assigned.json",
    "mattermost__webhook-issue-updated-resolved.json",
    "mattermost__webhook-issue-updated-lowered-priority.json",
    "mattermost__webhook-issue-updated-labels.json",
]
FORGE_ACK_S = 5.0


class Generator:
    """Distinct, signed webhook deliveries, written as wrk's request file."""

    def __init__(self, tenants: dict[str, str], run: str) -> None:
        self.tenants = list(tenants.items())
        self.templates = [json.loads((FIXTURES / name).read_text()) for name in PAYLOADS]
        self.run = run
        self.n = 0

    def write(self, path: Path, count: int) -> None:
        with open(path, "w", encoding="utf-8") as out:
            for _ in range(count):
                out.write(self._line() + "\n")

    def _line(self) -> str:
        n = self.n
        self.n += 1
        tenant, secret = self.tenants[n % len(self.tenants)]
        payload = json.loads(json.dumps(self.templates[n % len(self.templates)]))
        issue = payload["issue"]
        issue["id"] = str(500_000 + n)
        issue["key"] = f"LOAD-{n}"
        issue["fields"]["summary"] = f"Load test issue {n}: follow-up for ward rota"
        payload["timestamp"] = 1_764_000_000_000 + n
        body = json.dumps(payload, separators=(",", ":"))
        signature = "sha256=" + hmac.new(secret.encode(), body.encode(),
                                         hashlib.sha256).hexdigest()
        webhook_id = f"{self.run}-{n}"
        return f"/v1/jira/webhooks?tenant={tenant}\t{signature}\t{webhook_id}\t{body}"


def run_wrk(url: str, connections: int, duration_s: int, requests: Path, ids_out: Path,
            delay_ms: int = 0) -> dict[str, Any]:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{duration_s}s", "--timeout",
           f"{FORGE_ACK_S:g}s", "-s", str(LUA), url, "--", str(requests), "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 120,
                          env={**os.environ, "WRK_IDS_OUT": str(ids_out),
                               "WRK_DELAY_MS": str(delay_ms)})
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(line[len("WRK_JSON "):])
    result["acked_ids"] = [i for i in ids_out.read_text().splitlines() if i]
    return result


def recorded(endpoint: str, tenants: list[str], table: str) -> set[str]:
    """Every event id the event log holds for these tenants (consistent reads)."""
    import boto3  # the benchmark reads DynamoDB directly, as an auditor would

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
    found: set[str] = set()
    for tenant in tenants:
        kwargs: dict[str, Any] = {
            "TableName": table, "KeyConditionExpression": "tenantId = :t",
            "ExpressionAttributeValues": {":t": {"S": tenant}},
            "ProjectionExpression": "eventId", "ConsistentRead": True,
        }
        while True:
            resp = client.query(**kwargs)
            found.update(item["eventId"]["S"] for item in resp["Items"])
            if "LastEvaluatedKey" not in resp:
                break
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]
    return found


def wait_drained(endpoint: str, table: str, timeout_s: float = 900) -> float:
    """Seconds until the intake inbox is empty: every acknowledged delivery is in the event
    log (the stack's drainer moves them; the plain server's too, it shares the tables)."""
    import boto3

    client = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
    started = time.monotonic()
    while True:
        left = client.scan(TableName=table, Select="COUNT", Limit=1)["Count"]
        if not left:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            return float("inf")  # the lost count below says what never arrived
        time.sleep(1.0)


def wait_answering(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"{url}/healthz", timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout_s}s (exit code {proc.poll()})")


def summarise(server: str, level: int, wrk: dict[str, Any], duration_s: int) -> dict[str, Any]:
    lat = wrk["latency_us"]
    errors = wrk["errors"]
    statuses = wrk["statuses"]
    non_202 = sum(v for k, v in statuses.items() if k != "202")
    return {
        "server": server, "connections": level,
        "rps": wrk["requests"] / (wrk["duration_us"] / 1e6),
        "requests": wrk["requests"], "acked": len(wrk["acked_ids"]),
        "p50_ms": lat["p50"] / 1000, "p95_ms": lat["p95"] / 1000, "p99_ms": lat["p99"] / 1000,
        "max_ms": lat["max"] / 1000, "non_202": non_202, "statuses": statuses,
        "timeouts": errors["timeout"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"],
        "exhausted": wrk["exhausted"], "duration_s": duration_s,
    }


@dataclass
class Variant:
    """A Serve configuration to measure: settings passed to the stack's environment."""

    name: str
    env: dict[str, str]

    @classmethod
    def parse(cls, text: str) -> Variant:
        name, _, pairs = text.partition(":")
        return cls(name, dict(kv.split("=", 1) for kv in pairs.split(",") if kv))


@dataclass
class Phase:
    connections: int
    delay_ms: int = 0  # 0: closed loop; else each connection pauses this long between requests


def measure_variant(variant: Variant, phases: list[Phase], args: argparse.Namespace,
                    work: Path, tenants: dict[str, str], gen: Generator,
                    rows: list[dict[str, Any]]) -> dict[str, int]:
    """Start a stack with ``variant``'s settings (and the plain ceiling beside it), run the
    phases on both side by side, stop, and check every acknowledged event is in the log."""
    data = work / variant.name
    env = {**os.environ, **variant.env,
           "CLINISIGHT_DATA_DIR": str(data),
           "CLINISIGHT_HTTP_PORT": str(free_port()),
           "CLINISIGHT_DYNAMODB_LOCAL_PORT": str(free_port()),
           "CLINISIGHT_JIRA_WEBHOOK_SECRETS": json.dumps(tenants),
           "CLINISIGHT_RATE_LIMIT_PER_S": "0",
           "CLINISIGHT_DISPATCH_ON_ACCEPT": "false",
           "CLINISIGHT_REDRIVE_INTERVAL_S": "86400",
           "HF_HUB_OFFLINE": "1"}
    up = subprocess.run([CLI, "up"], env=env, capture_output=True, text=True, timeout=900)
    if up.returncode != 0:
        sys.exit(f"stack did not start: {up.stdout} {up.stderr}")
    dynamodb = f"http://127.0.0.1:{env['CLINISIGHT_DYNAMODB_LOCAL_PORT']}"
    servers = {"serve": json.loads(up.stdout)["url"]}
    plain: subprocess.Popen[bytes] | None = None
    acked: set[str] = set()
    try:
        if not args.no_plain:
            port = free_port()
            log = open(data / "plain.log", "wb")  # noqa: SIM115
            plain = subprocess.Popen(
                [sys.executable, str(ROOT / "benchmarks" / "plain_ingress.py"),
                 "--port", str(port)], env={**env, "CLINISIGHT_DYNAMODB_ENDPOINT": dynamodb},
                stdout=log, stderr=subprocess.STDOUT)
            servers["plain"] = f"http://127.0.0.1:{port}"
            wait_answering(servers["plain"], plain)
        for url in servers.values():  # warm-up: connections, imports, caches
            gen.write(work / "warm.txt", 2000)
            acked.update(run_wrk(url, 10, 3, work / "warm.txt", work / "warm.ids")["acked_ids"])
        for phase in phases:
            for name, url in servers.items():
                reqs = work / "requests.txt"
                gen.write(reqs, args.max_rps * args.duration)
                time.sleep(2)  # let the previous phase's stragglers settle
                roots = [plain.pid] if name == "plain" and plain is not None else [
                    json.loads((data / "run" / "stack.json").read_text())["pid"]]
                sampler = CpuSampler(roots).start()  # the server's Python processes, no dynalite
                load = load_average()
                wrk = run_wrk(url, phase.connections, args.duration, reqs,
                              work / "phase.ids", phase.delay_ms)
                sampler.stop()
                acked.update(wrk["acked_ids"])
                groups = sampler.by_group()
                cpu_s = sum(v for k, v in groups.items() if "dynalite" not in k)
                row = {"variant": variant.name, "delay_ms": phase.delay_ms,
                       **summarise(name, phase.connections, wrk, args.duration),
                       "client_cpu_ms_per_ack": round(1000 * cpu_s / max(1, len(wrk["acked_ids"])),
                                                      3),
                       "cpu_by_process": groups, "load_average": load}
                rows.append(row)
                print(json.dumps({k: (round(v, 2) if isinstance(v, float) else v)
                                  for k, v in row.items()}), flush=True)
        drained_s = wait_drained(dynamodb, "ClinisightInbox-dev")
        print(json.dumps({"inbox_drained_after_s": round(drained_s, 1)}), flush=True)
        found = recorded(dynamodb, list(tenants), "ClinisightEvents-dev")
    finally:
        if plain is not None:
            plain.terminate()
            plain.wait(30)
        subprocess.run([CLI, "down"], env=env, capture_output=True, timeout=180)
    return {"acked": len(acked), "recorded": len(found), "lost": len(acked - found)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="1,10,100,1000")
    parser.add_argument("--duration", type=int, default=10, help="seconds per phase and server")
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--max-rps", type=int, default=3000,
                        help="requests generated per second of a phase (never repeated)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:K=V,K=V",
                        help="a Serve configuration (environment for the stack); the first "
                             "is measured at every level, the others at --tuning-levels")
    parser.add_argument("--tuning-levels", default="100")
    parser.add_argument("--paced-delay-ms", type=int, default=0,
                        help="also measure the first variant at 100 connections, each "
                             "pausing this long between requests")
    parser.add_argument("--no-plain", action="store_true", help="skip the uvicorn ceiling")
    parser.add_argument("--name", default="intake", help="result and report name")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian package wrk; `make bench` installs it)")
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))
    variants = [Variant.parse(v) for v in args.variant] or [Variant("default", {})]
    work = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    tenants = {f"load{i:02d}": secrets.token_hex(16) for i in range(args.tenants)}
    gen = Generator(tenants, run=f"r{int(time.time())}")
    rows: list[dict[str, Any]] = []
    checks: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    for i, variant in enumerate(variants):
        levels = args.levels if i == 0 else args.tuning_levels
        phases = [Phase(int(c)) for c in levels.split(",")]
        if i == 0 and args.paced_delay_ms:
            phases.append(Phase(100, args.paced_delay_ms))
        checks[variant.name] = measure_variant(variant, phases, args, work, tenants, gen, rows)
    shutil.rmtree(work, ignore_errors=True)
    write_outputs(args, variants, rows, checks, time.perf_counter() - started)


def _row(rows: list[dict[str, Any]], variant: str, server: str, level: int,
         delay_ms: int = 0) -> dict[str, Any] | None:
    return next((r for r in rows if r["variant"] == variant and r["server"] == server
                 and r["connections"] == level and r["delay_ms"] == delay_ms), None)


def _errors(row: dict[str, Any]) -> int:
    return int(row["non_202"] + row["timeouts"] + row["socket_errors"])


def _cells(r: dict[str, Any], plain: dict[str, Any] | None) -> list[object]:
    ratio = f"{r['rps'] / plain['rps']:.0%}" if plain and r["server"] == "serve" else ""
    return [r["server"], r["connections"], f"{r['rps']:.0f}", ratio, f"{r['p50_ms']:.1f}",
            f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}", f"{r['max_ms']:.0f}", r["requests"],
            r["non_202"], r["timeouts"], r["socket_errors"]]


HEADER = ["server", "connections", "req/s", "Serve / plain", "p50 ms", "p95 ms", "p99 ms",
          "max ms", "requests", "non-202", "timeouts (>5 s)", "socket errors"]


def targets_for(rows: list[dict[str, Any]], main: str, lost: int) -> list[Target]:
    targets = [Target("acknowledged events lost", "0", str(lost), lost == 0)]
    s100, s1000 = _row(rows, main, "serve", 100), _row(rows, main, "serve", 1000)
    if s100:
        targets.append(Target("Serve p99 at 100 connections (closed loop), zero errors",
                              "≤ 100 ms", f"{s100['p99_ms']:.0f} ms, {_errors(s100)} errors",
                              s100["p99_ms"] <= 100 and _errors(s100) == 0))
    paced = next((r for r in rows if r["variant"] == main and r["server"] == "serve"
                  and r["delay_ms"]), None)
    if paced:
        targets.append(Target(
            f"Serve p99 at 100 connections paced at {paced['rps']:.0f} req/s, zero errors",
            "≤ 100 ms", f"{paced['p99_ms']:.0f} ms, {_errors(paced)} errors",
            paced["p99_ms"] <= 100 and _errors(paced) == 0))
    if s1000:
        targets.append(Target("Serve at 1000 connections: all acked within 5 s, zero errors",
                              "max < 5 s, 0 errors",
                              f"max {s1000['max_ms'] / 1000:.2f} s, {_errors(s1000)} errors",
                              _errors(s1000) == 0 and s1000["max_ms"] < FORGE_ACK_S * 1000))
    serve = [r["rps"] for r in rows if r["variant"] == main and r["server"] == "serve"]
    plain = [r["rps"] for r in rows if r["variant"] == main and r["server"] == "plain"]
    if serve and plain:
        ratio = max(serve) / max(plain)
        targets.append(Target("Serve peak throughput vs plain uvicorn (same handler)", "≥ 25%",
                              f"{ratio:.0%} ({max(serve):.0f} vs {max(plain):.0f} req/s)",
                              ratio >= 0.25))
    return targets


def write_outputs(args: argparse.Namespace, variants: list[Variant], rows: list[dict[str, Any]],
                  checks: dict[str, dict[str, int]], wall_s: float) -> None:
    main = variants[0].name
    lost = sum(c["lost"] for c in checks.values())
    targets = targets_for(rows, main, lost)
    main_rows = [_cells(r, _row(rows, main, "plain", r["connections"], r["delay_ms"]))
                 for r in rows if r["variant"] == main]
    tuning = []
    for v in variants:
        for level in sorted({r["connections"] for r in rows if r["variant"] == v.name}):
            sr, pr = _row(rows, v.name, "serve", level), _row(rows, v.name, "plain", level)
            if sr:
                tuning.append([v.name, ", ".join(f"{k}={x}" for k, x in v.env.items()) or "–",
                               level, f"{sr['rps']:.0f}", f"{pr['rps']:.0f}" if pr else "",
                               f"{sr['rps'] / pr['rps']:.0%}" if pr else "",
                               f"{sr['p50_ms']:.0f}", f"{sr['p99_ms']:.0f}", _errors(sr)])
    command = "benchmarks/intake_bench.py " + " ".join(
        [f"--levels {args.levels}", f"--duration {args.duration}", f"--tenants {args.tenants}"]
        + [f"--variant '{v}'" for v in args.variant]
        + ([f"--paced-delay-ms {args.paced_delay_ms}"] if args.paced_delay_ms else []))
    write_result(args.name, {"rows": rows, "variants": [v.__dict__ for v in variants],
                             "checks": checks}, targets, command)
    lines = [
        "# Webhook intake under load", "",
        f"`{command}`; {machine_info()}; load average at the end {load_average()}; "
        f"took {wall_s:.0f} s. Each phase runs {args.duration} s; Serve and plain uvicorn "
        "alternate phase by phase.", "",
        f"## {main}: {variants[0].env or 'the shipped settings'}", "",
        markdown_table(HEADER, main_rows, "lrrrrrrrrrrr"), "",
        "Rows with a pause: " + (f"each connection waits {args.paced_delay_ms} ms after an "
                                 "answer (a fixed offered rate, not a closed loop)."
                                 if args.paced_delay_ms else "none."), "",
        "## Serve configurations", "",
        markdown_table(["variant", "settings", "connections", "Serve req/s", "plain req/s",
                        "Serve / plain", "p50 ms", "p99 ms", "errors"], tuning,
                       "llrrrrrrr"), "",
        "## Durability", "",
        markdown_table(["variant", "acknowledged (202)", "in the event log", "lost"],
                       [[k, c["acked"], c["recorded"], c["lost"]] for k, c in checks.items()],
                       "lrrr"),
        "", "The event log also holds events whose answer was cut off when a phase ended.",
        "", "## Targets", "",
        markdown_table(["target", "goal", "measured", "met"],
                       [[t.name, t.goal, t.value,
                         {True: "yes", False: "**no**", None: "–"}[t.met]] for t in targets],
                       "llll"),
    ]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{args.name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
