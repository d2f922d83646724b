"""POST /v1/tenants/{t}/phi/names in process (the real app, routes, audit boundary, dynalite; no
Ray), and a registered name kept out of an agent's Claude prompt for that tenant only."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from agents.events import AgentEvent, IssueSnapshot
from agents.tasksmith_models import EpicIn
from agents.tasksmith_offline import plan_epic
from compliance.known_names import set_known_names
from compliance.log_filter import PhiRedactingFilter
from config.settings import Settings
from store.dynamo import make_client
from tests.utils.anthropic import tool_use_reply
from tests.utils.fit import TestKey
from tests.utils.http import Recorded, Reply, ScriptedServer
from tests.utils.ingress import InProcessIngress

NAMES_KEY = SecretStr("f" * 64)
PATH = "/v1/tenants/acme/phi/names"
# Made up, and in a sentence with no cue: no detector but the tenant's registry finds it.
NAME = "quenby marsk"
TEXT = f"Escalations for the billing export go to {NAME} until the vendor fix lands."


@pytest.fixture(autouse=True)
def _own_context() -> Iterator[None]:
    # httpx's in-process transport runs the app in the test's own task, so what a request sets
    # for the rest of its task (the tenant's known names) would outlive it here; under Serve
    # and uvicorn each request has a task of its own.
    yield
    set_known_names(None)


@pytest.fixture
def claude() -> Iterator[ScriptedServer]:
    plan = plan_epic(EpicIn(key="CARE-1", id="1", summary="Intake", description="* Form"))
    reply = tool_use_reply("propose_subtasks", plan.model_dump(mode="json", by_alias=True))

    def respond(_: Recorded) -> Reply:
        return reply

    with ScriptedServer(respond) as server:
        yield server


@pytest.fixture
async def api(settings: Settings, claude: ScriptedServer) -> AsyncIterator[InProcessIngress]:
    s = settings.model_copy(update={
        "phi_names_key": NAMES_KEY, "rate_limit_per_s": 0.0,
        "anthropic_api_key": SecretStr("sk-test"), "anthropic_base_url": claude.url,
        "anthropic_max_retries": 0, "anthropic_model": "claude-test",
    })
    ingress = InProcessIngress(s, TestKey())
    yield ingress
    await ingress.aclose()


async def test_names_are_added_and_counted_never_echoed(api: InProcessIngress) -> None:
    first = await api.post(PATH, {"names": ["Quenby Marsk", "QUENBY  MARSK", "Ysolde Tarnwick"]})
    assert first.status_code == 200, first.text
    assert first.json() == {"added": 2, "total": 2}
    again = await api.post(PATH, {"names": ["Ysolde Tarnwick", "Orla O'Brennagh"]})
    assert again.json() == {"added": 1, "total": 3}
    for resp in (first, again):
        assert "quenby" not in resp.text.casefold() and "ysolde" not in resp.text.casefold()


async def test_the_audit_entry_records_the_count_not_the_names(
    api: InProcessIngress, settings: Settings,
) -> None:
    resp = await api.post(PATH, {"names": ["Quenby Marsk", "Ysolde Tarnwick"]})
    assert resp.status_code == 200
    [entry] = await api.entries("acme")
    assert entry["action"] == "phi.names.add" and entry["outcome"] == "ok"
    assert entry["resource"] == f"{PATH}#added=2&total=2"
    raw = make_client(settings).scan(TableName=settings.table("Audit"))["Items"]
    dump = json.dumps(raw).casefold()
    assert "quenby" not in dump and "ysolde" not in dump and "marsk" not in dump


async def test_another_tenants_token_is_refused(api: InProcessIngress) -> None:
    resp = await api.post(PATH, {"names": ["Quenby Marsk"]}, tenant="beta")
    assert resp.status_code == 403
    ok = await api.post("/v1/tenants/beta/phi/names", {"names": ["Ann"]}, tenant="beta")
    assert ok.json() == {"added": 1, "total": 1}  # beta's own registry, apart from acme's


@pytest.mark.parametrize(("body", "says"), [
    ({"names": []}, "names: List should have at least 1 item"),
    ({"names": ["Quenby Marsk", ""]}, "names.1: String should have at least 1 character"),
    ({"names": ["Ann", "x" * 201]}, "names.1: String should have at most 200 characters"),
    ({"names": ["Ann"] * 10_001}, "names: List should have at most 10000 items"),
    ({"names": ["Quenby Marsk", " -- "]}, "names[1] has no letter or digit"),
    ({"names": "Quenby Marsk"}, "names: Input should be a valid list"),
    ({}, "names: Field required"),
])
async def test_bad_input_is_422_naming_what_is_wrong(api: InProcessIngress, body: dict[str, Any],
                                                     says: str) -> None:
    resp = await api.post(PATH, body)
    assert resp.status_code == 422, resp.text
    assert says in resp.json()["detail"]
    assert "Quenby Marsk" not in resp.text and "x" * 201 not in resp.text


async def test_without_a_key_names_cannot_be_added(settings: Settings) -> None:
    ingress = InProcessIngress(settings.model_copy(update={"rate_limit_per_s": 0.0}), TestKey())
    try:
        resp = await ingress.post(PATH, {"names": ["Quenby Marsk"]})
        assert resp.status_code == 503
        assert "CLINISIGHT_PHI_NAMES_KEY" in resp.json()["detail"]
    finally:
        await ingress.aclose()


async def test_names_are_rate_limited_like_the_rest_of_the_api(settings: Settings) -> None:
    s = settings.model_copy(update={"phi_names_key": NAMES_KEY, "rate_limit_per_s": 0.5,
                                    "rate_limit_burst": 2})
    ingress = InProcessIngress(s, TestKey())
    try:
        statuses = [(await ingress.post(PATH, {"names": ["Ann"]})).status_code for _ in range(4)]
        assert statuses[:2] == [200, 200] and statuses[2] == 429
    finally:
        await ingress.aclose()


async def test_a_request_handles_its_tenants_text_with_the_tenants_names(
    api: InProcessIngress,
) -> None:
    """What a request logs, reports or audits after authentication is redacted with its
    tenant's names: the ingress makes them current for the rest of the request."""
    assert (await api.post(PATH, {"names": ["Quenby Marsk"]})).status_code == 200
    state = await api.client.get("/v1/tenants/acme/agents/TaskSmith/state",
                                 headers=api.bearer("acme"))
    assert state.status_code == 200
    assert redacted_log(TEXT) == TEXT.replace(NAME, "[NAME]")  # in the request's context
    other = await api.client.get("/v1/tenants/beta/agents/TaskSmith/state",
                                 headers=api.bearer("beta"))
    assert other.status_code == 200
    assert redacted_log(TEXT) == TEXT  # beta's request: beta's names, none


def redacted_log(text: str) -> str:
    record = logging.LogRecord("clinisight.ingress", logging.INFO, __file__, 1, "%s", (text,),
                               None)
    PhiRedactingFilter().filter(record)
    return record.getMessage()


# -- a real exit end to end: the Claude prompt ---------------------------------------------------

def epic() -> dict[str, Any]:
    return {"key": "CARE-7", "id": "7", "summary": "Billing export escalation",
            "description": f"* {TEXT}\n* Keep the retry queue"}


async def test_a_registered_name_does_not_reach_the_prompt_of_that_tenant_only(
    api: InProcessIngress, claude: ScriptedServer,
) -> None:
    assert (await api.post(PATH, {"names": ["Quenby Marsk"]})).status_code == 200
    resp = await api.post("/v1/tenants/acme/agents/TaskSmith/run", epic())
    assert resp.status_code == 200, resp.text
    assert resp.json()["producedBy"].startswith("claude:")
    [acme] = claude.requests
    prompt = acme.body.decode()
    assert "[NAME]" in prompt and "marsk" not in prompt.casefold()

    resp = await api.post("/v1/tenants/beta/agents/TaskSmith/run", epic(), tenant="beta")
    assert resp.status_code == 200, resp.text
    beta = claude.requests[-1].body.decode()
    assert NAME in beta  # beta registered nothing: acme's names are not beta's


async def test_an_agent_deployment_uses_the_tenants_names(
    api: InProcessIngress, claude: ScriptedServer,
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from serve.agent_server import AgentServer

    assert (await api.post(PATH, {"names": ["Quenby Marsk"]})).status_code == 200
    set_known_names(None)  # nothing of the request above: the deployment finds them itself
    server = AgentServer.func_or_class(api.settings, "TaskSmith")  # the deployment's __init__
    event = AgentEvent(tenant="acme", event_id="e-7", kind="issue_created", source="jira",
                       issue=IssueSnapshot(id="7", key="CARE-7", summary="Billing export",
                                           description=TEXT, is_epic=True))
    result = await server.handle_event(event.model_dump(mode="json"))
    assert result["producedBy"].startswith("claude:")
    prompt = claude.requests[-1].body.decode()
    assert "[NAME]" in prompt and "marsk" not in prompt.casefold()
