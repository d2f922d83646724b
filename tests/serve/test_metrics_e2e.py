"""Product metrics on a real stack: Ray's metrics endpoint, after events, failures, a reindex.

One test drives everything (the stack is the session's), then waits for Ray's metrics agent
(it exports what each process reported, every few seconds).
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
import time
from collections.abc import Callable, Iterator

import pytest

from metrics.catalog import ALLOWED, CATALOG, NAME_RE, PREFIX, STATUS_RE, exported
from serve.stack import pid_file
from store.events import EventStatus
from store.factory import open_stores
from tests.embeddings.confluence_server import FakeConfluence, FixturePage, load_fixture_pages
from tests.utils.payloads import forge_epic
from tests.utils.prometheus import Sample, present, scrape, total
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack

TENANT = "metrics-t1"
# Seeded PHI: it goes in an event summary and a Confluence page; none of it may reach a label.
PHI = ["Zebulon Fairweather", "123-45-6789", "MRN 48213377", "zebulon.fairweather@example.org"]
PHI_TEXT = (f"Patient {PHI[0]}, SSN {PHI[1]}, {PHI[2]}, email {PHI[3]}, "
            "was seen on 2026-03-14 for a follow-up.")
# Histograms with no observation are not exported; without a Claude key nothing calls Claude.
NEEDS_CLAUDE = {"clinisight_llm_seconds"}


def _with_phi(page: FixturePage) -> FixturePage:
    v2 = copy.deepcopy(page.v2)
    return dataclasses.replace(page, v2=v2, storage=page.storage + f"<p>{PHI_TEXT}</p>")


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    pages = load_fixture_pages()[:4]
    fake = FakeConfluence(pages=[_with_phi(pages[0]), *pages[1:]])
    fake.start()
    yield fake
    fake.stop()


def metrics_url(stack: Stack) -> str:
    url = json.loads(pid_file(stack.settings).read_text())["metrics"]
    assert url == f"http://127.0.0.1:{stack.settings.metrics_port}/metrics"
    return str(url)


def wait_for(url: str, check: Callable[[list[Sample]], bool],
             timeout: float = 60.0) -> tuple[str, list[Sample]]:
    deadline = time.monotonic() + timeout
    while True:
        text, samples = scrape(url)
        if check(samples):
            return text, samples
        if time.monotonic() > deadline:
            return text, samples
        time.sleep(2.0)


def test_product_metrics_move_and_carry_no_phi(stack: Stack,
                                               confluence: FakeConfluence) -> None:
    url = metrics_url(stack)
    _, before = scrape(url)
    p = PREFIX

    # Events: accepted (with PHI in its summary), the same again (duplicate), and refusals.
    first_event = time.monotonic()
    resp = stack.post_forge(forge_epic(key="MET-1", summary=PHI_TEXT[:200]), tenant=TENANT)
    assert resp.status_code == 202, resp.text
    assert stack.wait_final(resp.json()["eventId"], TENANT)["status"] == "done"

    # Within a minute of the tenant's first event, every metric is on the endpoint, the
    # tenant's own series included (but the histograms nothing has observed yet).
    not_yet = NEEDS_CLAUDE | {"clinisight_search_seconds"}
    per_tenant = [n for n, spec in CATALOG.items() if "tenant" in spec.labels]

    def all_there(s: list[Sample]) -> bool:
        names = {x.name for x in s}
        return (all(exported(n) <= names for n in CATALOG if n not in not_yet)
                and all(present(s, p + n, tenant=TENANT) for n in per_tenant))

    _, fresh = wait_for(url, all_there, timeout=60 - (time.monotonic() - first_event))
    assert all_there(fresh), sorted(
        n for n in CATALOG if n not in not_yet
        and not (exported(n) <= {x.name for x in fresh}
                 and ("tenant" not in CATALOG[n].labels or present(fresh, p + n, tenant=TENANT))))
    assert stack.post_forge(forge_epic(key="MET-1", summary=PHI_TEXT[:200]),
                            tenant=TENANT).status_code == 200
    assert stack.post_forge({"issue": {}}, tenant=TENANT).status_code == 422
    bad = stack.client.post("/v1/forge/events", content=b"{}",
                            headers={"authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    # An agent failure: a dependency cycle is refused by RoadmapSmith.
    cycle = stack.client.post(
        f"/v1/tenants/{TENANT}/agents/RoadmapSmith/run",
        json={"epics": [{"key": "E-1", "blockedBy": ["E-2"]},
                        {"key": "E-2", "blockedBy": ["E-1"]}]},
        headers=stack.bearer(TENANT))
    assert cycle.status_code == 422, cycle.text
    # A reindex (one page carries the seeded PHI), then a question: a search.
    code, job = stack.cli("reindex", "--tenant", TENANT, "--space", "QM", "--source",
                          confluence.url, "--quiet", timeout=600)
    assert code == 0 and job["embedded"] == 4, job
    ask = stack.client.post(f"/v1/tenants/{TENANT}/ask",
                            json={"question": "How do I set up SAML?", "k": 3},
                            headers=stack.bearer(TENANT))
    assert ask.status_code == 200, ask.text

    def moved(s: list[Sample]) -> bool:
        return all([
            total(s, f"{p}clinisight_events_total", tenant=TENANT, source="forge",
                  status="accepted") >= 1,
            total(s, f"{p}clinisight_events_total", tenant=TENANT, status="duplicate") >= 1,
            total(s, f"{p}clinisight_events_total", tenant=TENANT, status="rejected_422") >= 1,
            total(s, f"{p}clinisight_events_total", tenant="unauthenticated",
                  status="rejected_401") >= 1,
            total(s, f"{p}clinisight_event_lag_seconds_count", agent="TaskSmith") >= 1,
            total(s, f"{p}clinisight_agent_runs_total", agent="TaskSmith", outcome="ok") >= 1,
            total(s, f"{p}clinisight_agent_runs_total", agent="RoadmapSmith",
                  outcome="error") >= 1,
            total(s, f"{p}clinisight_reindex_pages_total", tenant=TENANT,
                  outcome="embedded") >= 4,
            total(s, f"{p}clinisight_redactions_total", exit="index") >= 1,
            total(s, f"{p}clinisight_index_chunks", tenant=TENANT) >= 4,
            present(s, f"{p}clinisight_backlog_events", tenant=TENANT),
            total(s, f"{p}clinisight_search_seconds_count") >= 1,
            total(s, f"{p}clinisight_audit_appends_total", outcome="ok") >= 1,
            total(s, f"{p}clinisight_dynamodb_seconds_count", table="Events") >= 1,
        ])

    text, after = wait_for(url, moved, timeout=90)
    assert moved(after), "product metrics did not move: " + "\n".join(
        line for line in text.splitlines() if "clinisight_" in line and "# " not in line)
    # Counters only grew.
    for name in ("clinisight_agent_runs_total", "clinisight_audit_appends_total"):
        assert total(after, p + name) > total(before, p + name)

    # Every metric of the catalog is on the endpoint (but Claude's latency, without Claude).
    exported_now = {s.name for s in after}
    missing = [n for n in CATALOG if n not in NEEDS_CLAUDE and not exported(n) <= exported_now]
    assert not missing, missing

    # No PHI anywhere in the export, and every product label value is from a bounded set.
    for needle in (*PHI, "Zebulon", "Fairweather"):
        assert needle not in text
    for sample in after:
        if not sample.name.startswith(p + "clinisight_"):
            continue
        for key, value in sample.labels.items():
            if key in ALLOWED:
                assert value in ALLOWED[key], (sample.name, key, value)
            elif key == "status":
                assert STATUS_RE.match(value), (sample.name, value)
            elif key in ("tenant", "agent"):
                assert NAME_RE.match(value) and len(value) <= 64, (sample.name, value)


async def _failed_event(stack: Stack, event_id: str) -> None:
    """An event the orchestrator gave up on, as it records one after its last attempt (final:
    the re-drive leaves it alone)."""
    local = stack.settings.model_copy(update={
        "dynamodb_endpoint": f"http://127.0.0.1:{stack.settings.dynamodb_local_port}"})
    events = open_stores(local, threads=2).events
    await events.record(TENANT, event_id, "jira", "jira:issue_updated", {}, EventStatus.FAILED,
                        ["DealFlow"])
    await events.finish(TENANT, event_id, EventStatus.FAILED, ["DealFlow"], None,
                        "ValueError in agent DealFlow")


def test_status_reports_backlog_failures_and_shards(stack: Stack) -> None:
    asyncio.run(_failed_event(stack, "status-failed-1"))
    code, out = stack.cli("status", "--tenant", TENANT)
    assert code == 0, out
    assert out["health"]["status"] == "ok"
    assert out["stack"]["metrics"] == metrics_url(stack)
    mine = out["tenants"][TENANT]
    assert mine["backlog"]["events"] == 0 and mine["backlog"]["oldest"] is None
    assert mine["reindexRunning"] == []
    (failed,) = mine["failures"]["DealFlow"]
    assert failed["eventId"] == "status-failed-1" and failed["errorType"] == "ValueError"
    assert set(mine["failures"]) == {"DealFlow"}  # nothing else failed for this tenant
    assert mine["shard"] is not None and mine["shard"]["chunks"] >= 4
    assert "Zebulon" not in json.dumps(out)
