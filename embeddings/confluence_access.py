"""Reading who may read what from Confluence: space VIEW grants, page and ancestor restrictions,
and a person's groups (the rule is in ``embeddings.access``).

Requests, per space and run (checked against Atlassian's REST reference):

- ``GET /wiki/api/v2/spaces/{id}/permissions`` (cursor-paged ``results`` of ``{"principal":
  {"type", "id"}, "operation": {"key", "targetType"}}``): who holds ``read`` on ``space``;
- ``GET /wiki/rest/api/content?spaceKey=…&expand=restrictions.read.restrictions.user,…,
  ancestors.restrictions.read.restrictions.{user,group}`` (``start``/``limit``-paged): every
  page's read restriction and its ancestors' in one listing, ``ACCESS_PAGE_SIZE`` pages a
  request, without bodies (the page listing fetches those);
- ``GET /wiki/rest/api/content/{id}/restriction/byOperation`` only for an ancestor the listing
  returned without its restrictions, or whose expansion failed the listing request (drafts and
  trashed ancestors do either: that window is asked again with the ancestors' ids only), cached
  for the run; an ancestor that still cannot be read denies;
- ``GET /wiki/rest/api/user/memberof?accountId=…`` (``start``/``limit``-paged groups with
  ``id`` and ``name``): a reader's groups, at question time (cached by the caller).

A permission the app may not read (403/404) is not an error of the reindex: it makes the pages
it governs unreadable by anyone (deny), logged by page id only. A 401 (no or wrong credentials)
is raised: nothing was learnt, and the caller decides (``embeddings.access_sync``).

An export folder carries access in ``<root>/permissions.json``: ``{"spaces": {KEY: <the v2
permissions response>}, "restrictions": {pageId: <the byOperation response>}, "groups":
{accountId: [{"id", "name"}]}}``; a page's ancestors come from its ``page.v1.json``. Without a
space entry, nobody reads that space's pages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Protocol

import httpx

from embeddings.access import Clause, PageAccessFacts, restriction_clause, space_clause
from embeddings.confluence import (
    ACCESS_FILE,
    ConfluenceAuthError,
    ConfluenceClient,
    ConfluenceError,
    ConfluenceNotFound,
    FolderSource,
)

log = logging.getLogger(__name__)

# Pages a restriction-listing request asks for. No bodies are expanded, so a large window is
# cheap; a site that caps it lower still answers with a next link, which is followed.
ACCESS_PAGE_SIZE = 100
_READ = "restrictions.read.restrictions.user,restrictions.read.restrictions.group"
ACCESS_EXPAND = f"{_READ},ancestors.{_READ.replace(',', ',ancestors.')}"
# When an ancestor makes the full expansion fail, a window is asked again with this one: the
# page's own restriction and its ancestors' ids, their restrictions then one by one.
NARROW_EXPAND = f"{_READ},ancestors"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class AccessSource(Protocol):
    """What the reindex and the question path need to know about access."""

    async def space_grants(self, space_key: str) -> Clause:
        """Who holds VIEW on the space; the empty clause when nobody or unreadable."""
        ...

    async def space_facts(self, space_key: str) -> dict[str, PageAccessFacts]:
        """Each current page's restriction facts, by page id."""
        ...

    async def page_facts(self, page_id: str) -> PageAccessFacts | None:
        """One page's facts; None when it is gone or its restrictions are unreadable."""
        ...

    async def member_of(self, account_id: str) -> list[dict[str, Any]]:
        """The person's groups (``id``, ``name``)."""
        ...


class ConfluenceAccess:
    """``AccessSource`` over a ``ConfluenceClient`` (its connection, credentials, retries)."""

    def __init__(self, client: ConfluenceClient, page_size: int = ACCESS_PAGE_SIZE) -> None:
        self.client = client
        self.page_size = page_size
        self._ancestors: dict[str, Clause | None] = {}  # per run: ancestor id → clause

    async def space_grants(self, space_key: str) -> Clause:
        what = f"reading the permissions of Confluence space {space_key!r}"
        # A refusal (403, 404) is raised, not turned into "nobody" here: the callers
        # (embeddings.access_sync) deny the space's pages, skip its listing and report why.
        # The page listing (v2) resolved the space's id already: no request for it again.
        space_id = await self.client.space_id(space_key)
        url: str | None = self.client.url(f"/wiki/api/v2/spaces/{space_id}/permissions")
        params: dict[str, str | int] | None = {"limit": 250}
        found: list[dict[str, Any]] = []
        while url is not None:
            data, response = await self.client.get_json(url, params, what)
            params = None
            found.extend(_dict(r) for r in data.get("results") or [])
            url = self.client.next_link(data, response, what)
        return space_clause(found)

    async def space_facts(self, space_key: str) -> dict[str, PageAccessFacts]:
        what = f"listing page restrictions of Confluence space {space_key!r}"
        url: str | None = self.client.url("/wiki/rest/api/content")
        params: dict[str, str | int] | None = {
            "spaceKey": space_key, "type": "page", "status": "current",
            "expand": ACCESS_EXPAND, "start": 0, "limit": self.page_size,
        }
        out: dict[str, PageAccessFacts] = {}
        while url is not None:
            data, response = await self._expanded(url, params, what)
            params = None
            for item in data.get("results") or []:
                facts = await self._facts(_dict(item))
                if facts is not None:
                    out[facts.page_id] = facts
            url = self.client.next_link(data, response, what)
            if url is not None:  # after a narrowed window, the next one tries in full again
                url = str(httpx.URL(url).copy_set_param("expand", ACCESS_EXPAND))
        return out

    async def _expanded(self, url: str, params: dict[str, str | int] | None,
                        what: str) -> tuple[dict[str, Any], httpx.Response]:
        """GET with ``ACCESS_EXPAND``; when an ancestor makes it fail (400, or 500 once the
        retries are spent: drafts and trashed ancestors do), the same window with
        ``NARROW_EXPAND``, the ancestors' restrictions then read one by one (``_facts``)."""
        try:
            return await self.client.get_json(url, params, what)
        except ConfluenceError as exc:
            if exc.status not in (400, 500):
                raise
            log.warning("%s: the ancestors' restrictions could not be expanded (%s); asking "
                        "for them one by one", what, exc.status)
        if params is not None:
            return await self.client.get_json(url, {**params, "expand": NARROW_EXPAND}, what)
        narrow = str(httpx.URL(url).copy_set_param("expand", NARROW_EXPAND))
        return await self.client.get_json(narrow, None, what)

    async def page_facts(self, page_id: str) -> PageAccessFacts | None:
        what = f"reading the restrictions of Confluence page {page_id}"
        url = self.client.url(f"/wiki/rest/api/content/{page_id}")
        try:
            data, _ = await self._expanded(url, {"expand": ACCESS_EXPAND}, what)
        except (ConfluenceAuthError, ConfluenceNotFound) as exc:
            if exc.status == 401:
                raise
            return None
        return await self._facts(data)

    async def member_of(self, account_id: str) -> list[dict[str, Any]]:
        what = "reading a person's Confluence groups"
        url: str | None = self.client.url("/wiki/rest/api/user/memberof")
        params: dict[str, str | int] | None = {"accountId": account_id, "limit": 200}
        groups: list[dict[str, Any]] = []
        while url is not None:
            data, response = await self.client.get_json(url, params, what)
            params = None
            groups.extend(_dict(g) for g in data.get("results") or [])
            url = self.client.next_link(data, response, what)
        return groups

    async def _facts(self, item: dict[str, Any]) -> PageAccessFacts | None:
        page_id = str(item.get("id") or "")
        if not page_id:
            return None
        try:
            own = restriction_clause(_dict(_dict(item.get("restrictions")).get("read")))
        except ValueError:
            fetched = await self._by_operation(page_id)
            if fetched == ():  # the page's own restrictions are unreadable
                log.warning("restrictions of page %s unreadable; nobody reads it", page_id)
                return None
            own = fetched
        ancestors: list[tuple[str, Clause | None]] = []
        for anc in item.get("ancestors") or []:
            anc = _dict(anc)
            anc_id = str(anc.get("id") or "")
            if not anc_id:
                ancestors.append(("", ()))
                continue
            if anc_id not in self._ancestors:
                try:
                    clause = restriction_clause(_dict(_dict(anc.get("restrictions")).get("read")))
                except ValueError:  # not expanded for this ancestor: ask for it alone
                    clause = await self._by_operation(anc_id)
                self._ancestors[anc_id] = clause
            ancestors.append((anc_id, self._ancestors[anc_id]))
        return PageAccessFacts(page_id, own, ancestors)

    async def _by_operation(self, content_id: str) -> Clause | None:
        """The read clause from ``…/restriction/byOperation``; ``()`` (deny) if unreadable."""
        what = f"reading the restrictions of Confluence content {content_id}"
        url = self.client.url(f"/wiki/rest/api/content/{content_id}/restriction/byOperation")
        try:
            data, _ = await self.client.get_json(url, None, what)
            return restriction_clause(_dict(data.get("read")))
        except (ConfluenceError, ValueError) as exc:
            log.warning("%s: %s; it denies", what, type(exc).__name__)
            return ()


class FolderAccess:
    """``AccessSource`` over an export folder's ``permissions.json`` (module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _permissions(self) -> dict[str, Any]:
        path = self.root / ACCESS_FILE
        if not path.is_file():
            return {}
        try:
            return _dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ConfluenceError("the export's permissions.json is unreadable") from exc

    async def space_grants(self, space_key: str) -> Clause:
        spaces = _dict((await asyncio.to_thread(self._permissions)).get("spaces"))
        if space_key not in spaces:
            return ()
        return space_clause(_dict(r) for r in _dict(spaces[space_key]).get("results") or [])

    async def space_facts(self, space_key: str) -> dict[str, PageAccessFacts]:
        return await asyncio.to_thread(self._all_facts)

    async def page_facts(self, page_id: str) -> PageAccessFacts | None:
        return (await asyncio.to_thread(self._all_facts)).get(page_id)

    async def member_of(self, account_id: str) -> list[dict[str, Any]]:
        groups = _dict((await asyncio.to_thread(self._permissions)).get("groups"))
        return [_dict(g) for g in groups.get(account_id) or []]

    def _all_facts(self) -> dict[str, PageAccessFacts]:
        restrictions = _dict(self._permissions().get("restrictions"))

        def clause(content_id: str) -> Clause | None:
            entry = restrictions.get(content_id)
            if entry is None:
                return None
            try:
                return restriction_clause(_dict(_dict(entry).get("read")))
            except ValueError:
                return ()

        out: dict[str, PageAccessFacts] = {}
        for folder in sorted(p for p in self.root.iterdir() if p.is_dir()):
            item: dict[str, Any] = {}
            for name in ("page.v2.json", "page.v1.json"):
                if (folder / name).is_file():
                    try:
                        item.update(_dict(json.loads((folder / name).read_text("utf-8"))))
                    except (OSError, ValueError):
                        continue
            page_id = str(item.get("id") or "")
            if not page_id:
                continue
            ancestors = [(str(_dict(a).get("id")), clause(str(_dict(a).get("id"))))
                         for a in item.get("ancestors") or []]
            out[page_id] = PageAccessFacts(page_id, clause(page_id), ancestors)
        return out


def access_for(source: object) -> AccessSource | None:
    """The access reader of a page source (a REST client or an export folder)."""
    if isinstance(source, ConfluenceClient):
        return ConfluenceAccess(source)
    if isinstance(source, FolderSource):
        return FolderAccess(source._root)
    return None
