"""Recording product metrics through ``ray.util.metrics``, so they never hurt the caller.

``inc``, ``observe`` and ``set_gauge`` take a metric of ``metrics.catalog`` and its labels.
Each process creates its metric objects on first use (Ray exports them through the node's
metrics agent). A call never raises: outside a Ray worker, with metrics turned off
(``configure(False)``, from ``Settings.metrics_enabled``) or when Ray's recorder fails, it does
nothing, and a failure is logged once per metric. Label values outside their bounded set become
``"other"`` (``metrics.catalog.ALLOWED``), so a bug cannot put free text in a series.

``zero`` makes a counter or gauge series exist at 0: Ray exports a series only once it has a
sample, and an operator's "no data" must mean "nothing happened", not "not reported yet".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from metrics.catalog import ALLOWED, CATALOG, NAME_RE, STATUS_RE

log = logging.getLogger("clinisight.metrics")

_enabled = True
_objects: dict[str, Any] = {}
_reported: set[str] = set()  # metrics whose failure was logged already
_names_ok: set[str] = set()  # tenant ids and agent names already checked against NAME_RE


def configure(enabled: bool) -> None:
    """Turn recording on or off in this process (``init_observability`` calls it)."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled


def _metric(name: str) -> Any:
    found = _objects.get(name)
    if found is not None:
        return found
    import ray

    if not ray.is_initialized():  # a CLI, a plain-uvicorn benchmark, a unit test
        return None
    from ray.util import metrics as ray_metrics

    spec = CATALOG[name]
    made: Any
    if spec.kind == "counter":
        made = ray_metrics.Counter(name, description=spec.description, tag_keys=spec.labels)
    elif spec.kind == "gauge":
        made = ray_metrics.Gauge(name, description=spec.description, tag_keys=spec.labels)
    else:
        made = ray_metrics.Histogram(name, description=spec.description,
                                     boundaries=list(spec.buckets), tag_keys=spec.labels)
    _objects[name] = made
    return made


def _label(key: str, value: object) -> str:
    text = str(value)
    allowed = ALLOWED.get(key)
    if allowed is not None:
        return text if text in allowed else "other"
    if key == "status":
        return text if STATUS_RE.match(text) else "other"
    if text in _names_ok:
        return text
    if NAME_RE.match(text):
        if len(_names_ok) < 10_000:  # tenants and agents are few; never grow without bound
            _names_ok.add(text)
        return text
    return "other"


def _tags(labels: Mapping[str, object]) -> dict[str, str]:
    return {k: _label(k, v) for k, v in labels.items()}


def _failed(name: str, exc: Exception) -> None:
    if name not in _reported:
        _reported.add(name)
        log.warning("metric %s not recorded: %s", name, type(exc).__name__)


def inc(name: str, value: float = 1.0, **labels: object) -> None:
    """Add ``value`` (> 0) to counter ``name``."""
    if not _enabled or value <= 0:
        return
    try:
        metric = _metric(name)
        if metric is not None:
            metric.inc(value, tags=_tags(labels))
    except Exception as exc:  # metrics never fail the request path
        _failed(name, exc)


def observe(name: str, value: float, **labels: object) -> None:
    """Record one observation of histogram ``name``."""
    if not _enabled:
        return
    try:
        metric = _metric(name)
        if metric is not None:
            metric.observe(value, tags=_tags(labels))
    except Exception as exc:
        _failed(name, exc)


def set_gauge(name: str, value: float, **labels: object) -> None:
    if not _enabled:
        return
    try:
        metric = _metric(name)
        if metric is not None:
            metric.set(value, tags=_tags(labels))
    except Exception as exc:
        _failed(name, exc)


def zero(name: str, label_sets: Iterable[Mapping[str, object]]) -> None:
    """Make each series of counter or gauge ``name`` exist, at 0 (a counter keeps its count)."""
    if not _enabled:
        return
    try:
        metric = _metric(name)
        if metric is None:
            return
        for labels in label_sets:
            # Counter.inc refuses 0; the shared recording path underneath records it.
            metric._record(0, tags=_tags(labels))
    except Exception as exc:
        _failed(name, exc)


@contextmanager
def timed(name: str, **labels: object) -> Iterator[None]:
    """Observe the seconds the block took into histogram ``name`` (also when it raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        observe(name, time.perf_counter() - started, **labels)


@contextmanager
def counted(counter: str, histogram: str, **labels: object) -> Iterator[None]:
    """Count the block in ``counter`` with ``outcome`` ok or error, and observe its seconds
    into ``histogram``; the exception, if any, goes on."""
    started = time.perf_counter()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    finally:
        observe(histogram, time.perf_counter() - started, **labels)
        inc(counter, 1.0, outcome=outcome, **labels)
