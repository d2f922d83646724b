"""PHI detection and redaction for everything that leaves a tenant's boundary.

``compliance.phi`` finds and redacts PHI in text and structures; ``compliance.log_filter``
applies it to log records and ``compliance.sentry_scrub`` to Sentry events.
"""

from compliance.phi import PhiCheckFailed, PhiKind, PhiSpan, find_phi, redact, redact_obj

__all__ = ["PhiCheckFailed", "PhiKind", "PhiSpan", "find_phi", "redact", "redact_obj"]
