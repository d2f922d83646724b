"""Approving a TaskSmith proposal into Jira: idempotent across partial failures."""

from __future__ import annotations

from typing import Any

import pytest

from agents.jira_client import JiraClient, JiraCredentials
from agents.tasksmith import TaskSmith
from agents.tasksmith_writeback import (
    ProposalConflict,
    ProposalNotFound,
    WriteBack,
    proposal_label,
)
from serve.wire import to_agent_event
from store.factory import Stores
from tests.utils.http import Recorded, Reply, json_reply
from tests.utils.jira import Failure, FakeJira, server_error
from tests.utils.payloads import jira_epic


async def propose(stores: Stores, key: str = "CARE-7", summary: str = "Patient portal") -> str:
    event = to_agent_event("t1", f"e-{summary}", "jira", "issue_created",
                           jira_epic(key=key, summary=summary))
    result = await TaskSmith(stores.state).handle_event(event)
    return str(result["proposalId"])


def jira_client(url: str) -> JiraClient:
    return JiraClient(JiraCredentials.forge_system(url, "t1", "tok"), max_retries=2,
                      backoff_s=0.01)


async def proposal(stores: Stores, pid: str) -> dict[str, Any]:
    state = await stores.state.get("t1", "TaskSmith")
    assert state is not None
    return next(p for p in state.data["proposals"] if p["proposalId"] == pid)


async def test_partial_failure_then_retry_creates_only_what_is_missing(stores: Stores) -> None:
    pid = await propose(stores)
    n = len((await proposal(stores, pid))["subtasks"])
    assert n >= 3
    jira = FakeJira()
    writeback = WriteBack(stores.state)
    with jira.server() as server:
        original = jira.respond
        creates = 0

        def flaky(req: Recorded) -> Reply:
            # The 2nd create commits in Jira but its answer is lost; the 3rd is refused.
            nonlocal creates
            if req.method == "POST" and req.path.endswith("/rest/api/3/issue"):
                creates += 1
                if creates == 2:
                    original(req)
                    return server_error()
                if creates == 3:
                    return json_reply(400, {"errorMessages": ["Field 'x' is invalid"]})
            return original(req)

        server.respond = flaky
        async with jira_client(server.url) as c:
            first = await writeback.approve("t1", pid, "acct-1", c)
            assert first.status == "partial"
            assert len(first.errors) == 2
            assert len(jira.created_for("CARE-7")) == n - 1
            saved = await proposal(stores, pid)
            assert saved["status"] == "proposed" and len(saved["jiraKeys"]) == n - 2

            server.respond = original
            second = await writeback.approve("t1", pid, "acct-1", c)
            assert second.status == "approved", second.errors
            assert len(second.recovered) == 1 and len(second.created) == 1
            third = await writeback.approve("t1", pid, "acct-1", c)
    children = jira.created_for("CARE-7")
    assert len(children) == n, "an approval retried after a partial failure duplicated work"
    assert third.status == "approved" and third.created == {}
    assert sorted(third.jira_keys.values()) == sorted(i["key"] for i in children)
    saved = await proposal(stores, pid)
    assert saved["status"] == "approved" and saved["approvedBy"] == "acct-1"
    assert sorted(saved["jiraKeys"].values()) == sorted(i["key"] for i in children)
    one = children[0]["fields"]
    assert one["parent"] == {"key": "CARE-7"} and one["project"] == {"key": "CARE"}
    assert one["description"]["type"] == "doc"
    assert proposal_label(pid) in one["labels"]
    assert any(b["type"] == "bulletList" for b in one["description"]["content"])


async def test_search_failure_creates_nothing_blind(stores: Stores) -> None:
    pid = await propose(stores)
    jira = FakeJira(fail=[Failure("POST", "/rest/api/3/search/jql", server_error())] * 3)
    with jira.server() as server:
        async with jira_client(server.url) as c:
            result = await WriteBack(stores.state).approve("t1", pid, "acct-1", c)
    assert result.status == "partial" and "search" in result.errors[0]
    assert jira.issues == {}


async def test_unknown_and_superseded_proposals_are_refused(stores: Stores) -> None:
    old = await propose(stores, summary="Patient portal")
    await propose(stores, summary="Patient portal with lab results")
    jira = FakeJira()
    with jira.server() as server:
        async with jira_client(server.url) as c:
            with pytest.raises(ProposalNotFound):
                await WriteBack(stores.state).approve("t1", "CARE-7-nope", "a", c)
            with pytest.raises(ProposalConflict, match="superseded"):
                await WriteBack(stores.state).approve("t1", old, "a", c)
    assert jira.issues == {}
