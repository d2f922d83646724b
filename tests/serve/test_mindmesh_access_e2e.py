"""MindMesh answers each person only from pages that person may read (issue #14), on the real
stack: the loopback Confluence serving restrictions, ancestors, space permissions and groups in
Confluence's wire shapes; a reindex Ray job; /ask and the Rovo action with users' FITs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.embeddings.confluence_server import FakeConfluence, make_page
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack

# Each page has words of its own, so an answer naming them shows where it came from.
PAGES = {
    "3000": ("Sepsis protocol", "Zebu sepsis bundle within one hour of triage."),
    "3001": ("HR case 17", "Quokka grievance hearing outcome and sanctions."),
    "3002": ("Medication incident review", "Narwhal dosing error root cause on ward 4."),
    "3003": ("HR case 17 follow-up", "Ocelot follow-up meeting after the hearing."),
    "3004": ("HR case 17 appeal", "Pangolin appeal panel and its members."),
    "3005": ("Credentialing of Dr C", "Tapir credentialing file and references."),
    "3006": ("Merger plan", "Wombat acquisition terms and valuation."),
}
EVERYTHING = "Zebu Quokka Narwhal Ocelot Pangolin Tapir Wombat"


@pytest.fixture
def site() -> Iterator[FakeConfluence]:
    fake = FakeConfluence([make_page(i, t, body) for i, (t, body) in PAGES.items()])
    perms = fake.permissions
    # VIEW: A, B and the nurses group; C and X hold none.
    perms.space_view = [("user", "acc-A"), ("user", "acc-B"), ("group", "gid-nurses")]
    perms.groups = {"nurses": ["acc-N"]}
    perms.restrict("3001", users=["acc-A"])  # HR case: A only
    perms.restrict("3002", groups=["nurses"])  # incident review: nurses
    perms.parents["3003"] = "3001"  # unrestricted child of {A}
    perms.parents["3004"] = "3001"
    perms.restrict("3004", users=["acc-A", "acc-B"])  # child {A, B} under parent {A}
    perms.restrict("3005", users=["acc-C"])  # C lacks space VIEW
    perms.parents["3006"] = "9999"  # under an ancestor the app cannot read (a draft)
    perms.unreadable.add("9999")
    fake.start()
    yield fake
    fake.stop()


def reindex(stack: Stack, tenant: str, source: str) -> dict[str, Any]:
    code, out = stack.cli("reindex", "--tenant", tenant, "--space", "QM", "--source", source,
                          "--quiet", timeout=600)
    assert code == 0, out
    return dict(out)


def ask(stack: Stack, tenant: str, principal: str | None,
        question: str = EVERYTHING) -> dict[str, Any]:
    resp = stack.client.post(f"/v1/tenants/{tenant}/ask", json={"question": question, "k": 50},
                             headers=stack.bearer(tenant, principal=principal))
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def pages(answer: dict[str, Any]) -> set[str]:
    return {p["pageId"] for p in answer["passages"]}


def test_each_person_reads_only_what_confluence_lets_them(stack: Stack,
                                                         site: FakeConfluence) -> None:
    tenant = "acl-a"
    done = reindex(stack, tenant, site.url)
    assert done["status"] == "succeeded" and done["embedded"] == len(PAGES)
    assert done["accessChanged"] == len(PAGES) and done["accessError"] is None

    assert pages(ask(stack, tenant, "acc-A")) == {"3000", "3001", "3003", "3004"}
    # B: a space member sees the unrestricted page; not the HR case, nor its unrestricted
    # child, nor the appeal that names B under a parent that does not.
    assert pages(ask(stack, tenant, "acc-B")) == {"3000"}
    assert pages(ask(stack, tenant, "acc-N")) == {"3000", "3002"}  # through the group
    assert pages(ask(stack, tenant, "acc-C")) == set(), "C is named but lacks space VIEW"
    assert pages(ask(stack, tenant, "acc-X")) == set(), "not a space member"

    # Citations and the answer come from the allowed passages alone.
    answer = ask(stack, tenant, "acc-B", "What is the quokka grievance hearing outcome?")
    assert pages(answer) <= {"3000"}
    assert all(1 <= c <= len(answer["passages"]) for c in answer["citations"])
    for word in ("Quokka", "Ocelot", "Pangolin", "Narwhal", "Tapir", "Wombat"):
        assert word.lower() not in str(answer).lower(), word

    # The Rovo action answers the same person the same way.
    rovo = stack.client.post("/v1/forge/actions/ask-mindmesh",
                             json={"payload": {"question": EVERYTHING}},
                             headers=stack.bearer(tenant, principal="acc-N"))
    assert rovo.status_code == 200, rovo.text
    assert {s["pageId"] for s in rovo.json()["sources"]} <= {"3000", "3002"}

    # No user in the token: 403 on both, with nothing of the pages in the answer.
    for path, body in (("/v1/tenants/acl-a/ask", {"question": EVERYTHING}),
                       ("/v1/forge/actions/ask-mindmesh", {"payload": {"question": "x"}})):
        anon = stack.client.post(path, json=body, headers=stack.bearer(tenant, principal=None))
        assert anon.status_code == 403 and "principal" in anon.json()["detail"], anon.text
        assert "Zebu" not in anon.text

    # Tenant isolation holds for a person the other tenant's pages would admit.
    assert pages(ask(stack, "acl-other", "acc-A")) == set()
    cross = stack.client.post(f"/v1/tenants/{tenant}/ask", json={"question": EVERYTHING},
                              headers=stack.bearer("acl-other", principal="acc-A"))
    assert cross.status_code == 403


def forge_page_event(kind: str, page_id: str) -> dict[str, Any]:
    title = PAGES[page_id][0]
    return {"eventType": f"avi:confluence:{kind}:page", "atlassianId": "acc-admin",
            "eventCreatedDate": "2026-12-05T10:00:00.000Z",
            "content": {"id": page_id, "type": "page", "status": "current", "title": title,
                        "space": {"key": "QM"}, "version": {"number": 1}}}


def test_permission_and_move_events_repoint_without_re_embedding(stack: Stack,
                                                                 site: FakeConfluence) -> None:
    tenant = "acl-ev"
    reindex(stack, tenant, site.url)
    before = {p["chunkId"] for p in ask(stack, tenant, "acc-A")["passages"]}

    # The HR case's restriction is lifted: B now reads it, its unrestricted child, and the
    # appeal whose own restriction names B (no ancestor stands in the way any more).
    site.permissions.unrestrict("3001")
    resp = stack.post_forge(forge_page_event("permissions_updated", "3001"), tenant=tenant)
    assert resp.status_code == 202, resp.text
    done = stack.wait_final(resp.json()["eventId"], tenant=tenant)
    assert done["status"] == "done", done
    result = done["result"]["MindMesh"]
    assert result["action"] == "access" and result["repointed"] >= 2, result
    assert pages(ask(stack, tenant, "acc-B")) == {"3000", "3001", "3003", "3004"}

    # The sepsis protocol moves under the nurses' incident review: B loses it.
    site.permissions.parents["3000"] = "3002"
    resp = stack.post_forge(forge_page_event("moved", "3000"), tenant=tenant)
    done = stack.wait_final(resp.json()["eventId"], tenant=tenant)
    assert done["result"]["MindMesh"]["action"] == "access", done
    assert pages(ask(stack, tenant, "acc-B")) == {"3001", "3003", "3004"}
    assert "3000" in pages(ask(stack, tenant, "acc-N"))

    # A, not a nurse, lost the moved page too; nothing was embedded again: the same chunks
    # (ids carry the page version) answer A, and N, as before the events.
    after = {p["chunkId"] for p in ask(stack, tenant, "acc-A")["passages"]}
    moved = {c for c in before if c.startswith("3000:")}
    assert moved and after == before - moved
    assert moved <= {p["chunkId"] for p in ask(stack, tenant, "acc-N")["passages"]}


def test_token_command_signs_a_fit_for_a_user(stack: Stack) -> None:
    code, out = stack.cli("token", "--tenant", "acl-tok", "--principal", "acc-A")
    assert code == 0 and out["principal"] == "acc-A" and out["tenant"] == "acl-tok", out
    resp = stack.client.post("/v1/tenants/acl-tok/ask", json={"question": "anything"},
                             headers={"authorization": f"Bearer {out['token']}"})
    assert resp.status_code == 200 and resp.json()["passages"] == []
    code, bad = stack.cli("token", "--tenant", "acl-tok", "--principal", "a@example.com")
    assert code == 1 and "accountId" in bad["error"], bad
