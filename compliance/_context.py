"""Detectors for PHI that only context tells apart: dates and person names.

A date is PHI when it is about a person's care; a capitalised word is a name when the words
around it say it is a patient or a relative. ``compliance.phi`` documents the policy; every look
at the context reads a window of fixed size, so the cost stays linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from compliance._kinds import NOT_BEFORE, Candidate, PhiKind, PhiSpan
from compliance._lexicon import Lexicon, lexicon
from compliance._stopnames import NOT_NAMES

DATE_RANK, NAME_RANK = 3, 4

# ---------------------------------------------------------------- dates

_MONTH = (
    r"(?i:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:(?i:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day),? +)?"
_DAY = r"(?:[12][0-9]|3[01]|0?[1-9])(?i:st|nd|rd|th)?"
_YEAR = r"(?:1[89]|20)[0-9]{2}"
_TIME = r"(?:[T ][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
_DATE = re.compile(
    r"(?<![0-9A-Za-z])(?<![0-9][-./])(?:"
    + rf"{_YEAR}([-/])[0-9]{{1,2}}\1[0-9]{{1,2}}{_TIME}"  # 2024-03-18, 2024-03-18T14:22Z
    + r"|[0-9]{1,2}([/-])[0-9]{1,2}\2(?:[0-9]{4}|[0-9]{2})"  # 3/18/2024, 03-18-24
    + rf"|[0-9]{{1,2}}\.[0-9]{{1,2}}\.{_YEAR}"  # 18.03.2024
    + rf"|{_WEEKDAY}{_MONTH} +{_DAY}(?:,? +{_YEAR})?(?![0-9:])"  # Tuesday, May 14, 2024; Mar 3
    + rf"|{_DAY} +(?:of +)?{_MONTH}(?:,? +{_YEAR})?"  # 12 March 2024, 3rd of May
    + rf"|(?:0?[1-9]|1[0-2])/{_YEAR}"  # 02/2022
    # 19790314, as HL7 writes it; not inside a file or job name (claims_20240501.csv)
    + rf"|(?<![_-]){_YEAR}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])(?![_-]|\.[A-Za-z])"
    + rf"|{_MONTH},? +{_YEAR}"  # June 2019
    + r")"
    + NOT_BEFORE
)
# How clinical notes write dates: 7/22, 10/18/03, 12/82 (month and two-digit year), and the
# month on its own after a preposition ("in sept", "MARCH OF 1993"), the day as "the 11th".
_SHORT_DATE = re.compile(
    r"(?<![0-9A-Za-z/.\-])(?<![0-9]:)"
    r"(?:(?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])(?:/(?:[0-9]{4}|[0-9]{2}))?"
    r"|(?:0?[1-9]|1[0-2])/(?:[4-9][0-9]|0[0-9])(?!%))"
    r"(?![0-9]|/[0-9]|\.[0-9]|[-+][0-9])"
)
_MONTH_ALONE = re.compile(
    r"(?i:\b(?:in|since|until|till|during|early|late|mid|by|of|last|next|this|before|after)"
    r"[ \t]+(?:-[ \t]*)?)"
    r"((?i:jan(?:uary)?|feb(?:ruary)?|march|apr(?:il)?|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?)"
)
_ORDINAL_DAY = re.compile(
    r"(?i:\b(?:on[ \t]+)?the[ \t]+)((?:[12][0-9]|3[01]|0?[1-9])(?i:st|nd|rd|th))\b"
)
# A month and day with a dash after "on" ("returned to OR on 7-8"); ranges are counted in
# something ("on 2-3 L", "on 7-8 days") or come without "on".
_ON_DASHED_DAY = re.compile(
    r"(?i:\bon[ \t]+)((?:0?[1-9]|1[0-2])-(?:0?[1-9]|[12][0-9]|3[01]))"
    r"(?![0-9]|-[0-9]|[.,][0-9]|[ \t]*(?i:l\b|lpm|liters?|%|mg|mcg|units?|u\b|cc|ml|cm|mm|hrs?\b"
    r"|hours?|days?|d\b|weeks?|wks?|months?|times|x\b|pts?\b|points?|people|breaths|bpm|ng|nc"
    r"|lit|/))"
)
# A date typed against the word before it, as hurried notes do ("seen on10/14/82", "d/c
# planned for12/3"): only after the handful of words that introduce a date, so that versions
# and codes glued to letters ("v2/3", "A1/2") stay what they are.
_GLUED_DATE = re.compile(
    r"(?i:\b(?:on|for|since|seen|from|until|till|dated?|by|of|admitted|discharged))"
    r"((?:0?[1-9]|1[0-2])/(?:0?[1-9]|[12][0-9]|3[01])(?:/(?:[0-9]{4}|[0-9]{2}))?)"
    r"(?![0-9]|/[0-9]|\.[0-9]|[-+][0-9])"
)
# Numbers with a slash that are not dates: halves and thirds ("1/2 NS", "rales 1/3 up"), pain
# scores ("CP 4/10"), ventilator settings ("PSV 10/5", "CPAP 5/5"), strength grades.
_FRACTION = re.compile(r"1/[234]|2/3|3/4")
_PAIN_SCORE = re.compile(r"(?i:\b(?:pain|cp|discomfort|c/o|rates?|scale|score|ha|headache)\b)")
_NOT_DATE_BEFORE = re.compile(
    r"(?i:\b(?:psv?|ips|cpap|peep|flowby|fio2|ac|simv|imv|bipap|bi-pap|ps|prvc|vent\w*|"
    r"settings?|mode|mask|rales|crackles|pain|cp|strength|grade|murmur|sem|pulses?|edema|x|"
    r"times|co/ci|ci|rated?|scored?|#)[ \t:=(]*$)"
)
# Ventilator settings ("CPAP/PS of 10/5", "mode decreased to 8/5") name their mode first.
_VENT = re.compile(r"(?i:\b(?:psv?|ips|cpap|peep|bipap|bi-pap|simv|imv|prvc|vent)\b)")
_NOT_DATE_AFTER = re.compile(
    r"(?i:[ \t]*(?:ns\b|normal|str(?:ength)?\b|way|up\b|of\b|pain|cp\b|cm|mm|mg|mcg|units?"
    r"|tabs?|tsp|cc|ml|l\b|lpm|%|peep|ps\b|x\b|rr|breaths|grade|\+|/|hours?|hrs?|amp|rate"
    r"|dose|sem|murmur|systolic|strength|psv|cpap|with[ \t]+sats|w[ \t]+sat))"
)

_MONTH_YEAR = re.compile(rf"{_MONTH},? +{_YEAR}")
_NUMERIC_MONTH_YEAR = re.compile(rf"(?:0?[1-9]|1[0-2])/{_YEAR}")

# Words that make a nearby date a fact about a person's care.
_CLINICAL = re.compile(
    r"(?i:\b(?:dob|d\.o\.b|date +of +(?:birth|death|service|injury)|birth ?date|birthday|born"
    r"|admit\w*|admission|readmi\w*|discharg\w*|d/c|seen|visit\w*|appointment|appts?|surg\w*"
    r"|operat(?:ed|ion)|procedures?|post-?op|pre-?op|s/p|underwent|diagnos\w*|dx|deceased|died"
    r"|death|passed +away|presented|presenting|triage|ed|er|emergency|urgent +care|transferred"
    r"|delivered|delivery|labs?|drawn|mri|ct|x-?rays?|ultrasound|imaging|scan|biopsy"
    r"|colonoscopy|mammogram|endoscopy|vaccin\w*|immuniz\w*|influenza|booster|injection"
    r"|administered|infusion|prescribed|refill\w*|encounter|dos|follow[- ]?up|f/u|clinic"
    r"|hospital\w*|icu|consult\w*|injur\w*|onset|symptoms?|patient|pt|consent|treated"
    r"|treatment|therapy|chemo\w*|dialysis|pregnan\w*|lmp|autopsy|y/?o|ems|hospice|rehab|exam"
    r"|fell|fracture"
    # "expired" is how a chart says a patient died; a token or a licence expiring is not.
    r"|(?<!token )(?<!session )(?<!cert )(?<!certificate )(?<!license )(?<!licence )"
    r"(?<!key )(?<!password )(?<!link )(?<!trial )(?<!jwt )expired)\b)"
)
# Words that make a nearby date project metadata; the nearer kind of word wins.
_PROJECT = re.compile(
    r"(?i:\b(?:due(?![ \t]+to\b)|sprints?|releas\w*|deploy\w*|deadline|milestones?|freeze"
    r"|go-live|ga|rc|demo"
    r"|retro|planning|standup|created|updated|resolved|closed|merged|shipped|changelog|snapshot"
    r"|timestamps?|build|version|pto|starts?|ends?|eta|target|kickoff|roadmap|backup|cron"
    r"|effective|reindex\w*|migrat\w*|postmortem|outage|incident|throttl\w*|posted|meeting"
    r"|ran|run|training|templates?|starting|renews?|renewal|cutover|review|budget|contract"
    r"|invoice|quarter|fiscal|q[1-4]|published|studies|study|cohort|recruit\w*"
    r"|enrol\w*|conducted|surveyed|registry|database|v[0-9]+(?:\.[0-9]+)*)\b)"
)
# Where a sentence or clause ends; context does not cross it.
_BOUNDARY = re.compile(
    r"(?<!\bMrs)(?<!\bMs)(?<!\bvs)(?<!\betc)(?<!\bapprox)"
    r"(?:(?<=[a-z]{2})|(?<=[0-9])|(?<=\)))[.!?](?=\s)|[;\n]"
)
_BEFORE, _AFTER = 60, 30
_LIST_JOIN = re.compile(
    r"\s*(?:,|&|/|\band\b|\bor\b|\bto\b|\bthrough\b|\bthru\b|-|–)\s*(?:and\s+)?"
)


def _clause_before(text: str, start: int) -> tuple[int, int]:
    lo = max(0, start - _BEFORE)
    for boundary in _BOUNDARY.finditer(text, lo, start):
        lo = boundary.end()
    return lo, start


def _clause_after(text: str, end: int) -> tuple[int, int]:
    hi = min(len(text), end + _AFTER)
    b = _BOUNDARY.search(text, end, hi)
    return end, (b.start() if b else hi)


def _clinical_date(text: str, start: int, end: int) -> bool:
    lo, hi = _clause_before(text, start)
    clinical = max((m.end() for m in _CLINICAL.finditer(text, lo, hi)), default=-1)
    project = max((m.end() for m in _PROJECT.finditer(text, lo, hi)), default=-1)
    if clinical > project:
        return True
    if project >= 0:
        return False
    lo, hi = _clause_after(text, end)
    c = _CLINICAL.search(text, lo, hi)
    p = _PROJECT.search(text, lo, hi)
    return c is not None and (p is None or c.start() < p.start())


# Project words that clinical notes use too ("next ptt due in am 9/16", "transferred to Q3 on
# 11/17", a ward): they make a date project metadata only in a clause with no clinical word.
_WEAK_PROJECT = frozenset("due q1 q2 q3 q4 target starts ends starting review run ran".split())


_AROUND = 400  # characters each side of a date that say what kind of text it stands in


def _clinical_around(text: str, start: int) -> bool:
    """The date stands in clinical text: three clinical words near it and no strong project
    word ("next ptt due in am 9/16" in a nursing note). A bounded window: linear in the text."""
    lo, hi = max(0, start - _AROUND), min(len(text), start + _AROUND)
    clinical = 0
    for _ in _CLINICAL.finditer(text, lo, hi):
        clinical += 1
        if clinical >= 3:
            break
    if clinical < 3:
        return False
    return all(m.group().lower() in _WEAK_PROJECT for m in _PROJECT.finditer(text, lo, hi))


def _project_date(text: str, start: int, end: int) -> bool:
    """A project word stands nearer to the date than any clinical word: "due 7/22"."""
    lo, hi = _clause_before(text, start)
    clinical = max((m.end() for m in _CLINICAL.finditer(text, lo, hi)), default=-1)
    projects = list(_PROJECT.finditer(text, lo, hi))
    if projects and all(m.group().lower() in _WEAK_PROJECT for m in projects):
        a_lo, a_hi = _clause_after(text, end)
        if clinical >= 0 or _CLINICAL.search(text, a_lo, a_hi) or _clinical_around(text, start):
            return False
    project = max((m.end() for m in projects), default=-1)
    if project >= 0 or clinical >= 0:
        return project > clinical
    lo, hi = _clause_after(text, end)
    c = _CLINICAL.search(text, lo, hi)
    p = _PROJECT.search(text, lo, hi)
    return p is not None and (c is None or p.start() < c.start())


def _machine_time(value: str) -> bool:
    """A date that needs clinical context: an ISO date with a time of day (2024-05-01T03:00Z,
    a log's or a system's clock), or a month and year without a day ("between January 1987
    and January 2010" is how studies and plans write periods; "June 2019" alone names nobody's
    day)."""
    if ":" in value and value[:4].isdigit():
        return True
    return bool(_MONTH_YEAR.fullmatch(value) or _NUMERIC_MONTH_YEAR.fullmatch(value))


def _not_short_date(text: str, start: int, end: int) -> bool:
    value = text[start:end]
    if value.count("/") == 2:
        # 10/18/03: a month, a day and a year are a date; "PSV 10/5/40%" is a vent setting.
        window = text[max(0, start - 25) : start]
        return text.startswith("%", end) or bool(_NOT_DATE_BEFORE.search(window))
    before = text[max(0, start - 25) : start]
    if _FRACTION.fullmatch(value):
        return True
    if value.endswith("/10") and (
        _PAIN_SCORE.search(before) or _PAIN_SCORE.match(text, end, end + 12)
        or _PAIN_SCORE.search(text, end, end + 15)
    ):
        return True  # "CP 4/10", "c/o 5/10 pain": a pain score
    if _VENT.search(text, max(0, start - 20), start):
        return True
    return bool(_NOT_DATE_BEFORE.search(before) or _NOT_DATE_AFTER.match(text, end, end + 14))


_DIGIT = re.compile(r"[0-9]")


def _date_candidates(text: str) -> Iterator[tuple[int, int, bool]]:
    """(start, end, machine): every date-shaped span, and whether it is a clock's."""
    if not _DIGIT.search(text):
        # Every date shape but the month alone ("in sept") has a digit: half of all short
        # texts (log lines, chat) have none, and need not be tried for the rest.
        for m in _MONTH_ALONE.finditer(text):
            yield m.start(1), m.end(1), False
        return
    for m in _DATE.finditer(text):
        value = m.group()
        if value.count("/") == 2 and _not_short_date(text, m.start(), m.end()):
            continue  # "PSV 20/5/40%": a ventilator's settings
        yield m.start(), m.end(), _machine_time(value)
    for m in _SHORT_DATE.finditer(text):
        if not _not_short_date(text, m.start(), m.end()):
            yield m.start(), m.end(), False
    for m in _GLUED_DATE.finditer(text):
        if not _not_short_date(text, m.start(1), m.end(1)):
            yield m.start(1), m.end(1), False
    for pattern in (_MONTH_ALONE, _ORDINAL_DAY, _ON_DASHED_DAY):
        for m in pattern.finditer(text):
            yield m.start(1), m.end(1), False


def _dates(text: str) -> Iterator[Candidate]:
    """Dates more precise than a year, in text about people.

    A date a person wrote (7/22, Jan. 5, 3/18/2024) is PHI unless a project word stands
    nearer to it than any clinical word ("sprint ends 7/22", "released 2024-05-01"): recall
    comes first. A machine timestamp with a time of day is PHI only with clinical context, so
    log lines keep their clocks.
    """
    prev_end = -1
    for start, end, machine in sorted(set(_date_candidates(text))):
        if start < prev_end:
            continue
        # A date listed right after an accepted one shares its context: "on 1/4, 1/19 and 2/2".
        listed = prev_end >= 0 and _LIST_JOIN.fullmatch(text, prev_end, start) is not None
        if machine:
            keep = listed or _clinical_date(text, start, end)
        else:
            keep = listed or not _project_date(text, start, end)
        if keep:
            prev_end = end
            yield start, end, PhiKind.DATE, DATE_RANK


# ---------------------------------------------------------------- names

_UP = "A-ZÀ-ÖØ-Þ"
_LO = "a-zß-öø-ÿ\u0100-\u017f"
_TOKEN = rf"(?:Mc|Mac|O['’]|D['’])?[{_UP}][{_LO}]+(?:-[{_UP}][{_LO}]+)?"
# Surname particles: Mrs. van der Berg, Ana de la Cruz.
_PARTICLE = r"(?:van|von|de|der|den|del|della|di|da|du|la|le|dos|das|bin|ibn|al)"
_PARTICLES = rf"(?:{_PARTICLE}[ \t]+){{0,2}}"
_SEQ = rf"{_PARTICLES}{_TOKEN}(?:[ \t]+(?:[{_UP}]\.[ \t]+)?{_PARTICLES}{_TOKEN}){{0,2}}"
_CAPS = rf"[{_UP}][{_UP}'’-]+"
# Smith, John A. or, as EHR exports print it, DOE, JOHN
_LAST_FIRST = (
    rf"{_TOKEN},[ \t]*{_TOKEN}(?:[ \t]+{_TOKEN})?"
    rf"|{_CAPS},[ \t]*{_CAPS}(?:[ \t]+{_CAPS})?"
)
_RELATION = (
    r"husband|wife|spouse|son|daughter|mother|father|mom|dad|sister|brother|"
    r"grand(?:son|daughter|mother|father)|aunt|uncle|niece|nephew|guardian|caregiver|"
    r"emergency[ \t]+contact|next[ \t]+of[ \t]+kin|nok|guarantor|hcp|poa"
)
# (pattern, fewest name tokens it must leave): a name follows the cue.
_AFTER_CUE: tuple[tuple[re.Pattern[str], int], ...] = (
    # Mr. Alvarez (titles are case-sensitive: "MS" is a diagnosis)
    (re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx)\.?[ \t]+({_SEQ})"), 1),
    # patient John Smith, Pt: Jane Doe, the patient, Olivia Brandt, El paciente Jorge Ramírez
    (
        re.compile(
            rf"(?i:\b(?:patient|pt|paciente)\.?(?:['’]s)?)[ \t]*[:,\-]?[ \t]*"
            rf"(?:(?i:is|was|named)[ \t]+)?({_LAST_FIRST}|{_SEQ})"
        ),
        1,
    ),
    # daughter Carla, Spouse: Robert Castillo, Emergency contact: Yolanda Pierce
    (
        re.compile(
            rf"(?i:\b(?:{_RELATION})(?:['’]s)?)[ \t]*[:,(\-]?[ \t]*"
            rf"(?:(?i:is|was|named)[ \t]+)?({_SEQ})"
        ),
        1,
    ),
    # Name: Bartholomew Quince, Pt name: Nguyen, Thi Lan. A bare "Name:" labels many things in
    # project text ("Name: Feature Flags"), so it needs two name-like words.
    (
        re.compile(
            rf"(?<![A-Za-z])(?i:(?:(?:patient|pt|member|subscriber|full|legal)[ \t]+)?name)"
            rf"[ \t]*[:\-][ \t]*({_LAST_FIRST}|{_SEQ})"
        ),
        2,
    ),
    # prefers to be called Frank
    (
        re.compile(
            rf"(?i:\b(?:prefers[ \t]+to[ \t]+be[ \t]+called|goes[ \t]+by|a\.k\.a\.?|aka|named))"
            rf"[ \t]+({_SEQ})"
        ),
        1,
    ),
)
# Lucia (daughter), Tom Reilly (patient)
_BEFORE_RELATION = re.compile(rf"({_SEQ})[ \t]*\((?i:{_RELATION}|patient|pt)\)")
# Sienna Moore, 24F; Olivia Brandt is a 31-year-old; Gina Russo, 58yo
_BEFORE_AGE = re.compile(
    rf"({_SEQ}),?[ \t]+(?:is[ \t]+)?(?:an?[ \t]+)?[0-9]{{1,3}}"
    r"(?:[MF]\b|[ \t-]*(?:yo\b|y/o|y\.o\.|-?years?[ -]old))"
)
# A name written just before an identifier we found: "Wei Zhang | MRN", "Carlos Mendez, 731 ..."
_ANCHOR_LABEL = (
    r"(?i:dob|d\.o\.b\.?|date[ \t]+of[ \t]+birth|born(?:[ \t]+on)?|mrn|ssn|cell|phone|tel"
    r"|e-?mail|home)[ \t]*[:#]?[ \t]*"
)
# ... and "Lopie Certusi cell# 410-322-1419": a label alone parts them.
_LEADS_TO_ANCHOR = re.compile(
    rf"(?<![{_UP}{_LO}])({_SEQ})(?:['’]s)?[ \t]*"
    rf"(?:(?:[,(|/:\-]|\bat\b|\blives[ \t]+at\b)[ \t]*(?:{_ANCHOR_LABEL})?|{_ANCHOR_LABEL})\(?$"
)
_ANCHORS = frozenset(
    {PhiKind.DATE, PhiKind.MRN, PhiKind.SSN, PhiKind.ADDRESS, PhiKind.PHONE, PhiKind.EMAIL}
)
# Dr. Leah Morgan, Dr. J. Ortiz, NP Gray
_PROVIDER_BEFORE = re.compile(r"\b(?:Dr|Doctor|Prof|NP|PA|RN|MD|DO)\.?[ \t]*(?:[A-Z]\.[ \t]*)?$")
_TOKEN_RE = re.compile(rf"(?<![A-Za-z]){_PARTICLE}(?![A-Za-z])|{_TOKEN}|{_CAPS}")

def _not_a_name(word: str) -> bool:
    return word.lower() in NOT_NAMES


def _name_tokens(seq: str, base: int) -> list[tuple[int, int, str]]:
    return [(base + m.start(), base + m.end(), m.group()) for m in _TOKEN_RE.finditer(seq)]


def _enough(tokens: list[tuple[int, int, str]], fewest: int) -> bool:
    return sum(1 for t in tokens if not t[2].islower()) >= fewest


def _span(tokens: list[tuple[int, int, str]]) -> tuple[int, int] | None:
    """From the first to the last token, or None if no token but particles is left."""
    while tokens and tokens[-1][2].islower():
        tokens = tokens[:-1]
    return (tokens[0][0], tokens[-1][1]) if tokens else None


def _keep_leading(tokens: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The tokens before the first one that is not a name ("patient Portal" keeps none)."""
    for i, (_, _, word) in enumerate(tokens):
        if _not_a_name(word):
            return tokens[:i]
    return tokens


def _keep_trailing(tokens: list[tuple[int, int, str]]) -> list[tuple[int, int, str]]:
    """The tokens after the last one that is not a name ("chart for Luis Ferreira")."""
    for i in range(len(tokens) - 1, -1, -1):
        if _not_a_name(tokens[i][2]):
            return tokens[i + 1 :]
    return tokens


def _is_provider(text: str, start: int) -> bool:
    return _PROVIDER_BEFORE.search(text, max(0, start - 12), start) is not None


def _names(text: str, found: Iterable[PhiSpan]) -> Iterator[Candidate]:
    spans: list[tuple[int, int]] = []
    for pattern, fewest in _AFTER_CUE:
        pos = 0
        while m := pattern.search(text, pos):
            tokens = _keep_leading(_name_tokens(m.group(1), m.start(1)))
            # "Nguyen, Thi Lan" keeps its comma: the span runs from first to last token.
            span = _span(tokens) if _enough(tokens, fewest) else None
            if span:
                spans.append(span)
            # Resume after the name kept, not after the match: in "Mr. Smith Mr. Jones" the
            # first match runs on into "Mr", which is where the next one starts.
            pos = span[1] if span else m.start(1)
    for pattern, fewest in ((_BEFORE_RELATION, 1), (_BEFORE_AGE, 2)):
        for m in pattern.finditer(text):
            tokens = _keep_trailing(_name_tokens(m.group(1), m.start(1)))
            if _enough(tokens, fewest) and (span := _span(tokens)):
                spans.append(span)
    for anchor in found:
        if anchor.kind not in _ANCHORS:
            continue
        lo = max(0, anchor.start - 80)
        lead = _LEADS_TO_ANCHOR.search(text, lo, anchor.start)
        if lead:
            tokens = _keep_trailing(_name_tokens(lead.group(1), lead.start(1)))
            # One capitalised word before an identifier is too weak a sign.
            if _enough(tokens, 2) and (span := _span(tokens)):
                spans.append(span)
    lex = lexicon()
    for start, end in spans:
        # A cue is followed by many capitalised words that are not names, above all in notes
        # written in capitals ("PT AWAKE", "Pt. Skin care"): one word at least must read as a
        # name by the lists (a listed name, or no word of any vocabulary).
        if any(_listed_name(lex, w) for w in _TOKEN_RE.findall(text[start:end])):
            yield start, end, PhiKind.NAME, NAME_RANK


def _listed_name(lex: Lexicon, word: str) -> bool:
    low = word.lower()
    if low in lex.first or low in lex.last:
        return low not in lex.safe or lex.zipf_of(low) < 5.0 or low in lex.first
    return low not in lex.safe and low not in lex.foreign


def is_provider(text: str, start: int) -> bool:
    """Whether the name at ``start`` follows a provider's title (Dr., NP, RN ...)."""
    return _is_provider(text, start)


def detect_dates(text: str) -> Iterator[Candidate]:
    """Dates in ``text`` that have clinical context."""
    return _dates(text)


def detect_names(text: str, found: Iterable[PhiSpan]) -> Iterator[Candidate]:
    """Person names in clinical context; ``found`` are spans already accepted (anchors)."""
    return _names(text, found)
