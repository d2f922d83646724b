"""The ingress app in process, its context set as ``Ingress.__init__`` sets it: the real routes,
the real audit boundary and a real DynamoDB (dynalite), no Ray. Agents without a deployment
handle run in-process (``serve.routes.common.dispatch``)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import httpx

from config.settings import Settings
from serve import audit as boundary
from serve.auth import FitVerifier, JwksSource
from store.factory import open_stores
from tests.utils.fit import TestKey, claims, jwks

with warnings.catch_warnings():
    # Importing ray.serve warns (pydantic deprecations inside Ray); not ours to fix.
    warnings.simplefilter("ignore", DeprecationWarning)
    from serve.context import IngressContext, set_context
    from serve.drainer import Drainer
    from serve.ingress import app

APP_ID = "ari:cloud:ecosystem::app/test-app"


class InProcessIngress:
    def __init__(self, settings: Settings, key: TestKey,
                 jira_secrets: dict[str, str] | None = None,
                 account: str = "acct-1") -> None:
        self.settings = settings
        self.key = key
        self.account = account
        self.stores = open_stores(settings)
        self.guard = boundary.install_guard(settings, self.stores.client)
        jwks_file = settings.data_dir / "jwks.json"
        jwks_file.parent.mkdir(parents=True, exist_ok=True)
        jwks_file.write_text(json.dumps(jwks(key)))
        set_context(IngressContext(
            settings=settings, stores=self.stores,
            fit=FitVerifier(APP_ID, JwksSource(None, jwks_file)),
            jira_secrets=jira_secrets or {},
            orchestrator=None,  # no Serve here: accepted events wait for a re-drive
        ))
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://ingress", timeout=30)

    def bearer(self, tenant: str, account: str | None = None, **extra: str) -> dict[str, str]:
        token = self.key.sign(claims(APP_ID, tenant, principal=account or self.account))
        return {"authorization": f"Bearer {token}", **extra}

    async def post(self, path: str, body: Any, tenant: str = "acme",
                   **headers: str) -> httpx.Response:
        return await self.client.post(path, json=body, headers=self.bearer(tenant, **headers))

    async def drain(self) -> list[tuple[str, str]]:
        """Move every acknowledged delivery from the inbox into the event log and the audit
        trail, as the orchestrator's drainer does; return the new events to process."""
        drainer = Drainer(self.stores.inbox, self.stores.events, self.guard.audit)
        fresh: list[tuple[str, str]] = []
        while True:
            drained, new = await drainer.drain_once()
            fresh.extend(new)
            if not drained:
                return fresh

    async def entries(self, tenant: str) -> list[dict[str, Any]]:
        """The tenant's audit trail, once every acknowledged delivery's entry is in."""
        await self.drain()
        return [e.public() for e in await self.guard.audit.entries(tenant)]

    async def aclose(self) -> None:
        await self.client.aclose()
        boundary.uninstall_guard()
