"""Evaluate PHI detection against the labelled set in benchmarks/data/phi_eval.jsonl.

Each line of the set is {"text": ..., "spans": [{"start", "end", "kind"}]}: clinical notes,
Jira- and Confluence-like text, log lines, and clean project text with no PHI at all.

Scoring is span-level, per kind, by two rules:

* overlap (the headline): a predicted span is a true positive when it overlaps a gold span of
  the same kind that no other prediction has claimed; each gold span is matched at most once.
* exact: the same, but start and end must both be equal.

Besides, "leaked characters" counts gold PHI characters that no predicted span of any kind
covers: what would reach a log or a prompt in clear.

    .venv/bin/python benchmarks/phi_eval.py            # prints the table, writes the report
    .venv/bin/python benchmarks/phi_eval.py --strict   # and exits 1 if a recall target is missed
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from compliance.phi import PhiKind, PhiSpan, find_phi  # noqa: E402

DATA = ROOT / "benchmarks" / "data" / "phi_eval.jsonl"
REPORT = ROOT / "benchmarks" / "reports" / "phi.md"
# The targets: recall of at least 0.95 for these kinds (overlap rule).
# How the set was written. Figures from the first time each held-out part was scored are kept
# here by hand, since later runs score a detector that has since learnt from their errors.
PROVENANCE = """\
The set has three parts, marked by each line's `split`:

* `dev` (226 lines): written first; the detector was built and tuned against it.
* `holdout1` (66 lines): written after the detector existed. First scoring, before any change
  made for it: P 0.949, R 0.787, F1 0.860 (37 of 47 spans). Its errors then led to general
  fixes (separators like `MRN#:`, `+33 1 ...` numbers, yearless "3rd of May", `DOE, JOHN`,
  names followed by an age or "(patient)"), so its later figures are no longer blind.
* `holdout2` (42 lines): written after those fixes and scored once before three further general
  fixes (compact `19790314` dates, `encounter E-99812`, `van der` particles): P 0.971, R 0.846,
  F1 0.904 (33 of 39 spans; misses: 3 names without a cue, 1 unlabelled member ID, 1 bare
  encounter number, 1 compact date; false positive: a Luhn-valid placeholder NPI).

The held-out parts are small; read their figures as a sign, not a measurement. All of the set
was written by the engineer who wrote the detector, which flatters it: names without any cue
word ("the account for Beatriz Soto") are the known gap.
"""
RECALL_TARGETS = {
    PhiKind.SSN: 0.95,
    PhiKind.MRN: 0.95,
    PhiKind.PHONE: 0.95,
    PhiKind.EMAIL: 0.95,
    PhiKind.DATE: 0.95,
}


@dataclass
class Example:
    text: str
    gold: list[PhiSpan]
    split: str  # "dev": written with the detector; "holdout": written after it, never tuned on


@dataclass
class Tally:
    tp: Counter[PhiKind] = field(default_factory=Counter)
    fp: Counter[PhiKind] = field(default_factory=Counter)
    fn: Counter[PhiKind] = field(default_factory=Counter)

    def scores(self, kind: PhiKind) -> tuple[float, float, float]:
        tp, fp, fn = self.tp[kind], self.fp[kind], self.fn[kind]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1

    def total(self) -> tuple[float, float, float]:
        tp, fp, fn = sum(self.tp.values()), sum(self.fp.values()), sum(self.fn.values())
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        return precision, recall, 2 * precision * recall / (precision + recall)


def load(path: Path) -> list[Example]:
    """Read the set and check every span: known kind, inside the text, no overlaps."""
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        row = json.loads(line)
        text = row["text"]
        gold = sorted(PhiSpan(s["start"], s["end"], PhiKind(s["kind"])) for s in row["spans"])
        for span in gold:
            if not 0 <= span.start < span.end <= len(text):
                raise ValueError(f"{path.name}:{number}: span {span} is outside the text")
            if text[span.start : span.end] != text[span.start : span.end].strip():
                raise ValueError(f"{path.name}:{number}: span {span} has surrounding spaces")
        for a, b in zip(gold, gold[1:], strict=False):
            if b.start < a.end:
                raise ValueError(f"{path.name}:{number}: spans {a} and {b} overlap")
        examples.append(Example(text, gold, row.get("split", "dev")))
    return examples


def _overlaps(a: PhiSpan, b: PhiSpan) -> bool:
    return a.start < b.end and b.start < a.end


def score(
    examples: list[Example], predictions: list[list[PhiSpan]], *, exact: bool
) -> tuple[Tally, list[tuple[str, str, PhiSpan]]]:
    """Tally per kind, and list the errors as (what, text, span)."""
    tally = Tally()
    errors: list[tuple[str, str, PhiSpan]] = []
    for example, predicted in zip(examples, predictions, strict=True):
        claimed: set[int] = set()
        for p in predicted:
            match = next(
                (
                    i
                    for i, g in enumerate(example.gold)
                    if i not in claimed
                    and g.kind == p.kind
                    and ((g.start, g.end) == (p.start, p.end) if exact else _overlaps(g, p))
                ),
                None,
            )
            if match is None:
                tally.fp[p.kind] += 1
                errors.append(("false positive", example.text, p))
            else:
                claimed.add(match)
                tally.tp[p.kind] += 1
        for i, g in enumerate(example.gold):
            if i not in claimed:
                tally.fn[g.kind] += 1
                errors.append(("missed", example.text, g))
    return tally, errors


def leaked_characters(examples: list[Example], predictions: list[list[PhiSpan]]) -> tuple[int, int]:
    """(gold PHI characters covered by no prediction of any kind, all gold PHI characters)."""
    leaked = total = 0
    for example, predicted in zip(examples, predictions, strict=True):
        for g in example.gold:
            total += g.end - g.start
            covered = sum(max(0, min(g.end, p.end) - max(g.start, p.start)) for p in predicted)
            leaked += g.end - g.start - covered
    return leaked, total


def throughput(examples: list[Example]) -> tuple[float, float, int]:
    """(seconds for the whole set, seconds for one long document built from it, its length)."""
    texts = [e.text for e in examples]
    started = time.perf_counter()
    for text in texts:
        find_phi(text)
    per_set = time.perf_counter() - started
    document = "\n".join(texts * 20)
    started = time.perf_counter()
    find_phi(document)
    return per_set, time.perf_counter() - started, len(document)


def _context(text: str, span: PhiSpan, width: int = 40) -> str:
    before = text[max(0, span.start - width) : span.start]
    after = text[span.end : span.end + width]
    snippet = f"{before}⟦{text[span.start : span.end]}⟧{after}"
    return snippet.replace("\n", " ⏎ ").replace("|", "\\|")


def render(
    examples: list[Example],
    overlap: Tally,
    exact: Tally,
    errors: list[tuple[str, str, PhiSpan]],
    leaked: tuple[int, int],
    timing: tuple[float, float, int],
    by_split: dict[str, tuple[int, Tally]],
) -> str:
    gold_counts = Counter(g.kind for e in examples for g in e.gold)
    clean = sum(1 for e in examples if not e.gold)
    lines = [
        "# PHI detection: evaluation",
        "",
        "Generated by `benchmarks/phi_eval.py` over `benchmarks/data/phi_eval.jsonl`: "
        f"{len(examples)} lines ({clean} with no PHI at all), "
        f"{sum(gold_counts.values())} labelled spans. "
        f"Python {platform.python_version()} on {platform.machine()}.",
        "",
        "Span-level scores per kind. **Overlap**: a prediction counts when it overlaps an "
        "unclaimed gold span of the same kind (one-to-one). **Exact**: start and end equal too.",
        "",
        "| kind | gold | P (overlap) | R (overlap) | F1 (overlap) | P (exact) | R (exact) "
        "| F1 (exact) | target R |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for kind in PhiKind:
        p, r, f = overlap.scores(kind)
        pe, re_, fe = exact.scores(kind)
        target = RECALL_TARGETS.get(kind)
        verdict = "" if target is None else f"≥ {target:.2f} {'met' if r >= target else 'MISSED'}"
        lines.append(
            f"| {kind.value} | {gold_counts[kind]} | {p:.3f} | {r:.3f} | {f:.3f} "
            f"| {pe:.3f} | {re_:.3f} | {fe:.3f} | {verdict} |"
        )
    p, r, f = overlap.total()
    pe, re_, fe = exact.total()
    lines.append(
        f"| **all** | {sum(gold_counts.values())} | {p:.3f} | {r:.3f} | {f:.3f} "
        f"| {pe:.3f} | {re_:.3f} | {fe:.3f} | |"
    )
    lines += [
        "",
        "Totals by part of the set (overlap rule):",
        "",
        "| part | lines | gold | P | R | F1 |",
    ]
    lines.append("|---|---:|---:|---:|---:|---:|")
    for split, (count, tally) in by_split.items():
        p, r, f = tally.total()
        gold = sum(tally.tp.values()) + sum(tally.fn.values())
        lines.append(f"| {split} | {count} | {gold} | {p:.3f} | {r:.3f} | {f:.3f} |")
    per_set, per_doc, doc_len = timing
    lines += [
        "",
        PROVENANCE,
        f"Leaked characters (gold PHI covered by no prediction of any kind): "
        f"{leaked[0]} of {leaked[1]} ({leaked[0] / max(1, leaked[1]):.1%}).",
        "",
        f"Speed: the whole set in {per_set * 1000:.1f} ms; one {doc_len / 1e6:.2f} M-character "
        f"document (the set 20 times) in {per_doc * 1000:.0f} ms.",
        "",
        "## Errors (overlap rule)",
        "",
        "| error | kind | context (span in ⟦ ⟧) |",
        "|---|---|---|",
    ]
    for what, text, span in sorted(errors, key=lambda e: (e[0], e[2].kind.value)):
        lines.append(f"| {what} | {span.kind.value} | {_context(text, span)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--strict", action="store_true", help="exit 1 if a recall target fails")
    args = parser.parse_args(argv)

    examples = load(args.data)
    predictions = [find_phi(e.text) for e in examples]
    overlap, errors = score(examples, predictions, exact=False)
    exact, _ = score(examples, predictions, exact=True)
    by_split: dict[str, tuple[int, Tally]] = {}
    for split in sorted({e.split for e in examples}):
        pairs = [(e, p) for e, p in zip(examples, predictions, strict=True) if e.split == split]
        part, _ = score([e for e, _ in pairs], [p for _, p in pairs], exact=False)
        by_split[split] = (len(pairs), part)
    report = render(
        examples,
        overlap,
        exact,
        errors,
        leaked_characters(examples, predictions),
        throughput(examples),
        by_split,
    )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report, encoding="utf-8")

    print(f"{'kind':<10} {'gold':>5} {'P':>6} {'R':>6} {'F1':>6}   (overlap; exact R)")
    for kind in PhiKind:
        p, r, f = overlap.scores(kind)
        gold = overlap.tp[kind] + overlap.fn[kind]
        exact_recall = exact.scores(kind)[1]
        print(f"{kind.value:<10} {gold:>5} {p:6.3f} {r:6.3f} {f:6.3f}   {exact_recall:.3f}")
    p, r, f = overlap.total()
    print(
        f"{'all':<10} {sum(overlap.tp.values()) + sum(overlap.fn.values()):>5} "
        f"{p:6.3f} {r:6.3f} {f:6.3f}"
    )
    for split, (_, part) in by_split.items():
        p, r, f = part.total()
        print(f"  {split:<8} P {p:.3f} R {r:.3f} F1 {f:.3f}")
    print(f"report written to {args.report}")
    missed = [k for k, t in RECALL_TARGETS.items() if overlap.scores(k)[1] < t]
    if missed:
        print("recall target missed for: " + ", ".join(k.value for k in missed))
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
