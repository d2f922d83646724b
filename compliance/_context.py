"""Detectors for PHI that only context tells apart: dates and person names.

A date is PHI when it is about a person's care; a capitalised word is a name when the words
around it say it is a patient or a relative. ``compliance.phi`` documents the policy; every look
at the context reads a window of fixed size, so the cost stays linear in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from compliance._kinds import NOT_BEFORE, Candidate, PhiKind, PhiSpan

DATE_RANK, NAME_RANK = 3, 4

# ---------------------------------------------------------------- dates

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day,? +)?"
_DAY = r"(?:[12][0-9]|3[01]|0?[1-9])(?:st|nd|rd|th)?"
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
    r"(?i:\b(?:due|sprints?|releas\w*|deploy\w*|deadline|milestones?|freeze|go-live|ga|rc|demo"
    r"|retro|planning|standup|created|updated|resolved|closed|merged|shipped|changelog|snapshot"
    r"|timestamps?|build|version|pto|starts?|ends?|eta|target|kickoff|roadmap|backup|cron"
    r"|effective|reindex\w*|migrat\w*|postmortem|outage|incident|throttl\w*|posted|meeting"
    r"|ran|run|training|templates?|v[0-9]+(?:\.[0-9]+)*)\b)"
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


def _dates(text: str) -> Iterator[Candidate]:
    prev_end = -1
    for m in _DATE.finditer(text):
        # A date listed right after an accepted one shares its context: "on 1/4, 1/19 and 2/2".
        listed = prev_end >= 0 and _LIST_JOIN.fullmatch(text, prev_end, m.start()) is not None
        if listed or _clinical_date(text, m.start(), m.end()):
            prev_end = m.end()
            yield m.start(), m.end(), PhiKind.DATE, DATE_RANK
        else:
            prev_end = -1


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
_LEADS_TO_ANCHOR = re.compile(
    rf"(?<![{_UP}{_LO}])({_SEQ})(?:['’]s)?[ \t]*(?:[,(|/:\-]|\bat\b|\blives[ \t]+at\b)[ \t]*"
    r"(?:(?i:dob|d\.o\.b\.?|date[ \t]+of[ \t]+birth|born(?:[ \t]+on)?|mrn|ssn|cell|phone|tel"
    r"|e-?mail|home)[ \t]*[:#]?[ \t]*)?\(?$"
)
_ANCHORS = frozenset(
    {PhiKind.DATE, PhiKind.MRN, PhiKind.SSN, PhiKind.ADDRESS, PhiKind.PHONE, PhiKind.EMAIL}
)
# Dr. Leah Morgan, Dr. J. Ortiz, NP Gray
_PROVIDER_BEFORE = re.compile(r"\b(?:Dr|Doctor|Prof|NP|PA|RN|MD|DO)\.?[ \t]*(?:[A-Z]\.[ \t]*)?$")
_TOKEN_RE = re.compile(rf"(?<![A-Za-z]){_PARTICLE}(?![A-Za-z])|{_TOKEN}|{_CAPS}")

# Capitalised words that follow "patient" or precede an identifier without being a name:
# product features (Patient Portal), committees, function words of Title Case headings.
_NOT_NAMES = frozenset(
    """
    The A An And Or Of For To In On At By With From Is Was Are Be Has Had Have Not No Yes This
    That These Those It Its He She His Her They Their We Our You Your Can Cannot Will Would
    Should Could May Must Does Did Do Please Note Notes Also Only All Any Per Via See Re Fwd Hi
    Hello Thanks Dear Who What When Where Why How New Old Test Tests Testing Sample Synthetic
    Unknown Portal Safety Experience Intake Form Forms Access Education Engagement Relations
    Services Service Care Record Records Chart Charts Data Index Identity Identifier Matching
    Match Merge Registration Registry Financial Flow Transport Transfer Satisfaction Advocate
    Advocacy Outcomes Summary List Lists Search Lookup Demographics Information Info Name Names
    Census Room Monitoring Support Journey Communication Communications Navigator Navigation
    Population Panel Banner Header Details Profile Account Accounts Hub App Mobile Message
    Messages Messaging Queue Alert Alerts Status Dashboard Report Reports Type Types Model
    Resource Resources Billing Statement Consent Rights Story Stories Survey Feedback
    Council Committee Team Program Tracker View Viewer Cohort Entry Level Levels Id Zero Bed
    Unit Floor Ward Ready Centered Facing Self Preference Preferences Visit Visits Encounter
    Encounters Schedule Scheduling Appointment Appointments Reminder Reminders Contact Contacts
    Address Phone Email Home Health Medical Clinical Admission Discharge Instructions Handoff
    Classification Acuity Risk Score Flag Flags Label Labels Group Groups Class Object Bundle
    Endpoint Table Field Fields Module Screen Page Pages Settings Doctor Nurse Provider Staff
    Family Caregiver Patient Patients Member Members Plan Plans Policy Insurance Coverage
    January February March April June July August September October November December Monday
    Tuesday Wednesday Thursday Friday Saturday Sunday Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct
    Nov Dec Today Tomorrow Yesterday Hospital Clinic Center Emergency Department Lab Labs
    One Two Three Four Five Six Seven Eight Nine Ten Mrn Dob Ssn Npi Tbd Na Dr Doctor Prof Mr
    Mrs Ms Miss Mx Rev Sr Jr
    """.split()
)


def _not_a_name(word: str) -> bool:
    return (word if not word.isupper() else word.capitalize()) in _NOT_NAMES


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
    for start, end in spans:
        if not _is_provider(text, start):
            yield start, end, PhiKind.NAME, NAME_RANK


def detect_dates(text: str) -> Iterator[Candidate]:
    """Dates in ``text`` that have clinical context."""
    return _dates(text)


def detect_names(text: str, found: Iterable[PhiSpan]) -> Iterator[Candidate]:
    """Person names in clinical context; ``found`` are spans already accepted (anchors)."""
    return _names(text, found)
