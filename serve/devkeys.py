"""Dev-mode credentials: a local RSA key whose JWKS stands in for Atlassian's, a Jira secret,
and the key of the known names' digests (``store.known_names``).

Made once under ``<data_dir>/dev-keys`` (mode 0600) so the CLI can mint Forge Invocation Tokens
for any tenant and sign Jira webhooks for the default tenant ``dev``. Never used outside dev
mode: with a real JWKS URL configured, ``mint_fit`` refuses.
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from config.settings import TENANT_RE, Settings
from serve.auth import ACCOUNT_ID_RE, FIT_ISSUER

DEV_TENANT = "dev"


def _dir(settings: Settings) -> Path:
    return settings.data_dir / "dev-keys"


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def ensure_dev_keys(settings: Settings) -> Settings:
    """Create the dev key material if missing; return settings that point at it."""
    if not settings.dev_mode:
        return settings
    keydir = _dir(settings)
    keydir.mkdir(parents=True, exist_ok=True)
    key_path, jwks_path, jira_path, names_path = (
        keydir / "fit-signing-key.pem",
        keydir / "jwks.json",
        keydir / "jira-secrets.json",
        keydir / "phi-names.key",
    )
    if not key_path.exists() or not jwks_path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
        jwk.update({"kid": f"dev-{uuid.uuid4().hex[:8]}", "alg": "RS256", "use": "sig"})
        _write_private(key_path, pem)
        jwks_path.write_text(json.dumps({"keys": [jwk]}, indent=2))
    if not jira_path.exists():
        _write_private(jira_path, json.dumps({DEV_TENANT: secrets.token_hex(32)}).encode())
    if not names_path.exists():
        _write_private(names_path, secrets.token_hex(32).encode())
    jira = {t: SecretStr(s) for t, s in json.loads(jira_path.read_text()).items()}
    update: dict[str, Any] = {
        "jira_webhook_secrets": {**jira, **settings.jira_webhook_secrets},
    }
    if settings.forge_jwks_file is None:
        update["forge_jwks_file"] = jwks_path
    if settings.phi_names_key is None:
        update["phi_names_key"] = SecretStr(names_path.read_text().strip())
    return settings.model_copy(update=update)


def mint_fit(
    settings: Settings, tenant: str, account: str | None = None, ttl_s: int = 300,
    **overrides: Any,
) -> str:
    """A Forge Invocation Token signed with the dev key, shaped like Forge's own."""
    if not settings.dev_mode:
        raise PermissionError("tokens can be minted only in dev mode (stage dev, no JWKS URL)")
    if not TENANT_RE.match(tenant):
        raise ValueError(f"invalid tenant id {tenant!r}: letters, digits and _.:- only")
    if account is not None and not ACCOUNT_ID_RE.match(account):
        raise ValueError(f"invalid principal {account!r}: an Atlassian accountId (letters, "
                         "digits and :_-), never an e-mail address")
    keydir = _dir(settings)
    key = serialization.load_pem_private_key((keydir / "fit-signing-key.pem").read_bytes(), None)
    kid = json.loads((keydir / "jwks.json").read_text())["keys"][0]["kid"]
    now = int(time.time())
    claims: dict[str, Any] = {
        "app": {
            "id": settings.forge_app_id,
            "installationId": f"ari:cloud:ecosystem::installation/{uuid.uuid4()}",
            "environment": {"type": "DEVELOPMENT"},
        },
        "context": {"cloudId": tenant},
        "principal": account or "dev-user",
        "aud": settings.forge_app_id,
        "iss": FIT_ISSUER,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})  # type: ignore[arg-type]


def jira_secret(settings: Settings, tenant: str) -> str:
    secret = ensure_dev_keys(settings).jira_webhook_secrets.get(tenant)
    if secret is None:
        raise KeyError(f"no Jira webhook secret configured for tenant {tenant!r}")
    return secret.get_secret_value()
