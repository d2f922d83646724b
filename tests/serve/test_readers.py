"""A reader's groups, read from the loopback Confluence's memberof and cached for a while."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from embeddings.access import allows, canonical
from embeddings.confluence import ConfluenceClient
from embeddings.confluence_access import ConfluenceAccess
from serve.readers import ReaderCache
from tests.embeddings.confluence_server import FakeConfluence, make_page

NURSES_ONLY = canonical([("*",), ("g:gid-nurses", "gn:nurses")])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def site() -> Iterator[FakeConfluence]:
    fake = FakeConfluence([make_page("1", "Rota", "night shifts")])
    fake.permissions.groups = {"nurses": ["acc-N", "acc-M"]}
    fake.start()
    yield fake
    fake.stop()


async def test_a_user_removed_from_a_group_is_denied_once_the_cache_expires(
        site: FakeConfluence) -> None:
    clock = Clock()
    async with ConfluenceClient(site.url, api="v2") as client:
        access = ConfluenceAccess(client)

        async def member_of(tenant: str, account: str, oauth: str | None) -> list[dict[str, Any]]:
            return await access.member_of(account)

        cache = ReaderCache(member_of, ttl_s=600, clock=clock)
        assert allows(NURSES_ONLY, await cache.tokens("t1", "acc-N"))
        site.permissions.groups["nurses"].remove("acc-N")
        clock.now += 599  # still cached: the removal is not seen yet
        assert allows(NURSES_ONLY, await cache.tokens("t1", "acc-N"))
        assert len(site.list_requests("/user/memberof")) == 1
        clock.now += 2
        assert not allows(NURSES_ONLY, await cache.tokens("t1", "acc-N"))
        # Per person and per tenant: M's entry and another tenant's are their own.
        assert allows(NURSES_ONLY, await cache.tokens("t1", "acc-M"))
        assert len(site.list_requests("/user/memberof")) == 3
        await cache.tokens("t2", "acc-M")  # the same person in another tenant: asked again
        assert len(site.list_requests("/user/memberof")) == 4


async def test_a_failed_lookup_leaves_own_grants_only_and_is_not_cached(
        site: FakeConfluence) -> None:
    calls: list[str] = []

    async def member_of(tenant: str, account: str, oauth: str | None) -> list[dict[str, Any]]:
        calls.append(account)
        async with ConfluenceClient(site.url, api="v2", max_attempts=1) as client:
            return await ConfluenceAccess(client).member_of(account)

    cache = ReaderCache(member_of, ttl_s=600, clock=Clock())
    site.fail_next = [503]
    tokens = await cache.tokens("t1", "acc-N")
    assert tokens == frozenset({"*", "u:acc-N"}) and not allows(NURSES_ONLY, tokens)
    assert allows(NURSES_ONLY, await cache.tokens("t1", "acc-N"))  # asked again, answered
    assert calls == ["acc-N", "acc-N"]
