"""Where pages come from: Confluence Cloud's REST API (v2 or v1) or a folder of exported pages.

Both sources implement ``PageSource``: ``iter_pages(space_key)`` yields each current page of a
space once, with its storage-format body; ``get_page(page_id)`` fetches one or says ``None``.

Errors are translated here, once, into this tree (the cause kept as ``__cause__``)::

    ConfluenceError            anything that stops a fetch: an HTTP status, a transport failure
    │                          after retries, a response without the fields a page needs
    ├── ConfluenceAuthError    401/403: credentials missing, wrong, or without permission
    └── ConfluenceNotFound     404, or a space key no space answers to

429 (honouring ``Retry-After``), 5xx and transport errors are retried with capped exponential
backoff. Atlassian's rate-limiting guide asks clients to do exactly that:
https://developer.atlassian.com/cloud/confluence/rate-limiting/
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from embeddings.chunking import ConfluencePage

log = logging.getLogger(__name__)

_PAGE_ID = re.compile(r"^[0-9]{1,20}$")
_SPACE_KEY = re.compile(r"^~?[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$")
_SPACE_IN_WEBUI = re.compile(r"/spaces/([^/?#]+)/")
_V1_EXPAND = "body.storage,version,space"
ACCESS_FILE = "permissions.json"  # an export folder's access (embeddings.confluence_access)


# --- errors ----------------------------------------------------------------------------------


class ConfluenceError(Exception):
    """A Confluence fetch failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ConfluenceAuthError(ConfluenceError):
    """Confluence refused the credentials (401) or their permissions (403)."""


class ConfluenceNotFound(ConfluenceError):
    """The space or page does not exist, or these credentials cannot see it."""


# --- the interface ---------------------------------------------------------------------------


class PageSource(Protocol):
    """What the reindex job needs from a Confluence."""

    def iter_pages(self, space_key: str) -> AsyncIterator[ConfluencePage]:
        """Each current page of the space, once, with its storage body."""
        ...

    async def get_page(self, page_id: str) -> ConfluencePage | None:
        """The page's current version, or ``None`` when there is no such page."""
        ...


# --- authentication --------------------------------------------------------------------------


class ApiTokenAuth(BaseModel):
    """An Atlassian account's email and API token, sent as HTTP basic auth."""

    model_config = ConfigDict(frozen=True)

    email: str
    token: SecretStr

    def header(self) -> str:
        raw = f"{self.email}:{self.token.get_secret_value()}".encode()
        return "Basic " + base64.b64encode(raw).decode("ascii")


class OAuthTokenAuth(BaseModel):
    """An OAuth 2.0 access token, sent as a bearer token.

    A Forge app's remote backend gets one per invocation in the ``x-forge-oauth-system``
    header; it is valid against ``https://api.atlassian.com/ex/confluence/{cloudId}``, so that
    is the client's ``base_url`` then, and ``site_url`` the tenant's own
    ``https://{site}.atlassian.net`` for page links.
    """

    model_config = ConfigDict(frozen=True)

    token: SecretStr

    def header(self) -> str:
        return f"Bearer {self.token.get_secret_value()}"


ConfluenceAuth = ApiTokenAuth | OAuthTokenAuth


# --- wire objects → ConfluencePage -----------------------------------------------------------


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _page_url(item: dict[str, Any], site: str) -> str:
    links = _dict(item.get("_links"))
    base = str(links.get("base") or site).rstrip("/")
    webui = links.get("webui")
    if isinstance(webui, str) and webui:
        return base + webui
    return f"{base}/pages/viewpage.action?pageId={item.get('id')}"


def _version(item: dict[str, Any], where: str) -> int:
    number = _dict(item.get("version")).get("number")
    if not isinstance(number, int) or number < 1:
        raise ConfluenceError(f"{where}: page {item.get('id')!r} has no version.number")
    return number


def _storage(item: dict[str, Any]) -> str | None:
    value = _dict(_dict(item.get("body")).get("storage")).get("value")
    return value if isinstance(value, str) else None


def _space_key_of(item: dict[str, Any]) -> str | None:
    """The space key a v1 object names (``space.key``, ``_expandable.space``) or its web link
    shows (``/spaces/KEY/pages/…``)."""
    key = _dict(item.get("space")).get("key")
    if isinstance(key, str) and key:
        return key
    expandable = _dict(item.get("_expandable")).get("space")
    if isinstance(expandable, str) and expandable.startswith("/rest/api/space/"):
        return expandable.rsplit("/", 1)[-1]
    match = _SPACE_IN_WEBUI.search(str(_dict(item.get("_links")).get("webui") or ""))
    return match.group(1) if match else None


def _to_page(
    item: dict[str, Any], *, space_key: str | None, site: str, where: str, body: str | None = None
) -> ConfluencePage:
    page_id = item.get("id")
    if not isinstance(page_id, str | int) or not str(page_id):
        raise ConfluenceError(f"{where}: a page object has no id")
    key = space_key or _space_key_of(item)
    if not key:
        raise ConfluenceError(f"{where}: page {page_id!r} names no space key")
    return ConfluencePage(
        page_id=str(page_id),
        title=str(item.get("title") or ""),
        space_key=key,
        version=_version(item, where),
        url=_page_url(item, site),
        body_storage=body if body is not None else _storage(item) or "",
    )


# --- the REST client -------------------------------------------------------------------------


class ConfluenceClient:
    """Confluence Cloud over REST: ``api="v2"`` (the current API) or ``"v1"`` (older sites
    and tokens scoped to it). Use as ``async with ConfluenceClient(...) as client``.

    ``sleep`` and the delays are injectable so tests need not wait; ``transport`` lets a test
    or a proxy stand in for the network.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: ConfluenceAuth | None = None,
        api: Literal["v2", "v1"] = "v2",
        page_size: int = 25,
        max_attempts: int = 5,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        timeout: float = 30.0,
        site_url: str | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if api not in ("v2", "v1"):
            raise ValueError(f"Invalid Confluence API {api!r}: use 'v2' or 'v1'")
        if not 1 <= page_size <= 250:
            raise ValueError(f"Invalid page_size {page_size}: Confluence allows 1 to 250")
        if max_attempts < 1:
            raise ValueError(f"Invalid max_attempts {max_attempts}: at least 1 is needed")
        # Both APIs live under /wiki; accept the site with or without it.
        self._base = base_url.rstrip("/").removesuffix("/wiki")
        self._site = (site_url or self._base).rstrip("/").removesuffix("/wiki") + "/wiki"
        self._api = api
        self._page_size = page_size
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._sleep = sleep
        self._space_keys: dict[str, str] = {}  # v2 space id → key
        headers = {"Accept": "application/json"}
        if auth is not None:
            headers["Authorization"] = auth.header()
        self._http = httpx.AsyncClient(
            headers=headers, timeout=timeout, transport=transport, follow_redirects=True
        )

    async def __aenter__(self) -> ConfluenceClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # PageSource

    async def iter_pages(self, space_key: str) -> AsyncIterator[ConfluencePage]:
        """Each current page of the space once, following ``_links.next`` across pages."""
        _check_space_key(space_key)
        what = f"listing pages of Confluence space {space_key!r}"
        if self._api == "v2":
            space_id = await self._space_id(space_key)
            url = f"{self._base}/wiki/api/v2/spaces/{space_id}/pages"
            params: dict[str, str | int] | None = {
                "body-format": "storage",
                "limit": self._page_size,
            }
        else:
            await self._get(f"{self._base}/wiki/rest/api/space/{space_key}", None, what)
            url = f"{self._base}/wiki/rest/api/content"
            params = {
                "spaceKey": space_key,
                "type": "page",
                "status": "current",
                "expand": _V1_EXPAND,
                "start": 0,
                "limit": self._page_size,
            }
        # v1's start/limit windows shift when pages are added mid-listing: yield each id once.
        seen: set[str] = set()
        next_url: str | None = url
        while next_url is not None:
            data, response = await self._get(next_url, params, what)
            params = None  # the next link carries them
            site = str(_dict(data.get("_links")).get("base") or self._site)
            results = data.get("results")
            if not isinstance(results, list):
                raise ConfluenceError(f"{what}: GET {next_url} answered without a results list")
            for item in results:
                page = _to_page(_dict(item), space_key=space_key, site=site, where=what)
                if page.page_id not in seen:
                    seen.add(page.page_id)
                    yield page
            next_url = self._next_link(data, response, what)

    async def get_page(self, page_id: str) -> ConfluencePage | None:
        """The page's current version, or ``None`` if Confluence answers 404."""
        if not _PAGE_ID.match(page_id):
            raise ValueError(f"Invalid Confluence page id {page_id!r}: ids are decimal digits")
        what = f"fetching Confluence page {page_id}"
        if self._api == "v2":
            url, params = f"{self._base}/wiki/api/v2/pages/{page_id}", {"body-format": "storage"}
        else:
            url, params = f"{self._base}/wiki/rest/api/content/{page_id}", {"expand": _V1_EXPAND}
        try:
            data, _ = await self._get(url, dict(params), what)
        except ConfluenceNotFound:
            return None
        space_id = str(data.get("spaceId") or "")  # v2 only; v1 objects carry the key
        key = await self._space_key(space_id, what) if space_id else None
        return _to_page(data, space_key=key, site=self._site, where=what)

    # for other readers of the same site (embeddings.confluence_access): one connection, the
    # same credentials, retries and error translation

    def url(self, path: str) -> str:
        """The site's URL of ``path`` (``/wiki/...``)."""
        return self._base + path

    async def get_json(self, url: str, params: dict[str, str | int] | None,
                       what: str) -> tuple[dict[str, Any], httpx.Response]:
        """GET with this client's retries; errors as ``ConfluenceError`` naming ``what``."""
        return await self._get(url, params, what)

    def next_link(self, data: dict[str, Any], response: httpx.Response, what: str) -> str | None:
        """The next page of a listing (v1 or v2 style), on this site only; None at the end."""
        return self._next_link(data, response, what)

    async def space_id(self, space_key: str) -> str:
        """The space's id (v2), from what this client already resolved when it can."""
        known = [i for i, k in self._space_keys.items() if k == space_key]
        return known[0] if known else await self._space_id(space_key)

    # space ids (v2 addresses spaces by id)

    async def _space_id(self, space_key: str) -> str:
        what = f"resolving Confluence space {space_key!r}"
        data, _ = await self._get(f"{self._base}/wiki/api/v2/spaces", {"keys": space_key}, what)
        for space in data.get("results") or []:
            space = _dict(space)
            if space.get("key") == space_key and space.get("id") is not None:
                self._space_keys[str(space["id"])] = space_key
                return str(space["id"])
        raise ConfluenceNotFound(
            f"Confluence space {space_key!r} not found, or not visible to these credentials",
            status=404,
        )

    async def _space_key(self, space_id: str, what: str) -> str | None:
        if space_id not in self._space_keys:
            url = f"{self._base}/wiki/api/v2/spaces/{space_id}"
            try:
                data, _ = await self._get(url, None, what)
            except ConfluenceNotFound:
                return None  # the page's own web link may still name it
            if isinstance(data.get("key"), str):
                self._space_keys[space_id] = data["key"]
        return self._space_keys.get(space_id)

    # HTTP

    def _next_link(self, data: dict[str, Any], response: httpx.Response, what: str) -> str | None:
        links = _dict(data.get("_links"))
        link = links.get("next") or response.links.get("next", {}).get("url")
        if not isinstance(link, str) or not link:
            return None
        if link.startswith(("http://", "https://")):
            # Never send the credentials to a host other than the one they were given for.
            if urlsplit(link).netloc != urlsplit(self._base).netloc:
                raise ConfluenceError(f"{what}: refusing to follow a next link to {link!r}")
            return link
        path = link if link.startswith("/") else f"/{link}"
        # v2 links are site-relative ("/wiki/api/v2/…"); v1 links are relative to the
        # context "/wiki" ("/rest/api/content?…").
        if not path.startswith("/wiki/"):
            path = str(links.get("context") or "/wiki") + path
        return self._base + path

    async def _get(
        self, url: str, params: dict[str, str | int] | None, what: str
    ) -> tuple[dict[str, Any], httpx.Response]:
        for attempt in range(1, self._max_attempts + 1):
            last = attempt == self._max_attempts
            try:
                response = await self._http.get(url, params=params)
            except httpx.TransportError as exc:
                if last:
                    raise ConfluenceError(
                        f"{what}: GET {url} failed after {attempt} attempts: {exc!r}"
                    ) from exc
                delay = self._backoff(attempt)
                log.warning("Confluence GET %s failed (%r); retry in %.2fs", url, exc, delay)
                await self._sleep(delay)
                continue
            status = response.status_code
            if (status == 429 or status >= 500) and not last:
                asked = self._retry_after(response)
                delay = self._backoff(attempt) if asked is None else asked
                log.warning("Confluence GET %s answered %d; retry in %.2fs", url, status, delay)
                await self._sleep(delay)
                continue
            if response.is_error:
                raise _status_error(response, what, attempt)
            try:
                data = response.json()
            except ValueError as exc:
                raise ConfluenceError(f"{what}: GET {url} answered invalid JSON") from exc
            if not isinstance(data, dict):
                raise ConfluenceError(f"{what}: GET {url} answered JSON that is not an object")
            return data, response
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _backoff(self, attempt: int) -> float:
        delay = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # jitter: retries of many workers spread out

    def _retry_after(self, response: httpx.Response) -> float | None:
        """``Retry-After`` in seconds (delta-seconds or an HTTP date), capped at max_delay."""
        value = response.headers.get("Retry-After")
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
            except (TypeError, ValueError):
                return None
        return min(max(seconds, 0.0), self._max_delay)


def _check_space_key(space_key: str) -> None:
    if not _SPACE_KEY.match(space_key):
        raise ValueError(
            f"Invalid Confluence space key {space_key!r}: letters, digits and _.:- only"
            " (personal spaces start with ~)"
        )


def _status_error(response: httpx.Response, what: str, attempts: int) -> ConfluenceError:
    status = response.status_code
    request = f"GET {response.request.url.copy_with(query=None)}"
    detail = _error_detail(response)
    message = f"{what}: Confluence answered {status} {response.reason_phrase} to {request}"
    if detail:
        message += f" ({detail})"
    if status in (401, 403):
        hint = "check the credentials" if status == 401 else "check their permissions"
        return ConfluenceAuthError(f"{message}; {hint}", status=status)
    if status == 404:
        return ConfluenceNotFound(message, status=status)
    if attempts > 1:
        message += f", after {attempts} attempts"
    return ConfluenceError(message, status=status)


def _error_detail(response: httpx.Response) -> str:
    """The short message Atlassian puts in an error body (v1 ``message``, v2 ``errors``)."""
    try:
        body = _dict(response.json())
    except ValueError:
        return ""
    errors = body.get("errors")
    first = _dict(errors[0]) if isinstance(errors, list) and errors else {}
    return str(first.get("detail") or first.get("title") or body.get("message") or "")[:200]


# --- an exported folder ----------------------------------------------------------------------


class FolderSource:
    """Pages exported to a folder, so a reindex runs offline. The layout (the fixtures'):

    - ``<root>/<page_id>/page.v1.json``: a v1 content object, as from
      ``GET /wiki/rest/api/content/{id}?expand=body.storage,version,space``;
    - ``<root>/<page_id>/page.v2.json``: a v2 page, as from
      ``GET /wiki/api/v2/pages/{id}?body-format=storage``;
    - ``<root>/<page_id>/page.xhtml``: the storage body, when the JSON does not carry it;
    - ``<root>/*.json``: loose v1 or v2 page objects (but ``permissions.json``: who may read
      the pages, ``embeddings.confluence_access``).

    A page folder needs one of the JSON files; fields one lacks (v1 without ``expand=version``
    has no version) are taken from the other. The space key comes from the v1 object or the
    page's web link (``/spaces/KEY/…``), else from ``space_key``. ``site_url`` completes page
    links when the objects carry no ``_links.base``.
    """

    def __init__(
        self, root: Path | str, *, space_key: str | None = None, site_url: str = ""
    ) -> None:
        self._root = Path(root)
        self._space_key = space_key
        self._site = site_url.rstrip("/")

    async def iter_pages(self, space_key: str) -> AsyncIterator[ConfluencePage]:
        """The folder's pages of that space, in file-name order; ``ConfluenceNotFound`` if none."""
        _check_space_key(space_key)
        if not self._root.is_dir():
            # Job errors name pages, never server paths: they reach the tenant.
            raise ConfluenceNotFound("the Confluence export folder was not found")
        found = False
        for entry in await asyncio.to_thread(self._entries):
            page = await asyncio.to_thread(self._read, entry)
            if page.space_key == space_key:
                found = True
                yield page
        if not found:  # as the REST API would say: a misspelt key must not look like an empty space
            raise ConfluenceNotFound(
                f"Confluence space {space_key!r} not found in the export folder"
            )

    async def get_page(self, page_id: str) -> ConfluencePage | None:
        folder = self._root / page_id
        if _PAGE_ID.match(page_id) and folder.is_dir():
            return await asyncio.to_thread(self._read, folder)
        for entry in await asyncio.to_thread(self._entries):
            if entry.is_file():
                page = await asyncio.to_thread(self._read, entry)
                if page.page_id == page_id:
                    return page
        return None

    def _entries(self) -> list[Path]:
        if not self._root.is_dir():
            return []
        return sorted(
            path
            for path in self._root.iterdir()
            if (path.is_file() and path.suffix == ".json" and path.name != ACCESS_FILE)
            or any((path / name).is_file() for name in ("page.v1.json", "page.v2.json"))
        )

    def _read(self, entry: Path) -> ConfluencePage:
        where = f"reading exported page {entry.name!r}"
        if entry.is_file():
            merged = _load_json(entry, where)
            body = _storage(merged)
        else:
            v1, v2 = (
                _load_json(entry / name, where) if (entry / name).is_file() else {}
                for name in ("page.v1.json", "page.v2.json")
            )
            merged = {**v2, **v1}
            for name in ("version", "_links", "title"):
                merged[name] = v1.get(name) or v2.get(name)
            xhtml = entry / "page.xhtml"
            body = _read_text(xhtml, where) if xhtml.is_file() else None
            for item in (v1, v2):
                body = _storage(item) if body is None else body
        if body is None:
            raise ConfluenceError(
                f"{where}: no storage body; add page.xhtml or export with body.storage"
            )
        return _to_page(
            merged, space_key=self._key_for(merged), site=self._site, where=where, body=body
        )

    def _key_for(self, item: dict[str, Any]) -> str | None:
        return _space_key_of(item) or self._space_key


def _read_text(path: Path, where: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ConfluenceError(f"{where}: cannot read {path.name}: {exc}") from exc


def _load_json(path: Path, where: str) -> dict[str, Any]:
    try:
        data = json.loads(_read_text(path, where))
    except ValueError as exc:
        raise ConfluenceError(f"{where}: {path.name} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfluenceError(f"{where}: {path.name} holds no JSON object")
    return data
