"""What an exit of tenant text does when the PHI check fails: the text does not leave.

``compliance.phi`` raises ``PhiCheckFailed`` when detection raises or overruns its budget, and
never returns half-checked text. Each exit catches it once, where the text would leave, and
answers in one of four ways:

* **withhold the text, keep the act**: a stored field (an audit entry's actor or resource, an
  agent's mirrored issue summary) becomes ``WITHHELD`` (``redact_or``), and a log record keeps
  its level, logger and time while its text becomes ``LOG_NOTICE`` (``compliance.log_filter``):
  the audit append happens, the event is processed, operators still see that something was
  logged;
* **do not send**: an LLM prompt is not sent and the agent answers from its offline planner,
  recording ``fallbackReason: FALLBACK_REASON`` (``agents.reasoners``);
* **drop**: a Sentry event, transaction or breadcrumb is dropped (``compliance.sentry_scrub``);
  a report without its text says nothing the logs do not;
* **fail the unit, retry later**: a page is not indexed. A reindex reports it among its
  failures (by page id) and does not record its version, so the next run redoes it; a
  single-page event fails and the orchestrator re-drives it (``embeddings.pages``).

The markers are fixed strings, so nothing of the text leaks through their length or shape.
"""

from __future__ import annotations

from compliance import phi

__all__ = ["FALLBACK_REASON", "LOG_NOTICE", "WITHHELD", "redact_or"]

WITHHELD = "[withheld: PHI check failed]"
LOG_NOTICE = "[log message withheld: PHI check failed]"
FALLBACK_REASON = "phi_check_failed"


def redact_or(text: str, fallback: str = WITHHELD) -> str:
    """``text`` redacted, or ``fallback`` when the PHI check fails."""
    try:
        # Looked up on the module at each call: the detector is swapped there, and so is a
        # test's broken one.
        return phi.redact(text)
    except phi.PhiCheckFailed:
        return fallback
