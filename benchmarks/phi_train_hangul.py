"""Fit the Hangul name model of ``compliance/_hangul_model.py`` and write its weights.

    .venv/bin/python benchmarks/phi_train_hangul.py            # CV figures, then the fit
    .venv/bin/python benchmarks/phi_train_hangul.py --no-write # figures only

Training data (read where it lies, never copied into the project): the KLUE NER v1.1 dev
sentences of ``../shared/data/phi-dev/klue-ner-dev.jsonl`` (the even-numbered half of that
split; CC BY-SA 4.0, KLUE-benchmark). A candidate word is labelled a name when it overlaps a
person (PS) span; words in other entities (organisations, places, works) and plain words are
the negatives.

The figures printed are two-fold cross-validated by sentence: ``find_phi`` runs with the rules
and a model fitted on the other half, so recall and precision are those of the whole detector
on sentences the model never saw, scored as ``benchmarks/phi_eval.py`` scores. The threshold
written is the one given (``--threshold``), chosen on these figures: the highest recall with
precision at or above 0.85 (the issue's floor is 0.80; Korean text that is not news is
expected to fare worse). The written model is then fitted on all of it.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import phi_eval, phi_sets  # noqa: E402
from compliance import _hangul, _hangul_model  # noqa: E402

OUT = ROOT / "compliance" / "data" / "hangul_names.json"
_RUN = re.compile("[\uac00-\ud7a3]+")


def examples(doc: phi_sets.Doc) -> list[tuple[list[str], int]]:
    """(features, label) of every candidate word of ``doc``."""
    _hangul._load()
    runs = [m.span() for m in _RUN.finditer(doc.text)]
    out = []
    for i, (start, end) in enumerate(runs):
        length = _hangul_model.candidate(doc.text, start, end)
        if length is None:
            continue
        gold = phi_sets.overlapping(doc.spans, start, start + length)
        label = int(any(g.counted for g in gold))
        out.append((_hangul_model.features(doc.text, runs, i, length), label))
    return out


def fit(rows: list[tuple[list[str], int]], c: float):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = DictVectorizer()
    x = vec.fit_transform([dict.fromkeys(f, 1) for f, _ in rows])
    clf = LogisticRegression(C=c, max_iter=3000)
    clf.fit(x, [y for _, y in rows])
    return vec, clf


def to_model(vec, clf, threshold: float) -> dict:  # type: ignore[no-untyped-def]
    weights = {
        name: round(float(w), 4)
        for name, w in zip(vec.feature_names_, clf.coef_[0], strict=True)
        if abs(w) > 1e-4
    }
    return {
        "about": "compliance/_hangul_model.py's classifier; fitted by "
                 "benchmarks/phi_train_hangul.py on KLUE NER v1.1 dev (even sentences), "
                 "CC BY-SA 4.0: see compliance/data/README.md",
        "license": "CC-BY-SA-4.0",
        "threshold": threshold,
        "bias": round(float(clf.intercept_[0]), 4),
        "weights": dict(sorted(weights.items())),
    }


def _use(raw: dict | None) -> None:  # type: ignore[type-arg]
    """Score with these weights; None: with a model that never fires (the rules alone)."""
    raw = raw or {"weights": {}, "bias": -100.0, "threshold": 1.0}
    _hangul_model._model = _hangul_model.Model(
        weights=raw["weights"], bias=raw["bias"], threshold=raw["threshold"]
    )


def cross_validated(docs: list[phi_sets.Doc], data: list[list[tuple[list[str], int]]],
                    c: float, threshold: float) -> phi_eval.Score:
    """The detector's score on each half of ``docs`` with a model fitted on the other half."""
    saved = _hangul_model._model
    total = phi_eval.Score()
    try:
        for fold in (0, 1):
            rows = [r for d, ex in zip(docs, data, strict=True) if d.group % 2 != fold
                    for r in ex]
            vec, clf = fit(rows, c)
            _use(to_model(vec, clf, threshold))
            phi_eval.score([d for d in docs if d.group % 2 == fold], total)
    finally:
        _hangul_model._model = saved
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--c", type=float, default=1.0)
    parser.add_argument("--thresholds", default="0.3,0.4,0.5,0.6")
    parser.add_argument("--threshold", type=float, default=0.4, help="the one written")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    docs = phi_sets.klue()
    data = [examples(d) for d in docs]
    print(f"{len(docs)} sentences, {sum(map(len, data))} candidate words, "
          f"{sum(y for ex in data for _, y in ex)} of them names")
    saved = _hangul_model._model
    _use(None)
    try:
        rules = phi_eval.score(docs)
    finally:
        _hangul_model._model = saved
    print(f"rules alone: recall {rules.recall:.3f} precision {rules.precision:.3f}")
    for t in (float(t) for t in args.thresholds.split(",")):
        s = cross_validated(docs, data, args.c, t)
        print(f"rules + model (2-fold CV), threshold {t:.2f}: "
              f"recall {s.recall:.3f} precision {s.precision:.3f}")
    if not args.no_write:
        vec, clf = fit([r for ex in data for r in ex], args.c)
        OUT.write_text(json.dumps(to_model(vec, clf, args.threshold), ensure_ascii=False,
                                  indent=0) + "\n", encoding="utf-8")
        print(f"written: {OUT.relative_to(ROOT)} (threshold {args.threshold})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
