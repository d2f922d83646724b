"""Fit the token classifier of ``compliance/_tokens.py`` and write its weights.

    .venv/bin/python benchmarks/phi_train.py            # cross-validated figures, then the fit
    .venv/bin/python benchmarks/phi_train.py --no-write # figures only

Training data (read where it lies, never copied into the project; see benchmarks/phi_sets.py):
the PhysioNet nursing notes of ``../shared/data/phi-dev`` (real notes, half the patients of the
deid gold standard), presidio-research's older synthetic prose (``generated_large.json``, not
the ``synth_dataset_v2.json`` we hold out), and SciFact abstracts as text with no PHI. Words in
provider names count as names here (the policy filter that keeps providers readable runs after
the classifier); street addresses, dates and identifiers are left to their patterns.

Why a logistic regression over list and cue features, and not a statistical NER: spaCy's small
English pipeline costs 28 ms per KB on these notes (the budget is 5 for everything) and reads
clinical shorthand as names; the transformer de-identifiers download their weights at run
time. A linear model over a few dozen features costs microseconds per scored word, and its
features (no word's own spelling) carry over to text it never saw.

The figures printed are two-fold cross-validated by patient (notes) and by text (prose): the
model that scores a text never saw it. The written model is then fitted on all of it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import phi_sets  # noqa: E402
from compliance import _tokens  # noqa: E402

OUT = ROOT / "compliance" / "data" / "phi_tokens.json"
LABELS = {"NAME": 1, "LOCATION": 2}


def _fold(doc: phi_sets.Doc) -> int:
    # PhysioNet patients here are all odd-numbered: split on the next bit.
    return (doc.group // 2) % 2 if doc.source == "physionet" else doc.group % 2


def examples(doc: phi_sets.Doc) -> list[tuple[int, list[str], int, int, int]]:
    """(word index, features, label, start, end) of every candidate word of ``doc``."""
    ws = _tokens.Words(doc.text)
    out = []
    for i in _tokens.candidates(ws):
        start, end = ws.spans[i]
        gold = list(phi_sets.overlapping(doc.spans, start, end))
        if gold and gold[0].label not in LABELS:
            continue  # a date, a street address, an identifier: not this model's to learn
        label = LABELS[gold[0].label] if gold else 0
        out.append((i, _tokens.features(ws, i), label, start, end))
    return out


def fit(rows: list[tuple[list[str], int]], c: float):  # type: ignore[no-untyped-def]
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = DictVectorizer()
    x = vec.fit_transform([dict.fromkeys(f, 1) for f, _ in rows])
    y = [label for _, label in rows]
    clf = LogisticRegression(C=c, max_iter=3000, class_weight={0: 1.0, 1: 3.0, 2: 3.0})
    clf.fit(x, y)
    return vec, clf


def to_model(vec, clf, threshold: float) -> dict:  # type: ignore[no-untyped-def]
    """Weights relative to the 'other' class (softmax is unchanged by that shift)."""
    coef, bias = clf.coef_, clf.intercept_
    weights = {}
    for j, name in enumerate(vec.feature_names_):
        w = (coef[1, j] - coef[0, j], coef[2, j] - coef[0, j])
        if abs(w[0]) > 1e-4 or abs(w[1]) > 1e-4:
            weights[name] = [round(float(w[0]), 4), round(float(w[1]), 4)]
    return {
        "about": "compliance/_tokens.py's classifier; fitted by benchmarks/phi_train.py",
        "threshold": threshold,
        "bias": [round(float(bias[1] - bias[0]), 4), round(float(bias[2] - bias[0]), 4)],
        "weights": dict(sorted(weights.items())),
    }


def span_scores(docs, predicted):  # type: ignore[no-untyped-def]
    """Recall of counted NAME/LOCATION gold, precision of joined predicted spans."""
    found, total, preds, wrong = Counter(), Counter(), 0, 0
    for doc, words in zip(docs, predicted, strict=True):
        spans: list[list[int]] = []
        for start, end in words:
            if spans and _tokens._joinable(doc.text, spans[-1][1], start):
                spans[-1][1] = end
            else:
                spans.append([start, end])
        for g in doc.spans:
            if g.label in LABELS and g.counted:
                total[g.label] += 1
                found[g.label] += any(s < g.end and g.start < e for s, e in spans)
        for s, e in spans:
            gold = list(phi_sets.overlapping(doc.spans, s, e))
            if gold and not any(g.counted for g in gold):
                continue
            preds += 1
            wrong += not gold
    recall = {k: found[k] / total[k] for k in total}
    return recall, (preds - wrong) / max(1, preds), preds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presidio", type=Path, default=phi_sets.PRESIDIO)
    parser.add_argument("--c", type=float, default=0.5)
    parser.add_argument("--thresholds", default="0.2,0.3,0.4,0.5,0.6")
    parser.add_argument("--threshold", type=float, default=0.4, help="the one written")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    docs = phi_sets.physionet() + phi_sets.presidio("dev", args.presidio)
    docs += phi_sets.scifact(limit=800)
    data = [examples(d) for d in docs]
    print(f"{len(docs)} texts, {sum(map(len, data))} candidate words")

    thresholds = [float(t) for t in args.thresholds.split(",")]
    predicted: dict[float, list[list[tuple[int, int]]]] = {
        t: [[] for _ in docs] for t in thresholds
    }
    for fold in (0, 1):
        train = [(f, y) for d, ex in zip(docs, data, strict=True) if _fold(d) != fold
                 for _, f, y, _, _ in ex]
        vec, clf = fit(train, args.c)
        for k, (d, ex) in enumerate(zip(docs, data, strict=True)):
            if _fold(d) != fold or not ex:
                continue
            proba = clf.predict_proba(vec.transform([dict.fromkeys(f, 1) for _, f, _, _, _ in ex]))
            for t in thresholds:
                predicted[t][k] = [(s, e) for (_, _, _, s, e), p in zip(ex, proba, strict=True)
                                   if 1 - p[0] >= t]
    for t in thresholds:
        for source in ("physionet", "presidio-dev", "scifact"):
            idx = [k for k, d in enumerate(docs) if d.source == source]
            recall, precision, n = span_scores([docs[k] for k in idx],
                                               [predicted[t][k] for k in idx])
            shown = " ".join(f"{k} {v:.3f}" for k, v in sorted(recall.items()))
            print(f"t={t:.2f} {source:<13} recall {shown or '-':<28} "
                  f"precision {precision:.3f} ({n} spans)")
    if not args.no_write:
        vec, clf = fit([(f, y) for ex in data for _, f, y, _, _ in ex], args.c)
        OUT.parent.mkdir(parents=True, exist_ok=True)
        OUT.write_text(json.dumps(to_model(vec, clf, args.threshold), indent=0) + "\n")
        print(f"wrote {OUT} (threshold {args.threshold})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
