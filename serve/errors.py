"""HTTP errors, and the one place domain errors become HTTP statuses.

AuthError → 401, HttpError → its status, InvalidKey → 422 (an id or key longer than the store
holds is the caller's input), any other StoreError → 503, KnownNamesNotConfigured → 503,
DependencyCycle → 422 (naming the cycle), PlanTooLong → 422, ProposalNotFound → 404,
ProposalConflict → 409, JiraError → 502, NoJiraCredentials → 400, JobNotFound (a Jira job)
→ 404, JobConflict → 409;
request bodies are parsed with ``parse_json`` (400 not JSON, 422 not an object / nested too
deeply) and validated with ``validate`` (422 naming the field).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from ray.exceptions import RayTaskError

from agents.jira_client import JiraError
from agents.roadmapsmith_models import DependencyCycle, PlanTooLong
from agents.tasksmith_writeback import ProposalConflict, ProposalNotFound
from serve.auth import AuthError
from serve.jira_sync import JobConflict, JobNotFound, NoJiraCredentials
from store.errors import InvalidKey, StoreError
from store.known_names import KnownNamesNotConfigured

log = logging.getLogger("clinisight.ingress")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


class HttpError(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


# Domain errors whose message is the answer (written for the caller, no request data in it).
_DETAIL_STATUS: dict[type[Exception], int] = {
    PlanTooLong: 422,
    ProposalNotFound: 404,
    ProposalConflict: 409,
    JiraError: 502,  # Jira's own status is not ours: the upstream failed, the request may be fine
    NoJiraCredentials: 400,
    JobNotFound: 404,
    JobConflict: 409,
    KnownNamesNotConfigured: 503,
}


def _detail_handler(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    async def handle(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status)
    return handle


async def unwrapped(call: Awaitable[T]) -> T:
    """Await a deployment call; Ray wraps what the replica raised, so unwrap it and the
    handlers below map the cause once."""
    try:
        return await call
    except RayTaskError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, Exception):
            raise cause from None
        raise


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(HttpError)
    async def _http_error(_: Request, exc: HttpError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(AuthError)
    async def _auth_error(_: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
            problems.append(f"{where}: {err['msg']}")
        return JSONResponse({"detail": "invalid request: " + "; ".join(problems)},
                            status_code=422)

    @app.exception_handler(DependencyCycle)
    async def _cycle(_: Request, exc: DependencyCycle) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "cycle": exc.cycle}, status_code=422)

    for kind, status in _DETAIL_STATUS.items():
        app.add_exception_handler(kind, _detail_handler(status))

    @app.exception_handler(InvalidKey)
    async def _invalid_key(_: Request, exc: InvalidKey) -> JSONResponse:
        # The value is not echoed: an id may carry anything, PHI included.
        return JSONResponse(
            {"detail": "an id, key or tenant name is empty or too long for the store "
                       "(at most 1,024 bytes for an id, 2,048 for a tenant)"},
            status_code=422,
        )

    @app.exception_handler(StoreError)
    async def _store_error(_: Request, exc: StoreError) -> JSONResponse:
        log.error("store error: %s", type(exc).__name__)
        return JSONResponse({"detail": "storage unavailable, retry later"}, status_code=503)


def validation_detail(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        problems.append(f"{where}: {err['msg']}")
    return "invalid body: " + "; ".join(problems)


def parse_json(body: bytes) -> dict[str, Any]:
    try:  # the fast parser first; what it refuses gets the standard library's verdict
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = _parse_std(body)
    if not isinstance(payload, dict):
        raise HttpError(422, "invalid body: expected a JSON object")
    return payload


def _parse_std(body: bytes) -> Any:
    """``json.loads``, which takes what orjson does not (integers past 64 bits, NaN), and
    whose errors name the problem."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"body is not valid JSON: {exc}") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits (CVE-2020-10735)
        raise HttpError(400, f"body is not acceptable JSON: {exc}") from None
    except RecursionError:
        raise HttpError(422, "invalid body: nested too deeply") from None


def validate(model: type[M], payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise HttpError(422, validation_detail(exc)) from None
