"""PHI test helpers: the detector failing as its contract says it may (for the fail-closed tests
of each exit), and the kind of the span that covers a value."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from compliance import _identifiers, phi
from compliance._kinds import Candidate, PhiKind


def covering(text: str, value: str) -> PhiKind | None:
    """The kind of the one span that covers all of ``value`` in ``text``, if one does."""
    at = text.index(value)
    for s in phi.find_phi(text):
        if s.start <= at and at + len(value) <= s.end:
            return s.kind
    return None


@dataclass
class BrokenDetector:
    """Every text handed to the detector while it was broken (so a test can tell that its exit
    consulted the detector at all, rather than passing by never checking)."""

    checked: list[str] = field(default_factory=list)


def break_phi_check(monkeypatch: pytest.MonkeyPatch, *,
                    only_on: str | None = None) -> BrokenDetector:
    """From here to the test's end (or ``monkeypatch.undo()``) every PHI check fails; with
    ``only_on``, only the checks of texts containing it (the others run the real detector).

    The contract: ``find_phi``, ``redact`` and ``redact_obj`` raise ``PhiCheckFailed`` when a
    detection layer raises. The identifier layer is made to raise a plain error (which the
    detector translates into ``PhiCheckFailed``), and ``find_phi``, which ``redact`` and
    ``redact_obj`` call, raises ``PhiCheckFailed`` itself; so exits meet the contract's error
    however the detector is wired inside. Exits must look ``find_phi`` up on ``compliance.phi``
    (or call ``redact``) for this to reach them.
    """
    broken = BrokenDetector()
    real_find, real_layer = phi.find_phi, _identifiers.detect

    def fails(text: str) -> bool:
        if only_on is not None and only_on not in text:
            return False
        broken.checked.append(text)
        return True

    def layer(text: str) -> Iterator[Candidate]:
        if fails(text):
            raise RuntimeError("identifier layer failed (test)")
        return real_layer(text)

    def find_phi(text: str) -> list[phi.PhiSpan]:
        if fails(text):
            raise phi.PhiCheckFailed("PHI detection failed (test)")
        return real_find(text)

    monkeypatch.setattr(_identifiers, "detect", layer)
    monkeypatch.setattr(phi, "find_phi", find_phi)
    return broken
