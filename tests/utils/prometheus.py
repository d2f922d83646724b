"""Reading a Prometheus text endpoint (Ray's metrics agent) in tests."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def scrape(url: str) -> tuple[str, list[Sample]]:
    """(the raw text, its samples)."""
    text = httpx.get(url, timeout=10.0).text
    samples = [Sample(s.name, dict(s.labels), float(s.value))
               for family in text_string_to_metric_families(text) for s in family.samples]
    return text, samples


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum over every process's series of ``name`` whose labels include ``labels``."""
    return sum(s.value for s in samples
               if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def present(samples: list[Sample], name: str, **labels: str) -> bool:
    return any(s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
               for s in samples)
