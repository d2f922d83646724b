"""A Confluence Cloud REST double on loopback, serving the real fixture pages.

It answers the endpoints ``embeddings.confluence`` uses, through both APIs, shaped like the
real ones: v2 pages cursor-paginated (opaque ``cursor``, relative ``_links.next`` and a ``Link``
header), v1 content ``start``/``limit``-paginated with a ``/wiki``-context-relative
``_links.next``. Bodies are the fixture objects (``page.v1.json``, ``page.v2.json``) with the
storage body (``page.xhtml``) and the expansions asked for put in.

Permissions (space VIEW grants, read restrictions of pages and ancestors, group membership) are
served by ``permissions`` (``confluence_permissions.Permissions``) in the real shapes; by
default everyone may read everything.

Faults on demand: ``throttle_every=n`` answers every n-th request 429 with ``Retry-After``;
``fail_next=[503, …]`` answers the next requests with those statuses; ``expected_auth``
answers 401 to any request without exactly that ``Authorization`` header.
Every request is recorded in ``requests``.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from .confluence_permissions import Permissions

FIXTURES = Path(__file__).resolve().parents[2] / ".." / "shared" / "fixtures" / "confluence"


@dataclass(frozen=True)
class FixturePage:
    page_id: str
    title: str
    version: int
    space_id: str
    webui: str
    storage: str
    v1: dict[str, Any]
    v2: dict[str, Any]


def load_fixture_pages(root: Path = FIXTURES) -> list[FixturePage]:
    """Every page folder under ``root``, in id order."""
    pages = []
    for folder in sorted(p for p in root.iterdir() if (p / "page.v1.json").is_file()):
        v1 = json.loads((folder / "page.v1.json").read_text(encoding="utf-8"))
        v2 = json.loads((folder / "page.v2.json").read_text(encoding="utf-8"))
        pages.append(
            FixturePage(
                page_id=v1["id"],
                title=v1["title"],
                version=v2["version"]["number"],
                space_id=v2["spaceId"],
                webui=v1["_links"]["webui"],
                storage=(folder / "page.xhtml").read_text(encoding="utf-8"),
                v1=v1,
                v2=v2,
            )
        )
    return pages


def make_page(page_id: str, title: str, text: str, *, version: int = 1, space_id: str = "1",
              space_key: str = "QM") -> FixturePage:
    """A made-up page in the fixtures' shapes (v1 content and v2 page objects)."""
    webui = f"/spaces/{space_key}/pages/{page_id}/{title.replace(' ', '+')}"
    v1 = {"id": page_id, "type": "page", "status": "current", "title": title,
          "ancestors": [], "_expandable": {"space": f"/rest/api/space/{space_key}"},
          "_links": {"webui": webui, "self": f"/rest/api/content/{page_id}"}}
    v2 = {"id": page_id, "status": "current", "title": title, "spaceId": space_id,
          "parentType": "page", "authorId": "557058:f00", "createdAt": "2026-11-01T10:00:00.000Z",
          "version": {"number": version, "message": "", "minorEdit": False,
                      "authorId": "557058:f00", "createdAt": "2026-11-01T10:00:00.000Z"},
          "body": {}, "_links": {"webui": webui, "editui": f"/pages/resumedraft.action?draftId="
                                 f"{page_id}", "tinyui": "/x/AAAA"}}
    storage = f"<h2>{title}</h2><p>{text}</p>"
    return FixturePage(page_id=page_id, title=title, version=version, space_id=space_id,
                       webui=webui, storage=storage, v1=v1, v2=v2)


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names


@dataclass
class FakeConfluence:
    pages: list[FixturePage]
    space_key: str = "QM"
    expected_auth: str | None = None
    throttle_every: int | None = None
    retry_after: str = "1"
    fail_next: list[int] = field(default_factory=list)
    requests: list[RecordedRequest] = field(default_factory=list)
    permissions: Permissions = field(default_factory=Permissions)

    def __post_init__(self) -> None:
        if self.throttle_every is not None and self.throttle_every < 2:
            raise ValueError("throttle_every must be at least 2, or no request ever succeeds")
        self._lock = threading.Lock()
        self._count = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.space_id = self.pages[0].space_id if self.pages else "1"

    # lifecycle

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def site(self) -> str:
        return f"{self.url}/wiki"

    def start(self) -> FakeConfluence:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def list_requests(self, path_suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    # request handling (runs on server threads)

    def handle(self, path: str, query: dict[str, str], headers: dict[str, str]) -> _Answer:
        with self._lock:
            self.requests.append(RecordedRequest(path, query, headers))
            self._count += 1
            count = self._count
            fault = self.fail_next.pop(0) if self.fail_next else None
        if fault is not None:
            return _Answer(fault, {"message": f"injected {fault}"})
        if self.throttle_every and count % self.throttle_every == 0:
            return _Answer(429, {"message": "Rate limited"}, {"Retry-After": self.retry_after})
        if self.expected_auth is not None and headers.get("authorization") != self.expected_auth:
            return _Answer(401, {"message": "Client must be authenticated"})
        return self._route(path, query)

    def _route(self, path: str, query: dict[str, str]) -> _Answer:
        parts = path.strip("/").split("/")
        match parts:
            case ["wiki", "api", "v2", "spaces"]:
                keys = query.get("keys", "").split(",")
                found = [self._space()] if self.space_key in keys else []
                return _Answer(200, {"results": found, "_links": {"base": self.site}})
            case ["wiki", "api", "v2", "spaces", space_id]:
                return _Answer(200, self._space()) if space_id == self.space_id else _v2_404()
            case ["wiki", "api", "v2", "spaces", space_id, "permissions"]:
                if space_id != self.space_id:
                    return _v2_404()
                if self.permissions.refuse_space_permissions:
                    error = {"status": 403, "code": "FORBIDDEN", "title": "Forbidden",
                             "detail": None}
                    return _Answer(403, {"errors": [error]})
                body, headers = self.permissions.space_permissions(space_id, query, self.site)
                return _Answer(200, body, headers)
            case ["wiki", "rest", "api", "content", content_id, "restriction", "byOperation"]:
                found = self.permissions.by_operation(content_id, self.site)
                if found is None:
                    return _Answer(404, {"statusCode": 404, "message": "No content found"})
                return _Answer(200, found)
            case ["wiki", "rest", "api", "user", "memberof"]:
                return _Answer(200, self.permissions.member_of(query, self.site))
            case ["wiki", "api", "v2", "spaces", space_id, "pages"]:
                return self._v2_pages(space_id, query) if space_id == self.space_id else _v2_404()
            case ["wiki", "api", "v2", "pages", page_id]:
                page = self._page(page_id)
                return _Answer(200, self._v2_page(page, query)) if page else _v2_404()
            case ["wiki", "rest", "api", "space", key]:
                if key != self.space_key:
                    message = f"No space with key : {key}"
                    return _Answer(404, {"statusCode": 404, "message": message})
                return _Answer(200, {"id": int(self.space_id), "key": key, "type": "global"})
            case ["wiki", "rest", "api", "content"]:
                return self._v1_content(query)
            case ["wiki", "rest", "api", "content", page_id]:
                page = self._page(page_id)
                if page is None:
                    return _Answer(404, {"statusCode": 404, "message": "No content found"})
                if self._expansion_fails([page], query.get("expand", "")):
                    return _expansion_error()
                return _Answer(200, self._v1_page(page, query.get("expand", "")))
        return _Answer(404, {"message": f"no route for {path}"})

    def _expansion_fails(self, pages: list[FixturePage], expand: str) -> bool:
        return self.permissions.expansion_fails(
            [p.page_id for p in pages], set(expand.split(",")),
            {p.page_id: list(p.v1.get("ancestors") or []) for p in pages})

    def _space(self) -> dict[str, Any]:
        return {"id": self.space_id, "key": self.space_key, "name": "QueryPie Docs"}

    def _page(self, page_id: str) -> FixturePage | None:
        return next((p for p in self.pages if p.page_id == page_id), None)

    def _v2_page(self, page: FixturePage, query: dict[str, str]) -> dict[str, Any]:
        item = copy.deepcopy(page.v2)
        item["_links"]["base"] = self.site
        storage = {"value": page.storage, "representation": "storage"}
        item["body"] = {"storage": storage} if query.get("body-format") == "storage" else {}
        return item

    def _v2_pages(self, space_id: str, query: dict[str, str]) -> _Answer:
        limit = min(int(query.get("limit", "25")), 250)
        cursor = query.get("cursor")
        offset = int(base64.urlsafe_b64decode(cursor).decode().split(":")[1]) if cursor else 0
        results = []
        for page in self.pages[offset : offset + limit]:
            item = self._v2_page(page, query)
            del item["_links"]["base"]  # list items carry no base; the envelope does
            results.append(item)
        links: dict[str, str] = {"base": self.site}
        headers = {}
        if offset + limit < len(self.pages):
            token = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode()
            params = {"body-format": query.get("body-format", ""), "limit": limit, "cursor": token}
            links["next"] = f"/wiki/api/v2/spaces/{space_id}/pages?{urlencode(params)}"
            headers["Link"] = f'<{links["next"]}>; rel="next", <{self.site}>; rel="base"'
        return _Answer(200, {"results": results, "_links": links}, headers)

    def _v1_page(self, page: FixturePage, expand: str) -> dict[str, Any]:
        expansions = set(expand.split(","))
        item = copy.deepcopy(page.v1)
        item.pop("body", None)
        item["_links"]["base"] = self.site
        if "body.storage" in expansions:
            item["body"] = {"storage": {"value": page.storage, "representation": "storage"}}
        if "version" in expansions:
            item["version"] = {"number": page.version, "minorEdit": False}
        if "space" in expansions:
            item["space"] = {"id": int(self.space_id), "key": self.space_key, "type": "global"}
        self.permissions.expand_content(item, expansions, self.site,
                                        list(page.v1.get("ancestors") or []))
        return item

    def _v1_content(self, query: dict[str, str]) -> _Answer:
        if query.get("spaceKey") != self.space_key:
            return _Answer(200, {"results": [], "start": 0, "limit": 25, "size": 0, "_links": {}})
        start, limit = int(query.get("start", "0")), min(int(query.get("limit", "25")), 100)
        expand = query.get("expand", "")
        if self._expansion_fails(self.pages[start : start + limit], expand):
            return _expansion_error()
        results = [self._v1_page(page, expand) for page in self.pages[start : start + limit]]
        for item in results:
            del item["_links"]["base"]
        links = {"base": self.site, "context": "/wiki"}
        if start + limit < len(self.pages):
            links["next"] = "/rest/api/content?" + urlencode({**query, "start": start + limit})
        body = {"results": results, "start": start, "limit": limit, "size": len(results)}
        return _Answer(200, {**body, "_links": links})


def _expansion_error() -> _Answer:
    return _Answer(400, {"statusCode": 400, "data": {"authorized": True, "valid": False},
                         "message": "Cannot expand restrictions of an ancestor"})


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _v2_404() -> _Answer:
    error = {"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": None}
    return _Answer(404, {"errors": [error]})


class _Handler(BaseHTTPRequestHandler):
    fake: FakeConfluence

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        answer = self.fake.handle(url.path, query, headers)
        payload = json.dumps(answer.body, ensure_ascii=False).encode("utf-8")
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep test output clean
