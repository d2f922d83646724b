"""Names and places that a cue word announces, in any letter case.

Clinical notes are written in capitals, in lower case or in both, so case says little there;
the words around a name say more. ``_context`` finds names after cues in properly cased text;
this module reads the cues of notes, checking each word against the lists (``_lexicon``):

* a title: ``mr nicholson``, ``MRS BRUCER``, ``Ms. Park`` (``MS`` alone is multiple sclerosis,
  so after ``ms`` the word must be a listed name that is not a common word);
* a relative: ``son bill``, ``DAUGHTER-KRISSY``, ``husband milovan``, ``Sons Smokey, Morris and
  Roger``, ``proxy is grandaughter: Irene Czyzewicz``, ``Hank Przybylo (son)``;
* a place: a hospital or facility named before its kind (``CALVERT HOSPITAL``, ``Kessler
  Adventist``, ``sacred heart Memorial``), a ward named with its number after a move
  (``transfer to Quartermain 2``), a hospital's initials after a move (``transferred to GH``,
  ``followed at gh``; units such as ICU, OR or ED are not places), a listed town after a move or
  a residence (``lives in catonsville``, ``Neil Meitz of Towson``).

A word qualifies as a name when it is a listed name, or no safe word at all, and is not one of
the function words a cue is often followed by (``son is``, ``daughter and``). Every look-up
reads a fixed window, so the cost is linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from compliance._kinds import Candidate, PhiKind
from compliance._lexicon import CLINICAL_SAFE, PROJECT_SAFE, Lexicon, lexicon
from compliance._tokens import PROVIDERS, RELATIONS, TITLES, WORD, Words, base, words_of


def _first_words(*phrases: str) -> frozenset[str]:
    """The first words of cue phrases, as ``Words.bases`` spells them ("in-law" -> "in")."""
    return frozenset(base(WORD.match(p).group()) for p in phrases)  # type: ignore[union-attr]


def _at_words(
    ws: Words, firsts: frozenset[str], pattern: re.Pattern[str]
) -> Iterator[re.Match[str]]:
    """The matches of ``pattern`` that start where a word in ``firsts`` starts: the same as
    ``pattern.finditer`` for a cue pattern that starts with one of those words after ``\\b``,
    at a set lookup per word instead of an alternation tried at every character."""
    text = ws.text
    for start in ws.starts_of(firsts):
        if m := pattern.match(text, start):
            yield m


CUE_RANK = 4

_TITLE = frozenset("mr mrs ms miss mx mister".split())
# Words that follow a relation word without being its name.
_STOP = frozenset(
    """
    is was are were and or but the a an his her their its who whom that this these those to in
    at on of for with from by as has had have will would can could may might should did does
    do not no yes also still here there now then today tonight yesterday tomorrow called calls
    call phoned visited visit visiting updated update aware present home spoke talked came
    came left went notified informed asked wants wanted states stated says said feels felt
    thinks believes reports reported brought took takes lives lived living stays stayed plans
    plan be been being very all both each every other another one two three four five many
    several some few number in-law law member members rn md dr np my me you your him them us
    we they he she i it its our mine yours himself herself themselves someone everyone
    """.split()
)
# Clinical units and places inside a hospital: where "transferred to X" does not name a place.
_UNITS = frozenset(
    """
    icu ccu micu sicu csru cvicu nicu picu tsicu nsicu ctu cvu ed er ew or pacu ir ep cath
    lab labs floor floors unit units ward room rm bed home osh oh ch ph pmh pcu ed er ew
    ct mri us xray x-ray ekg echo
    rehab snf ltac nh ltc hospice radiology endo gi pt ot ob icn step stepdown tele telemetry
    dialysis hd cvl ob-gyn neuro psych medicine surgery ortho cards onc oncology vascular
    ac psv ps cpap simv imv bipap prvc prv sbt vent trach rate mode settings baseline
    bb ho hos blood bank pharmacy radiology cath-lab
    the a an his her their this that our main same another other new old
    """.split()
)
# The kind of a facility, named after it: "Calvert Hospital", "Kessler Adventist".
_HEADS = frozenset(
    """
    hospital hosp hospitals infirmary adventist memorial sanatorium sanitarium hospice
    rehab rehabilitation clinic regional house manor campus pavilion shore
    """.split()
)
# Two-word kinds: "Greater Baltimore Medical Center", "Sunrise Nursing Home".
_HEAD_PAIRS = frozenset(
    {("medical", "center"), ("medical", "centre"), ("med", "ctr"), ("nursing", "home"),
     ("health", "center"), ("general", "hospital"), ("rehab", "center"),
     ("regional", "hospital"), ("care", "center"), ("rehabilitation", "center")}
)
_HEAD_FIRSTS = _HEADS | {first for first, _ in _HEAD_PAIRS}
# A move that names a facility: "transferred to GH"; not "back to", "go to".
_STRONG_MOVE = re.compile(
    r"(?i:\b(?:transfer(?:r?ed)?|trans|tx(?:'?d)?|admitted|adm|arrived|sent|discharged|"
    r"referred|followed|brought|flown|taken)(?:[ \t]+(?:back|over|directly))?"
    r"[ \t]+(?:to|from|at|into|by)[ \t]+(?:the[ \t]+)?)"
)
# Where someone lives or comes from: "lives in catonsville", "Neil Meitz of Towson".
_RESIDE = re.compile(
    r"(?i:\b(?:lives?|living|resides?|residing|moved|home|house|family|daughter|son|sister|"
    r"brother|wife|husband|\w+)[ \t]+(?:in|from|of|near)[ \t]+)"
)
_TITLE_RE = re.compile(r"(?i:\b(?:mr|mrs|ms|miss|mx|mister)\b\.?[ \t]*)")
# "family", "children" name no one in particular: "family stoic", "children visited".
_CUE_RELATIONS = RELATIONS - {"family", "children", "child", "kids", "contact", "siblings"}
_RELATION_RE = re.compile(
    r"(?i:\b(?:" + "|".join(sorted((re.escape(r) for r in _CUE_RELATIONS), key=len, reverse=True))
    + r")\b(?:['’]s)?)"
)
_RELATION_FIRSTS = _first_words(*_CUE_RELATIONS)
# What may stand between a relation word and the name: "son, bill", "DAUGHTER-KRISSY",
# "proxy is grandaughter: Irene", "sister named Ann", "son (Bill)".
_REL_GAP = re.compile(
    r"[ \t]*(?:[,:(\-–]+|[ \t]is|[ \t]named|[ \t]by[ \t]+the[ \t]+name[ \t]+of)?[ \t]*"
    r"(?:(?i:is|named)[ \t]+)?"
)
_LIST_GAP = re.compile(r"[ \t]*(?:,|&|\band\b|/)[ \t]*(?:and[ \t]+)?", re.IGNORECASE)
_ROLE_AFTER = re.compile(
    r"[ \t]*\((?i:" + "|".join(sorted(RELATIONS, key=len, reverse=True)) + r"|patient|pt)\)"
)
_WORD_AT = re.compile(r"[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+(?:['’][A-Za-z]+)?")


def _name_like(lex: Lexicon, word: str, strict: bool = False, titled: bool = False) -> bool:
    """Whether ``word`` reads as a name after a cue; ``titled``: right after Mr/Mrs/Miss, where
    a listed surname is one even when it is a common word ("mrs. Park", "MR YOUNG")."""
    b = base(word)
    if len(b) < 2 or b in _STOP or b in RELATIONS or b in TITLES or b in PROVIDERS:
        return False
    if b in _UNITS:
        return False
    if strict:  # after "ms": a listed name that is not a common word either
        return b in lex.names and (b not in lex.safe or lex.zipf_of(b) < 3.0)
    if b in lex.first or titled and b in lex.last:
        return True  # "son bill": a first name after a cue is a name, common word or not
    if b not in lex.safe:
        return b not in lex.foreign or word[0].isupper()
    return b in lex.last and lex.zipf_of(b) < 3.5


def _names_from(
    text: str, pos: int, lex: Lexicon, strict: bool, lists: bool, titled: bool = False
) -> Iterator[tuple[int, int]]:
    """Name words starting at ``pos``: one name of up to three words, then, if ``lists``,
    more names joined by commas or "and" (``Sons Smokey, Morris and Roger``)."""
    while True:
        m = _WORD_AT.match(text, pos)
        if not m or not _name_like(lex, m.group(), strict, titled):
            return
        start, end = m.start(), m.end()
        for _ in range(2):  # "Irene Czyzewicz", "Rich Martino", "mary ann smith"
            nxt = re.compile(r"[ \t]+(?:[A-Z]\.[ \t]*)?").match(text, end)
            if not nxt:
                break
            m2 = _WORD_AT.match(text, nxt.end())
            b2 = base(m2.group()) if m2 else ""
            if not m2 or not _name_like(lex, m2.group()) or (
                b2 in lex.safe and b2 not in lex.names
            ):
                break
            end = m2.end()
        yield start, end
        if not lists:
            return
        gap = _LIST_GAP.match(text, end)
        if not gap:
            return
        pos = gap.end()
        strict = False


# Someone spoken to or about, in notes: "spoke with suzette", "social: bill called",
# "page Suzette", "updated Helen". Only a listed first name counts here.
_TALK = re.compile(
    r"(?i:\b(?:spoke|speaking|talked|talking|met|meeting|updated|update|called|phoned|paged|"
    r"page|ask(?:ed)?[ \t]+for|social|visitor|visitors|accompanied[ \t]+by"
    r")\b(?:[ \t]+(?:with|to|by))?[ \t]*[:\-]?[ \t]*)"
)
_TALK_FIRSTS = _first_words(
    *"""spoke speaking talked talking met meeting updated update called phoned paged page ask
    asked social visitor visitors accompanied""".split()
)


def _first_name(lex: Lexicon, word: str) -> bool:
    b = base(word)
    return b in lex.first and b not in _STOP and b not in _UNITS and b not in RELATIONS


# Someone who names themselves or is quoted: "my name is mark pinto", "call me owen",
# "says björklund", "Thanks, Ines". The name must read as one (``_name_like``).
_INTRO = re.compile(
    r"(?i:\b(?:my[ \t]+name[ \t]+is|my[ \t]+name['’]s|name['’]s|call[ \t]+me|known[ \t]+as"
    r"|says|said|asks|asked|replied|adds|added|wrote|writes|thanks|regards|sincerely|cheers)"
    r"\b[ \t]*[,:\-]?[ \t]*)"
)
_INTRO_FIRSTS = _first_words(
    *"""my name call known says said asks asked replied adds added wrote writes thanks regards
    sincerely cheers""".split()
)
_L = "A-Za-zÀ-ÖØ-öø-ÿĀ-ſ"  # the letters of names written in Latin script
_PRONOUNS = frozenset("i i'm i'll i've i'd me we you he she they it this that there".split())
# "Mary's daughter", "John\'s wife" (an escaped quote, as JSON in a ticket writes it).
_OWNER_OF = re.compile(
    r"\\?['’]s[ \t]+(?i:"
    + "|".join(sorted((re.escape(r) for r in _CUE_RELATIONS), key=len, reverse=True))
    + r")\b"
)
_OWNER_BEFORE = re.compile(rf"(?<![{_L}])([{_L}]+)$")


# "KEEP ROMERO FAMILY AWARE", "the Nguyen family", "family of Mrs Okafor" is a title's.
# Each is found by the word after it (rare), then the word before (a look-back of bounded
# size): a pattern that starts at every word would cost more than all the rest of this layer.
_FAMILY_AFTER = re.compile(r"[ \t]+(?i:family|families|household)\b")
_SURNAME_BEFORE = re.compile(
    rf"(?<![{_L}'’-])([{_L}]+(?:['’-][{_L}]+)*)$"
)


def _first_and_unknown(ws: Words, lex: Lexicon) -> Iterator[Candidate]:
    """A listed first name and, right after it, a capitalised word of no vocabulary: "Gerry
    Masci arrived", "per Lopie Certusi", wherever they stand (the start of a line too, where
    the token model gives a capital little weight). The provider filter of ``phi`` still
    leaves "Dr. Whitney Okonkwo" readable."""
    text, case = ws.text, ws.case
    for i in range(len(ws) - 1):
        first, last = ws.words[i], ws.words[i + 1]
        if not (first[0].isupper() and last[0].isupper()) or (case == "M" and last.isupper()):
            continue
        b, b2 = ws.bases[i], ws.bases[i + 1]
        if (
            b in lex.first and b not in _STOP and b not in RELATIONS and b not in TITLES
            and b not in PROVIDERS and lex.zipf_of(b) < 5.0
            and len(b2) >= 3 and b2 not in lex.safe and b2 not in lex.foreign
            and b2 not in lex.places and b2 not in _UNITS and b2 not in _STOP
            and text[ws.spans[i][1] : ws.spans[i + 1][0]] == " "
            # in capitals, shorthand is unknown words too ("SANG DNG", "MIN RESIDS"): there the
            # second word must be a listed surname
            and (case != "U" or b2 in lex.last)
        ):
            yield ws.spans[i][0], ws.spans[i + 1][1], PhiKind.NAME, CUE_RANK


def _people(ws: Words, lex: Lexicon) -> Iterator[Candidate]:
    text = ws.text
    for f in _FAMILY_AFTER.finditer(text):
        m = _SURNAME_BEFORE.search(text, max(0, f.start() - 40), f.start())
        if not m:
            continue
        b = base(m.group(1))
        if (
            b not in _STOP and b not in _UNITS and b not in RELATIONS and b not in TITLES
            and b not in CLINICAL_SAFE and b not in PROJECT_SAFE
            and b in lex.last and lex.zipf_of(b) < 4.0
            and b not in lex.countries and b not in lex.states
        ):
            yield m.start(1), m.end(1), PhiKind.NAME, CUE_RANK
    yield from _first_and_unknown(ws, lex)
    for m in _at_words(ws, _INTRO_FIRSTS, _INTRO):
        w = _WORD_AT.match(text, m.end())
        if not w or base(w.group()) in _PRONOUNS:
            continue  # 'she says I'm going home', 'said it was'
        for start, end in _names_from(text, m.end(), lex, False, lists=True):
            yield start, end, PhiKind.NAME, CUE_RANK
    for o in _OWNER_OF.finditer(text):
        m = _OWNER_BEFORE.search(text, max(0, o.start() - 40), o.start())
        if m and _name_like(lex, m.group(1)):
            yield m.start(1), m.end(1), PhiKind.NAME, CUE_RANK
    for m in _at_words(ws, _TALK_FIRSTS, _TALK):
        w = _WORD_AT.match(text, m.end())
        if w and _first_name(lex, w.group()):
            for start, end in _names_from(text, w.start(), lex, False, lists=True):
                yield start, end, PhiKind.NAME, CUE_RANK
    for m in _at_words(ws, _TITLE, _TITLE_RE):
        title = base(m.group().strip(" .\t"))
        strict = title == "ms" and not m.group().strip().endswith(".")
        for start, end in _names_from(text, m.end(), lex, strict, lists=False, titled=True):
            yield start, end, PhiKind.NAME, CUE_RANK
    for m in _at_words(ws, _RELATION_FIRSTS, _RELATION_RE):
        gap = _REL_GAP.match(text, m.end())
        pos = gap.end() if gap else m.end()
        for start, end in _names_from(text, pos, lex, False, lists=True):
            yield start, end, PhiKind.NAME, CUE_RANK
    for m in _ROLE_AFTER.finditer(text):
        # "Hank Przybylo (son)": the words just before the role.
        lo = max(0, m.start() - 60)
        words = words_of(text[lo : m.start()])
        picked: list[tuple[int, int]] = []
        for s, e, word in reversed(words):
            if len(picked) == 3 or not _name_like(lex, word):
                break
            if picked and text[lo + e : picked[-1][0]].strip(" \t") != "":
                break
            picked.append((lo + s, lo + e))
        if picked and text[picked[0][1] : m.start()].strip() == "":
            yield picked[-1][0], picked[0][1], PhiKind.NAME, CUE_RANK


def _place_word(lex: Lexicon, word: str, case: str) -> bool:
    b = base(word)
    if b in _UNITS or b in _STOP or b in _HEADS or len(b) < 2:
        return b in ("st", "saint")
    if case == "M":
        return word[0].isupper()
    return b in lex.places or b in lex.place_words or b in lex.names or b not in lex.safe


def _head_at(ws: Words, i: int) -> int:
    """How many words the facility kind starting at word ``i`` takes (0: none)."""
    b = ws.bases[i]
    if i + 1 < len(ws) and (b, ws.bases[i + 1]) in _HEAD_PAIRS:
        return 2
    if b == "house" and i + 1 < len(ws) and ws.bases[i + 1] in _HOUSE_NOT_A_PLACE:
        return 0  # "HOUSE STAFF AWARE", "Regular House Diet"
    return 1 if b in _HEADS else 0


_HOUSE_NOT_A_PLACE = frozenset("staff officer officers diet call calls keeping md mds".split())


def _places(ws: Words, lex: Lexicon) -> Iterator[Candidate]:
    text, case = ws.text, ws.case
    words = [(s, e, w) for (s, e), w in zip(ws.spans, ws.words, strict=True)]
    bases = ws.bases
    for i in range(1, len(words)):
        if bases[i] not in _HEAD_FIRSTS:
            continue  # the cheap test first: most words start no facility kind
        size = _head_at(ws, i)
        if not size:
            continue
        # "CALVERT HOSPITAL", "Kessler-Adventist", "St. Mary's Hospital", "sacred heart Memorial"
        j, first = i - 1, None
        while j >= 0 and i - j <= 3:
            s, e, word = words[j]
            gap = text[e : words[j + 1][0]]
            if len(gap) > 3 or gap.strip(" \t.-'’") != "" or "\n" in gap:
                break
            if not _place_word(lex, word, case):
                break
            first = s
            j -= 1
        if first is None and _head_at(ws, i - 1) and ws.bases[i - 1] in (
            "memorial", "adventist", "general", "regional"
        ) and (case != "M" or ws.words[i - 1][0].isupper()):
            first = words[i - 1][0]  # "Memorial Hospital": the kind's own name
        if first is not None:
            yield first, words[i + size - 1][1], PhiKind.LOCATION, CUE_RANK
    # A town named with its state: "this towson maryland facility", "from Dover, Delaware".
    for i in range(1, len(words)):
        state = ws.bases[i]
        if len(state) <= 2 or state not in lex.states or not _STATE_GAP.fullmatch(
            text, words[i - 1][1], words[i][0]
        ):
            continue
        b = ws.bases[i - 1]
        capitalised = case == "M" and words[i - 1][2][0].isupper()
        if (
            b in lex.places and b not in lex.states and b not in _UNITS and b not in _STOP
            and (capitalised or lex.zipf_of(b) < 4.5)
        ):
            yield words[i - 1][0], words[i - 1][1], PhiKind.LOCATION, CUE_RANK
    for m in _at_words(ws, _MOVE_FIRSTS, _STRONG_MOVE):
        w = _WORD_AT.match(text, m.end())
        if not w:
            continue
        b = base(w.group())
        if b in _UNITS or b in _STOP or b in _HEADS or b.endswith(("icu", "ccu", "cu")):
            continue  # "transfer to PMICU", "to vicu": units of the hospital, not places
        after = text[w.end() : w.end() + 4]
        # "Quartermain 2": a ward with its floor; "GH": a hospital's initials, in capitals.
        ward = re.match(r"[ \t]*[0-9]{1,2}\b", after) is not None and b not in lex.safe
        acronym = 2 <= len(b) <= 4 and w.group().isupper() and case != "U" or (
            2 <= len(b) <= 4 and w.group().isupper() and lex.zipf_of(b) < 4.0
        )
        unknown = b not in lex.safe and b not in lex.foreign and len(b) > 3
        if b in lex.places or ward or acronym or unknown:
            end = w.end()
            nxt = re.compile(r"[ \t]+").match(text, end)
            if nxt and (w2 := _WORD_AT.match(text, nxt.end())) and (
                f"{b} {base(w2.group())}" in lex.places
            ):
                end = w2.end()
            yield w.start(), end, PhiKind.LOCATION, CUE_RANK
    # "St. Agnes", "ST. MARY", "Saint Joseph": a saint's name is an institution or a place.
    for m in _at_words(ws, _SAINT_FIRSTS, _SAINT):
        w = _WORD_AT.match(text, m.end())
        if w and _first_name(lex, w.group()):
            yield m.start(), w.end(), PhiKind.LOCATION, CUE_RANK
    # Hospitals named for a devotion, as many US hospitals are: "Holy Cross", "sacred heart",
    # "Good Samaritan", "Our Lady of Lourdes" (the kind after them is added by extend_places).
    for m in _at_words(ws, _DEVOTION_FIRSTS, _DEVOTION):
        parts = m.group().split()
        titled = case == "M" and all(w[0].isupper() for w in parts if w.lower() != "of")
        if titled or _TO_INSTITUTION.search(text, max(0, m.start() - 16), m.start()):
            yield m.start(), m.end(), PhiKind.LOCATION, CUE_RANK
    # A hospital named before its emergency room: "via amb from kernan ew", "-> GH EW today".
    for m in _BEFORE_ER.finditer(text):
        name, b = m.group(1), base(m.group(1))
        initials = 2 <= len(name) <= 4 and name.isupper() and case != "U"  # GH, WH, MGH
        common = b in lex.safe and lex.zipf_of(b) >= 3.0 and not initials
        if b not in _UNITS and b not in _STOP and b not in lex.states and not common:
            yield m.start(1), m.end(1), PhiKind.LOCATION, CUE_RANK
    # A ward named with its floor after a preposition: "on QUARTERMAIN 2", "per Blake 7 RN".
    for m in _at_words(ws, _WARD_FIRSTS, _WARD):
        b = base(m.group(1))
        if b not in lex.safe and b not in _UNITS and b not in _STOP:
            yield m.start(1), m.end(1), PhiKind.LOCATION, CUE_RANK
    # A hospital's initials after a preposition: "at GH", "by GBMC", "to MGH" (OSH, the
    # "outside hospital", and units are not places); "U Maryland", "Univ. of Iowa".
    for m in _HOSPITAL_INITIALS.finditer(text):
        word, b = m.group(1), base(m.group(1))
        common = b in lex.safe and lex.zipf_of(b) >= 3.5
        if b not in _UNITS and not common and (word.isupper() or case == "L"):
            yield m.start(1), m.end(1), PhiKind.LOCATION, CUE_RANK
    for m in _UNIVERSITY.finditer(text):
        w = _WORD_AT.match(text, m.end())
        if w and (base(w.group()) in lex.states or base(w.group()) in lex.places):
            yield m.start(), w.end(), PhiKind.LOCATION, CUE_RANK
    for m in _NUMBER_NAME_NUMBER.finditer(text):
        names = re.findall(r"[^\W\d_][^\s0-9]*", m.group())
        if all(not (base(w) in lex.safe and lex.zipf_of(base(w)) >= 3.0) for w in names):
            yield m.start(), m.end(), PhiKind.ADDRESS, CUE_RANK
    # A listed town after "to", "at", "from": "went to Harbor", "meeting at harbor".
    for m in _at_words(ws, _TO_FIRSTS, _TO_PLACE):
        w = _WORD_AT.match(text, m.end())
        if not w:
            continue
        b = base(w.group())
        capitalised = case == "M" and w.group()[0].isupper()
        if (
            b in lex.places and lex.places[b] >= 1000 and lex.zipf_of(b) < 4.5
            and b not in _UNITS and b not in _STOP and b not in lex.first
            and b not in lex.states  # states stay readable
            and (capitalised or b not in lex.safe)
        ):
            yield w.start(), w.end(), PhiKind.LOCATION, CUE_RANK
    # A postal code after a country, as an address's last line has it ("Mozambique 24925").
    for m in _TRAILING_CODE.finditer(text):
        lo = max(0, m.start() - 40)
        head = text[lo : m.start()].rstrip(" \t,").lower()
        if any(head.endswith(c) and (len(head) == len(c) or not head[-len(c) - 1].isalpha())
               for c in _ends(head, lex.countries)):
            yield m.start(1), m.end(1), PhiKind.ADDRESS, CUE_RANK
    for m in _RESIDE.finditer(text):
        w = _WORD_AT.match(text, m.end())
        if not w:
            continue
        b = base(w.group())
        nxt = re.compile(r"[ \t]+").match(text, w.end())
        w2 = _WORD_AT.match(text, nxt.end()) if nxt else None
        if w2 and f"{b} {base(w2.group())}" in lex.places:
            yield w.start(), w2.end(), PhiKind.LOCATION, CUE_RANK
        elif (
            b in lex.places and b not in _UNITS and b not in _STOP and b not in lex.states
            and (case != "M" or w.group()[0].isupper()) and lex.zipf_of(b) < 4.5
        ):
            yield w.start(), w.end(), PhiKind.LOCATION, CUE_RANK


_STATE_GAP = re.compile(r"[ \t]*,?[ \t]*")
_TO_PLACE = re.compile(r"(?i:\b(?:to|at|from|near|in)[ \t]+(?:the[ \t]+)?)")
_SAINT = re.compile(r"(?i:\b(?:st|saint|ste)\b\.?[ \t]*)")
_BEFORE_ER = re.compile(
    r"(?i:(?:\b(?:from|to|at|in|@|via)|->|>)[ \t]*)([A-Za-z][A-Za-z'’-]+)[ \t]+"
    r"(?i:ew|er|ed|e\.r\.)(?![A-Za-z])"
)
_TO_INSTITUTION = re.compile(r"(?i:\b(?:at|to|from|@|into|rehab|hospital)[ \t]*\(?[ \t]*$|\($)")
_DEVOTION = re.compile(
    r"(?i:\b(?:holy[ \t]+(?:cross|family|name|spirit|redeemer|trinity|rosary)"
    r"|sacred[ \t]+heart|good[ \t]+(?:samaritan|shepherd)"
    r"|our[ \t]+lady[ \t]+of(?:[ \t]+(?:the[ \t]+)?[a-z]+)?)\b)"
)
_WARD = re.compile(
    r"(?i:\b(?:to|on|from|at|per|in|into|onto)[ \t]+)([A-Za-z][a-z]{3,}|[A-Z]{4,})[ \t]+[0-9]{1,2}"
    # a sentence may end after the floor ("from quartermain 5."), a decimal may not ("in Peep 5.5")
    r"(?![0-9%]|[.:/][0-9])"
)
_HOSPITAL_INITIALS = re.compile(
    r"(?:\b(?i:at|to|from|by|@|for|into)[ \t]+)([A-Za-z]{0,3}(?:[Hh]|[Mm][Cc]|[Hh][Cc]))\b"
)
_UNIVERSITY = re.compile(r"(?:\bU|\b(?i:univ|university))\.?(?:[ \t]+of)?[ \t]+")
# A house number, a street's name and its number, as many countries write it: "22 Castelao 71",
# "89 Gammelhavn 36", "19 Sokolská 1475". Capitalised words only, so "2 units 3" is not one.
_NUMBER_NAME_NUMBER = re.compile(
    r"(?<![0-9A-Za-zÀ-ÿ.,/:-])[0-9]{1,5}[ \t]+(?:[A-ZÀ-ÖØ-ÞͰ-Ͽ][a-zß-öø-ÿͰ-Ͽ'’.-]{2,}[ \t]+){1,3}"
    r"[0-9]{1,5}[A-Za-z]?(?![0-9]|[.:/%][0-9]|[ \t]*(?:%|mg|mcg|cc|ml|am|pm|hrs?|min)\b)"
)
_TRAILING_CODE = re.compile(r"(?<=[A-Za-zÀ-ÿ])[ \t,]+([0-9]{4,6})(?![0-9A-Za-z])")


# The words each cue pattern above starts with (``_at_words``).
_MOVE_FIRSTS = _first_words(
    *"""transfer transferred transfered trans tx txd tx'd admitted adm arrived sent discharged
    referred followed brought flown taken""".split()
)
_SAINT_FIRSTS = _first_words("st", "saint", "ste")
_DEVOTION_FIRSTS = _first_words("holy", "sacred", "good", "our")
_TO_FIRSTS = _first_words("to", "at", "from", "near", "in")
_WARD_FIRSTS = _first_words("to", "on", "from", "at", "per", "in", "into", "onto")


def _ends(head: str, names: frozenset[str]) -> Iterator[str]:
    """The names of ``names`` that could end ``head`` (one to four words)."""
    parts = head.split()
    for k in range(1, min(4, len(parts)) + 1):
        candidate = " ".join(parts[-k:])
        if candidate in names:
            yield candidate


def detect(ws: Words) -> Iterator[Candidate]:
    """Names after titles and relation words, and places after moves and before their kind."""
    lex = lexicon()
    yield from _people(ws, lex)
    yield from _places(ws, lex)


# The kind of a place, written after its name: "LAUREL REGIONAL", "Grieco House NH", "North
# Campus", "sacred heart Memorial", "Eastern Shore". The name alone is found by the layers above;
# the kind after it is part of the place too, and one word of the name may stand between.
_KIND_AFTER = frozenset(
    """
    hospital hosp hospitals infirmary adventist memorial regional general medical center centre
    ctr clinic clinics rehab rehabilitation nursing home nh snf house manor campus pavilion
    hospice sanatorium shore county
    """.split()
)
_NEXT_WORD = re.compile(r"[ \t]+(?:-[ \t]*)?([A-Za-z][A-Za-z'’]*)")


def extend_places(text: str, places: list[tuple[int, int]]) -> Iterator[Candidate]:
    """The found places ``(start, end)`` widened over the kind of place written after them."""
    for start, end in places:
        pos, new_end, between = end, end, 0
        while (m := _NEXT_WORD.match(text, pos)) and m.end() - end <= 40:
            b = base(m.group(1))
            if b in _KIND_AFTER:
                new_end, between = m.end(), 0
            elif between or b in _STOP or b in _UNITS or len(b) < 2:
                break
            else:
                between = 1  # "sacred heart Memorial": one word of the name before its kind
            pos = m.end()
        if new_end > end:
            yield start, new_end, PhiKind.LOCATION, CUE_RANK


_LIST_BEFORE = re.compile(r"([A-Za-zÀ-ÖØ-öø-ÿĀ-ſ]+)[ \t]*(?:,|&|/|\band\b)[ \t]*(?:and[ \t]+)?$")


def extend_names(text: str, names: list[tuple[int, int]]) -> Iterator[Candidate]:
    """Words listed with a found name that are names too: "Victor, Evan and April", "smit,
    zhang and edwards". A listed name that is also a common word (April, Crystal, Will) needs
    two found names in the list; one that is no common word needs one."""
    lex = lexicon()
    found = {start for start, _ in names}
    listed: set[int] = set()  # words already in a list walked: each list is walked once
    for start, end in names:
        if start in listed:
            continue
        run: list[tuple[int, int]] = []
        pos = end
        while (gap := _LIST_GAP.match(text, pos)) and (w := _WORD_AT.match(text, gap.end())):
            run.append(w.span())
            pos = w.end()
        pos = start
        while m := _LIST_BEFORE.search(text, max(0, pos - 40), pos):
            run.append(m.span(1))
            pos = m.start(1)
        listed.update(s for s, _ in run)
        seen = 1 + sum(1 for s, _ in run if s in found)
        for s, e in run:
            if s in found:
                continue
            b = base(text[s:e])
            if (
                b not in lex.names or b in _STOP or b in _UNITS or b in RELATIONS
                or b in lex.countries or b in lex.states
            ):
                break
            rare = b not in lex.safe and lex.zipf_of(b) < 3.0
            if rare or seen >= 2 and (b in lex.first or lex.zipf_of(b) < 4.0):
                yield s, e, PhiKind.NAME, CUE_RANK
