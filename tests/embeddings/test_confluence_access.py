"""Reading access from the loopback Confluence over real HTTP, in Confluence's wire shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from embeddings.access import allows, page_expr, reader_tokens
from embeddings.confluence import ConfluenceClient, FolderSource
from embeddings.confluence_access import (
    ACCESS_EXPAND,
    ACCESS_PAGE_SIZE,
    NARROW_EXPAND,
    ConfluenceAccess,
    FolderAccess,
    access_for,
)

from .confluence_server import FakeConfluence, make_page

A, B = reader_tokens("acc-A"), reader_tokens("acc-B")
NURSE = reader_tokens("acc-N", [{"id": "gid-nurses", "name": "nurses"}])


@pytest.fixture
def site() -> Iterator[FakeConfluence]:
    pages = [make_page(str(1000 + i), f"Page {i}", f"text {i}") for i in range(120)]
    fake = FakeConfluence(pages)
    perms = fake.permissions
    perms.space_view = [("user", "acc-A"), ("user", "acc-B"), ("group", "gid-nurses"),
                        ("user", "acc-C")]
    perms.permissions_page_size = 2  # the grants come back over several cursor pages
    # 1000 restricted to A; 1001 its child restricted to A and B; 1002 an unrestricted child.
    perms.restrict("1000", users=["acc-A"])
    perms.restrict("1001", users=["acc-A", "acc-B"])
    perms.parents.update({"1001": "1000", "1002": "1000"})
    # 1003 and 1004 sit under an ancestor whose restrictions the app cannot read (a draft).
    perms.parents.update({"1003": "9000", "1004": "9000"})
    perms.unreadable.add("9000")
    perms.restrict("1005", groups=["nurses"])
    fake.start()
    yield fake
    fake.stop()


async def test_space_grants_follow_the_cursor_and_keep_only_view(site: FakeConfluence) -> None:
    async with ConfluenceClient(site.url, api="v2") as client:
        grants = await ConfluenceAccess(client).space_grants("QM")
    assert grants == ("g:gid-nurses", "u:acc-A", "u:acc-B", "u:acc-C")
    assert len(site.list_requests("/permissions")) == 4  # 8 assignments, 2 a page


async def test_space_facts_apply_the_whole_ancestor_chain(site: FakeConfluence) -> None:
    async with ConfluenceClient(site.url, api="v2") as client:
        access = ConfluenceAccess(client)
        grants = await access.space_grants("QM")
        facts = await access.space_facts("QM")
    assert len(facts) == len(site.pages)

    def readers(page_id: str) -> set[str]:
        e = page_expr(grants, facts[page_id])
        return {n for n, r in {"A": A, "B": B, "N": NURSE}.items() if allows(e, r)}

    assert readers("1000") == {"A"}
    assert readers("1001") == {"A"}, "the parent's {A} still holds over the child's {A, B}"
    assert readers("1002") == {"A"}, "an unrestricted child inherits its parent's restriction"
    assert readers("1003") == readers("1004") == set(), "an unreadable ancestor denies"
    assert readers("1005") == {"N"}
    assert readers("1050") == {"A", "B", "N"}
    # One listing request per ACCESS_PAGE_SIZE pages; the unreadable ancestor asked for once.
    listings = [r for r in site.list_requests("/rest/api/content")
                if "restrictions" in r.query.get("expand", "")]
    assert len(listings) == -(-len(site.pages) // ACCESS_PAGE_SIZE)
    assert [r.path for r in site.requests if r.path.endswith("/byOperation")] == [
        "/wiki/rest/api/content/9000/restriction/byOperation"]


async def test_one_page_facts_and_a_missing_page(site: FakeConfluence) -> None:
    async with ConfluenceClient(site.url, api="v2") as client:
        access = ConfluenceAccess(client)
        one = await access.page_facts("1001")
        gone = await access.page_facts("4242")
    assert one is not None and one.own == ("u:acc-A", "u:acc-B")
    assert one.ancestors == [("1000", ("u:acc-A",))]
    assert gone is None


async def test_member_of_pages_through_every_group(site: FakeConfluence) -> None:
    for i in range(205):
        site.permissions.groups[f"team-{i:03d}"] = ["acc-Z"]
    async with ConfluenceClient(site.url, api="v2") as client:
        groups = await ConfluenceAccess(client).member_of("acc-Z")
        none = await ConfluenceAccess(client).member_of("acc-nobody")
    assert len(groups) == 205 and groups[0] == {
        "type": "group", "name": "team-000", "id": "gid-team-000",
        "_links": {"self": f"{site.site}/rest/api/group/by-id?id=gid-team-000"}}
    assert none == []
    assert len(site.list_requests("/user/memberof")) == 3


async def test_an_export_folder_carries_access_in_its_permissions_file(tmp_path: Path) -> None:
    for page_id, ancestors in (("7001", []), ("7002", [{"id": "7001", "type": "page"}])):
        (tmp_path / page_id).mkdir()
        (tmp_path / page_id / "page.v1.json").write_text(json.dumps({
            "id": page_id, "type": "page", "title": f"Page {page_id}", "ancestors": ancestors,
            "version": {"number": 1}, "space": {"key": "KN"},
            "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}},
            "_links": {"webui": f"/spaces/KN/pages/{page_id}"}}))
    source = FolderSource(tmp_path)
    access = access_for(source)
    assert isinstance(access, FolderAccess)
    assert await access.space_grants("KN") == ()  # no permissions file: nobody
    restricted = {"read": {"operation": "read", "restrictions": {
        "user": {"results": [{"accountId": "acc-A"}], "size": 1},
        "group": {"results": [], "size": 0}}}}
    (tmp_path / "permissions.json").write_text(json.dumps({
        "spaces": {"KN": {"results": [{"principal": {"type": "group", "id": "gid-staff"},
                                       "operation": {"key": "read", "targetType": "space"}}]}},
        "restrictions": {"7001": restricted},
        "groups": {"acc-A": [{"id": "gid-staff", "name": "staff"}],
                   "acc-B": [{"id": "gid-staff", "name": "staff"}]}}))
    assert [p.page_id async for p in source.iter_pages("KN")] == ["7001", "7002"]
    grants = await access.space_grants("KN")
    facts = await access.space_facts("KN")
    a = reader_tokens("acc-A", await access.member_of("acc-A"))
    b = reader_tokens("acc-B", await access.member_of("acc-B"))
    child = page_expr(grants, facts["7002"])
    assert allows(child, a) and not allows(child, b), "the child inherits 7001's {A}"


async def test_an_ancestor_that_breaks_the_expansion_is_read_on_its_own(
        site: FakeConfluence) -> None:
    perms = site.permissions
    perms.parents.update({"1010": "8000", "1011": "8000"})
    perms.restrict("8000", users=["acc-A"])
    perms.breaks_expansion.add("8000")  # a trashed ancestor: the listing answers 400
    async with ConfluenceClient(site.url, api="v2") as client:
        access = ConfluenceAccess(client)
        grants = await access.space_grants("QM")
        facts = await access.space_facts("QM")
        one = await ConfluenceAccess(client).page_facts("1011")
    assert len(facts) == len(site.pages)
    for page_id in ("1010", "1011"):
        e = page_expr(grants, facts[page_id])
        assert allows(e, A) and not allows(e, B), page_id
    assert one is not None and one.ancestors == [("8000", ("u:acc-A",))]
    listings = [r.query["expand"] for r in site.list_requests("/rest/api/content")
                if "restrictions" in r.query.get("expand", "")]
    # The first window failed in full and was asked again narrowed; the next one in full.
    assert listings[:3] == [ACCESS_EXPAND, NARROW_EXPAND, ACCESS_EXPAND], listings
    assert [r.path for r in site.requests if r.path.endswith("/byOperation")].count(
        "/wiki/rest/api/content/8000/restriction/byOperation") == 2  # once per reader (run)
