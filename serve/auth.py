"""Who is calling: Forge Invocation Tokens (RS256 JWT) and Jira webhook HMAC signatures.

The tenant is what the verified credential says, never what the body claims.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt

from config.settings import TENANT_RE

FIT_ISSUER = "forge/invocation-token"
# An Atlassian accountId: hex (legacy) or "<digits>:<uuid>"; never an e-mail address.
ACCOUNT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_-]{0,127}$")


class AuthError(Exception):
    """The credential is missing or does not verify (HTTP 401)."""


@dataclass(frozen=True)
class Principal:
    tenant: str
    account: str
    via: str  # "forge" or "jira"
    cloud_id: str | None = None  # the Atlassian site the FIT was signed for (context.cloudId)
    # The person the FIT was issued for (its ``principal``, an accountId); None when the token
    # carries no user (an app's own call, a product event): such a caller reads no page.
    user: str | None = None


def tenant_from_claims(claims: dict[str, Any]) -> str:
    """The tenant a FIT names: the site's cloudId, else the installation id.

    ``context.cloudId`` is the Atlassian site; installations listed under ``app.installation``
    carry it too. An installation ARI (``ari:cloud:ecosystem::installation/<uuid>``) is reduced
    to its uuid so the tenant stays usable in a URL path.
    """
    candidates: list[Any] = [(claims.get("context") or {}).get("cloudId")]
    app = claims.get("app") or {}
    for ctx in (app.get("installation") or {}).get("contexts") or []:
        candidates.append((ctx or {}).get("cloudId"))
    installation = app.get("installationId")
    if isinstance(installation, str):
        candidates.append(installation.rsplit("/", 1)[-1])
    for value in candidates:
        if isinstance(value, str) and TENANT_RE.match(value):
            return value
    raise AuthError("token names no tenant (context.cloudId or app.installationId)")


class JwksSource:
    """Signing keys by kid, from a JWKS URL (cached) or a file (re-read when it changes)."""

    def __init__(self, url: str | None, file: Path | None, cache_s: float = 600.0) -> None:
        if not url and not file:
            raise ValueError("a JWKS URL or file is required to verify Forge tokens")
        self.url = url
        self.file = file
        self.cache_s = cache_s
        self._keys: dict[str, Any] = {}
        self._loaded_at = 0.0
        self._file_mtime = 0.0
        self._lock = asyncio.Lock()

    async def _fetch(self) -> dict[str, Any]:
        if self.file is not None:
            return dict(json.loads(self.file.read_text()))
        assert self.url is not None
        async with httpx.AsyncClient(timeout=5.0) as client:
            resp = await client.get(self.url)
            resp.raise_for_status()
            return dict(resp.json())

    def _stale(self) -> bool:
        if self.file is not None:
            return self.file.stat().st_mtime != self._file_mtime
        return time.monotonic() - self._loaded_at > self.cache_s

    async def _refresh(self, min_age_s: float) -> None:
        async with self._lock:
            if time.monotonic() - self._loaded_at < min_age_s and not self._stale():
                return
            try:
                doc = await self._fetch()
            except (OSError, httpx.HTTPError, ValueError) as exc:
                if self._keys:  # keep serving the keys we have; the next call tries again
                    return
                raise AuthError("signing keys unavailable") from exc
            keys = {}
            for jwk in doc.get("keys", []):
                if jwk.get("kty") == "RSA" and jwk.get("kid"):
                    keys[jwk["kid"]] = jwt.PyJWK(jwk, algorithm="RS256").key
            self._keys = keys
            self._loaded_at = time.monotonic()
            if self.file is not None:
                self._file_mtime = self.file.stat().st_mtime

    async def key(self, kid: str) -> Any:
        if not self._keys or self._stale():
            await self._refresh(min_age_s=0)
        if kid not in self._keys:
            # A rotated key: look again, but not more than once a minute per replica.
            await self._refresh(min_age_s=60)
        try:
            return self._keys[kid]
        except KeyError:
            raise AuthError(f"unknown signing key {kid!r}") from None


class FitVerifier:
    """Verifies a Forge Invocation Token and names its tenant."""

    def __init__(self, app_id: str, jwks: JwksSource, leeway_s: float = 30.0) -> None:
        self.app_id = app_id
        self.jwks = jwks
        self.leeway_s = leeway_s

    async def verify(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthError("missing bearer token")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AuthError("malformed token") from exc
        if header.get("alg") != "RS256":
            raise AuthError("token must be signed with RS256")
        key = await self.jwks.key(str(header.get("kid", "")))
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.app_id,
                issuer=FIT_ISSUER,
                leeway=self.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise AuthError("token audience is not this app") from exc
        except jwt.InvalidIssuerError as exc:
            raise AuthError("token issuer is not forge/invocation-token") from exc
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {exc}") from exc
        account = claims.get("principal") or "app"
        user = claims.get("principal")
        cloud_id = (claims.get("context") or {}).get("cloudId")
        return Principal(tenant=tenant_from_claims(claims), account=str(account), via="forge",
                         cloud_id=cloud_id if isinstance(cloud_id, str)
                         and TENANT_RE.match(cloud_id) else None,
                         user=user if isinstance(user, str) and ACCOUNT_ID_RE.match(user)
                         else None)


def verify_jira_signature(
    body: bytes, signature: str | None, tenant: str | None, secrets: dict[str, str]
) -> Principal:
    """Check ``X-Hub-Signature: sha256=<hex>`` with the tenant's webhook secret."""
    if not tenant or tenant not in secrets:
        raise AuthError("unknown tenant for Jira webhook (set ?tenant= to a configured tenant)")
    if not signature or not signature.startswith("sha256="):
        raise AuthError("missing X-Hub-Signature sha256=<hex>")
    expected = hmac.new(secrets[tenant].encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature[7:].strip().lower()):
        raise AuthError("bad webhook signature")
    return Principal(tenant=tenant, account="jira-webhook", via="jira")


def sign_jira_body(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
