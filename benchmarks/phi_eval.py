"""PHI detection: recall and precision per kind on text nobody here wrote, and its speed.

    .venv/bin/python benchmarks/phi_eval.py                # every set found; writes the report
    .venv/bin/python benchmarks/phi_eval.py --sets physionet,klue
    .venv/bin/python benchmarks/phi_eval.py --cv           # also the notes figure of a token
                                                           # model that never saw the note

The sets (``benchmarks/phi_sets.py`` says where each lies and what its types mean here):
PhysioNet nursing notes and KLUE Korean sentences from ``../shared/data/phi-dev``;
presidio-research's synthetic English prose, its older ``generated_large`` (development) and
``synth_dataset_v2`` (held out: never used to build or tune anything); the project's own set;
SciFact abstracts (no PHI: everything found is over-redaction).

Scoring, as the issue measures it: spans matched by overlap. A gold span is found when any
predicted span overlaps it, whatever kind was predicted (a leak is a leak); recall per gold
kind. A prediction is right when it overlaps a counted gold span; one that overlaps only gold
the policy leaves readable (provider names, bare years, countries, organisations) is left out
of precision. ms/KB is CPU time of one process on one core, models loaded, over the UTF-8 size,
on the first pass over a set (every text new to the caches: the figure the target is held to);
the second pass shows what a long-running process pays once everyday words are cached.

Which figures are blind: the token model (``compliance/data/phi_tokens.json``) was fitted on
the PhysioNet notes and presidio's ``generated_large``, and the rules were written looking at
errors on those two, on KLUE's train split (Hangul) and on the project set. ``--cv`` refits
the token model on half the patients and scores the other half, which removes the model's
memory of a note, not the rules'. The Hangul name model (``compliance/data/hangul_names.json``)
was fitted on these KLUE sentences; ``--cv`` refits it on half of them and scores the other
half. presidio's ``synth_dataset_v2`` is the one set held out here; KLUE's odd-numbered dev
sentences and the other PhysioNet patients are held out by the issue's authors.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import phi_sets  # noqa: E402
from benchmarks.common import Target, write_result  # noqa: E402
from compliance import _tokens  # noqa: E402
from compliance.phi import PhiSpan, find_phi  # noqa: E402

REPORT = ROOT / "benchmarks" / "reports" / "phi.md"
SETS = ("physionet", "presidio-heldout", "presidio-dev", "klue", "project", "scifact")
# The targets, by set: (recall, precision).
TARGETS = {"physionet": (0.95, 0.80), "presidio-heldout": (0.95, 0.90), "klue": (0.90, 0.80)}


@dataclass
class Score:
    found: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    predicted: Counter[str] = field(default_factory=Counter)
    misses: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    warm_cpu_s: float = 0.0  # a second pass over the same texts: the caches filled
    kb: float = 0.0
    texts: int = 0

    @property
    def recall(self) -> float:
        return sum(self.found.values()) / max(1, sum(self.total.values()))

    @property
    def precision(self) -> float:
        return sum(self.right.values()) / max(1, sum(self.predicted.values()))


def _snippet(text: str, start: int, end: int, width: int = 40) -> str:
    out = f"{text[max(0, start - width):start]}⟦{text[start:end]}⟧{text[end:end + width]}"
    return out.replace("\n", " ⏎ ").replace("|", "\\|")


def score(docs: list[phi_sets.Doc], score_: Score | None = None) -> Score:
    s = score_ or Score()
    find_phi("warm-up: Mr. Smith, 김영희 씨")
    predictions: list[list[PhiSpan]] = []
    started = time.process_time()
    for doc in docs:
        predictions.append(find_phi(doc.text))
    s.cpu_s += time.process_time() - started
    started = time.process_time()
    for doc in docs:
        find_phi(doc.text)
    s.warm_cpu_s += time.process_time() - started
    s.kb += sum(len(d.text.encode()) for d in docs) / 1000
    s.texts += len(docs)
    for doc, predicted in zip(docs, predictions, strict=True):
        for g in doc.spans:
            if not g.counted:
                continue
            s.total[g.label] += 1
            if any(p.start < g.end and g.start < p.end for p in predicted):
                s.found[g.label] += 1
            else:
                s.misses.append(f"| {g.label} | {_snippet(doc.text, g.start, g.end)} |")
        for p in predicted:
            gold = list(phi_sets.overlapping(doc.spans, p.start, p.end))
            if gold and not any(g.counted for g in gold):
                continue
            s.predicted[p.kind.value] += 1
            if gold:
                s.right[p.kind.value] += 1
            else:
                s.wrong.append(f"| {p.kind.value} | {_snippet(doc.text, p.start, p.end)} |")
    return s


def cross_validated(presidio: Path) -> Score:
    """The notes scored by token models fitted without their patients (two folds)."""
    from benchmarks import phi_train

    docs = phi_sets.physionet() + phi_sets.presidio("dev", presidio) + phi_sets.scifact(800)
    data = [phi_train.examples(d) for d in docs]
    saved = _tokens._model
    total = Score()
    try:
        for fold in (0, 1):
            rows = [(f, y) for d, ex in zip(docs, data, strict=True) if phi_train._fold(d) != fold
                    for _, f, y, _, _ in ex]
            vec, clf = phi_train.fit(rows, 0.5)
            raw = phi_train.to_model(vec, clf, _tokens.model().threshold)
            _tokens._model = _tokens.Model(
                weights={k: (v[0], v[1]) for k, v in raw["weights"].items()},
                bias=(raw["bias"][0], raw["bias"][1]), threshold=raw["threshold"],
            )
            _tokens._scorer = None
            score([d for d in docs if d.source == "physionet" and phi_train._fold(d) == fold],
                  total)
    finally:
        _tokens._model, _tokens._scorer = saved, None
    return total


def load(name: str, presidio: Path) -> list[phi_sets.Doc]:
    if name.startswith("presidio-"):
        return phi_sets.presidio(name.split("-", 1)[1], presidio)
    return {"physionet": phi_sets.physionet, "klue": phi_sets.klue,
            "project": phi_sets.project, "scifact": phi_sets.scifact}[name]()


def hangul_cross_validated() -> Score:
    """KLUE scored by Hangul name models fitted without the sentence (two folds)."""
    from benchmarks import phi_train_hangul

    docs = phi_sets.klue()
    data = [phi_train_hangul.examples(d) for d in docs]
    threshold = phi_train_hangul.json.loads(
        phi_train_hangul.OUT.read_text(encoding="utf-8"))["threshold"]
    return phi_train_hangul.cross_validated(docs, data, 1.0, threshold)


def render(scores: dict[str, Score], cvs: dict[str, Score]) -> str:
    lines = [
        "# PHI detection: evaluation",
        "",
        f"Generated by `benchmarks/phi_eval.py{' --cv' if cvs else ''}` on "
        f"{time.strftime('%Y-%m-%d')}, Python {platform.python_version()} on "
        f"{platform.machine()}, one process (load average {os.getloadavg()[0]:.1f}).",
        "",
        __doc__.split("\n\n", 2)[2].strip(),
        "",
        "## Totals",
        "",
        "| set | texts | gold spans | recall | precision | target (R, P) | ms/KB (CPU) "
        "| ms/KB, second pass |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
    ]
    rows = list(scores.items()) + list(cvs.items())
    for name, s in rows:
        target = TARGETS.get(name)
        verdict = ""
        if target:
            met = s.recall >= target[0] and s.precision >= target[1]
            verdict = f"{target[0]:.2f}, {target[1]:.2f} {'met' if met else 'not met'}"
        gold = sum(s.total.values())
        precision = f"{s.precision:.3f}" if sum(s.predicted.values()) else "–"
        recall = f"{s.recall:.3f}" if gold else "–"
        lines.append(f"| {name} | {s.texts} | {gold} | {recall} | {precision} | {verdict} "
                     f"| {1000 * s.cpu_s / max(s.kb, 1e-9):.2f} "
                     f"| {1000 * s.warm_cpu_s / max(s.kb, 1e-9):.2f} |")
    lines += ["", "## Recall per gold kind", "", "| set | kind | found / gold | recall |",
              "|---|---|---:|---:|"]
    for name, s in rows:
        for kind in sorted(s.total):
            lines.append(f"| {name} | {kind} | {s.found[kind]} / {s.total[kind]} "
                         f"| {s.found[kind] / s.total[kind]:.3f} |")
    lines += ["", "## Precision per predicted kind", "",
              "| set | kind | right / predicted | precision |", "|---|---|---:|---:|"]
    for name, s in rows:
        for kind in sorted(s.predicted):
            lines.append(f"| {name} | {kind} | {s.right[kind]} / {s.predicted[kind]} "
                         f"| {s.right[kind] / s.predicted[kind]:.3f} |")
    for name, s in scores.items():
        if name in ("presidio-heldout",):
            continue  # held out: its errors are not read, so they cannot steer the rules
        lines += ["", f"## {name}: first misses and false positives", "",
                  "| kind | context (span in ⟦ ⟧) |", "|---|---|"]
        lines += s.misses[:15] + s.wrong[:15]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--presidio", type=Path, default=phi_sets.PRESIDIO)
    parser.add_argument("--cv", action="store_true")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)

    scores: dict[str, Score] = {}
    for name in args.sets.split(","):
        try:
            docs = load(name, args.presidio)
        except (OSError, FileNotFoundError, ValueError) as exc:
            print(f"{name}: skipped ({exc})")
            continue
        except Exception as exc:  # a missing git mirror raises CalledProcessError
            print(f"{name}: skipped ({type(exc).__name__})")
            continue
        s = scores[name] = score(docs)
        print(f"{name:<17} R {s.recall:.3f}  P {s.precision:.3f}  "
              f"{1000 * s.cpu_s / max(s.kb, 1e-9):.2f} ms/KB  "
              + " ".join(f"{k} {s.found[k]}/{s.total[k]}" for k in sorted(s.total)))
    cvs: dict[str, Score] = {}
    if args.cv:
        cvs["physionet, token model cross-validated"] = cross_validated(args.presidio)
        cvs["klue, Hangul model cross-validated"] = hangul_cross_validated()
    for name, cv in cvs.items():
        print(f"{name.split(',')[0] + ' (cv)':<17} R {cv.recall:.3f}  P {cv.precision:.3f}  "
              + " ".join(f"{k} {cv.found[k]}/{cv.total[k]}" for k in sorted(cv.total)))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(render(scores, cvs), encoding="utf-8")
    targets = []
    for name, (goal_r, goal_p) in TARGETS.items():
        if name in scores:
            s = scores[name]
            targets.append(Target(f"PHI recall on {name}", f"≥ {goal_r}", f"{s.recall:.3f}",
                                  s.recall >= goal_r))
            targets.append(Target(f"PHI precision on {name}", f"≥ {goal_p}",
                                  f"{s.precision:.3f}", s.precision >= goal_p))
    if scores:
        worst = max(1000 * s.cpu_s / max(s.kb, 1e-9) for s in scores.values())
        targets.append(Target("PHI detection time, worst set", "≤ 5 ms/KB", f"{worst:.2f} ms/KB",
                              worst <= 5.0))
    write_result("phi", {
        name: {"recall": s.recall, "precision": s.precision,
               "ms_per_kb": 1000 * s.cpu_s / max(s.kb, 1e-9),
               "recall_by_kind": {k: s.found[k] / s.total[k] for k in s.total}}
        for name, s in {**scores, **{k.split(",")[0] + "-cv": v for k, v in cvs.items()}}.items()
    }, targets, "benchmarks/phi_eval.py" + (" --cv" if cvs else ""))
    print(f"report written to {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
