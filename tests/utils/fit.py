"""Test signing keys and Forge Invocation Tokens, signed with PyJWT directly (not our code)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.utils.servers import SHARED

FIXTURE_CLAIMS = SHARED / "fixtures" / "forge" / "forge_invocation_token_claims.json"


class TestKey:
    __test__ = False  # not a test class

    def __init__(self, kid: str | None = None) -> None:
        self.kid = kid or f"k-{uuid.uuid4().hex[:8]}"
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm="RS256",
                          headers={"kid": kid or self.kid})


def jwks(*keys: TestKey) -> dict[str, Any]:
    return {"keys": [k.jwk() for k in keys]}


def claims(app_id: str, cloud_id: str, **over: Any) -> dict[str, Any]:
    """The real fixture's claims, re-dated and re-addressed."""
    c = json.loads(FIXTURE_CLAIMS.read_text())
    now = int(time.time())
    c.update({"aud": app_id, "iat": now, "nbf": now, "exp": now + 60})
    c["app"]["id"] = app_id
    c["context"]["cloudId"] = cloud_id
    c.update(over)
    return c
