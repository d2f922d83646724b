"""Find and redact protected health information (PHI) in free text.

Clinisight redacts PHI before text is embedded, before it goes to an LLM, before a log line is
written and before an error goes to Sentry. ``find_phi`` finds it, ``redact`` replaces each
span by a typed placeholder (``[NAME]``), ``redact_obj`` walks structures.

The policy, on HIPAA Safe Harbor (45 CFR 164.514(b)(2)); it is the README's too:

* **Names** of patients, relatives, household members and employers are PHI wherever they
  stand, with or without a cue: "Pt: Jane Doe", "son bill called", "Lopie Certusi cell# ...",
  "the account for Beatriz Soto", "김영희 환자", and any name the tenant registered
  (``known_names``). Titles stay (``Mr. [NAME]``).
* **Provider names** (after Dr., Doctor, NP, PA, RN, MD ...) stay readable by default: the
  agents route and assign work by them. ``configure(redact_provider_names=True)`` (the setting
  ``CLINISIGHT_PHI_REDACT_PROVIDER_NAMES``) redacts them too.
* **Dates** more precise than a year that relate to a person: ``7/22``, ``10/18/03``, ``12/82``,
  ``Jan. 5``, ``3/18/2024``, ``the 11th``, "in sept", DOB and HL7 ``19790314``. A date a person
  wrote is PHI unless a project word stands nearer to it than any clinical word ("sprint ends
  7/22", "released 2024-05-01"): recall first. A machine timestamp with a time of day, and a
  month with a year but no day ("between January 1987 and January 2010"), are PHI only with
  clinical context near them. Numbers with a slash that are not dates are left: halves, pain
  scores (``CP 4/10``), ventilator settings (``PSV 10/5``). Years alone are kept.
* **Places** smaller than a state: street addresses (US and the European forms, units, PO and
  military boxes), ZIP and postal codes, cities, towns and counties, and the names of hospitals,
  clinics, rehab and nursing homes and their wards: "CALVERT HOSPITAL", "transferred to GH",
  "lives in catonsville", "Quartermain 2" (``[ADDRESS]``, ``[LOCATION]``). States and countries
  are kept.
* **Numbers**: phone, fax and pager numbers in North American, international and trunk
  notations (digit groups need a phone word beside them); ages over 89 (``[AGE]``); SSN, MRN,
  member and Medicare ids, NPI (Luhn-checked), e-mail addresses, each as before; account
  numbers: payment cards (Luhn-checked, issuer ranges or a card word near) and IBANs (mod-97
  checked) (``[ACCOUNT]``).
* **Project text stays readable**: Jira keys (``KT-22``), versions, story points, sprint and
  release dates, component names, IP addresses, build numbers.

How: layers that each propose spans, settled by ``_resolve`` (a labelled value beats a bare
pattern, the longer span the shorter):

1. ``_identifiers``: identifiers and addresses by pattern and validator;
2. ``_context``: dates with their context, names after the cues of properly cased text;
3. ``_cues``: names and places after the cues of clinical notes, in any letter case;
4. ``_tokens``: a token classifier over name, place and vocabulary lists (``_lexicon``) for
   names and places with no cue at all;
5. ``_hangul``: Korean person names (kiwipiepy's proper nouns, surnames, honorifics);
6. ``known_names``: the tenant's registered names.

Every layer is linear in the text. Models and lists load once per process. If any layer raises,
or the whole check overruns its time budget, ``find_phi`` raises ``PhiCheckFailed`` and every
exit fails closed (``compliance.fail_closed``): text that could not be checked does not leave.

Figures (recall and precision per kind on text nobody here wrote, and ms per KB) are in
``benchmarks/reports/phi.md``, produced by ``benchmarks/phi_eval.py``.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from typing import Any, TypeVar, cast

from compliance import _context, _cues, _hangul, _identifiers, _tokens, known_names
from compliance._kinds import Candidate, PhiCheckFailed, PhiKind, PhiSpan
from compliance._lexicon import lexicon

__all__ = [
    "PhiCheckFailed", "PhiKind", "PhiSpan", "configure", "find_phi", "redact", "redact_obj",
]

_T = TypeVar("_T")


# The time a check may take: generous (measured cost is about 2 ms per KB on one core), so only
# a hung layer or a starved process trips it, and then the text fails closed.
_BUDGET_S, _BUDGET_S_PER_KB = 2.0, 0.1
_redact_providers = False


def configure(*, redact_provider_names: bool = False) -> None:
    """Set the process's policy options (the settings builder calls this once per process)."""
    global _redact_providers
    _redact_providers = redact_provider_names


def find_phi(text: str) -> list[PhiSpan]:
    """Every PHI span in ``text``, sorted by start, none overlapping another.

    Raises ``PhiCheckFailed`` when a layer fails or the check overruns its budget: nothing
    half-checked is ever returned.
    """
    if not text:
        return []
    try:
        _prepare(text)
    except Exception as exc:
        raise PhiCheckFailed(f"PHI detection could not load: {type(exc).__name__}") from None
    deadline = time.monotonic() + _BUDGET_S + _BUDGET_S_PER_KB * len(text) / 1000
    try:
        return _find(text, deadline)
    except PhiCheckFailed:
        raise
    except Exception as exc:  # any layer's failure means the text was not checked
        raise PhiCheckFailed(f"PHI detection failed: {type(exc).__name__}") from None


def _prepare(text: str) -> None:
    """Load the lists and models once per process, outside the time budget."""
    lexicon()
    _tokens.model()
    if _hangul._HANGUL.search(text):
        _hangul._load()  # Kiwi, only for text that has Hangul


def _in_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise PhiCheckFailed("PHI detection overran its time budget")


def _find(text: str, deadline: float) -> list[PhiSpan]:
    words = _tokens.Words(text)
    candidates: list[Candidate] = []
    for layer in (
        lambda: _identifiers.detect(text),
        lambda: _context.detect_dates(text),
        lambda: _cues.detect(words),
        lambda: _tokens.detect(words),
        lambda: _hangul.detect_names(text),
        lambda: known_names.detect(text),
    ):
        candidates.extend(layer())
        _in_time(deadline)
    found = _resolve(candidates)
    # Names are found last: a name written just before an identifier needs that identifier.
    candidates.extend(_context.detect_names(text, found))
    candidates.extend(
        _cues.extend_places(text, [(s.start, s.end) for s in found if s.kind is PhiKind.LOCATION])
    )
    candidates.extend(
        _cues.extend_names(text, [(s.start, s.end) for s in found if s.kind is PhiKind.NAME])
    )
    _in_time(deadline)
    if not _redact_providers:
        candidates = _without_provider_names(text, candidates)
    return _resolve(candidates)


def _without_provider_names(text: str, candidates: list[Candidate]) -> list[Candidate]:
    """The candidates less the readings of provider names ("Dr. Marder", "NP Carol"), which
    the policy above leaves readable. Names are settled among themselves first, so a name read
    whole and word by word is one name; only name readings are dropped, so an address that
    follows the name ("Dr. Megan Sato Apt. 630 ...") is still redacted whole. A registered name
    (rank 0) is redacted wherever it stands, after "Dr." too."""
    names = [c for c in candidates if c[2] is PhiKind.NAME]
    providers = [
        (span.start, span.end)
        for span, rank in _resolve_ranked(names)
        if rank != 0 and _context.is_provider(text, span.start)
    ]
    if not providers:
        return candidates
    starts = [start for start, _ in providers]

    def provider(c: Candidate) -> bool:
        i = bisect.bisect_right(starts, c[0]) - 1
        return i >= 0 and c[1] <= providers[i][1]

    return [c for c in candidates if c[2] is not PhiKind.NAME or c[3] == 0 or not provider(c)]


def redact(text: str) -> str:
    """``text`` with every PHI span replaced by its placeholder, e.g. ``[SSN]``."""
    spans = find_phi(text)
    if not spans:
        return text
    parts: list[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        parts.append(span.kind.placeholder)
        pos = span.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_obj(obj: _T, *, sensitive_keys: bool = False) -> _T:
    """A copy of ``obj`` with every string value redacted.

    Walks dicts, lists, tuples (named tuples keep their type) and sets; dict keys, numbers,
    bytes and other objects are kept as they are. A string without PHI comes back as the same
    object, so a ``str`` subclass such as an enum member keeps its type.

    With ``sensitive_keys``, a value stored under a key that names a PHI field (``dob``,
    ``ssn``, ``mrn``, ``first_name``, ``patient_name``, ``phone`` ...) is replaced whole by that
    field's placeholder, whatever its type: ``{"first_name": "Jane"}`` has no pattern to find,
    and ``{"mrn": 4821930}`` is not even a string. The Sentry and logging scrubbers use this.
    """
    return cast(_T, _walk(obj, {}, sensitive_keys))


# A key, lower-cased and stripped of everything but letters and digits, that names a PHI field.
_FIELD_KINDS: dict[str, PhiKind] = {
    **dict.fromkeys(["ssn", "socialsecuritynumber", "socialsecurity"], PhiKind.SSN),
    **dict.fromkeys(["mrn", "medicalrecordnumber", "chartnumber"], PhiKind.MRN),
    **dict.fromkeys(
        ["memberid", "subscriberid", "insuranceid", "policynumber", "mbi", "medicaidid"],
        PhiKind.MEMBER_ID,
    ),
    "npi": PhiKind.NPI,
    **dict.fromkeys(
        ["cardnumber", "creditcard", "creditcardnumber", "ccnumber", "pan", "iban",
         "accountnumber", "bankaccount", "bankaccountnumber"],
        PhiKind.ACCOUNT,
    ),
    **dict.fromkeys(
        ["phone", "phonenumber", "mobile", "cell", "cellphone", "telephone", "fax"],
        PhiKind.PHONE,
    ),
    **dict.fromkeys(["email", "emailaddress"], PhiKind.EMAIL),
    **dict.fromkeys(["dob", "dateofbirth", "birthdate", "birthday", "deathdate"], PhiKind.DATE),
    **dict.fromkeys(
        ["address", "streetaddress", "street", "addressline1", "addressline2", "homeaddress"],
        PhiKind.ADDRESS,
    ),
    **dict.fromkeys(
        [
            "firstname",
            "lastname",
            "middlename",
            "fullname",
            "givenname",
            "familyname",
            "surname",
            "maidenname",
            "patientname",
            "membername",
            "subscribername",
            "guarantorname",
            "nextofkin",
            "emergencycontact",
        ],
        PhiKind.NAME,
    ),
}


def _field_kind(key: object) -> PhiKind | None:
    if not isinstance(key, str):
        return None
    return _FIELD_KINDS.get("".join(c for c in key.lower() if c.isalnum()))


def _walk(obj: object, seen: dict[int, object], by_key: bool) -> object:
    if isinstance(obj, str):
        redacted = redact(obj)
        return obj if redacted == obj else redacted
    if not isinstance(obj, dict | list | tuple | set | frozenset):
        return obj
    # A container met twice (shared, or holding itself: Sentry's "extra" may hold anything) is
    # copied once, and the copy keeps the sharing.
    if id(obj) in seen:
        return seen[id(obj)]
    if isinstance(obj, dict):
        out: dict[object, object] = {}
        seen[id(obj)] = out
        for key, value in obj.items():
            empty = value is None or (isinstance(value, str) and not value)
            kind = _field_kind(key) if by_key and not empty else None
            out[key] = kind.placeholder if kind else _walk(value, seen, by_key)
        return out
    if isinstance(obj, list):
        items: list[object] = []
        seen[id(obj)] = items
        items.extend(_walk(v, seen, by_key) for v in obj)
        return items
    values = [_walk(v, seen, by_key) for v in obj]
    if isinstance(obj, tuple):
        # A named tuple is built from its fields, a plain tuple from an iterable.
        return cast(Any, type(obj))(*values) if hasattr(obj, "_fields") else tuple(values)
    return type(obj)(values)


def _resolve(candidates: Iterable[Candidate]) -> list[PhiSpan]:
    return [span for span, _ in _resolve_ranked(candidates)]


def _resolve_ranked(candidates: Iterable[Candidate]) -> list[tuple[PhiSpan, int]]:
    """Overlapping candidates become one span, their union, of the longest one's kind.

    Every character some layer read as PHI is redacted: a registered name inside a street
    address must not cut the address in two ("1200 [NAME] Lane"), and a weak reading that runs
    past a strong one still covers what it saw. Candidates only meet those they overlap, directly or
    through others, so each cluster is settled on its own: O(n log n).
    """
    kept: list[tuple[PhiSpan, int]] = []
    cluster: list[Candidate] = []
    cluster_end = -1
    for candidate in sorted({c for c in candidates if c[1] > c[0]}):
        if candidate[0] >= cluster_end and cluster:
            kept.append(_settle(cluster))
            cluster = []
        cluster.append(candidate)
        cluster_end = max(cluster_end, candidate[1])
    if cluster:
        kept.append(_settle(cluster))
    return kept


def _settle(cluster: list[Candidate]) -> tuple[PhiSpan, int]:
    # The kind of the longest reading (an address that holds a registered name is an address),
    # the best rank of all (a registered name inside keeps it redacted after "Dr.").
    longest = min(cluster, key=lambda c: (c[0] - c[1], c[3], c[0]))
    start = min(c[0] for c in cluster)
    end = max(c[1] for c in cluster)
    return PhiSpan(start, end, longest[2]), min(c[3] for c in cluster)
