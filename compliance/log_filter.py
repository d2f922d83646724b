"""A logging filter that redacts PHI from every record before a handler formats it.

    import logging
    from compliance import log_filter

    logging.basicConfig(level=logging.INFO)
    log_filter.install()  # after the handlers exist: it attaches to them

Handler filters run for every record a handler receives, including records propagated from
child loggers; a filter on a logger only sees records logged on that very logger. That is why
``install`` attaches the filter to the handlers. A handler added later needs
``handler.addFilter(PhiRedactingFilter())`` too, and Python's last-resort handler (used when
no handler is configured at all) is not covered.
"""

from __future__ import annotations

import logging

from compliance.fail_closed import LOG_NOTICE, WITHHELD
from compliance.phi import redact, redact_obj

__all__ = ["PhiRedactingFilter", "install"]

# What every LogRecord carries; any other attribute came from ``extra=`` and is redacted too.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_DONE = "_phi_redacted"


class PhiRedactingFilter(logging.Filter):
    """Redacts a record in place: message with its args, traceback, stack, ``extra`` fields.

    The message is rendered (``msg % args``) before redaction, since PHI usually arrives in the
    args, and ``args`` is then cleared. The traceback is rendered to ``exc_text`` and redacted,
    and ``exc_info`` is dropped, so that no formatter can render the raw exception again. The
    filter never drops a record, and a record passed to several handlers is redacted once.

    When the PHI check fails (``PhiCheckFailed``), or anything else goes wrong here, the record
    is still emitted, with its text withheld: the message becomes ``LOG_NOTICE``, a traceback
    or stack a notice of its own, every ``extra`` field ``WITHHELD`` (kept, so that formats
    naming it still render). The filter never raises: logging runs filters outside its own
    error handling, so a raise would reach the code that logged.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, _DONE, False):
            return True
        try:
            self._redact(record)
        except Exception:
            # Some fields may already be redacted, others not: none of its text is trusted.
            _withhold(record)
        setattr(record, _DONE, True)
        return True

    def _redact(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:
            # msg and args do not fit together. Logging would report that by printing both, and
            # the args, cut off from the words around them, cannot be judged: withhold them.
            record.msg = redact(str(record.msg)) + " [args withheld: they do not fit the format]"
            record.args = None
        else:
            record.msg = redact(message)
            record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = self._formatter.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRS:
                setattr(record, name, redact_obj({name: value}, sensitive_keys=True)[name])


def _withhold(record: logging.LogRecord) -> None:
    record.msg = LOG_NOTICE
    record.args = None
    had_traceback = bool(record.exc_info or record.exc_text)
    record.exc_info = None
    record.exc_text = "[traceback withheld: PHI check failed]" if had_traceback else None
    if record.stack_info:
        record.stack_info = "[stack withheld: PHI check failed]"
    for name in list(vars(record)):
        if name not in _STANDARD_ATTRS:
            setattr(record, name, WITHHELD)


def install(logger: logging.Logger | None = None) -> PhiRedactingFilter:
    """Attach one ``PhiRedactingFilter`` to every handler of ``logger`` (the root logger by
    default) and to the logger itself; calling it again adds no second filter."""
    target = logger if logger is not None else logging.getLogger()
    existing = [f for f in target.filters if isinstance(f, PhiRedactingFilter)]
    phi_filter = existing[0] if existing else PhiRedactingFilter()
    for filterer in (target, *target.handlers):
        if not any(isinstance(f, PhiRedactingFilter) for f in filterer.filters):
            filterer.addFilter(phi_filter)
    return phi_filter
