"""An async client for the few Jira Cloud REST v3 calls Clinisight makes.

Create an issue, search by JQL (the ``/rest/api/3/search/jql`` endpoint that replaced
``/search``), read and create issue links. Errors are translated here, once::

    JiraError                      anything that went wrong talking to Jira
    ├── JiraAuthError              401 / 403: the token is missing, expired or lacks a scope
    ├── JiraNotFound               404: no such issue or project (or not visible to the token)
    ├── JiraRejected               400: Jira refused the request; ``detail`` quotes its messages
    └── JiraUnavailable            429 / 5xx / network after the retries ran out

Retries: 429 waits for ``Retry-After`` (Jira Cloud's rate limiter always sends it), else until
``X-RateLimit-Reset``; a 503 with ``Retry-After`` (Jira's "resource limit reached") waits the
same way; other 5xx and network errors back off exponentially. An answer that says
``X-RateLimit-NearLimit: true`` (less than 20% of the budget left, Atlassian's "Rate limiting"
page) makes the next call wait one backoff step first, so a long backfill slows down before it
is throttled rather than after. A create is *not* retried after a 5xx or a broken read:
Jira may have created the issue before failing, and a blind retry would duplicate it. The
caller (the write-back) checks with a search instead, which is what makes approval idempotent.
"""

from __future__ import annotations

import asyncio
import base64
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

MAX_RETRY_AFTER_S = 60.0


class JiraError(Exception):
    """Talking to Jira failed; the message says which call and why (never issue content)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class JiraAuthError(JiraError):
    pass


class JiraNotFound(JiraError):
    pass


class JiraRejected(JiraError):
    pass


class JiraUnavailable(JiraError):
    pass


@dataclass(frozen=True)
class JiraCredentials:
    """Where Jira is and how to authenticate: a base URL and an Authorization header value."""

    base_url: str
    authorization: str

    @classmethod
    def forge_system(cls, api_url: str, cloud_id: str, token: str) -> JiraCredentials:
        """The Forge app's system token, through the API gateway (``/ex/jira/<cloudId>``)."""
        return cls(f"{api_url.rstrip('/')}/ex/jira/{cloud_id}", f"Bearer {token}")

    @classmethod
    def api_token(cls, site_url: str, email: str, token: str) -> JiraCredentials:
        """A site URL with an Atlassian API token (basic auth with the account's email)."""
        basic = base64.b64encode(f"{email}:{token}".encode()).decode()
        return cls(site_url.rstrip("/"), f"Basic {basic}")


@dataclass(frozen=True)
class SearchPage:
    issues: list[dict[str, Any]]
    next_token: str | None  # None: this was the last page


@dataclass(frozen=True)
class CreatedIssue:
    id: str
    key: str


def _messages(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.reason_phrase
    if not isinstance(body, dict):
        return resp.reason_phrase
    parts = [str(m) for m in body.get("errorMessages") or []]
    parts += [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
    return "; ".join(parts) or resp.reason_phrase


def _retry_after(resp: httpx.Response, fallback: float) -> float:
    value = resp.headers.get("retry-after", "")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        pass
    # X-RateLimit-Reset: an ISO 8601 instant (yyyy-MM-ddTHH:mmZ) when the budget refills.
    reset = resp.headers.get("x-ratelimit-reset", "")
    try:
        at = datetime.fromisoformat(reset.replace("Z", "+00:00"))
    except ValueError:
        return fallback
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    wait = (at - datetime.now(UTC)).total_seconds()
    # The header is to the minute: an instant already past means "within the minute", so
    # the usual backoff, not an immediate retry that would only earn another 429.
    return min(wait, MAX_RETRY_AFTER_S) if wait > 0 else fallback


@dataclass
class CallStats:
    """What the client went through: for a job's progress (counts only)."""

    throttled: int = 0  # 429 answers
    retried: int = 0  # calls sent again, for any reason
    slowed: int = 0  # pauses because Jira said the budget was nearly spent


class JiraClient:
    """One site's Jira REST v3. ``async with JiraClient(...)`` closes the connection pool."""

    def __init__(
        self,
        credentials: JiraCredentials,
        *,
        timeout_s: float = 20.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
    ) -> None:
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.stats = CallStats()
        self._slow_down = False
        self.http = httpx.AsyncClient(
            base_url=credentials.base_url,
            timeout=timeout_s,
            headers={
                "authorization": credentials.authorization,
                "accept": "application/json",
                "user-agent": "clinisight/0.1",
            },
        )

    async def __aenter__(self) -> JiraClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(
        self, method: str, path: str, what: str, *, json: Any = None, safe: bool = True
    ) -> httpx.Response:
        """Send, retrying what may be retried; ``safe`` = repeating the call changes nothing."""
        attempt = 0
        while True:
            delay = self.backoff_s * (2**attempt) * (0.5 + random.random())
            if self._slow_down:
                self._slow_down = False
                self.stats.slowed += 1
                await asyncio.sleep(self.backoff_s)
            try:
                resp = await self.http.request(method, path, json=json)
            except httpx.ConnectError as exc:
                # Nothing reached Jira: retrying is safe even for a create.
                if attempt >= self.max_retries:
                    raise JiraUnavailable(f"{what}: cannot reach Jira ({exc})") from exc
            except httpx.HTTPError as exc:
                if not safe or attempt >= self.max_retries:
                    raise JiraUnavailable(f"{what}: {type(exc).__name__} talking to Jira") from exc
            else:
                if resp.status_code < 400:
                    self._slow_down = resp.headers.get("x-ratelimit-nearlimit") == "true"
                    return resp
                self.stats.throttled += resp.status_code == 429
                if resp.status_code == 429 and attempt < self.max_retries:
                    delay = _retry_after(resp, delay)
                elif resp.status_code >= 500 and safe and attempt < self.max_retries:
                    if "retry-after" in resp.headers:
                        delay = _retry_after(resp, delay)
                else:
                    raise self._error(resp, what)
            attempt += 1
            self.stats.retried += 1
            await asyncio.sleep(delay)

    @staticmethod
    def _error(resp: httpx.Response, what: str) -> JiraError:
        status = resp.status_code
        detail = f"{what}: Jira answered {status} ({_messages(resp)})"
        if status in (401, 403):
            return JiraAuthError(detail, status)
        if status == 404:
            return JiraNotFound(detail, status)
        if status == 429 or status >= 500:
            return JiraUnavailable(detail, status)
        return JiraRejected(detail, status)

    async def create_issue(self, fields: dict[str, Any]) -> CreatedIssue:
        """``POST /rest/api/3/issue``; ``fields`` as Jira wants them (ADF description)."""
        resp = await self._call("POST", "/rest/api/3/issue", "create issue",
                                json={"fields": fields}, safe=False)
        body = resp.json()
        return CreatedIssue(id=str(body["id"]), key=str(body["key"]))

    async def search(
        self, jql: str, fields: list[str] | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Issues matching ``jql`` (``POST /rest/api/3/search/jql``), following page tokens."""
        issues: list[dict[str, Any]] = []
        token: str | None = None
        while len(issues) < limit:
            body: dict[str, Any] = {"jql": jql, "fields": fields or ["summary", "labels"],
                                    "maxResults": min(100, limit - len(issues))}
            if token:
                body["nextPageToken"] = token
            resp = await self._call("POST", "/rest/api/3/search/jql", "search", json=body)
            page = resp.json()
            issues.extend(page.get("issues") or [])
            token = page.get("nextPageToken")
            if page.get("isLast", True) or not token:
                break
        return issues[:limit]

    async def search_page(self, jql: str, fields: list[str], token: str | None = None,
                          max_results: int = 100) -> SearchPage:
        """One page of ``POST /rest/api/3/search/jql``; ``token`` is the previous page's
        ``nextPageToken`` (None for the first). The last page may carry no token at all
        (JRACLOUD-92184), so ``isLast`` and a missing token both end the paging."""
        body: dict[str, Any] = {"jql": jql, "fields": fields, "maxResults": max_results}
        if token:
            body["nextPageToken"] = token
        resp = await self._call("POST", "/rest/api/3/search/jql", "search", json=body)
        page = resp.json()
        issues = page.get("issues") if isinstance(page, dict) else None
        if not isinstance(issues, list):
            raise JiraRejected("search: Jira's answer has no issues list", resp.status_code)
        nxt = page.get("nextPageToken")
        last = bool(page.get("isLast", not nxt)) or not isinstance(nxt, str) or not nxt
        return SearchPage(issues=issues, next_token=None if last else nxt)

    async def fields(self) -> list[dict[str, Any]]:
        """Every field of the site, system and custom (``GET /rest/api/3/field``)."""
        resp = await self._call("GET", "/rest/api/3/field", "list fields")
        body = resp.json()
        if not isinstance(body, list):
            raise JiraRejected("list fields: Jira's answer is not a list", resp.status_code)
        return [f for f in body if isinstance(f, dict)]

    async def issue_links(self, key: str) -> list[dict[str, Any]]:
        """The ``issuelinks`` of one issue (``GET /rest/api/3/issue/{key}?fields=issuelinks``)."""
        resp = await self._call("GET", f"/rest/api/3/issue/{key}?fields=issuelinks",
                                f"read links of {key}")
        return list(resp.json().get("fields", {}).get("issuelinks") or [])

    async def link_issues(self, link_type: str, inward_key: str, outward_key: str) -> None:
        """``POST /rest/api/3/issueLink``: "<inward_key> <outward verb> <outward_key>".

        For the "Blocks" type, ``inward_key`` blocks ``outward_key``. Jira ignores a link that
        already exists, so this is safe to repeat.
        """
        await self._call(
            "POST", "/rest/api/3/issueLink", f"link {inward_key} to {outward_key}",
            json={"type": {"name": link_type}, "inwardIssue": {"key": inward_key},
                  "outwardIssue": {"key": outward_key}},
        )
