"""MindMesh end to end: a loopback Confluence serving the real fixture pages, the real stack."""

from __future__ import annotations

import copy
import dataclasses
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.embeddings.confluence_server import FakeConfluence, FixturePage, load_fixture_pages
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack

QUESTION = "How do I set up SAML with an identity provider?"


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    # Pages of one or two per response so pagination is followed; a 429 every 4th request.
    fake = FakeConfluence(pages=load_fixture_pages(), throttle_every=4, retry_after="0")
    fake.start()
    yield fake
    fake.stop()


def reindex(stack: Stack, tenant: str, source: str) -> dict[str, object]:
    code, out = stack.cli("reindex", "--tenant", tenant, "--space", "QM", "--source", source,
                          "--quiet", timeout=600)
    assert code == 0, out
    return dict(out)


def ask(stack: Stack, tenant: str, question: str = QUESTION, k: int = 10) -> dict[str, object]:
    resp = stack.client.post(f"/v1/tenants/{tenant}/ask", json={"question": question, "k": k},
                             headers=stack.bearer(tenant))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def bumped(page: FixturePage, extra: str) -> FixturePage:
    v2 = copy.deepcopy(page.v2)
    v2["version"]["number"] = page.version + 1
    return dataclasses.replace(page, version=page.version + 1, v2=v2,
                               storage=page.storage + f"<p>{extra}</p>")


def test_reindex_ask_change_delete(stack: Stack, confluence: FakeConfluence) -> None:
    tenant = "mm-a"
    first = reindex(stack, tenant, confluence.url)
    assert first["status"] == "succeeded"
    assert first["seen"] == first["embedded"] == len(confluence.pages)
    assert first["failed"] == 0 and first["chunks"] > len(confluence.pages)
    assert any(r for r in confluence.requests if r.path.endswith("/pages")), "v2 not used"

    answer = ask(stack, tenant)
    passages = answer["passages"]
    assert isinstance(passages, list) and passages
    assert passages[0]["pageId"] == "1454342158", "the Identity Providers page should lead"
    assert passages[0]["url"].endswith("/spaces/QM/pages/1454342158/Identity+Providers")
    citations = answer["citations"]
    assert isinstance(citations, list) and citations
    assert all(1 <= c <= len(passages) for c in citations)
    assert "[1]" in str(answer["answer"]) or "[2]" in str(answer["answer"])

    # The Rovo action answers the same, with its sources as title and link.
    rovo = stack.client.post("/v1/forge/actions/ask-mindmesh",
                             json={"payload": {"question": QUESTION}},
                             headers=stack.bearer(tenant))
    assert rovo.status_code == 200, rovo.text
    assert rovo.json()["sources"][0]["title"] == "Identity Providers"

    # One page changes version: only that page is embedded again.
    target = next(i for i, p in enumerate(confluence.pages) if p.page_id == "544112828")
    marker = "Zebrafish quarantine protocol for the ward"
    confluence.pages[target] = bumped(confluence.pages[target], marker)
    second = reindex(stack, tenant, confluence.url)
    assert (second["embedded"], second["skipped"]) == (1, len(confluence.pages) - 1)
    hit = ask(stack, tenant, "zebrafish quarantine protocol", k=3)["passages"][0]  # type: ignore[index]
    assert hit["pageId"] == "544112828" and hit["version"] == confluence.pages[target].version

    # A page deleted from the space is gone from answers.
    del confluence.pages[target]
    third = reindex(stack, tenant, confluence.url)
    assert third["removed"] == 1
    after = ask(stack, tenant, "zebrafish quarantine protocol", k=10)["passages"]
    assert all(p["pageId"] != "544112828" for p in after)  # type: ignore[union-attr]


def test_other_tenants_never_see_the_passages(stack: Stack, confluence: FakeConfluence) -> None:
    reindex(stack, "mm-iso-a", confluence.url)
    assert ask(stack, "mm-iso-b")["passages"] == []
    cross = stack.client.post("/v1/tenants/mm-iso-a/ask", json={"question": QUESTION},
                              headers=stack.bearer("mm-iso-b"))
    assert cross.status_code == 403 and "Identity" not in cross.text
    rx = stack.client.post("/v1/tenants/mm-iso-a/reindex", json={"space": "QM"},
                           headers=stack.bearer("mm-iso-b"))
    assert rx.status_code == 403


def test_page_event_updates_one_page(stack: Stack, confluence: FakeConfluence) -> None:
    tenant = "mm-ev"
    reindex(stack, tenant, confluence.url)
    i = next(i for i, p in enumerate(confluence.pages) if p.page_id == "793608206")
    confluence.pages[i] = bumped(confluence.pages[i], "Okapi escalation checklist")
    event = {
        "eventType": "avi:confluence:updated:page",
        "atlassianId": "4ad9aa0c52dc1b420a791d12",
        "eventCreatedDate": "2026-11-25T10:00:00.000Z",
        "content": {"id": "793608206", "type": "page", "status": "current",
                    "title": confluence.pages[i].title, "space": {"key": "QM"},
                    "version": {"number": confluence.pages[i].version}},
    }
    resp = stack.post_forge(event, tenant=tenant)
    assert resp.status_code == 202 and resp.json()["status"] == "accepted"
    done = stack.wait_final(resp.json()["eventId"], tenant=tenant)
    assert done["status"] == "done"
    assert done["result"]["MindMesh"]["action"] == "indexed"
    top = ask(stack, tenant, "okapi escalation checklist", k=3)["passages"][0]  # type: ignore[index]
    assert top["pageId"] == "793608206" and top["version"] == confluence.pages[i].version


def test_bad_reindex_requests_get_clear_4xx(stack: Stack) -> None:
    h = stack.bearer("mm-bad")
    assert stack.client.post("/v1/tenants/mm-bad/reindex", json={"space": "../x"},
                             headers=h).status_code == 422
    unknown = stack.client.post("/v1/tenants/mm-bad/reindex", json={"space": "NEVER"}, headers=h)
    assert unknown.status_code == 422 and "no known source" in unknown.json()["detail"]
    assert stack.client.get("/v1/tenants/mm-bad/reindex/rx-nope", headers=h).status_code == 404
    assert stack.client.post("/v1/tenants/mm-bad/ask", json={"question": ""},
                             headers=h).status_code == 422


def _replica_pids(name: str) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if f"ServeReplica:clinisight:{name}" in line]


def test_index_replica_killed_comes_back_from_snapshot(stack: Stack,
                                                       confluence: FakeConfluence) -> None:
    tenant = "mm-kill"
    reindex(stack, tenant, confluence.url)
    before = [p["chunkId"] for p in ask(stack, tenant)["passages"]]  # type: ignore[union-attr]
    pids = [pid for p in range(2) for pid in _replica_pids(f"TenantIndex{p}")]
    assert pids, "no TenantIndex replica process found"
    for pid in pids:  # processes of the stack this test started
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 120
    while True:
        resp = stack.client.post(f"/v1/tenants/{tenant}/ask", json={"question": QUESTION,
                                                                    "k": 10},
                                 headers=stack.bearer(tenant))
        if resp.status_code == 200 and resp.json()["passages"]:
            break
        assert time.monotonic() < deadline, f"index not back: {resp.status_code} {resp.text}"
        time.sleep(1)
    after = [p["chunkId"] for p in resp.json()["passages"]]
    assert after == before
