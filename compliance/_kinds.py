"""The value types of the PHI API; ``compliance.phi`` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PhiCheckFailed(Exception):
    """PHI detection raised or overran its time budget: the text was not checked.

    Every exit fails closed on it: the text does not leave unredacted (the prompt is not sent,
    the log line is replaced by a notice, the Sentry event is dropped, the page is failed).
    The message never carries the text.
    """


class PhiKind(StrEnum):
    """The kinds of PHI we tag; each is redacted to its ``placeholder``, ``[KIND]``."""

    SSN = "SSN"
    MRN = "MRN"
    MEMBER_ID = "MEMBER_ID"
    NPI = "NPI"
    ACCOUNT = "ACCOUNT"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    DATE = "DATE"
    ADDRESS = "ADDRESS"
    LOCATION = "LOCATION"
    AGE = "AGE"
    NAME = "NAME"

    @property
    def placeholder(self) -> str:
        return f"[{self.value}]"


@dataclass(frozen=True, slots=True, order=True)
class PhiSpan:
    """``text[start:end]`` is PHI of the given kind (offsets count code points, as str does)."""

    start: int
    end: int
    kind: PhiKind


# A detector's proposal: (start, end, kind, rank). Where proposals overlap, the lower rank wins:
# a labelled value says what it is, a bare pattern only guesses.
Candidate = tuple[int, int, PhiKind, int]

# ASCII boundaries, so that Hangul or accented letters next to a number do not hide it, and a
# digit group inside a longer one ("1001-22-3344") is not taken for a whole.
NOT_AFTER = r"(?<![0-9A-Za-z_])(?<![0-9][-./])"
NOT_BEFORE = r"(?![0-9A-Za-z_]|[-./][0-9])"
