"""The ingress's security boundary in process: the real FastAPI app and routes, real dynalite,
no Ray. Request ids, the audit trail per request, per-tenant rate limits, fail-closed audit."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from config.settings import Settings
from serve.auth import sign_jira_body
from serve.ratelimit import RateLimited, TenantRateLimiter
from store.audit_dynamo import DynamoAuditLog
from tests.utils.fit import TestKey
from tests.utils.ingress import InProcessIngress as Ingress
from tests.utils.payloads import forge_epic, jira_epic


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_bursts_then_refills() -> None:
    clock = Clock()
    limiter = TenantRateLimiter(rate=2.0, burst=3, clock=clock)
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited) as caught:
        limiter.take("a")
    assert caught.value.retry_after_s == 1
    limiter.take("b")  # another tenant has its own bucket
    clock.now += 0.5  # one token back at 2/s
    limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    clock.now += 100  # never more than the burst
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")
    slow = TenantRateLimiter(rate=0.1, burst=1, clock=clock)
    slow.take("a")
    with pytest.raises(RateLimited) as caught:
        slow.take("a")
    assert caught.value.retry_after_s == 10
    TenantRateLimiter(rate=0, burst=1, clock=clock).take("a")  # 0 = off


@pytest.fixture
async def ingress(settings: Settings, tmp_path: Path) -> AsyncIterator[Ingress]:
    s = settings.model_copy(update={"rate_limit_per_s": 5.0, "rate_limit_burst": 8})
    ing = Ingress(s, TestKey(), jira_secrets={"acme": "s3cret"})
    yield ing
    await ing.aclose()


def ignored_event() -> bytes:
    payload = forge_epic(key="CARE-5")
    payload["eventType"] = "avi:jira:viewed:nothing"  # recorded, ignored: no dispatch
    return json.dumps(payload).encode()


async def test_every_authenticated_request_is_audited(ingress: Ingress) -> None:
    c = ingress.client
    posted = await c.post("/v1/forge/events", content=ignored_event(),
                          headers={**ingress.bearer("acme"), "x-request-id": "req-abc.1"})
    assert posted.status_code == 202, posted.text
    assert "x-request-id" not in posted.headers  # a proxy that set it (Ray Serve) echoes it
    event_id = posted.json()["eventId"]
    # A delivery's entry rides with it in the inbox; the drainer appends it to the chain.
    assert await ingress.guard.audit.entries("acme") == []
    await ingress.drain()
    read = await c.get(f"/v1/events/{event_id}", headers=ingress.bearer("acme", "acct-2"))
    assert read.status_code == 200
    generated = read.headers["x-request-id"]
    assert len(generated) == 32
    state = await c.get("/v1/tenants/acme/agents/TaskSmith/state",
                        headers=ingress.bearer("acme"))
    assert state.status_code == 200
    denied = await c.get("/v1/tenants/other/agents/TaskSmith/state",
                         headers=ingress.bearer("acme"))
    assert denied.status_code == 403
    missing = await c.get("/v1/events/nope", headers=ingress.bearer("acme"))
    assert missing.status_code == 404
    odd = await c.get("/v1/events/nope", headers={**ingress.bearer("acme"),
                                                  "x-request-id": "odd id\t" + "x" * 200})
    assert odd.status_code == 404 and "x-request-id" not in odd.headers  # the proxy echoes it

    entries = await ingress.entries("acme")
    rows = [(e["actor"], e["action"], e["resource"], e["outcome"], e["status"])
            for e in entries]
    assert rows == [
        ("acct-1", "event.ingest", f"/v1/forge/events#eventId={event_id}", "ok", 202),
        ("acct-2", "event.read", f"/v1/events/{event_id}", "ok", 200),
        ("acct-1", "agent_state.read", "/v1/tenants/acme/agents/TaskSmith/state", "ok", 200),
        ("acct-1", "agent_state.read", "/v1/tenants/other/agents/TaskSmith/state",
         "denied", 403),
        ("acct-1", "event.read", "/v1/events/nope", "not_found", 404),
        ("acct-1", "event.read", "/v1/events/nope", "not_found", 404),
    ]
    assert entries[0]["requestId"] == "req-abc.1" and entries[1]["requestId"] == generated
    assert entries[-1]["requestId"] == "odd_id_" + "x" * 121  # made safe, at most 128
    assert await ingress.entries("other") == []  # the attempt is on the caller's own chain
    assert (await ingress.guard.audit.verify("acme")).ok


async def test_jira_webhooks_are_audited_with_the_webhook_actor(ingress: Ingress) -> None:
    body = json.dumps(jira_epic(key="CARE-9")).encode()
    body = json.dumps({**json.loads(body), "webhookEvent": "jira:worklog_updated"}).encode()
    resp = await ingress.client.post(
        "/v1/jira/webhooks", params={"tenant": "acme"}, content=body,
        headers={"x-hub-signature": sign_jira_body(body, "s3cret")})
    assert resp.status_code == 202, resp.text
    [entry] = await ingress.entries("acme")
    assert entry["actor"] == "jira-webhook" and entry["action"] == "event.ingest"


async def test_unauthenticated_requests_leave_no_entry(ingress: Ingress) -> None:
    resp = await ingress.client.get("/v1/tenants/acme/agents/TaskSmith/state")
    assert resp.status_code == 401
    assert await ingress.entries("acme") == []


async def test_deliveries_are_never_rate_limited(ingress: Ingress) -> None:
    # A 429 to Forge or Jira only delays a delivery and multiplies it: past the tenant's
    # budget (burst 8 here) deliveries are still accepted, duplicates answered as such.
    c = ingress.client
    statuses = []
    for _ in range(12):
        resp = await c.post("/v1/forge/events", content=ignored_event(),
                            headers=ingress.bearer("flood"))
        statuses.append(resp.status_code)
    assert statuses == [202] + [200] * 11  # the same event again: duplicates
    assert len(await ingress.entries("flood")) == 12  # each delivery audited once


async def test_rate_limit_answers_429_before_any_work(ingress: Ingress) -> None:
    c = ingress.client
    statuses = []
    for _ in range(12):
        resp = await c.get("/v1/events/nope", headers=ingress.bearer("flood"))
        statuses.append(resp.status_code)
    assert statuses[:8] == [404] * 8  # the burst
    assert 429 in statuses[8:]
    limited = resp if resp.status_code == 429 else None
    assert limited is not None and int(limited.headers["retry-after"]) >= 1
    assert "rate limit" in limited.json()["detail"]
    # Other tenants are not affected, and 429s are not written to the audit table.
    ok = await c.get("/v1/tenants/calm/agents/TaskSmith/state", headers=ingress.bearer("calm"))
    assert ok.status_code == 200
    assert len(await ingress.entries("flood")) == statuses.count(404)
    # The interactive API is held to the same budget, before the route runs: questions to
    # another tenant's path (403 once admitted) until the budget is spent, then 429.
    asked = []
    for _ in range(20):
        resp = await c.post("/v1/tenants/elsewhere/ask", json={"question": "who is on call?"},
                            headers=ingress.bearer("flood"))
        asked.append(resp.status_code)
        if resp.status_code == 429:
            break
    assert set(asked) <= {403, 429} and asked[-1] == 429, asked
    assert "rate limit" in resp.json()["detail"]
    time.sleep(0.25)  # 5/s: one token back
    again = await c.get("/v1/events/nope", headers=ingress.bearer("flood"))
    assert again.status_code == 404


async def test_a_failed_audit_append_withholds_the_answer(ingress: Ingress,
                                                          settings: Settings) -> None:
    # The audit table is gone: nothing may be served whose access cannot be recorded.
    current = ingress.guard.audit
    assert isinstance(current, DynamoAuditLog)
    broken = DynamoAuditLog(ingress.stores.client, "ClinisightAudit-missing",
                            current.table._executor)
    ingress.guard.audit = broken
    resp = await ingress.client.get("/v1/tenants/acme/agents/TaskSmith/state",
                                    headers=ingress.bearer("acme"))
    assert resp.status_code == 503 and "audit" in resp.json()["detail"]
    assert "data" not in resp.json() and len(resp.headers["x-request-id"]) == 32


async def test_oversized_bodies_are_refused_on_every_route(ingress: Ingress) -> None:
    big = b'{"question": "' + b"x" * (ingress.settings.max_body_bytes + 10) + b'"}'
    resp = await ingress.client.post("/v1/tenants/acme/ask", content=big,
                                     headers=ingress.bearer("acme"))
    assert resp.status_code == 413 and "limit" in resp.json()["detail"]
    assert resp.headers["x-request-id"]


async def test_an_id_longer_than_the_store_holds_is_a_4xx_not_an_outage(ingress: Ingress) -> None:
    # DynamoDB's key limit used to surface as 503 "storage unavailable", which tells Forge to
    # retry a request that can never succeed.
    long_id = "e" * 10_000
    resp = await ingress.client.get(f"/v1/events/{long_id}", headers=ingress.bearer("acme"))
    assert resp.status_code == 422, resp.text
    assert "too long" in resp.json()["detail"] and long_id not in resp.text
    ok = await ingress.client.get("/v1/events/" + "e" * 1000, headers=ingress.bearer("acme"))
    assert ok.status_code == 404


@pytest.mark.parametrize(
    "source",
    ["file:///etc/passwd", "/etc", "http://169.254.169.254/latest/meta-data/",
     ".clinisight/dev-keys", "https://another-tenant.atlassian.net"],
)
async def test_a_reindex_body_cannot_choose_what_the_server_reads(ingress: Ingress,
                                                                  source: str) -> None:
    resp = await ingress.client.post("/v1/tenants/acme/reindex",
                                     json={"space": "QM", "source": source},
                                     headers=ingress.bearer("acme"))
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"].startswith("invalid source")
    assert str(ingress.settings.data_dir) not in resp.text


async def test_without_its_guard_the_ingress_fails_closed(ingress: Ingress) -> None:
    # A replica whose guard is not set up (or was torn down) has no rate limit, body limit or
    # audit trail: it must answer 503 and let the platform retry, never serve unaudited.
    from serve import audit as boundary

    boundary.uninstall_guard()
    try:
        resp = await ingress.client.post("/v1/forge/events", content=ignored_event(),
                                         headers=ingress.bearer("acme"))
        assert resp.status_code == 503, resp.text
        assert resp.headers["retry-after"] and "retry" in resp.json()["detail"]
        read = await ingress.client.get("/v1/events/anything", headers=ingress.bearer("acme"))
        assert read.status_code == 503
        with pytest.raises(Exception, match="not ready"):
            boundary.audit_log()
    finally:
        boundary.install_guard(ingress.settings, ingress.stores.client)
    assert await ingress.stores.inbox.pending(10) == []  # nothing was accepted meanwhile
    ok = await ingress.client.post("/v1/forge/events", content=ignored_event(),
                                   headers=ingress.bearer("acme"))
    assert ok.status_code == 202, ok.text
