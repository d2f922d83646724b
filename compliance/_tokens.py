"""Names and places without a cue: a token classifier over the word lists.

A word is a person's name or a place when the lists and the words around it say so together:
"Przybylo" is in no vocabulary but in the surname lists; "bill" after "son" is a name, after
"the" a document; "Calvert" before "Hospital" is a place. Each candidate word gets a few dozen
binary features (its shape and the text's case, whether the safe vocabulary, the census name
lists or GeoNames hold it and how common it is, the cue words and punctuation around it), and
a multinomial logistic regression scores them: P(name), P(place), P(other). Its weights are in
``compliance/data/phi_tokens.json``, fitted by ``benchmarks/phi_train.py`` (which data, and why
that and not a transformer: see there and ``benchmarks/reports/phi.md``). Feature extraction
lives here only, so training and detection cannot drift apart.

Words that cannot be PHI by the lists (a common safe word that is no name and no place, in
lower case or at the start of a sentence) are never scored, which keeps this near 1 ms per KB.
The words' own spellings are never features, only the cue words around them (``son``, ``mr``,
``hospital``), so the weights hold no name from the data they were fitted on.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from compliance._kinds import Candidate, PhiKind
from compliance._lexicon import Lexicon, lexicon, name_form
from compliance._stopnames import NOT_NAMES

TOKEN_RANK = 5  # the weakest reading: any cue, pattern or registered name beats it

WORD = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+(?:['’][A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+)*")

# Cue words, matched on the lower-cased word. They are features, not rules: the model weighs
# them against everything else it sees.
TITLES = frozenset("mr mrs ms miss mx mister madam sr sra srta mme mlle herr frau".split())
PROVIDERS = frozenset("dr doctor drs np pa rn md do prof professor rrt lpn cnm crna".split())
RELATIONS = frozenset(
    """
    husband wife spouse partner son sons daughter daughters dtr dau mother mom mum father dad
    sister sisters sis brother brothers bro grandson granddaughter grandaughter grandmother
    grandfather grandma grandpa grandchild grandchildren aunt uncle niece nephew cousin
    guardian caregiver proxy hcp poa friend neighbor neighbour fiance fiancee boyfriend
    girlfriend stepson stepdaughter stepmother stepfather inlaw in-law sibling siblings
    children child kids family contact nok
    """.split()
)
PLACE_HEADS = frozenset(
    """
    hospital hosp hospitals medical med center centre ctr clinic clinics rehab rehabilitation
    memorial adventist general regional infirmary hospice sanatorium nursing home institute
    university univ college health healthcare campus manor pavilion county city township
    village town street st avenue ave road rd
    """.split()
)
MOVES = frozenset(
    """
    from to at in into transfer transferred transfered tx txd trans admitted adm arrived came
    sent discharged dc'd going go return returned returning referred followed lives live
    living resides resident reside moved near visiting via
    """.split()
)
_SENTENCE_END = frozenset(".!?:;\n")
# Characters that glue a word into an identifier, a key or a path when nothing parts them.
_MACHINE = frozenset("=_/@\\{}[]`")


def _glued(text: str, start: int, end: int, word: str) -> bool:
    """Whether the word is glued into an identifier, a key or a path: ``new=True``,
    ``avi:jira:issue``, ``src/main``, ``jira-webhook`` (a "Name: Jane" label is not)."""
    before = text[start - 1] if start else " "
    after = text[end] if end < len(text) else " "
    if before in _MACHINE or after in _MACHINE:
        return True
    if before == ":" and start >= 2 and text[start - 2].isalnum():
        return True
    if after == ":" and end + 1 < len(text) and text[end + 1].isalnum():
        return True
    return word.islower() and (before == "-" or after == "-")
# A capital after the second letter, not as in McDonald, MacArthur, O'Brien, DeLuca, LaToya.
_CAMEL = re.compile(r"(?!(?:Mc|Mac|O['’]|D['’]|De|Di|Da|La|Le|Van|Von)[A-Z])[A-Z][a-z]+[A-Z]")
_CUE_TAGS: dict[str, tuple[str, ...]] = {}
for _cues, _tag in (
    (TITLES, "title"),
    (PROVIDERS, "provider"),
    (RELATIONS, "relation"),
    (PLACE_HEADS, "head"),
    (MOVES, "move"),
):
    for _word in _cues:
        _CUE_TAGS[_word] = (*_CUE_TAGS.get(_word, ()), _tag)


@dataclass(frozen=True, slots=True)
class Model:
    weights: dict[str, tuple[float, float]]  # feature -> (name, place) weight; other is 0
    bias: tuple[float, float]
    threshold: float  # P(name) + P(place) at or above it makes a word PHI


_DATA = Path(__file__).with_name("data") / "phi_tokens.json"
_lock = threading.Lock()
_model: Model | None = None


def model() -> Model:
    global _model
    if _model is None:
        with _lock:
            if _model is None:
                raw = json.loads(_DATA.read_text(encoding="utf-8"))
                _model = Model(
                    weights={k: (v[0], v[1]) for k, v in raw["weights"].items()},
                    bias=(raw["bias"][0], raw["bias"][1]),
                    threshold=float(raw["threshold"]),
                )
    return _model


_UPPER = re.compile(r"[A-ZÀ-ÖØ-Þ]")
_LOWER = re.compile(r"[a-zß-öø-ÿ]")


def text_case(text: str, sample: int = 4000) -> str:
    """'U' for text written mostly in capitals, 'L' for almost no capitals, else 'M'."""
    head = text[:sample]
    upper = len(_UPPER.findall(head))
    lower = len(_LOWER.findall(head))
    ratio = upper / max(1, upper + lower)
    return "U" if ratio > 0.6 else ("L" if ratio < 0.03 else "M")


def _shape(word: str) -> str:
    if word.isupper():
        return "X" if len(word) > 1 else "I"
    if word.islower():
        return "x"
    if word[0].isupper() and word[1:].islower():
        return "Xx"
    return "Xm"


def base(word: str) -> str:
    """The word as the lists spell it: lower case, without a possessive 's."""
    low = word.lower().replace("’", "'")
    return low[:-2] if low.endswith("'s") else low


def _bucket(value: float, edges: tuple[float, ...]) -> int:
    for i, edge in enumerate(edges):
        if value < edge:
            return i
    return len(edges)


def _lexical(lex: Lexicon, b: str) -> tuple[bool, bool, bool]:
    """(safe word, name, place) for a base form."""
    return b in lex.safe, name_form(lex, b) in lex.names, b in lex.places or b in lex.place_words


def candidate(
    lex: Lexicon, word: str, b: str, case: str, initial: bool, beside_first_name: bool = False
) -> bool:
    """Whether a word is worth scoring at all; everything else is plainly not PHI."""
    if b in TITLES or b in PROVIDERS or b in RELATIONS or b in NOT_NAMES:
        return False  # cue words are features of their neighbours, never names themselves
    if _CAMEL.match(word):
        return False  # ValueError, TaskSmith, JavaScript: code and product names
    safe, name, place = _lexical(lex, b)
    if word.islower() and b in lex.foreign and b not in lex.first:
        return False  # an everyday word of another language: "jeudi", "aucune"
    if case == "M" and word.islower() and safe:
        return False  # running text capitalises names; this is a word of the language
    if case == "L" and not name and not place and not beside_first_name:
        # All in lower case (notes, log lines): an unknown word is shorthand or jargon far more
        # often than a name ("worklist", "dedupe"), unless it stands beside a first name
        # ("joshua gavrilov"); other lower-case names come with a cue (_cues).
        return False
    if case != "M" and safe and lex.zipf_of(b) >= 4.0:
        return False  # notes in one case: an everyday word is a name only after a cue (_cues)
    if not safe or name or place:
        return len(b) > 1 or word.isupper()
    # A safe word that is no name and no place: only a capital in running text makes it one.
    return case == "M" and word[0].isupper() and not initial and lex.zipf_of(b) < 4.0


def _prev_char(text: str, start: int) -> str:
    j = start - 1
    while j >= 0 and text[j] in " \t":
        j -= 1
    return text[j] if j >= 0 else "\n"


def _next_char(text: str, end: int) -> str:
    k = end
    while k < len(text) and text[k] in " \t":
        k += 1
    return text[k] if k < len(text) else "\n"


def _punct(ch: str) -> str:
    if ch in ".,:;()-/#&\n'\"":
        return ch
    return "d" if ch.isdigit() else ("a" if ch.isalpha() else "o")


class Words:
    """The words of one text with what the lists say of each, computed once per text."""

    __slots__ = ("text", "case", "spans", "words", "bases", "shapes", "_lex", "_flags", "_at")

    def __init__(self, text: str) -> None:
        self.text = text
        self.case = text_case(text)
        found = list(WORD.finditer(text))
        self.spans = [(m.start(), m.end()) for m in found]
        self.words = [m.group() for m in found]
        self.bases = [base(w) for w in self.words]
        self.shapes = [_shape(w) for w in self.words]
        self._lex = lexicon()
        self._flags: dict[int, tuple[bool, bool, bool]] = {}
        self._at: dict[str, list[int]] | None = None

    def __len__(self) -> int:
        return len(self.words)

    def flags(self, i: int) -> tuple[bool, bool, bool]:
        """(safe word, name, place) of word ``i``."""
        got = self._flags.get(i)
        if got is None:
            got = self._flags[i] = _lexical(self._lex, self.bases[i])
        return got

    def starts_of(self, bases: frozenset[str]) -> list[int]:
        """Where the words whose base is in ``bases`` start, in order (an index built once)."""
        if self._at is None:
            at: dict[str, list[int]] = {}
            for (start, _), b in zip(self.spans, self.bases, strict=True):
                at.setdefault(b, []).append(start)
            self._at = at
        found = [start for b in bases if b in self._at for start in self._at[b]]
        found.sort()
        return found

    def initial(self, i: int) -> bool:
        return _prev_char(self.text, self.spans[i][0]) in _SENTENCE_END


def _own(lex: Lexicon, b: str, shape: str, case: str) -> list[str]:
    """Features of the word itself: what the lists say of it, and its shape."""
    safe = b in lex.safe
    nb = name_form(lex, b)
    name = nb in lex.names
    z = _bucket(lex.zipf.get(b, 0.0), (1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0, 6.0))
    return [
        f"shape={shape}{case}",
        f"len={_bucket(len(b), (2, 3, 4, 6, 9))}",
        f"safe={safe:d}",
        f"z={z}{safe:d}",
        f"zs={z}{shape}{case}",
        f"first={_bucket(lex.first.get(nb, 0.0), (1e-9, 0.005, 0.05, 0.3))}",
        f"last={_bucket(lex.last.get(nb, 0.0), (1e-9, 0.001, 0.01, 0.05))}",
        f"listed={name:d}{safe:d}",
        f"place={_bucket(lex.places.get(b, 0), (1, 5000, 50000, 500000))}"
        f"{int(b in lex.place_words)}",
        f"county={int(b in lex.counties)}{int(b in lex.states)}",
        f"foreign={int(b in lex.foreign)}{shape}",
    ]


def _around(prev_ch: str, next_ch: str, shape: str) -> list[str]:
    """Features of the punctuation on either side."""
    initial = prev_ch in ".:;" or prev_ch == "\n"
    return [f"prev={prev_ch}", f"next={next_ch}", f"initial={initial:d}{shape}"]


def _neighbour(lex: Lexicon, offset: int, nb: str, shape: str) -> list[str]:
    """Features of the word ``offset`` places away (``nb`` its base form)."""
    if not nb:
        return [f"w{offset:+d}=^$"]
    n_safe, n_name = nb in lex.safe, name_form(lex, nb) in lex.names
    f = [f"c{offset:+d}={n_safe:d}{n_name:d}{shape}"]
    # Only cue words are features by their spelling, never the data's names or places.
    f.extend(f"{tag}{offset:+d}" for tag in _CUE_TAGS.get(nb, ()))
    if n_safe and not n_name and lex.zipf.get(nb, 0.0) >= 3.0:
        f.append(f"w{offset:+d}={nb}")
    return f


def _context(ws: Words, i: int) -> tuple[str, str, list[tuple[int, str, str]]]:
    start, end = ws.spans[i]
    prev_ch = _punct(_prev_char(ws.text, start))
    next_ch = _punct(_next_char(ws.text, end))
    n = len(ws)
    neighbours = [
        (o, ws.bases[i + o], ws.shapes[i + o]) if 0 <= i + o < n else (o, "", "")
        for o in (-2, -1, 1, 2)
    ]
    return prev_ch, next_ch, neighbours


def features(ws: Words, i: int) -> list[str]:
    """The features of word ``i`` of ``ws`` (training reads them; detection sums their
    weights through the caches of ``_Scorer``, from the same three functions)."""
    lex = ws._lex
    prev_ch, next_ch, neighbours = _context(ws, i)
    f = _own(lex, ws.bases[i], ws.shapes[i], ws.case) + _around(prev_ch, next_ch, ws.shapes[i])
    for offset, nb, shape in neighbours:
        f.extend(_neighbour(lex, offset, nb, shape))
    return f


class _Scorer:
    """The model's score of a word: the sum of its features' weights, each part cached (the
    same word in the same shape, the same neighbour at the same place, recur all the time)."""

    def __init__(self, m: Model, lex: Lexicon) -> None:
        self.m, self.lex = m, lex
        self._own: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._around: dict[tuple[str, str, str], tuple[float, float]] = {}
        self._near: dict[tuple[int, str, str], tuple[float, float]] = {}

    def _sum(self, feats: list[str]) -> tuple[float, float]:
        a = c = 0.0
        for feat in feats:
            w = self.m.weights.get(feat)
            if w is not None:
                a += w[0]
                c += w[1]
        return a, c

    def score(self, ws: Words, i: int) -> tuple[float, float]:
        """(P(name), P(place))."""
        lex = self.lex
        prev_ch, next_ch, neighbours = _context(ws, i)
        key = (ws.bases[i], ws.shapes[i], ws.case)
        own = self._own.get(key)
        if own is None:
            own = self._own[key] = self._sum(_own(lex, *key))
        key2 = (prev_ch, next_ch, ws.shapes[i])
        around = self._around.get(key2)
        if around is None:
            around = self._around[key2] = self._sum(_around(*key2))
        a, c = self.m.bias[0] + own[0] + around[0], self.m.bias[1] + own[1] + around[1]
        for near_key in neighbours:
            near = self._near.get(near_key)
            if near is None:
                if len(self._near) > 200_000:
                    self._near.clear()  # bounded: a long foreign text cannot grow it forever
                near = self._near[near_key] = self._sum(_neighbour(lex, *near_key))
            a += near[0]
            c += near[1]
        top = max(a, c, 0.0)
        ea, ec, eo = math.exp(a - top), math.exp(c - top), math.exp(-top)
        total = ea + ec + eo
        return ea / total, ec / total


_scorer: _Scorer | None = None


def _get_scorer() -> _Scorer:
    global _scorer
    if _scorer is None:
        _scorer = _Scorer(model(), lexicon())
    if len(_scorer._own) > 200_000:
        _scorer._own.clear()
    return _scorer


def words_of(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group()) for m in WORD.finditer(text)]


def _title_lines(ws: Words) -> set[int]:
    """The words of lines written in Title Case ("In Progress", "User Agent", "Ledger
    Management"): Jira statuses, field names, page titles and headings capitalise every word,
    so a capital there says nothing of a name."""
    out: set[int] = set()
    line: list[int] = []
    text = ws.text

    def close() -> None:
        long = [j for j in line if len(ws.words[j]) > 3]
        if len(line) >= 2 and long and all(ws.words[j][0].isupper() for j in long) and not all(
            ws.words[j].isupper() for j in long
        ):
            out.update(line)
        line.clear()

    prev_end = 0
    for i, (start, end) in enumerate(ws.spans):
        if "\n" in text[prev_end:start]:
            close()
        line.append(i)
        prev_end = end
    close()
    return out


# candidate()'s answers: it depends on the word, the text's case and the two flags only, and
# the same words recur in every text.
_worth: dict[tuple[str, str, bool, bool], bool] = {}


def candidates(ws: Words) -> Iterator[int]:
    """The indexes of the words worth scoring."""
    lex = ws._lex
    bases, n, text = ws.bases, len(ws), ws.text
    titled = _title_lines(ws) if ws.case == "M" else set()
    for i, word in enumerate(ws.words):
        if _glued(text, *ws.spans[i], word):
            continue  # part of an identifier: type=avi:jira:issue, new=True, jira-webhook
        if i in titled and ws.flags(i)[0] and lex.zipf_of(bases[i]) >= 3.5:
            continue  # an everyday word in a Title Case line: "Web Apps", "Radio Buttons"
        beside = ws.case == "L" and any(
            0 <= j < n and name_form(lex, bases[j]) in lex.first and lex.zipf_of(bases[j]) < 4.5
            for j in (i - 1, i + 1)
        )
        key = (word, ws.case, ws.initial(i), beside)
        worth = _worth.get(key)
        if worth is None:
            if len(_worth) > 200_000:
                _worth.clear()  # bounded: a long foreign text cannot grow it forever
            worth = _worth[key] = candidate(lex, word, bases[i], *key[1:])
        if worth:
            yield i


def classify(ws: Words) -> list[tuple[int, int, int]]:
    """(start, end, label) of every word scored PHI: label 1 a name, 2 a place."""
    if len(ws) < 2:
        # One word alone (a tag, an id, a status such as "ok" or "acme") gives the model no
        # context to weigh; the cue layers and the tenant's registered names still read it.
        return []
    scorer = _get_scorer()
    threshold = scorer.m.threshold
    out: list[tuple[int, int, int]] = []
    for i in candidates(ws):
        p_name, p_place = scorer.score(ws, i)
        if p_name + p_place >= threshold:
            out.append((*ws.spans[i], 1 if p_name >= p_place else 2))
    return out


def _joinable(text: str, end: int, start: int) -> bool:
    """Two PHI words form one span when only a space, a hyphen or an initial's dot parts them."""
    gap = text[end:start]
    return len(gap) <= 3 and gap.strip(" .-'’") == "" and "\n" not in gap


def detect(ws: Words) -> Iterator[Candidate]:
    """Names and places the classifier finds, adjacent words joined into one span."""
    text = ws.text
    spans: list[list[int]] = []
    for start, end, label in classify(ws):
        if spans and _joinable(text, spans[-1][1], start):
            spans[-1][1] = end
            spans[-1][2] = min(spans[-1][2], label)  # a name with a place word stays a name
        else:
            spans.append([start, end, label])
    for start, end, label in spans:
        kind = PhiKind.NAME if label == 1 else PhiKind.LOCATION
        yield start, end, kind, TOKEN_RANK
