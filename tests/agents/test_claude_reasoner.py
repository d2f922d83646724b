"""The Claude reasoner against a local server speaking the Messages API wire protocol."""

from __future__ import annotations

import pytest

from agents.events import AgentEvent, IssueSnapshot
from agents.reasoners import ClaudeReasoner, ReasonerError, ReasoningRequest, StateResponseCache
from agents.tasksmith import TaskSmith
from agents.tasksmith_models import EpicIn, TaskSmithPlan
from agents.tasksmith_offline import plan_epic
from compliance.fail_closed import FALLBACK_REASON
from compliance.phi import PhiCheckFailed
from metrics import recorder
from store.factory import Stores
from tests.utils.anthropic import overloaded_reply, tool_use_reply
from tests.utils.http import Recorded, Reply, ScriptedServer

EPIC = EpicIn(key="CARE-1", id="1", summary="Patient portal lab results",
              description="* Show results\n* Notify patient by email")


def plan_json() -> dict[str, object]:
    plan = plan_epic(EPIC)
    plan.rationale = "from the test server"
    return plan.model_dump(mode="json", by_alias=True)


def scripted(replies: list[Reply]):  # type: ignore[no-untyped-def]
    def respond(_: Recorded) -> Reply:
        return replies.pop(0) if len(replies) > 1 else replies[0]
    return respond


def event() -> AgentEvent:
    return AgentEvent(tenant="t1", event_id="e1", kind="issue_created", source="jira",
                      issue=IssueSnapshot(id="1", key="CARE-1", summary=EPIC.summary,
                                          description=EPIC.description, is_epic=True))


async def test_request_shape_overload_retry_and_cache(stores: Stores) -> None:
    replies = [overloaded_reply(), tool_use_reply("propose_subtasks", plan_json())]
    with ScriptedServer(scripted(replies)) as server:
        reasoner = ClaudeReasoner(api_key="sk-test", model="claude-test", base_url=server.url,
                                  max_retries=3, timeout_s=10,
                                  cache=StateResponseCache(stores.state))
        agent = TaskSmith(stores.state, reasoner)
        result = await agent.handle_event(event())
        assert result["producedBy"] == "claude:claude-test" and result["action"] == "proposed"
        assert len(server.requests) == 2, "the overloaded answer was not retried"
        req = server.requests[-1]
        assert req.path == "/v1/messages" and "anthropic-version" in req.headers
        # The SDK carries the key as x-api-key or, in newer releases, as a bearer token.
        credential = req.headers.get("x-api-key", "") + req.headers.get("authorization", "")
        assert "sk-test" in credential
        body = req.json()
        assert body["model"] == "claude-test"
        assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
        assert "TaskSmith" in body["system"][0]["text"]
        assert body["tools"][0]["name"] == "propose_subtasks"
        assert "subtasks" in body["tools"][0]["input_schema"]["properties"]
        assert body["tool_choice"] == {"type": "tool", "name": "propose_subtasks"}
        assert "Patient portal lab results" in body["messages"][0]["content"]

        state = await stores.state.get("t1", "TaskSmith")
        assert state is not None
        assert state.data["proposals"][0]["rationale"] == "from the test server"

        # Same input again (a new proposal id is forced by clearing state): answered from cache.
        await stores.state.save("t1", "TaskSmith", {}, state.version)
        again = await agent.handle_event(event())
        assert again["action"] == "proposed" and len(server.requests) == 2


class Outcomes:
    """Stands in for Ray's counter of Claude requests: the outcomes recorded."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self.seen.append((tags or {}).get("outcome", "?"))


async def test_invalid_tool_input_falls_back_to_offline(stores: Stores,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = Outcomes()
    monkeypatch.setitem(recorder._objects, "clinisight_llm_requests_total", outcomes)
    bad = tool_use_reply("propose_subtasks", {"subtasks": []})
    with ScriptedServer(scripted([bad])) as server:
        reasoner = ClaudeReasoner(api_key="k", model="m", base_url=server.url, max_retries=0)
        result = await TaskSmith(stores.state, reasoner).handle_event(event())
    # One request, one outcome: an answer that could not be used is the fallback, not also ok.
    assert outcomes.seen == ["fallback_offline"]
    assert result["producedBy"] == "offline"
    state = await stores.state.get("t1", "TaskSmith")
    assert state is not None
    assert "invalid" in state.data["proposals"][0]["fallbackReason"]


async def test_redaction_hook_applies_to_the_prompt(stores: Stores) -> None:
    with ScriptedServer(scripted([tool_use_reply("propose_subtasks", plan_json())])) as server:
        reasoner = ClaudeReasoner(api_key="k", model="m", base_url=server.url,
                                  redact=lambda s: s.replace("Patient", "[REDACTED]"))
        await TaskSmith(stores.state, reasoner).handle_event(event())
    prompt = server.requests[0].json()["messages"][0]["content"]
    assert "[REDACTED] portal" in prompt and "Patient portal" not in prompt


def unchecked(_: str) -> str:
    raise PhiCheckFailed("PHI detection failed (test)")


async def test_a_prompt_that_cannot_be_checked_is_not_sent(stores: Stores) -> None:
    with ScriptedServer(scripted([tool_use_reply("propose_subtasks", plan_json())])) as server:
        reasoner = ClaudeReasoner(api_key="k", model="m", base_url=server.url, max_retries=0,
                                  cache=StateResponseCache(stores.state), redact=unchecked)
        with pytest.raises(ReasonerError, match=f"^{FALLBACK_REASON}$") as failure:
            await reasoner.reason(ReasoningRequest(
                tenant="t1", task="propose_subtasks", system="s", input=EPIC,
                output=TaskSmithPlan, offline=plan_epic))
        assert isinstance(failure.value.__cause__, PhiCheckFailed)
        result = await TaskSmith(stores.state, reasoner).handle_event(event())
    assert server.requests == []
    assert result["producedBy"] == "offline" and result["fallbackReason"] == FALLBACK_REASON
