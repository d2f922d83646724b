from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest

from serve.auth import (
    AuthError,
    FitVerifier,
    JwksSource,
    sign_jira_body,
    tenant_from_claims,
    verify_jira_signature,
)
from tests.utils.fit import FIXTURE_CLAIMS, TestKey, claims, jwks

APP = "ari:cloud:ecosystem::app/test-app"


@pytest.fixture
def key() -> TestKey:
    return TestKey()


@pytest.fixture
def verifier(key: TestKey, tmp_path: Path) -> FitVerifier:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks(key)))
    return FitVerifier(APP, JwksSource(None, path))


async def test_valid_token_names_the_tenant_from_context(
    verifier: FitVerifier, key: TestKey
) -> None:
    p = await verifier.verify("Bearer " + key.sign(claims(APP, "site-1")))
    assert p.tenant == "site-1" and p.via == "forge"
    assert p.account == "655362:312d3308-8954-42b0-aa38-771a10c88656"


def test_real_fixture_claims_name_cloud_id() -> None:
    assert tenant_from_claims(json.loads(FIXTURE_CLAIMS.read_text())) == (
        "d0d52620-3203-4cfa-8db5-f2587155f0dd"
    )


def test_installation_id_is_the_fallback_tenant() -> None:
    c = {"app": {"installationId": "ari:cloud:ecosystem::installation/abc-123"}, "context": {}}
    assert tenant_from_claims(c) == "abc-123"
    with pytest.raises(AuthError):
        tenant_from_claims({"context": {"cloudId": "../etc"}})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "ari:cloud:ecosystem::app/other"}, "audience"),
        ({"iss": "someone-else"}, "issuer"),
        ({"nbf": int(time.time()) + 3600}, "invalid token"),
    ],
)
async def test_bad_claims_are_refused(
    verifier: FitVerifier, key: TestKey, change: dict[str, object], message: str
) -> None:
    with pytest.raises(AuthError, match=message):
        await verifier.verify("Bearer " + key.sign(claims(APP, "site-1", **change)))


async def test_token_from_another_key_is_refused(verifier: FitVerifier, key: TestKey) -> None:
    impostor = TestKey(kid=key.kid)  # same kid, different key
    with pytest.raises(AuthError, match="invalid token"):
        await verifier.verify("Bearer " + impostor.sign(claims(APP, "site-1")))


async def test_unsigned_and_hmac_tokens_are_refused(verifier: FitVerifier, key: TestKey) -> None:
    none_alg = jwt.encode(claims(APP, "s"), None, algorithm="none")
    hs = jwt.encode(claims(APP, "s"), "secret-secret-secret-secret-32by", algorithm="HS256")
    for token in (none_alg, hs, "not-a-jwt"):
        with pytest.raises(AuthError):
            await verifier.verify("Bearer " + token)
    with pytest.raises(AuthError, match="missing"):
        await verifier.verify(None)


class _JwksHandler(BaseHTTPRequestHandler):
    doc: dict[str, object] = {}
    hits = 0

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits += 1
        body = json.dumps(type(self).doc).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def jwks_server() -> Iterator[tuple[str, type[_JwksHandler]]]:
    handler = type("H", (_JwksHandler,), {"doc": {}, "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json", handler
    server.shutdown()
    server.server_close()


async def test_jwks_url_is_cached_and_refetched_for_a_new_key(
    jwks_server: tuple[str, type[_JwksHandler]],
) -> None:
    url, handler = jwks_server
    k1, k2 = TestKey(), TestKey()
    handler.doc = jwks(k1)
    source = JwksSource(url, None, cache_s=600)
    verifier = FitVerifier(APP, source)
    for _ in range(3):
        await verifier.verify("Bearer " + k1.sign(claims(APP, "s")))
    assert handler.hits == 1, "the JWKS was fetched on every call"
    handler.doc = jwks(k1, k2)  # rotation: a new key appears
    source._loaded_at -= 120  # the once-a-minute refetch guard has passed
    p = await verifier.verify("Bearer " + k2.sign(claims(APP, "s2")))
    assert p.tenant == "s2" and handler.hits == 2


def test_jira_signature() -> None:
    body = b'{"webhookEvent":"jira:issue_created"}'
    secrets = {"acme": "s3cret"}
    assert verify_jira_signature(body, sign_jira_body(body, "s3cret"), "acme", secrets).tenant == (
        "acme"
    )
    with pytest.raises(AuthError, match="bad webhook signature"):
        verify_jira_signature(body, sign_jira_body(body, "wrong"), "acme", secrets)
    with pytest.raises(AuthError, match="bad webhook signature"):
        verify_jira_signature(body + b" ", sign_jira_body(body, "s3cret"), "acme", secrets)
    with pytest.raises(AuthError, match="unknown tenant"):
        verify_jira_signature(body, sign_jira_body(body, "s3cret"), "other", secrets)
    with pytest.raises(AuthError, match="missing"):
        verify_jira_signature(body, None, "acme", secrets)
