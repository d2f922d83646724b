"""Sentry hooks that redact PHI from every event and breadcrumb before it leaves the process.

    import sentry_sdk
    from compliance import sentry_scrub

    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        send_default_pii=False,
        before_send=sentry_scrub.before_send,
        before_send_transaction=sentry_scrub.before_send_transaction,
        before_breadcrumb=sentry_scrub.before_breadcrumb,
    )

The hooks work on the plain dicts Sentry hands them and import nothing from sentry_sdk. Every
string value is redacted (message, logentry, exception values, stack-frame variables,
breadcrumbs, extra, request data, tag values, span descriptions), and a value under a key that
names a PHI field (``dob``, ``first_name``, ``mrn`` ...) is replaced whole, whatever its type.
Keys are kept. A few machine fields that we set ourselves are not scanned.

When the PHI check fails (``PhiCheckFailed``), or a hook fails for any other reason, the hook
returns None: Sentry drops the event, transaction or breadcrumb (and counts the event in its
client report as dropped by ``before_send``). The hooks never raise: sentry-sdk 2.x drops an
event whose ``before_send`` raises, but keeps the *unscrubbed* breadcrumb when
``before_breadcrumb`` raises (``Scope.add_breadcrumb``), to be sent with the next event.
"""

from __future__ import annotations

from typing import Any

from compliance.phi import redact_obj

__all__ = ["before_breadcrumb", "before_send", "before_send_transaction"]

Event = dict[str, Any]
Hint = dict[str, Any]

# Set by the SDK or by our own configuration, never by a user: not worth scanning.
_MACHINE_FIELDS = frozenset(
    {
        "event_id",
        "timestamp",
        "start_timestamp",
        "platform",
        "level",
        "type",
        "release",
        "environment",
        "dist",
        "sdk",
        "modules",
    }
)


def _scrub(payload: dict[str, Any]) -> dict[str, Any]:
    scrubbed: dict[str, Any] = {}
    for key, value in payload.items():
        if key in _MACHINE_FIELDS:
            scrubbed[key] = value
        elif key == "logentry" and isinstance(value, dict):
            scrubbed[key] = _scrub_logentry(value)
        else:
            scrubbed[key] = redact_obj(value, sensitive_keys=True)
    return scrubbed


def _scrub_logentry(logentry: dict[str, Any]) -> dict[str, Any]:
    """A logged message arrives as template, params and the two rendered together. A param
    alone ("Rupert Haskins") has no words around it to be judged by, so the params are dropped
    and only the rendered message, redacted as a whole, is kept."""
    entry = dict(logentry)
    params = entry.pop("params", None)
    if params and not entry.get("formatted"):
        template = str(entry.get("message", ""))
        try:
            entry["formatted"] = template % (params if isinstance(params, dict) else tuple(params))
        except (TypeError, ValueError, KeyError):
            entry["formatted"] = template
    return redact_obj(entry, sensitive_keys=True)


def _scrub_or_drop(payload: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return _scrub(payload)
    except Exception:  # PhiCheckFailed, or a bug here: either way nothing checked leaves
        return None


def before_send(event: Event, hint: Hint | None) -> Event | None:
    """Sentry ``before_send``: the event with PHI redacted (a new dict), or None (dropped)
    when the PHI check fails."""
    return _scrub_or_drop(event)


def before_send_transaction(event: Event, hint: Hint | None) -> Event | None:
    """Sentry ``before_send_transaction``: span descriptions hold URLs and SQL, so scrub too;
    None when the PHI check fails."""
    return _scrub_or_drop(event)


def before_breadcrumb(crumb: dict[str, Any], hint: Hint | None) -> dict[str, Any] | None:
    """Sentry ``before_breadcrumb``: the breadcrumb with PHI redacted, or None (dropped) when
    the PHI check fails."""
    return _scrub_or_drop(crumb)
