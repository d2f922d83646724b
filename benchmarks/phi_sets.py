"""The labelled PHI sets, read where they lie, in one shape: ``Doc(text, spans, group, name)``.

Each gold span is ``Gold(start, end, label, counted)``. ``label`` is the set's own type mapped
to ours (NAME, LOCATION, DATE, PHONE, AGE, ADDRESS, ID, ACCOUNT, or IGNORE for types that are
not PHI by our policy); ``counted`` says whether recall counts it. A span that is not counted is
not held against a prediction either: a prediction that overlaps only uncounted gold is left out
of precision (provider names and bare years in the nursing notes, countries and organisations in
the prose set), since the policy leaves them readable but redacting them is no leak.

Sets:

* ``physionet``: ``../shared/data/phi-dev/physionet-deid-dev.jsonl`` (real ICU nursing notes
  with surrogate PHI, PhysioNet deid gold standard, GPL-2; the odd-numbered patients).
* ``klue``: ``../shared/data/phi-dev/klue-ner-dev.jsonl`` (Korean sentences, KLUE NER dev,
  even-numbered; CC BY-SA 4.0): PS spans are names; other entity types are not counted.
* ``presidio-dev`` / ``presidio-heldout``: the synthetic English prose of Microsoft's
  presidio-research (MIT): ``tests/data/generated_large.json`` (its older generator, 2,109
  texts) and ``data/synth_dataset_v2.json`` (1,500 texts). Read from a local git mirror of
  github.com/microsoft/presidio-research (``--presidio PATH``, default the fetch location
  ``/work/.mirror/microsoft+presidio-research/repo``); never copied here.
* ``project``: ``benchmarks/data/phi_eval.jsonl``, the project's own set (written by the
  engineers who wrote the rules; it measures them, not the world).
* ``scifact``: SciFact abstracts (``../shared/data/scifact-subset``): no PHI at all, so every
  prediction is over-redaction of the research text MindMesh indexes.
"""

from __future__ import annotations

import json
import subprocess  # nosec B404: git show on a local mirror
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
PHI_DEV = SHARED / "data" / "phi-dev"
PRESIDIO = Path("/work/.mirror/microsoft+presidio-research/repo")


@dataclass(frozen=True)
class Gold:
    start: int
    end: int
    label: str
    counted: bool


@dataclass(frozen=True)
class Doc:
    text: str
    spans: tuple[Gold, ...]
    group: int  # documents of one group (a patient) stay on one side of a split
    source: str


_PHYSIONET = {
    "PTName": ("NAME", True),
    "PTNameInitial": ("NAME", True),
    "RelativeProxyName": ("NAME", True),
    "HCPName": ("NAME", False),  # providers stay readable by policy
    "Date": ("DATE", True),
    "DateYear": ("DATE", False),  # a year alone is not PHI under Safe Harbor
    "Location": ("LOCATION", True),
    "Phone": ("PHONE", True),
    "Age": ("AGE", True),
    "Other": ("ID", True),
}

# Presidio's types, mapped to our policy. GPE/LOCATION mixes countries (not PHI) with cities
# (PHI), and ORGANIZATION mixes employers with everything else: neither is counted.
_PRESIDIO = {
    "PERSON": ("NAME", True),
    "STREET_ADDRESS": ("ADDRESS", True),
    "ADDRESS": ("ADDRESS", True),
    "PHONE_NUMBER": ("PHONE", True),
    "ZIP_CODE": ("ADDRESS", True),
    "US_SSN": ("ID", True),
    # Account and licence numbers are Safe Harbor identifiers (45 CFR 164.514(b)(2)(i)(J), (K));
    # the first table did not count them.
    "CREDIT_CARD": ("ACCOUNT", True),
    "IBAN_CODE": ("ACCOUNT", True),
    "US_DRIVER_LICENSE": ("ID", True),
    "EMAIL_ADDRESS": ("ID", True),
    "DATE_TIME": ("DATE", False),
    "AGE": ("AGE", False),
}


def physionet(path: Path = PHI_DEV / "physionet-deid-dev.jsonl") -> list[Doc]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        spans = tuple(
            Gold(s["start"], s["end"], *_PHYSIONET.get(s["source_label"], ("IGNORE", False)))
            for s in row["spans"]
        )
        docs.append(Doc(row["text"], spans, int(row["patient_id"]), "physionet"))
    return docs


def klue(path: Path = PHI_DEV / "klue-ner-dev.jsonl") -> list[Doc]:
    docs = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        row = json.loads(line)
        spans = tuple(
            Gold(s["start"], s["end"], "NAME" if s["label"] == "PS" else "IGNORE",
                 s["label"] == "PS")
            for s in row["spans"]
        )
        docs.append(Doc(row["text"], spans, i, "klue"))
    return docs


def presidio(which: str, mirror: Path = PRESIDIO) -> list[Doc]:
    path = {"dev": "tests/data/generated_large.json", "heldout": "data/synth_dataset_v2.json"}
    raw = subprocess.run(  # nosec B603 B607: git on a local mirror, fixed arguments
        ["git", "-C", str(mirror), "show", f"HEAD:{path[which]}"],
        check=True, capture_output=True,
    ).stdout
    docs = []
    for i, row in enumerate(json.loads(raw)):
        spans = tuple(
            Gold(s["start_position"], s["end_position"],
                 *_PRESIDIO.get(s["entity_type"], ("IGNORE", False)))
            for s in row["spans"]
        )
        docs.append(Doc(row["full_text"], spans, i, f"presidio-{which}"))
    return docs


def project(path: Path = ROOT / "benchmarks" / "data" / "phi_eval.jsonl") -> list[Doc]:
    docs = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        row = json.loads(line)
        spans = tuple(Gold(s["start"], s["end"], s["kind"], True) for s in row["spans"])
        docs.append(Doc(row["text"], spans, i, f"project-{row.get('split', 'dev')}"))
    return docs


def scifact(limit: int | None = None) -> list[Doc]:
    docs = []
    path = SHARED / "data" / "scifact-subset" / "corpus.jsonl"
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if limit is not None and i >= limit:
            break
        row = json.loads(line)
        text = "\n".join(p for p in (row.get("title", ""), row["text"]) if p)
        docs.append(Doc(text, (), i, "scifact"))
    return docs


def overlapping(spans: tuple[Gold, ...], start: int, end: int) -> Iterator[Gold]:
    return (g for g in spans if g.start < end and start < g.end)
