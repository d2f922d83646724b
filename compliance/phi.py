"""Find and redact protected health information (PHI) in free text.

Clinisight redacts PHI before text is embedded, before it goes to an LLM, before a log line is
written and before an error goes to Sentry. No statistical model can be loaded here, so
detection is patterns, the words around them, and validators (``find_phi``), each span replaced
by a typed placeholder (``redact``).

Policy (what is tagged, and what is deliberately left alone):

* ``[SSN]``: ``123-45-6789`` always (the dashed shape is the SSN/ITIN notation, so it is
  redacted even when the number could not be issued); masked ``***-**-6789``; nine digits,
  bare or spaced, only after an SSN label or, when spaced, if python-stdnum says it is a valid
  SSN; "SSN ends in 6789" (the last four).
* ``[MRN]``: the value after a medical record, chart, account, encounter or patient-id label
  (``MRN 00482193``, ``MR# 55-201-774``, ``Chart # CH0091823``, ``{"mrn": "00482193"}``,
  ``mrn = '00482193'``). The label itself is kept; "MRNs 1234567 and 7654321" gives two.
* ``[MEMBER_ID]``: the value after a member, subscriber, policy, Medicaid or Medicare label, and
  a Medicare Beneficiary Identifier (``1EG4-TE5-MK73``) anywhere: its alphabet is distinctive.
* ``[NPI]``: ten digits after an NPI label *and* with a valid Luhn check digit over the
  ``80840`` prefix; a labelled number that fails the check is not an NPI and is left alone.
* ``[PHONE]``: North American numbers in the usual notations (with ``+1``, extensions),
  international ``+CC`` numbers, Korean-style ``010-1234-5678``; ten bare digits only after a
  phone word (phone, cell, tel, fax, call ...). Seven-digit numbers are not tagged.
* ``[EMAIL]``: every e-mail address, whoever it belongs to.
* ``[DATE]``: a date (ISO, ``3/18/2024``, ``Jan. 5, 2024``, ``12 March 2024``, ``3rd of May``,
  ``June 2019``, ``02/2022``, HL7's ``19790314``, with or without a time) only with clinical
  context near it (60 characters before, 30 after) in the same sentence: DOB, born,
  admitted, discharged, seen, surgery, labs, deceased, patient ... When a project word (due,
  sprint, release, deploy, created ...) stands nearer to the date than any clinical word, the
  date is project metadata and is kept: "due 2024-05-01", "snapshot=2024-05-01T03:00:00Z".
  Dates that follow an accepted date in a list ("on 1/4, 1/19 and 2/2/2024") share its context.
  Years alone are kept (HIPAA Safe Harbor allows them).
* ``[ADDRESS]``: street addresses (number, street, suffix, unit, then city, state, ZIP when
  present), PO boxes, and ``City, ST 12345``.
* ``[NAME]``: a person's name only in clinical context: after Mr/Mrs/Ms/Mx, after patient/pt
  (``Pt: Jane Doe``, ``the patient, Olivia Brandt,``), after a relative or contact word
  (daughter, spouse, guardian, emergency contact ...), after ``Name:`` (also ``Nguyen, Thi Lan``
  and ``DOE, JOHN``), before an age or a role (``Gina Russo, 58yo``, ``Lucia (daughter)``), or
  just before an identifier we found (``Wei Zhang | MRN ...``, ``Luis Ferreira, DOB ...``).
  Capitalised words that are not names stop a name (``patient Portal``). Titles are kept
  (``Mr. [NAME]``). A name with no such cue ("the account for Beatriz Soto") is missed: that
  would take a statistical model, which cannot be loaded here.
* Providers are **not** patients: a name after ``Dr.``/``Doctor``/``NP``/``PA`` is kept. HIPAA's
  Safe Harbor list covers names of the individual, relatives, employers and household members,
  and the agents need clinician names to route and assign work. Provider NPIs are still
  redacted, as the issue asks.
* Project text is left alone: Jira keys (``KT-22``), versions (``2.3.1``), story points,
  IP addresses, build numbers, machine timestamps without clinical context.

Where two readings of the same text overlap, a labelled value beats a bare pattern and the
longer span the shorter. Text that is not Latin script (Korean, ...) passes through untouched
apart from the numeric patterns above; names written in Hangul are not detected. All patterns
are compiled at import and every context look-up reads a window of fixed size, so ``find_phi``
is linear in the text (about 1 MB/s on one core).

The evaluation set and its figures are in ``benchmarks/phi_eval.py`` and
``benchmarks/reports/phi.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar, cast

from compliance import _context, _identifiers
from compliance._kinds import Candidate, PhiCheckFailed, PhiKind, PhiSpan

__all__ = ["PhiCheckFailed", "PhiKind", "PhiSpan", "find_phi", "redact", "redact_obj"]

_T = TypeVar("_T")


def find_phi(text: str) -> list[PhiSpan]:
    """Every PHI span in ``text``, sorted by start, none overlapping another."""
    if not text:
        return []
    candidates = [*_identifiers.detect(text), *_context.detect_dates(text)]
    found = _resolve(candidates)
    # Names are found last: a name written just before an identifier needs that identifier.
    candidates.extend(_context.detect_names(text, found))
    return _resolve(candidates)


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
    """Keep the best candidates that do not overlap: lower rank first, then the longer.

    Candidates only compete with those they overlap, directly or through others, so each such
    cluster is settled on its own; clusters are small, which keeps this O(n log n).
    """
    kept: list[PhiSpan] = []
    cluster: list[Candidate] = []
    cluster_end = -1
    for candidate in sorted({c for c in candidates if c[1] > c[0]}):
        if candidate[0] >= cluster_end and cluster:
            kept.extend(_settle(cluster))
            cluster = []
        cluster.append(candidate)
        cluster_end = max(cluster_end, candidate[1])
    kept.extend(_settle(cluster))
    return kept


def _settle(cluster: list[Candidate]) -> list[PhiSpan]:
    if len(cluster) == 1:
        start, end, kind, _ = cluster[0]
        return [PhiSpan(start, end, kind)]
    chosen: list[PhiSpan] = []
    for start, end, kind, _rank in sorted(cluster, key=lambda c: (c[3], c[0] - c[1], c[0])):
        if all(end <= other.start or other.end <= start for other in chosen):
            chosen.append(PhiSpan(start, end, kind))
    return sorted(chosen)
