"""The Jira client against a local server speaking Jira's REST API, with failures on purpose."""

from __future__ import annotations

import pytest

from agents.jira_client import (
    JiraAuthError,
    JiraClient,
    JiraCredentials,
    JiraNotFound,
    JiraRejected,
    JiraUnavailable,
)
from tests.utils.http import json_reply
from tests.utils.jira import Failure, FakeJira, rate_limited, server_error

FIELDS = {"project": {"key": "CARE"}, "summary": "s", "issuetype": {"name": "Task"},
          "parent": {"key": "CARE-7"}, "labels": ["clinisight-x"],
          "description": {"type": "doc", "version": 1, "content": []}}


def client(url: str, retries: int = 3) -> JiraClient:
    creds = JiraCredentials.forge_system(url, "cloud-1", "tok-1")
    return JiraClient(creds, max_retries=retries, backoff_s=0.01)


async def test_create_search_and_links_through_the_forge_gateway() -> None:
    jira = FakeJira()
    with jira.server() as server:
        async with client(server.url) as c:
            created = await c.create_issue(FIELDS)
            other = await c.create_issue({**FIELDS, "labels": []})
            found = await c.search('parent = "CARE-7" AND labels = "clinisight-x"')
            await c.link_issues("Blocks", created.key, other.key)
            links = await c.issue_links(created.key)
    assert [i["key"] for i in found] == [created.key]
    assert links[0]["outwardIssue"]["key"] == other.key
    first = server.requests[0]
    assert first.path == "/ex/jira/cloud-1/rest/api/3/issue"
    assert first.headers["authorization"] == "Bearer tok-1"


async def test_429_waits_for_retry_after_and_5xx_search_is_retried() -> None:
    jira = FakeJira(fail=[Failure("POST", "/rest/api/3/issue", rate_limited("0")),
                          Failure("POST", "/rest/api/3/search/jql", server_error()),
                          Failure("POST", "/rest/api/3/search/jql", server_error())])
    with jira.server() as server:
        async with client(server.url) as c:
            await c.create_issue(FIELDS)
            assert len(await c.search('parent = "CARE-7" AND labels = "clinisight-x"')) == 1
    assert len(jira.issues) == 1
    assert len(server.requests) == 5


async def test_a_create_is_never_retried_after_a_5xx() -> None:
    # Jira committed the issue and then failed: a retry would duplicate it.
    jira = FakeJira(fail=[Failure("POST", "/rest/api/3/issue", server_error(), commit=True)])
    with jira.server() as server:
        async with client(server.url) as c:
            with pytest.raises(JiraUnavailable, match="create issue: Jira answered 500"):
                await c.create_issue(FIELDS)
    assert len(jira.issues) == 1 and len(server.requests) == 1


@pytest.mark.parametrize(("status", "error"), [(401, JiraAuthError), (403, JiraAuthError),
                                               (404, JiraNotFound), (400, JiraRejected)])
async def test_errors_are_translated_once(status: int, error: type[Exception]) -> None:
    reply = json_reply(status, {"errorMessages": ["nope"], "errors": {"parent": "bad parent"}})
    jira = FakeJira(fail=[Failure("POST", "/rest/api/3/issue", reply)])
    with jira.server() as server:
        async with client(server.url) as c:
            with pytest.raises(error, match="nope; parent: bad parent"):
                await c.create_issue(FIELDS)


async def test_rate_limit_that_never_lifts_gives_up() -> None:
    jira = FakeJira(fail=[Failure("POST", "/rest/api/3/issue", rate_limited("0"))] * 5)
    with jira.server() as server:
        async with client(server.url, retries=2) as c:
            with pytest.raises(JiraUnavailable, match="429"):
                await c.create_issue(FIELDS)
    assert len(server.requests) == 3


def test_api_token_credentials_use_basic_auth() -> None:
    creds = JiraCredentials.api_token("https://acme.atlassian.net/", "a@b.c", "t")
    assert creds.base_url == "https://acme.atlassian.net"
    assert creds.authorization == "Basic YUBiLmM6dA=="
