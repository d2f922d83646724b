"""Counting PHI redactions at an exit, by kind, without a second detection pass.

``CountedRedact(exit, redact)`` behaves as ``redact`` and counts the placeholders it added
(``[SSN]``, ``[NAME]`` ...: ``compliance.phi`` replaces each span by ``[KIND]``), so the count
costs a scan of the output rather than another ``find_phi``. Placeholders already in the input
are not counted. A failed PHI check is counted as kind ``unchecked`` and re-raised: the exit
fails closed as before. Only counts leave; never the text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from metrics import recorder
from metrics.catalog import PHI_KINDS

_PLACEHOLDER = re.compile(r"\[(" + "|".join(k for k in PHI_KINDS if k.isupper()) + r")\]")


def placeholders(text: str) -> Counter[str]:
    return Counter(m.group(1) for m in _PLACEHOLDER.finditer(text))


class CountedRedact:
    """A redaction function for ``exit`` ("llm", "index") that counts what it redacted.

    A class rather than a closure: reindex jobs pickle it to a Ray task."""

    def __init__(self, exit: str, redact: Callable[[str], str]) -> None:
        self.exit = exit
        self.redact = redact

    def __call__(self, text: str) -> str:
        try:
            out = self.redact(text)
        except Exception:
            # compliance.phi.PhiCheckFailed (or a detector bug): counted, then as before.
            recorder.inc("clinisight_redactions_total", kind="unchecked", exit=self.exit)
            raise
        if out is text or not recorder.enabled():
            return out
        added = placeholders(out)
        if "[" in text:
            added.subtract(placeholders(text))
        for kind, n in added.items():
            if n > 0:
                recorder.inc("clinisight_redactions_total", n, kind=kind, exit=self.exit)
        return out

    def zero(self) -> None:
        """The exit's series at 0, so the dashboard shows it before the first redaction."""
        recorder.zero("clinisight_redactions_total",
                      [{"kind": k, "exit": self.exit} for k in PHI_KINDS])
