"""The HTTP ingress: verify the caller, validate, record the event durably, answer 202.

Domain errors become HTTP statuses here and only here:
AuthError → 401, Forbidden → 403, NotFound → 404, body too large → 413,
malformed JSON → 400, validation → 422 naming the field, StoreError → 503.
"""


import asyncio
import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from ray import serve
from ray.serve.handle import DeploymentHandle

from agents.registry import AGENTS
from config.settings import Settings
from serve.auth import AuthError, FitVerifier, JwksSource, Principal, verify_jira_signature
from serve.routing import route
from serve.wire import ForgeEventIn, JiraWebhookIn, event_id_for, kind_of, to_agent_event
from store.errors import StoreError
from store.events import EventStatus
from store.factory import open_stores

log = logging.getLogger("clinisight.ingress")

app = FastAPI(
    title="Clinisight",
    version="0.1.0",
    description="AI agents for healthcare teams on Jira and Confluence.",
)


class HttpError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@app.exception_handler(HttpError)
async def _http_error(_: Request, exc: HttpError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail}, status_code=exc.status)


@app.exception_handler(AuthError)
async def _auth_error(_: Request, exc: AuthError) -> JSONResponse:
    return JSONResponse(
        {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


@app.exception_handler(StoreError)
async def _store_error(_: Request, exc: StoreError) -> JSONResponse:
    log.error("store error: %s", type(exc).__name__)
    return JSONResponse({"detail": "storage unavailable, retry later"}, status_code=503)


def _validation_detail(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        problems.append(f"{where}: {err['msg']}")
    return "invalid body: " + "; ".join(problems)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise HttpError(422, "invalid body: nested too deeply") from None
    if not isinstance(payload, dict):
        raise HttpError(422, "invalid body: expected a JSON object")
    return payload


@serve.deployment(ray_actor_options={"num_cpus": 0.2}, max_ongoing_requests=200)
@serve.ingress(app)
class Ingress:
    def __init__(self, settings: Settings, orchestrator: DeploymentHandle) -> None:
        self.settings = settings
        self.orchestrator = orchestrator
        self.stores = open_stores(settings)
        self.fit = FitVerifier(
            settings.forge_app_id,
            JwksSource(settings.forge_jwks_url, settings.forge_jwks_file,
                       settings.jwks_cache_seconds),
        )
        self.jira_secrets = {
            t: s.get_secret_value() for t, s in settings.jira_webhook_secrets.items()
        }
        self._inflight: set[asyncio.Task[None]] = set()

    # -- helpers ---------------------------------------------------------------------------

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HttpError(413, f"body of {declared} bytes exceeds the limit of {limit}")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _principal(self, request: Request) -> Principal:
        return await self.fit.verify(request.headers.get("authorization"))

    async def _accept(
        self, principal: Principal, source: str, event_type: str, payload: dict[str, Any],
        header_id: str | None,
    ) -> JSONResponse:
        tenant = principal.tenant
        event_id = event_id_for(payload, header_id)
        kind = kind_of(source, event_type)
        agents = route(to_agent_event(tenant, event_id, source, kind, payload)) if kind else []
        status = EventStatus.ACCEPTED if agents else EventStatus.IGNORED
        record, created = await self.stores.events.record(
            tenant, event_id, source, event_type, payload, status
        )
        if created and status is EventStatus.ACCEPTED:
            self._dispatch(tenant, event_id)
        log.info("event %s tenant=%s type=%s status=%s new=%s",
                 event_id, tenant, event_type, record.status.value, created)
        return JSONResponse(
            {"eventId": event_id, "status": record.status.value, "duplicate": not created},
            status_code=202 if created else 200,
        )

    def _dispatch(self, tenant: str, event_id: str) -> None:
        async def send() -> None:
            try:
                await self.orchestrator.process.remote(tenant, event_id)
            except Exception as exc:  # the event stays unfinished; re-drive picks it up
                log.warning("dispatch of %s failed (%s); left for re-drive",
                            event_id, type(exc).__name__)

        task = asyncio.get_running_loop().create_task(send())
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    # -- routes ----------------------------------------------------------------------------

    @app.post("/v1/forge/events", status_code=202)
    async def forge_event(self, request: Request) -> JSONResponse:
        """A Forge Remote product event, authenticated by its Forge Invocation Token."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            raise HttpError(413, f"body of {declared} bytes exceeds the limit of "
                                 f"{self.settings.max_body_bytes}")
        principal = await self._principal(request)
        payload = _json_object(await self._body(request))
        try:
            parsed = ForgeEventIn.model_validate(payload)
        except ValidationError as exc:
            raise HttpError(422, _validation_detail(exc)) from None
        return await self._accept(
            principal, "forge", parsed.eventType, payload,
            request.headers.get("x-atlassian-webhook-identifier"),
        )

    @app.post("/v1/jira/webhooks", status_code=202)
    async def jira_webhook(self, request: Request, tenant: str | None = None) -> JSONResponse:
        """A classic Jira Cloud webhook, signed with the tenant's secret (X-Hub-Signature)."""
        body = await self._body(request)
        principal = verify_jira_signature(
            body, request.headers.get("x-hub-signature"), tenant, self.jira_secrets
        )
        payload = _json_object(body)
        try:
            parsed = JiraWebhookIn.model_validate(payload)
        except ValidationError as exc:
            raise HttpError(422, _validation_detail(exc)) from None
        return await self._accept(
            principal, "jira", parsed.webhookEvent, payload,
            request.headers.get("x-atlassian-webhook-identifier"),
        )

    @app.get("/v1/events/{event_id}")
    async def get_event(self, event_id: str, request: Request) -> dict[str, Any]:
        principal = await self._principal(request)
        record = await self.stores.events.get(principal.tenant, event_id)
        if record is None:
            raise HttpError(404, f"no event {event_id!r} for tenant {principal.tenant!r}")
        return record.public()

    @app.get("/v1/tenants/{tenant}/agents/{agent}/state")
    async def get_state(self, tenant: str, agent: str, request: Request) -> dict[str, Any]:
        principal = await self._principal(request)
        if tenant != principal.tenant:
            raise HttpError(403, "the token's tenant may not read another tenant's data")
        if agent not in AGENTS:
            raise HttpError(404, f"unknown agent {agent!r}; known: {', '.join(sorted(AGENTS))}")
        record = await self.stores.state.get(tenant, agent)
        if record is None:
            return {"tenant": tenant, "agent": agent, "version": 0, "updatedAt": None, "data": {}}
        return {
            "tenant": tenant,
            "agent": agent,
            "version": record.version,
            "updatedAt": record.updated_at,
            "data": record.data,
        }

    @app.get("/healthz")
    async def healthz(self) -> JSONResponse:
        checks: dict[str, Any] = {}
        try:
            await asyncio.wait_for(self.stores.ping(), timeout=5)
            checks["dynamodb"] = "ok"
        except (StoreError, TimeoutError) as exc:
            checks["dynamodb"] = f"error: {type(exc).__name__}"
        try:
            checks.update(await asyncio.wait_for(self.orchestrator.health.remote(), timeout=10))
        except Exception as exc:
            checks["orchestrator"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "degraded", "checks": checks},
            status_code=200 if ok else 503,
        )
