"""The Jira client's paging and rate-limit handling against the local Jira site."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from agents.jira_client import JiraClient, JiraCredentials, JiraRejected, _retry_after
from tests.agents.jira_server import JiraSite, LocalJira


def test_wait_comes_from_retry_after_else_the_reset_instant() -> None:
    assert _retry_after(httpx.Response(429, headers={"retry-after": "7"}), 1.0) == 7.0
    soon = (datetime.now(UTC) + timedelta(seconds=90)).strftime("%Y-%m-%dT%H:%MZ")
    waited = _retry_after(httpx.Response(429, headers={"x-ratelimit-reset": soon}), 1.0)
    assert 0 <= waited <= 60  # capped: a reset far off is waited out in steps
    past = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%MZ")
    assert _retry_after(httpx.Response(429, headers={"x-ratelimit-reset": past}), 1.0) == 1.0
    assert _retry_after(httpx.Response(429, headers={"x-ratelimit-reset": "soon"}), 1.5) == 1.5


async def test_pages_follow_tokens_to_a_last_page_without_one() -> None:
    local = LocalJira(JiraSite(25), near_limit_every=1)
    with local.server() as server:
        creds = JiraCredentials.api_token(server.url, "a@b.c", "t")
        async with JiraClient(creds, backoff_s=0.001) as jira:
            keys, token, pages = [], None, 0
            while True:
                page = await jira.search_page("project = CM", ["summary"], token, 10)
                keys += [i["key"] for i in page.issues]
                pages += 1
                token = page.next_token
                if token is None:
                    break
            assert pages == 2 and keys == [f"CM-{n}" for n in range(1, 13)]
            assert set(page.issues[0]["fields"]) == {"summary"}  # only the fields asked for
            # Every answer said the budget was nearly spent: each next call waited first.
            assert jira.stats.slowed == pages - 1
            with pytest.raises(JiraRejected, match="Error in the JQL Query"):
                await jira.search_page("text ~ x", ["summary"])
