"""Logging and Sentry for every Clinisight process, with PHI kept out of both.

``init_observability(settings, component)`` is the one call each process makes first: the stack
supervisor, every deployment's ``__init__``, the reindex job. It

* installs ``compliance.log_filter`` on the root logger's handlers (adding a stderr handler if
  the process has none, so that Python's unfiltered last-resort handler is never used) and on
  the handlers of the Ray and uvicorn loggers, which do not propagate to the root;
* initialises sentry-sdk when a DSN is configured: FastAPI, Starlette and Ray integrations,
  ``send_default_pii`` off, every event, transaction and breadcrumb through
  ``compliance.sentry_scrub``, traces sampled at ``sentry_traces_sample_rate``, and the process
  tagged with its component (and agent, for an agent replica).

Per unit of work, ``tenant_scope(tenant, agent)`` tags what is reported inside it and reports an
exception escaping it before re-raising.

Calling it twice in one process changes nothing. Log lines are meant to be PHI-free by
construction too (ids and types, never content): the filter is the second line of defence.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sentry_sdk

import metrics
from compliance import log_filter, phi, sentry_scrub
from config.settings import Settings

log = logging.getLogger("clinisight.observability")

# Loggers with handlers of their own that do not hand records on to the root logger.
_OWN_HANDLER_LOGGERS = ("ray", "ray.serve", "ray.data", "uvicorn", "uvicorn.error",
                        "uvicorn.access")

_sentry_for: str | None = None


def install_log_redaction() -> None:
    """Put the PHI filter on every handler a record of this process can reach."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        root.addHandler(handler)
        if root.level == logging.WARNING:  # the default: our INFO lines would vanish
            root.setLevel(logging.INFO)
    log_filter.install(root)
    for name in _OWN_HANDLER_LOGGERS:
        logger = logging.getLogger(name)
        if logger.handlers:
            log_filter.install(logger)


def _integrations() -> list[Any]:
    from sentry_sdk.integrations import DidNotEnable
    from sentry_sdk.integrations.fastapi import FastApiIntegration
    from sentry_sdk.integrations.starlette import StarletteIntegration

    found: list[Any] = [StarletteIntegration(), FastApiIntegration()]
    try:
        from sentry_sdk.integrations.ray import RayIntegration
    except (ImportError, DidNotEnable):  # pragma: no cover - Ray is a dependency
        return found
    found.append(RayIntegration())
    return found


def init_sentry(settings: Settings, component: str, agent: str | None = None) -> bool:
    """Initialise sentry-sdk for this process; False (and nothing done) without a DSN."""
    global _sentry_for
    if not settings.sentry_dsn:
        return False
    if _sentry_for != settings.sentry_dsn:
        sentry_sdk.init(
            dsn=settings.sentry_dsn,
            environment=settings.stage,
            integrations=_integrations(),
            # send_default_pii stays off by being left unset: this sentry-sdk deprecates the
            # option (for ``data_collection``) and reads "unset" as False, keeping its own
            # denylist scrubber (auth headers, cookies, tokens) in front of ours.
            # Request bodies are event payloads: Sentry never gets them, scrubbed or not.
            max_request_body_size="never",
            include_local_variables=False,
            traces_sample_rate=settings.sentry_traces_sample_rate,
            # The hooks take and return plain dicts (they import nothing from sentry_sdk), which
            # is what Sentry passes; its ``Event`` is a TypedDict over the same dict.
            before_send=sentry_scrub.before_send,  # type: ignore[arg-type]
            before_send_transaction=sentry_scrub.before_send_transaction,  # type: ignore[arg-type]
            before_breadcrumb=sentry_scrub.before_breadcrumb,
        )
        _sentry_for = settings.sentry_dsn
    sentry_sdk.set_tag("component", component)
    if agent:
        sentry_sdk.set_tag("agent", agent)
    return True


def init_observability(settings: Settings, component: str, agent: str | None = None) -> None:
    """The PHI policy, metrics on or off, log redaction, then Sentry (if configured), for a
    process named ``component``."""
    phi.configure(redact_provider_names=settings.phi_redact_provider_names)
    metrics.configure(settings.metrics_enabled)
    install_log_redaction()
    init_sentry(settings, component, agent)


@contextmanager
def tenant_scope(tenant: str, agent: str | None = None,
                 request_id: str | None = None) -> Iterator[None]:
    """Tag Sentry reports made inside with the tenant (and agent, request id); report an
    exception that escapes, then re-raise it."""
    with sentry_sdk.isolation_scope() as scope:
        scope.set_tag("tenant", tenant)
        if agent:
            scope.set_tag("agent", agent)
        if request_id:
            scope.set_tag("request_id", request_id)
        try:
            yield
        except Exception as exc:
            sentry_sdk.capture_exception(exc)
            raise


def zero_agent_series(agent: str) -> None:
    """Make an agent process's counters exist at 0: its runs, its Claude requests and tokens
    (0 is the truth with no key configured), its PHI redactions before an LLM call."""
    from metrics.catalog import AGENT_OUTCOMES, LLM_OUTCOMES, PHI_KINDS

    metrics.zero("clinisight_agent_runs_total",
                 [{"agent": agent, "outcome": o} for o in AGENT_OUTCOMES])
    metrics.zero("clinisight_llm_requests_total",
                 [{"agent": agent, "outcome": o} for o in LLM_OUTCOMES])
    metrics.zero("clinisight_llm_tokens_total",
                 [{"agent": agent, "direction": d} for d in ("input", "output")])
    metrics.zero("clinisight_redactions_total", [{"kind": k, "exit": "llm"} for k in PHI_KINDS])
