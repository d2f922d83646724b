"""The recorder outside Ray, and the redaction counter: bounded labels, never a raise."""

from __future__ import annotations

import pytest

import metrics
from compliance.phi import PhiCheckFailed, redact
from metrics import recorder
from metrics.catalog import CATALOG, all_exported, exported
from metrics.redactions import CountedRedact, placeholders


def test_labels_outside_their_sets_become_other() -> None:
    tags = recorder._tags({"tenant": "acme", "source": "smtp", "status": "Jane Doe's chart",
                           "kind": "SSN", "agent": "Task Smith; DROP"})
    assert tags == {"tenant": "acme", "source": "other", "status": "other", "kind": "SSN",
                    "agent": "other"}
    assert recorder._tags({"status": "rejected_429"}) == {"status": "rejected_429"}


def test_recording_without_ray_does_nothing_and_never_raises() -> None:
    metrics.inc("clinisight_events_total", tenant="a", source="forge", status="accepted")
    metrics.observe("clinisight_search_seconds", 0.1, mode="exact")
    metrics.set_gauge("clinisight_backlog_events", 3, tenant="a")
    metrics.zero("clinisight_audit_appends_total", [{"outcome": "ok"}])
    with pytest.raises(ValueError), metrics.counted("clinisight_agent_runs_total",
                                                    "clinisight_agent_run_seconds",
                                                    agent="TaskSmith"):
        raise ValueError("the block's own error goes on")


def test_a_broken_metric_is_logged_once_not_raised(caplog: pytest.LogCaptureFixture,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def inc(self, *a: object, **k: object) -> None:
            raise RuntimeError("recorder down")

    monkeypatch.setitem(recorder._objects, "clinisight_audit_appends_total", Broken())
    monkeypatch.setattr(recorder, "_reported", set())
    for _ in range(3):
        metrics.inc("clinisight_audit_appends_total", outcome="ok")
    assert [r.getMessage() for r in caplog.records].count(
        "metric clinisight_audit_appends_total not recorded: RuntimeError") == 1


def test_turned_off_records_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    class Counting:
        calls = 0

        def inc(self, *a: object, **k: object) -> None:
            Counting.calls += 1

    monkeypatch.setitem(recorder._objects, "clinisight_audit_appends_total", Counting())
    metrics.configure(False)
    try:
        metrics.inc("clinisight_audit_appends_total", outcome="ok")
    finally:
        metrics.configure(True)
    assert Counting.calls == 0
    metrics.inc("clinisight_audit_appends_total", outcome="ok")
    assert Counting.calls == 1


def test_counted_redact_counts_added_placeholders_by_kind(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    counted: list[tuple[float, dict[str, object]]] = []
    monkeypatch.setattr(recorder, "inc",
                        lambda name, value=1.0, **labels: counted.append((value, labels)))
    wrapped = CountedRedact("llm", redact)
    text = "Call 555-201-3344 or 555-201-9876; SSN 123-45-6789. Already [SSN] here."
    out = wrapped(text)
    assert out == redact(text)
    added = placeholders(out)
    added.subtract(placeholders(text))
    assert added["PHONE"] == 2 and added["SSN"] == 1
    assert sorted((v, lab["kind"]) for v, lab in counted) == [(1, "SSN"), (2, "PHONE")]
    assert all(lab["exit"] == "llm" for _, lab in counted)
    assert wrapped("nothing to see") == "nothing to see"


def test_counted_redact_counts_a_failed_check_and_re_raises(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    counted: list[dict[str, object]] = []
    monkeypatch.setattr(recorder, "inc",
                        lambda name, value=1.0, **labels: counted.append(labels))

    def broken(text: str) -> str:
        raise PhiCheckFailed("detector overran")

    with pytest.raises(PhiCheckFailed):
        CountedRedact("index", broken)("some text")
    assert counted == [{"kind": "unchecked", "exit": "index"}]


def test_catalog_names_and_exports() -> None:
    assert all(n.startswith("clinisight_") for n in CATALOG)
    assert exported("clinisight_llm_seconds") == {
        "ray_clinisight_llm_seconds_bucket", "ray_clinisight_llm_seconds_sum",
        "ray_clinisight_llm_seconds_count"}
    assert "ray_clinisight_events_total" in all_exported()
