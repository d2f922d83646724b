"""Security end to end against the real stack (dynalite, Ray, Serve on loopback): tenant
isolation on every tenant route of the OpenAPI schema, rate limits, hostile bodies, schemathesis
over the running app, the audit trail and its CLI, PHI-free logs, and the hostile tries of issue
#19 each with its exact status."""

from __future__ import annotations

import contextlib
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from config.settings import TENANT_RE
from serve.auth import sign_jira_body
from serve.devkeys import jira_secret
from tests.utils.payloads import forge_epic
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack

RATE, BURST = 10, 20
SCHEMATHESIS_EXAMPLES = 25  # per operation; the whole run stays well under two minutes


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, models_dir: str) -> Iterator[Stack]:
    """Its own stack: a low rate limit, which the shared stack's tests must not hit."""
    s = Stack(tmp_path_factory.mktemp("secstack"), CLINISIGHT_RATE_LIMIT_PER_S=str(RATE),
              CLINISIGHT_RATE_LIMIT_BURST=str(BURST), CLINISIGHT_MODEL_CACHE_DIR=models_dir)
    s.up()
    yield s
    s.down()
    s.close()


def openapi(stack: Stack) -> dict[str, Any]:
    return dict(stack.client.get("/openapi.json").json())


def minimal(schema: dict[str, Any], doc: dict[str, Any]) -> Any:
    """The smallest value a JSON schema accepts (enough for FastAPI to reach the handler)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return minimal(doc["components"]["schemas"][name], doc)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if o.get("type") != "null"]
            return minimal(options[0], doc)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: minimal(props.get(k, {}), doc) for k in schema.get("required", [])}
    if kind == "array":
        return [minimal(schema.get("items", {}), doc)] * schema.get("minItems", 0)
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "boolean":
        return False
    return "x" * max(1, schema.get("minLength", 1))


# Values that match no literal route ("./agents/TaskSmith/run" is a route of its own).
PATH_VALUES = {"agent": "NoSuchAgent"}


def test_tenant_b_gets_nothing_of_tenant_a_on_any_route(stack: Stack) -> None:
    doc = openapi(stack)
    tried = []
    for path, methods in doc["paths"].items():
        if "{tenant}" not in path:
            continue
        for method, op in methods.items():
            url = path.replace("{tenant}", "tenant-a")
            for param in op.get("parameters", []):
                if param["in"] == "path" and param["name"] != "tenant":
                    url = url.replace("{" + param["name"] + "}",
                                      PATH_VALUES.get(param["name"], "x1"))
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            payload = minimal(body["schema"], doc) if body else None
            resp = stack.client.request(method.upper(), url, json=payload,
                                        headers=stack.bearer("tenant-b"))
            tried.append(f"{method.upper()} {path}")
            assert resp.status_code == 403, (method, url, resp.status_code, resp.text)
            assert set(resp.json()) == {"detail"}, resp.text
    assert {"GET /v1/tenants/{tenant}/agents/{agent}/state",
            "POST /v1/tenants/{tenant}/ask"} <= set(tried), tried
    # The same request with A's own token is served.
    own = stack.client.get("/v1/tenants/tenant-a/agents/TaskSmith/state",
                           headers=stack.bearer("tenant-a"))
    assert own.status_code == 200
    # A's events are unknown to B (404, not 403: B learns nothing of their existence).
    accepted = stack.post_forge(forge_epic(key="ISO-1"), tenant="tenant-a")
    assert accepted.status_code == 202
    event_id = accepted.json()["eventId"]
    other = stack.client.get(f"/v1/events/{event_id}", headers=stack.bearer("tenant-b"))
    assert other.status_code == 404 and event_id not in json.dumps(other.json()).replace(
        f"no event {event_id!r}", "")
    assert stack.event(event_id, tenant="tenant-a")["eventId"] == event_id


def test_rate_limit_answers_429_with_retry_after(stack: Stack) -> None:
    headers = stack.bearer("flood")

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=stack.settings.http_url, timeout=30) as client:
            return client.get("/v1/tenants/flood/agents/TaskSmith/state", headers=headers)

    # Concurrent, so the tenant outruns its refill even on a slow machine.
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(BURST * 4)))
    statuses = [r.status_code for r in answers]
    assert set(statuses) == {200, 429}, statuses
    assert statuses.count(200) >= BURST
    limited = next(r for r in answers if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and limited.headers["x-request-id"]
    calm = stack.client.get("/v1/tenants/calm/agents/TaskSmith/state",
                            headers=stack.bearer("calm"))
    assert calm.status_code == 200
    # The bucket refills: within a few seconds the flooding tenant is served again.
    deadline = time.monotonic() + 10
    while (again := stack.client.get("/v1/tenants/flood/agents/TaskSmith/state",
                                     headers=stack.bearer("flood"))).status_code == 429:
        assert time.monotonic() < deadline, "still limited after 10 s"
        time.sleep(0.2)
    assert again.status_code == 200


def hostile_bodies(limit: int) -> dict[str, bytes]:
    nested_dict = b'{"a":' * 5000 + b"1" + b"}" * 5000
    return {
        "not json": b"{",
        "invalid utf-8": b'{"eventType": "\xff\xfe"}',
        "array": b"[]",
        "string": b'"eventType"',
        "null": b"null",
        "deep array": b"[" * 100_000,
        "deep object": nested_dict,
        "wrong types": json.dumps({"eventType": 5, "issue": "nope"}).encode(),
        "wrong nested types": json.dumps({"eventType": "avi:jira:created:issue",
                                          "issue": {"id": [], "key": {}, "fields": 3}}).encode(),
        "huge string": json.dumps({"eventType": "x" * (limit - 100)}).encode(),
        "huge int": b'{"eventType": "a", "n": ' + b"9" * 5000 + b"}",
        "oversized": b'{"eventType": "' + b"x" * (limit + 1) + b'"}',
    }


def test_hostile_bodies_get_clean_4xx(stack: Stack) -> None:
    limit = stack.settings.max_body_bytes
    bodies = hostile_bodies(limit)
    jira = jira_secret(stack.settings, "dev")
    seen = {}
    for name, body in bodies.items():
        forge = stack.client.post("/v1/forge/events", content=body,
                                  headers=stack.bearer(f"hostile{len(seen)}"))
        signed = stack.client.post("/v1/jira/webhooks", params={"tenant": "dev"}, content=body,
                                   headers={"x-hub-signature": sign_jira_body(body, jira)})
        tenant = f"hostile{len(seen)}"  # a bucket each: this test is not about limits
        ask = stack.client.post(f"/v1/tenants/{tenant}/ask", content=body,
                                headers={**stack.bearer(tenant),
                                         "content-type": "application/json"})
        seen[name] = (forge.status_code, signed.status_code, ask.status_code)
    for name, codes in seen.items():
        assert all(400 <= c < 500 and c != 429 for c in codes), (name, codes)
    assert seen["oversized"] == (413, 413, 413)
    assert stack.client.get("/healthz").status_code == 200


def test_schemathesis_finds_no_server_error_and_nothing_is_lost(stack: Stack) -> None:
    before = []
    for i in range(5):
        resp = stack.post_forge(forge_epic(key=f"KEEP-{i}", summary=f"Keep {i}"), tenant="keep")
        assert resp.status_code == 202, resp.text
        before.append(resp.json()["eventId"])

    schema = schemathesis.openapi.from_url(f"{stack.settings.http_url}/openapi.json")
    tenants = [f"fuzz{i}" for i in range(20)]
    calls: list[int] = []

    def auth_for(case: Any) -> dict[str, str]:
        tenant = (case.path_parameters or {}).get("tenant")
        if not isinstance(tenant, str) or not TENANT_RE.match(tenant):
            tenant = random.choice(tenants)  # noqa: S311 - spreads load over tenant buckets
        return stack.bearer(tenant)

    started = time.monotonic()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 6
    for operation in operations:
        @settings(max_examples=SCHEMATHESIS_EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            calls.append(1)
            case.call_and_validate(base_url=stack.settings.http_url, headers=auth_for(case),
                                   checks=[not_a_server_error], timeout=30)

        run()
    elapsed = time.monotonic() - started
    print(f"schemathesis: {len(calls)} cases over {len(operations)} operations "
          f"in {elapsed:.1f}s")
    assert elapsed < 120

    # Everything accepted before the run is still there and gets processed.
    for event_id in before:
        assert stack.wait_final(event_id, tenant="keep", timeout=60)["status"] == "done"
    assert stack.client.get("/healthz").status_code == 200


def test_the_audit_trail_records_and_verifies(stack: Stack) -> None:
    rid = f"audit-{random.randrange(10**9)}"  # noqa: S311 - an id, not a secret
    resp = stack.client.get("/v1/tenants/auditee/agents/TaskSmith/state",
                            headers={**stack.bearer("auditee", principal="acct-42"),
                                     "x-request-id": rid})
    assert resp.status_code == 200 and resp.headers["x-request-id"] == rid
    code, listed = stack.cli("audit", "list", "--tenant", "auditee")
    assert code == 0, listed
    [entry] = [e for e in listed["entries"] if e["requestId"] == rid]
    assert entry["actor"] == "acct-42" and entry["action"] == "agent_state.read"
    assert entry["outcome"] == "ok" and entry["resource"].endswith("/agents/TaskSmith/state")
    code, report = stack.cli("audit", "verify", "--tenant", "auditee")
    assert code == 0 and report["ok"] and report["entries"] == len(listed["entries"])
    # A refused attempt on another tenant is on the caller's own chain.
    denied = stack.client.get("/v1/tenants/auditee/agents/TaskSmith/state",
                              headers=stack.bearer("tenant-b"))
    assert denied.status_code == 403
    code, b = stack.cli("audit", "list", "--tenant", "tenant-b")
    assert code == 0 and any(e["outcome"] == "denied" for e in b["entries"])
    code, report = stack.cli("audit", "verify", "--tenant", "tenant-b")
    assert code == 0 and report["ok"]


def test_log_files_hold_no_phi(stack: Stack) -> None:
    r = random.Random()
    ssn = f"{r.randrange(100, 899)}-{r.randrange(10, 99)}-{r.randrange(1000, 9999)}"
    payload = {"eventType": f"avi:jira:unknown:SSN {ssn}"}  # recorded, logged, ignored
    resp = stack.client.post("/v1/forge/events", json=payload, headers=stack.bearer("logs"))
    assert resp.status_code == 202, resp.text
    # Log handlers flush per record, but the replica writes after the answer: wait for the
    # event's (redacted) line to reach a file, then read every file of this stack.
    deadline = time.monotonic() + 30
    while True:
        texts = {}
        for path in stack.log_files():
            with contextlib.suppress(OSError):  # a file rotated away between list and read
                texts[path] = path.read_text(errors="replace")
        redacted_seen = any("avi:jira:unknown:SSN [SSN]" in text for text in texts.values())
        if redacted_seen or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    for path, text in texts.items():
        assert ssn not in text, f"PHI in {path}"
    assert redacted_seen, "the event's log line was not found in any log file"


def test_request_ids_are_echoed(stack: Stack) -> None:
    resp = httpx.get(f"{stack.settings.http_url}/healthz", headers={"x-request-id": "abc-1"})
    assert resp.headers.get_list("x-request-id") == ["abc-1"]
    made = httpx.get(f"{stack.settings.http_url}/healthz")
    assert len(made.headers.get_list("x-request-id")) == 1


def _forged(stack: Stack, *, alg: str = "RS256", kid: str | None = None,
            **claims: Any) -> str:
    """A FIT for tenant ``forged`` as an attacker would shape it."""
    import jwt
    from cryptography.hazmat.primitives import serialization

    keydir = stack.settings.data_dir / "dev-keys"
    private = serialization.load_pem_private_key((keydir / "fit-signing-key.pem").read_bytes(),
                                                 None)
    public_pem = private.public_key().public_bytes(  # type: ignore[union-attr]
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    real_kid = json.loads((keydir / "jwks.json").read_text())["keys"][0]["kid"]
    now = int(time.time())
    body = {"app": {"id": stack.settings.forge_app_id}, "context": {"cloudId": "forged"},
            "principal": "attacker", "aud": stack.settings.forge_app_id,
            "iss": "forge/invocation-token", "iat": now, "nbf": now, "exp": now + 300, **claims}
    headers = {"kid": kid or real_kid}
    if alg == "none":
        return jwt.encode(body, None, algorithm="none", headers=headers)
    if alg == "HS256":  # the public key used as an HMAC secret (the classic key confusion)
        import base64
        import hashlib
        import hmac

        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        head = b64(json.dumps({"alg": "HS256", "typ": "JWT", **headers}).encode())
        payload = b64(json.dumps(body).encode())
        sig = hmac.new(public_pem, f"{head}.{payload}".encode(), hashlib.sha256).digest()
        return f"{head}.{payload}.{b64(sig)}"
    return jwt.encode(body, private, algorithm="RS256", headers=headers)  # type: ignore[arg-type]


def test_the_hostile_tries_of_issue_19_get_their_exact_4xx(stack: Stack) -> None:
    """The tries of issue #19 against the running stack, each with the status it must get."""
    now = int(time.time())
    epic = json.dumps(forge_epic(key="HOST-1")).encode()
    jira = jira_secret(stack.settings, "dev")
    limit = stack.settings.max_body_bytes

    def bearer(token: str) -> dict[str, str]:
        return {"authorization": f"Bearer {token}", "content-type": "application/json"}

    state = "/v1/tenants/forged/agents/TaskSmith/state"
    tries: list[tuple[str, str, str, bytes | None, dict[str, str], int]] = [
        # forged and confused tokens
        ("alg none", "GET", state, None, bearer(_forged(stack, alg="none")), 401),
        ("HS256 signed with the public key", "GET", state, None,
         bearer(_forged(stack, alg="HS256")), 401),
        ("expired", "GET", state, None, bearer(_forged(stack, exp=now - 60)), 401),
        ("not yet valid", "GET", state, None, bearer(_forged(stack, nbf=now + 3600)), 401),
        ("wrong audience", "GET", state, None, bearer(_forged(stack, aud="other-app")), 401),
        ("wrong issuer", "GET", state, None, bearer(_forged(stack, iss="me")), 401),
        ("a path as kid", "GET", state, None,
         bearer(_forged(stack, kid="../../dev-keys/fit-signing-key.pem")), 401),
        ("no token", "GET", state, None, {}, 401),
        ("garbage token", "GET", state, None, bearer("not.a.jwt"), 401),
        # another tenant's data
        ("cross-tenant state", "GET", "/v1/tenants/victim/agents/TaskSmith/state", None,
         stack.bearer("h-cross"), 403),
        ("cross-tenant ask", "POST", "/v1/tenants/victim/ask", b'{"question": "x"}',
         {**stack.bearer("h-cross2"), "content-type": "application/json"}, 403),
        # bodies
        ("deep nesting", "POST", "/v1/forge/events", b'{"a":' * 5000 + b"1" + b"}" * 5000,
         stack.bearer("h-deep"), 422),
        ("2 MB body", "POST", "/v1/forge/events", b'{"eventType": "' + b"x" * 2_000_000 + b'"}',
         stack.bearer("h-big"), 413),
        ("invalid UTF-8", "POST", "/v1/forge/events", b'{"eventType": "\xff\xfe"}',
         stack.bearer("h-utf"), 400),
        ("not JSON", "POST", "/v1/forge/events", b"{", stack.bearer("h-json"), 400),
        ("wrong types", "POST", "/v1/forge/events", b'{"eventType": 5}',
         stack.bearer("h-types"), 422),
        # webhook signatures
        ("bad webhook signature", "POST", "/v1/jira/webhooks?tenant=dev", epic,
         {"x-hub-signature": "sha256=" + "0" * 64}, 401),
        ("missing webhook signature", "POST", "/v1/jira/webhooks?tenant=dev", epic, {}, 401),
        ("webhook for an unknown tenant", "POST", "/v1/jira/webhooks?tenant=nobody", epic,
         {"x-hub-signature": sign_jira_body(epic, jira)}, 401),
        # odd ids
        ("a 10 KB event id", "GET", "/v1/events/" + "e" * 10_000, None,
         stack.bearer("h-id"), 422),
        ("an unknown event id", "GET", "/v1/events/nope", None, stack.bearer("h-id2"), 404),
        # an encoded slash makes the path match no route at all
        ("a path in a tenant id", "GET", "/v1/tenants/..%2F..%2Fetc/agents/TaskSmith/state",
         None, stack.bearer("h-path"), 404),
        # questions
        ("an oversized question", "POST", "/v1/tenants/h-ask/ask",
         json.dumps({"question": "x" * 5000}).encode(),
         {**stack.bearer("h-ask"), "content-type": "application/json"}, 422),
        ("k out of range", "POST", "/v1/tenants/h-ask2/ask",
         json.dumps({"question": "x", "k": 10_000}).encode(),
         {**stack.bearer("h-ask2"), "content-type": "application/json"}, 422),
        # reindex sources
        *[(f"reindex from {source}", "POST", f"/v1/tenants/h-rx{i}/reindex",
           json.dumps({"space": "QM", "source": source}).encode(),
           {**stack.bearer(f"h-rx{i}"), "content-type": "application/json"}, 422)
          for i, source in enumerate(["file:///etc/passwd", "/etc",
                                      "http://169.254.169.254/latest/meta-data/",
                                      ".clinisight/dev-keys"])],
    ]
    assert len(tries) >= 28
    wrong = {}
    for name, method, path, body, headers, expected in tries:
        resp = stack.client.request(method, path, content=body, headers=headers)
        if resp.status_code != expected or (expected != 413 and "detail" not in resp.json()):
            wrong[name] = (resp.status_code, resp.text[:200])
    assert not wrong, wrong
    assert limit < 2_000_000  # the 2 MB try is over the limit, as it must be
    assert stack.client.get("/healthz").status_code == 200
