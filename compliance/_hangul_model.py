"""A second opinion on the Hangul words that the rules of ``compliance._hangul`` left alone.

The rules find a Korean name by a cue (씨, 환자, 교수 ...) or by its shape (a census surname and
one or two syllables). What they miss is mostly a name with neither: a given name alone (미경이가),
a foreign name in Hangul (후나코시), a stage name, written where only the sentence says it is a
person ("…의 연기", "…랑 엮지 마세요"). This layer weighs such evidence together: a logistic
regression over what Kiwi makes of the word (a proper noun, an unknown noun), its length and
syllables (a surname first, loanword syllables, the last syllable), the particle after it, the
words and the punctuation around it, and what WikiData says of the word (kiwipiepy-model's
``multi.dict``). No word's own spelling is a feature, so it carries over to names it never saw.

Candidates are the words Kiwi starts with a proper or unknown noun of two syllables or more;
verbs, known common nouns, safe loanwords (``compliance._loanwords``), words with the
ending of an English -ing/-tion/-ge and names of languages (한국어) never are.

The weights (``compliance/data/hangul_names.json``) are fitted by ``benchmarks/phi_train.py
--hangul`` on the KLUE NER v1.1 dev sentences of ``../shared/data/phi-dev`` (CC BY-SA 4.0;
the weights file carries that licence and its attribution, see ``compliance/data/README.md``);
its figures are two-fold cross-validated, the other half of KLUE's dev split is held out.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from compliance._loanwords import SAFE_LOANWORDS

__all__ = ["Model", "candidate", "features", "model", "name_at"]

_DATA = Path(__file__).with_name("data") / "hangul_names.json"
_lock = threading.Lock()
_model: Model | None = None
_MAX_STEM = 8


@dataclass(frozen=True, slots=True)
class Model:
    weights: dict[str, float]
    bias: float
    threshold: float  # P(person) at or above it makes the word a name


def model() -> Model | None:
    """The fitted model, or None when the weights file is absent (the rules still run)."""
    global _model
    if _model is None and _DATA.exists():
        with _lock:
            if _model is None:
                raw = json.loads(_DATA.read_text(encoding="utf-8"))
                _model = Model(
                    weights={k: float(v) for k, v in raw["weights"].items()},
                    bias=float(raw["bias"]),
                    threshold=float(raw["threshold"]),
                )
    return _model


def _kind(ch: str) -> str:
    """The class of a character beside the word: itself if punctuation, else its script."""
    if not ch:
        return "edge"
    if "\uac00" <= ch <= "\ud7a3":
        return "H"
    if ch.isalnum():
        return "A"
    return ch if not ch.isspace() else "sp"


@functools.cache
def _org_word_ending() -> re.Pattern[str]:
    """The endings of ``_hangul._ORG_ENDING`` of two syllables or more (은행, 전자, 병원): one
    syllable (스, 도, 산) ends too many foreign and Korean names to veto a candidate here."""
    from compliance import _hangul as h

    inner = h._ORG_ENDING.pattern.removeprefix("(?:").removesuffix(")$")
    return re.compile("(?:" + "|".join(e for e in inner.split("|") if len(e) >= 2) + ")$")


_UNIT_ENDINGS = "역구시군동읍면리"


@functools.cache
def _place_stems() -> frozenset[str]:
    """What comes before a station's or a district's last syllable in Kiwi's own dictionary
    (kiwipiepy-model's ``default.dict``, Apache-2.0): 서초역 gives 서초, so 서초구 is a place.
    Read where the package lies; nothing is copied. Empty if the file cannot be read."""
    try:
        import kiwipiepy_model

        path = Path(kiwipiepy_model.get_model_path()) / "default.dict"
        stems = set()
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                word, _, rest = line.partition("\t")
                if rest.startswith("NNP") and len(word) >= 3 and word[-1] in _UNIT_ENDINGS:
                    stems.add(word[:-1])
        return frozenset(stems)
    except (ImportError, OSError, AttributeError):
        return frozenset()


def candidate(seg: str, start: int, end: int) -> int | None:
    """The length of the proper or unknown noun that the word ``seg[start:end]`` starts with,
    if it may be a name; None for every other word."""
    from compliance import _hangul as h

    if not 2 <= end - start <= h._MAX_RUN:
        return None  # one syllable, or a run longer than any word (가가가…, no spaces)
    run = seg[start:end]
    morphs = h._analyse(run)
    if not morphs or morphs[0].start != 0:
        return None
    first = morphs[0]
    if not (first.tag == "NNP" or (first.oov and first.tag.startswith("NN"))):
        return None
    stem = run[: first.end]
    nouns_end = first.end  # 컨플루/NNP + 언스/NNP: the whole compound is the word to check
    for m in morphs[1:]:
        if m.start != nouns_end or not m.tag.startswith("NN"):
            break
        nouns_end = m.end
    if any(m.start < first.end for m in morphs[1:]) or run[:nouns_end] in SAFE_LOANWORDS:
        return None  # a morpheme inside the noun (알립/NNP 립/VCP: a verb's contraction)
    if (
        not 2 <= len(stem) <= _MAX_STEM
        or stem in SAFE_LOANWORDS
        or stem in h._TITLE_SET
        or stem in h._ROLES_BEFORE
        or h._DRUG_ENDING.search(stem)
        or _org_word_ending().search(stem)  # 외환은행, 삼성전자: organisations
        or (  # 강남구, 서초구: a place WikiData knows (a place is found as one, not as a name)
            len(stem) >= 3
            and stem[-1] in h._PLACE_ENDINGS
            and (stem in h._other_n or stem[:-1] in h._other_words or stem[:-1] in _place_stems())
        )
        or len(set(stem)) == 1
        or stem[-1] in h._LOANWORD_ENDINGS  # English -ing, -tion, -ge: 스테이징, 마스킹
        or (stem[-1] == "어" and (stem[:-1] in h._EVERYDAY or stem[:-1] in h._other_words))
        or any(m.start == first.end and m.tag in ("XSV", "XSA") for m in morphs)
    ):
        return None
    return first.end


def features(seg: str, runs: list[tuple[int, int]], i: int, length: int) -> list[str]:
    """The features of the name candidate of ``length`` syllables at the start of word ``i``."""
    from compliance import _hangul as h

    start, end = runs[i]
    run = seg[start : min(end, start + h._MAX_RUN)]
    morphs = h._analyse(run)
    stem = run[:length]
    first = morphs[0]
    size = min(len(stem), 5)
    surname = "c" if stem[0] in h._COMMON_SURNAMES else "r" if stem[0] in h._SURNAMES else "n"
    loans = min(sum(c in h._LOAN_SYLLABLES for c in stem), 2)
    after = next((m for m in morphs if m.start >= length), None)
    f = [
        "tag=" + ("NNP" if first.tag == "NNP" else "OOV") + ("*" if first.oov else ""),
        f"len={size}",
        f"sur={surname}",
        f"sur_len={surname}{size}",
        f"loan={loans}",
        "last=" + stem[-1],
        "first=" + stem[0],
        "ptag=" + (after.tag if after else ("END" if end - start <= h._MAX_RUN else "LONG")),
        "psurf=" + run[length : length + 3],
        f"wd_h={min(h._human_n.get(stem, 0), 3)}",
        f"wd_o={min(h._other_n.get(stem, 0), 3)}",
        "pch=" + _kind(seg[start - 1] if start else ""),
        "nch=" + _kind(seg[end] if end < len(seg) else ""),
    ]
    if h._person_words.get(stem):
        f.append("wd_person")
    if stem in h._other_words:
        f.append("wd_other")
    if h._everyday(stem):
        f.append("everyday")
    if i > 0 and runs[i - 1][1] >= start - 2:
        a, b = runs[i - 1]
        last = h._analyse(seg[a : min(b, a + h._MAX_RUN)])[-1:]
        f += ["prev=" + seg[a : min(b, a + 3)], "prev2=" + seg[max(a, b - 2) : b],
              "prevtag=" + (last[0].tag if last else "")]
    else:
        f.append("prev=NONE")
    if i + 1 < len(runs) and runs[i + 1][0] <= end + 2:
        a, b = runs[i + 1]
        head = h._analyse(seg[a : min(b, a + h._MAX_RUN)])[:1]
        f += ["next=" + seg[a : min(b, a + 2)], "next3=" + seg[a : min(b, a + 3)],
              "nexttag=" + (head[0].tag if head else "")]
        if after is None:  # the word is the bare noun: what follows it says what it is
            f.append("bare_nexttag=" + (head[0].tag if head else ""))
    else:
        f.append("next=NONE")
    return f


def probability(m: Model, feats: list[str]) -> float:
    z = m.bias + sum(m.weights.get(f, 0.0) for f in feats)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


def name_at(seg: str, runs: list[tuple[int, int]], i: int) -> int | None:
    """The length of the name word ``i`` starts with, by the model; None if it is not one."""
    m = model()
    if m is None:
        return None
    start, end = runs[i]
    length = candidate(seg, start, end)
    if length is None:
        return None
    return length if probability(m, features(seg, runs, i, length)) >= m.threshold else None
