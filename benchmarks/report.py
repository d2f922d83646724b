"""Build benchmarks/report.md and its plots from the benchmarks' results.

    .venv/bin/python benchmarks/report.py

Reads every ``benchmarks/results/<name>.json`` (written by each benchmark through
``benchmarks.common.write_result``), draws one matplotlib PNG per benchmark under
``benchmarks/plots/`` and writes ``benchmarks/report.md``: the targets of the issue with what
was measured, then a section per benchmark with its plot, its command, when and under what load
it ran, and a link to its detailed report in ``benchmarks/reports/``; then
``benchmarks/notes.md``, the hand-written reading of a run (tuning, what bounds a missed
target). It measures nothing itself; ``make bench`` runs the benchmarks first.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, markdown_table  # noqa: E402

PLOTS = ROOT / "benchmarks" / "plots"
REPORT = ROOT / "benchmarks" / "report.md"
# Written by hand against a run: the tuning, what bounds each missed target. Appended verbatim.
NOTES = ROOT / "benchmarks" / "notes.md"
ORDER = ["intake", "e2e", "embedding", "search", "reindex", "state", "metrics", "backfill",
         "access"]
TITLES = {
    "intake": "1. Webhook intake under load",
    "e2e": "2. End to end: TaskSmith events processed",
    "embedding": "3. Embedding throughput",
    "search": "4. Search per tenant shard",
    "reindex": "5. Reindex of a 2,000-page space",
    "state": "6. Agent state snapshots",
    "metrics": "7. What the product metrics cost",
    "backfill": "8. Jira backfill of 10,000 issues",
    "access": "9. Answering each person from the pages they may read",
}


def _intake(fig: Any, f: dict[str, Any]) -> None:
    main = f["variants"][0]["name"]
    rows = [r for r in f["rows"] if r["variant"] == main and not r["delay_ms"]]
    ax1, ax2 = fig.subplots(1, 2)
    for server, style in (("serve", "o-"), ("plain", "s--")):
        rs = sorted((r for r in rows if r["server"] == server), key=lambda r: r["connections"])
        xs = [r["connections"] for r in rs]
        label = "Ray Serve" if server == "serve" else "plain uvicorn (ceiling)"
        ax1.plot(xs, [r["rps"] for r in rs], style, label=label)
        ax2.plot(xs, [r["p99_ms"] for r in rs], style, label=f"{label} p99")
        ax2.plot(xs, [r["p50_ms"] for r in rs], style, alpha=0.4, label=f"{label} p50")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel("concurrent connections")
        ax.legend(fontsize=7)
    ax1.set_ylabel("requests/s (every one a new event)")
    ax2.set_yscale("log")
    ax2.set_ylabel("latency, ms")
    ax2.axhline(100, color="grey", lw=0.8, ls=":")
    ax2.axhline(5000, color="red", lw=0.8, ls=":")


def _e2e(fig: Any, f: dict[str, Any]) -> None:
    labels = [f"{c} clients\n{f'{r:g}/s' if r else 'unpaced'}\n{t} tenant(s)"
              for c, r, t in zip(f["concurrency"], f["rate"], f["tenants"], strict=True)]
    ax1, ax2 = fig.subplots(1, 2)
    ax1.bar(labels, f["events_per_s"])
    ax1.set_ylabel("events done per second")
    x = range(len(labels))
    ax2.plot(x, [v / 1000 for v in f["latency_ms_p50"]], "o-", label="p50")
    ax2.plot(x, [v / 1000 for v in f["latency_ms_p99"]], "s-", label="p99")
    ax2.set_xticks(list(x), labels)
    ax2.set_yscale("log")
    ax2.set_ylabel("accept → done, s")
    ax2.legend()
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", labelsize=7)


def _embedding(fig: Any, f: dict[str, Any]) -> None:
    ax: Axes = fig.subplots()
    rates = f["tokens_per_s"]  # {workload: {backend: median tokens/s}}
    workloads = list(rates)
    backends = sorted({b for w in workloads for b in rates[w]})
    width = 0.8 / max(1, len(backends))
    for i, backend in enumerate(backends):
        xs = [j + i * width for j in range(len(workloads))]
        ax.bar(xs, [rates[w].get(backend, 0) for w in workloads], width, label=backend)
    ax.set_xticks([j + width * (len(backends) - 1) / 2 for j in range(len(workloads))],
                  workloads)
    ax.set_ylabel("tokens/s (median)")
    ax.legend()


def _search(fig: Any, f: dict[str, Any]) -> None:
    ax: Axes = fig.subplots()
    rows = [r for r in f["rows"] if r.get("hybrid_p99_ms") or r.get("dense_p99_ms")]
    labels = [f"{r['data']}\n{r['vectors']:,}\n{r['index']}" for r in rows]
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r.get("dense_p99_ms") or 0 for r in rows], 0.4,
           label="dense p99")
    ax.bar([i + 0.2 for i in x], [r.get("hybrid_p99_ms") or 0 for r in rows], 0.4,
           label="hybrid p99 (what users get)")
    ax.axhline(10, color="red", lw=0.8, ls=":")
    ax.set_xticks(list(x), labels, fontsize=6)
    ax.set_yscale("log")
    ax.set_ylabel("single-query latency, ms")
    ax.legend(fontsize=7)


def _reindex(fig: Any, f: dict[str, Any]) -> None:
    ax: Axes = fig.subplots()
    ax.bar(["embedding alone", "end to end"],
           [f["embed_pages_per_s"], f["e2e_pages_per_s"]], color=["grey", "tab:blue"])
    ax.axhline(0.8 * f["embed_pages_per_s"], color="red", lw=0.8, ls=":", label="80% target")
    ax.set_ylabel("pages/s")
    ax.legend()


def _state(fig: Any, f: dict[str, Any]) -> None:
    ax: Axes = fig.subplots()
    mb = [s / 1e6 for s in f["sizes_bytes"]]
    ax.plot(mb, f["save_ms_p50"], "o-", label="save p50")
    ax.plot(mb, f["save_ms_p95"], "o:", label="save p95")
    ax.plot(mb, f["restore_ms_p50"], "s-", label="restore p50")
    ax.plot(mb, f["restore_ms_p95"], "s:", label="restore p95")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("state size (JSON), MB")
    ax.set_ylabel("ms")
    ax.legend()


def _backfill(fig: Any, f: dict[str, Any]) -> None:
    ax: Axes = fig.subplots()
    for samples, label in ((f["samples"], f"with the agents ({f['issues_per_s']} issues/s)"),
                           (f["paging_only"]["samples"],
                            f"paging alone ({f['paging_only']['issues_per_s']} issues/s)")):
        ax.plot([s["applied"] for s in samples], [s["rss_mb"] for s in samples], "o-",
                label=label)
    ax.set_xlabel("issues applied")
    ax.set_ylabel("resident memory, MB")
    ax.legend()


PLOTTERS: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "intake": _intake, "e2e": _e2e, "embedding": _embedding, "search": _search,
    "reindex": _reindex, "state": _state, "backfill": _backfill,
}


def plot(name: str, figures: dict[str, Any]) -> Path | None:
    """Draw ``name``'s PNG; None (and a note on stderr) if its figures lack what the plot
    needs, so one benchmark's format change never loses the rest of the report."""
    fig = plt.figure(figsize=(10, 4), layout="constrained")
    try:
        PLOTTERS[name](fig, figures)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        print(f"no plot for {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        plt.close(fig)
        return None
    fig.suptitle(TITLES[name])
    PLOTS.mkdir(parents=True, exist_ok=True)
    path = PLOTS / f"{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def build() -> str:
    results = {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}
    known = [n for n in ORDER if n in results]
    met = {True: "yes", False: "**no**", None: "–"}
    target_rows = [[TITLES[n].split(". ", 1)[1], t["name"], t["goal"], t["value"], met[t["met"]]]
                   for n in known for t in results[n]["targets"]]
    lines = [
        "# Clinisight benchmarks", "",
        "Built by `make bench` (`benchmarks/report.py` from `benchmarks/results/*.json`). Every "
        "figure was measured on the machine and at the time its section says; comparisons "
        "(Serve vs plain uvicorn, int8 vs fp32, end to end vs embedding alone) were measured "
        "side by side in one run. The machine has 2 cores; the load average shows how much "
        "else it was doing.", "",
        "## Targets", "",
        markdown_table(["benchmark", "target", "goal", "measured", "met"], target_rows,
                       "lllll"), "",
    ]
    missing = [n for n in ORDER if n not in results]
    if missing:
        lines += [f"Not measured in this report: {', '.join(missing)}.", ""]
    for name in known:
        r = results[name]
        png = plot(name, r["figures"])
        lines += [f"## {TITLES[name]}", "",
                  f"`{r['command']}` — {r['when']}; {r['machine']}; 1-minute load average "
                  f"at the end {r['load_average_end']}. Details: "
                  f"[reports/{name}.md](reports/{name}.md).", ""]
        if png:
            lines += [f"![{name}](plots/{png.name})", ""]
        notes = r["figures"].get("notes")
        if isinstance(notes, str):
            lines += [notes, ""]
    if NOTES.exists():
        lines += [NOTES.read_text()]
    text = "\n".join(lines)
    REPORT.write_text(text)
    return text


if __name__ == "__main__":
    print(build())
