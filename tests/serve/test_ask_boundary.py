"""The ask routes' boundary in process (real routes, real audit, dynalite): a FIT that names no
user reads nothing, and the refusal is audited."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import Settings
from tests.utils.fit import TestKey, claims
from tests.utils.ingress import APP_ID
from tests.utils.ingress import InProcessIngress as Ingress


@pytest.fixture
async def ingress(settings: Settings, tmp_path: Path) -> AsyncIterator[Ingress]:
    ing = Ingress(settings, TestKey())
    yield ing
    await ing.aclose()


def without_user(ingress: Ingress, principal: object) -> dict[str, str]:
    token = ingress.key.sign(claims(APP_ID, "acme", principal=principal))
    return {"authorization": f"Bearer {token}"}


@pytest.mark.parametrize("principal", [None, "", "nurse@clinic.org", 42])
async def test_ask_and_rovo_refuse_a_token_without_a_user(ingress: Ingress,
                                                          principal: object) -> None:
    headers = without_user(ingress, principal)
    ask = await ingress.client.post("/v1/tenants/acme/ask", json={"question": "rota?"},
                                    headers=headers)
    assert ask.status_code == 403, ask.text
    assert "names no user" in ask.json()["detail"]
    rovo = await ingress.client.post("/v1/forge/actions/ask-mindmesh",
                                     content=json.dumps({"payload": {"question": "rota?"}}),
                                     headers=headers)
    assert rovo.status_code == 403, rovo.text
    entries = await ingress.entries("acme")
    assert [(e["outcome"], e["status"]) for e in entries][-2:] == [("denied", 403)] * 2


async def test_bad_questions_are_still_422_for_a_user(ingress: Ingress) -> None:
    resp = await ingress.client.post("/v1/tenants/acme/ask", json={"question": ""},
                                     headers=ingress.bearer("acme"))
    assert resp.status_code == 422
