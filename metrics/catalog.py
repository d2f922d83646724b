"""Every Clinisight product metric, in one place: name, kind, labels, and what it means.

Label values come from bounded sets only, never from free text or tenant content: tenant ids
(verified, ``config.settings.TENANT_RE``), agent names, event sources, HTTP statuses, PHI kinds.
A label listed in ``ALLOWED`` takes only those values (``metrics.recorder`` maps anything else
to ``"other"``); ``tenant`` and ``agent`` must match ``NAME_RE``. So no series name or value can
carry an event's summary, a page's text, or a caller's input.

Ray's metrics agent exports each as ``ray_<name>`` (its Prometheus namespace), adding the
labels ``WorkerId``, ``Component``, ``NodeAddress``, ``SessionName`` and ``Version``: every
process reports its own series, so queries sum over them (``sum by (tenant) (...)``).
``exported`` gives the names a query uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

PREFIX = "ray_"  # Ray's metrics agent exports custom metrics under its namespace
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")  # tenant ids, agent names

# Seconds: from a fast DynamoDB call to a slow LLM answer or a backlog an hour old.
LATENCY_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LAG_S = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class MetricSpec:
    name: str
    kind: Kind
    description: str
    labels: tuple[str, ...]
    buckets: tuple[float, ...] = ()


PHI_KINDS = ("SSN", "MRN", "MEMBER_ID", "NPI", "ACCOUNT", "PHONE", "EMAIL", "DATE", "ADDRESS",
             "LOCATION", "AGE", "NAME", "unchecked")
REDACTION_EXITS = ("llm", "index")
AGENT_OUTCOMES = ("ok", "error")
LLM_OUTCOMES = ("ok", "retried", "fallback_offline", "error")
REINDEX_OUTCOMES = ("embedded", "skipped", "failed", "removed")
AUDIT_OUTCOMES = ("ok", "error")
EVENT_STATUSES = ("accepted", "duplicate", "ignored")  # and rejected_<HTTP status>

# Label -> the only values it takes. ``status`` of an event is also ``rejected_<4xx|5xx>``.
ALLOWED: dict[str, frozenset[str]] = {
    "source": frozenset({"forge", "jira"}),
    "outcome": frozenset({*AGENT_OUTCOMES, *LLM_OUTCOMES, *REINDEX_OUTCOMES, *AUDIT_OUTCOMES}),
    "direction": frozenset({"input", "output"}),
    "kind": frozenset(PHI_KINDS),
    "exit": frozenset(REDACTION_EXITS),
    "mode": frozenset({"exact", "hnsw"}),
    "table": frozenset({"AgentState", "Events", "Audit", "AuditAnchors", "Embeddings",
                        "PhiNames", "Inbox"}),
    "op": frozenset({"get_item", "put_item", "update_item", "delete_item", "query", "scan",
                     "batch_write_item", "batch_get_item", "describe_table"}),
}
STATUS_RE = re.compile(rf"^({'|'.join(EVENT_STATUSES)}|rejected_[45][0-9][0-9])$")

CATALOG: dict[str, MetricSpec] = {s.name: s for s in (
    MetricSpec("clinisight_events_total", "counter",
               "Event deliveries by tenant, source and what became of them: accepted, "
               "duplicate, ignored, or rejected_<HTTP status>.", ("tenant", "source", "status")),
    MetricSpec("clinisight_event_lag_seconds", "histogram",
               "Seconds from an event's acceptance to its processing being done, per agent "
               "that handled it.", ("agent",), LAG_S),
    MetricSpec("clinisight_backlog_events", "gauge",
               "Events accepted but not yet done, per tenant.", ("tenant",)),
    MetricSpec("clinisight_inbox_depth", "gauge",
               "Deliveries acknowledged (durable in the intake inbox) and not yet drained into "
               "the event log, as the drainer last counted them (at most one drain page).",
               ()),
    MetricSpec("clinisight_agent_runs_total", "counter",
               "Agent invocations (an event, a batch, a run) by outcome.", ("agent", "outcome")),
    MetricSpec("clinisight_agent_run_seconds", "histogram",
               "Seconds an agent took per invocation.", ("agent",), LATENCY_S),
    MetricSpec("clinisight_llm_requests_total", "counter",
               "Claude requests by outcome: ok, retried (ok after retries), fallback_offline "
               "(the offline planner answered), error (nothing answered).",
               ("agent", "outcome")),
    MetricSpec("clinisight_llm_tokens_total", "counter",
               "Claude tokens by direction (input, output).", ("agent", "direction")),
    MetricSpec("clinisight_llm_seconds", "histogram",
               "Seconds per Claude request, retries included.", ("agent",), LATENCY_S),
    MetricSpec("clinisight_redactions_total", "counter",
               "PHI spans redacted, by kind and by the exit the text was leaving through "
               "(unchecked: the PHI check failed and the text did not leave).",
               ("kind", "exit")),
    MetricSpec("clinisight_reindex_pages_total", "counter",
               "Reindexed pages by outcome: embedded, skipped (unchanged), failed, removed.",
               ("tenant", "outcome")),
    MetricSpec("clinisight_reindex_pages_per_second", "gauge",
               "Pages per second of the tenant's running reindex (0 when none runs).",
               ("tenant",)),
    MetricSpec("clinisight_index_chunks", "gauge",
               "Chunks in the tenant's index shard.", ("tenant",)),
    MetricSpec("clinisight_search_seconds", "histogram",
               "Seconds per shard search, by the shard's index mode (exact, hnsw).",
               ("mode",), LATENCY_S),
    MetricSpec("clinisight_audit_appends_total", "counter",
               "Audit trail appends by outcome; an error means a caller got a 503.",
               ("outcome",)),
    MetricSpec("clinisight_dynamodb_seconds", "histogram",
               "Seconds per DynamoDB call, by table kind and operation.", ("table", "op"),
               LATENCY_S),
)}


def exported(name: str) -> set[str]:
    """The series names Prometheus sees for metric ``name``."""
    spec = CATALOG[name]
    base = PREFIX + name
    if spec.kind == "histogram":
        return {f"{base}_bucket", f"{base}_sum", f"{base}_count"}
    return {base}


def all_exported() -> set[str]:
    return {series for name in CATALOG for series in exported(name)}
