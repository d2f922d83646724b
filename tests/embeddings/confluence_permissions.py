"""Who may read what in the loopback Confluence (``confluence_server.FakeConfluence``), answered
in the shapes of Confluence Cloud's REST API:

- v1 content expansions ``restrictions.read.restrictions.{user,group}`` and
  ``ancestors.restrictions.read.restrictions.{user,group}``: a ``ContentRestriction`` under
  ``restrictions.read`` (users by ``accountId``, groups by ``name`` and ``id``);
- ``GET /wiki/rest/api/content/{id}/restriction/byOperation``: ``{"read": …, "update": …}``;
- ``GET /wiki/api/v2/spaces/{id}/permissions``: cursor-paged ``{"id", "principal": {"type",
  "id"}, "operation": {"key", "targetType"}}`` assignments;
- ``GET /wiki/rest/api/user/memberof?accountId=``: ``start``/``limit``-paged groups.

By default the space grants VIEW to the anonymous role and nothing is restricted, so tests that
ignore access read everything. ``unreadable`` names content whose restrictions the app cannot
read: an ancestor so named comes back from the listing without its restrictions (as drafts and
trashed ancestors do) and its ``byOperation`` answers 404.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

VIEW = {"key": "read", "targetType": "space"}


def group_id(name: str) -> str:
    return f"gid-{name}"


@dataclass
class Permissions:
    # Space VIEW grants as (principal type, principal id); other operations are added around
    # them as a real space has them.
    space_view: list[tuple[str, str]] = field(default_factory=lambda: [("role", "ANONYMOUS")])
    # content id -> read restriction: account ids and group names
    restricted_users: dict[str, list[str]] = field(default_factory=dict)
    restricted_groups: dict[str, list[str]] = field(default_factory=dict)
    # page id -> parent page id (pages without an entry keep their fixture's ancestors)
    parents: dict[str, str] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)  # titles of ancestor-only content
    unreadable: set[str] = field(default_factory=set)
    groups: dict[str, list[str]] = field(default_factory=dict)  # group name -> account ids
    permissions_page_size: int = 25
    refuse_space_permissions: bool = False  # the app lacks the scope: 403
    # Ancestors whose restrictions expansion fails the whole request (400), as a trashed
    # ancestor can; their byOperation still answers unless they are also ``unreadable``.
    breaks_expansion: set[str] = field(default_factory=set)

    def restrict(self, content_id: str, users: list[str] | None = None,
                 groups: list[str] | None = None) -> None:
        self.restricted_users[content_id] = list(users or [])
        self.restricted_groups[content_id] = list(groups or [])

    def unrestrict(self, content_id: str) -> None:
        self.restricted_users.pop(content_id, None)
        self.restricted_groups.pop(content_id, None)

    # -- wire shapes ------------------------------------------------------------------------

    def read_restriction(self, content_id: str, site: str) -> dict[str, Any]:
        users = [{"type": "known", "accountId": a, "accountType": "atlassian",
                  "displayName": f"User {a}", "publicName": f"User {a}"}
                 for a in self.restricted_users.get(content_id, [])]
        groups = [{"type": "group", "name": g, "id": group_id(g),
                   "_links": {"self": f"{site}/rest/api/group/by-id?id={group_id(g)}"}}
                  for g in self.restricted_groups.get(content_id, [])]
        byop = f"{site}/rest/api/content/{content_id}/restriction/byOperation"
        return {
            "operation": "read",
            "restrictions": {
                "user": {"results": users, "start": 0, "limit": 200, "size": len(users)},
                "group": {"results": groups, "start": 0, "limit": 200, "size": len(groups)},
            },
            "_expandable": {"content": f"/rest/api/content/{content_id}"},
            "_links": {"self": f"{byop}/read"},
        }

    def expansion_fails(self, content_ids: list[str], expansions: set[str],
                        fixture_ancestors: dict[str, list[dict[str, Any]]]) -> bool:
        """Whether a request expanding ancestors' restrictions over these pages fails."""
        if "ancestors.restrictions.read.restrictions.user" not in expansions:
            return False
        return any(a["id"] in self.breaks_expansion
                   for c in content_ids
                   for a in self.ancestors_of(c, fixture_ancestors.get(c, [])))

    def by_operation(self, content_id: str, site: str) -> dict[str, Any] | None:
        if content_id in self.unreadable:
            return None
        empty = {"user": {"results": [], "start": 0, "limit": 200, "size": 0},
                 "group": {"results": [], "start": 0, "limit": 200, "size": 0}}
        return {
            "read": self.read_restriction(content_id, site),
            "update": {"operation": "update", "restrictions": empty,
                       "_expandable": {"content": f"/rest/api/content/{content_id}"}},
            "_links": {"base": site, "context": "/wiki"},
        }

    def expand_content(self, item: dict[str, Any], expansions: set[str], site: str,
                       fixture_ancestors: list[dict[str, Any]]) -> None:
        """Put the asked-for restriction and ancestor expansions into a v1 content object."""
        content_id = str(item["id"])
        item.setdefault("_expandable", {})["restrictions"] = (
            f"/rest/api/content/{content_id}/restriction/byOperation")
        if "restrictions.read.restrictions.user" in expansions:
            item["restrictions"] = {"read": self.read_restriction(content_id, site),
                                    "_expandable": {"update": ""}}
            del item["_expandable"]["restrictions"]
        if not any(e == "ancestors" or e.startswith("ancestors.") for e in expansions):
            item.pop("ancestors", None)
            item["_expandable"]["ancestors"] = ""
            return
        ancestors = self.ancestors_of(content_id, fixture_ancestors)
        with_restrictions = "ancestors.restrictions.read.restrictions.user" in expansions
        for anc in ancestors:
            anc.setdefault("_expandable", {})["restrictions"] = (
                f"/rest/api/content/{anc['id']}/restriction/byOperation")
            if with_restrictions and anc["id"] not in self.unreadable:
                anc["restrictions"] = {"read": self.read_restriction(anc["id"], site),
                                       "_expandable": {"update": ""}}
                del anc["_expandable"]["restrictions"]
        item["ancestors"] = ancestors
        item["_expandable"].pop("ancestors", None)

    def ancestors_of(self, content_id: str,
                     fixture_ancestors: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Root first, as Confluence lists them."""
        if content_id not in self.parents:
            return [{"id": str(a["id"]), "type": a.get("type", "page"),
                     "status": a.get("status", "current"), "title": a.get("title", "")}
                    for a in fixture_ancestors]
        chain: list[str] = []
        at = content_id
        while at in self.parents and len(chain) < 50:
            at = self.parents[at]
            chain.append(at)
        return [{"id": a, "type": "page", "status": "current",
                 "title": self.titles.get(a, f"Page {a}")} for a in reversed(chain)]

    def space_permissions(self, space_id: str, query: dict[str, str],
                          site: str) -> tuple[dict[str, Any], dict[str, str]]:
        rows: list[dict[str, Any]] = []
        for i, (kind, pid) in enumerate(self.space_view):
            rows.append({"id": f"{space_id}{i:04d}1", "principal": {"type": kind, "id": pid},
                         "operation": VIEW})
            rows.append({"id": f"{space_id}{i:04d}2", "principal": {"type": kind, "id": pid},
                         "operation": {"key": "create", "targetType": "page"}})
        limit = min(int(query.get("limit", str(self.permissions_page_size))), 250)
        limit = min(limit, self.permissions_page_size)
        cursor = query.get("cursor")
        offset = int(base64.urlsafe_b64decode(cursor).decode().split(":")[1]) if cursor else 0
        links: dict[str, str] = {"base": site}
        headers: dict[str, str] = {}
        if offset + limit < len(rows):
            token = base64.urlsafe_b64encode(f"offset:{offset + limit}".encode()).decode()
            links["next"] = (f"/wiki/api/v2/spaces/{space_id}/permissions?"
                             + urlencode({"limit": limit, "cursor": token}))
            headers["Link"] = f'<{links["next"]}>; rel="next", <{site}>; rel="base"'
        return {"results": rows[offset:offset + limit], "_links": links}, headers

    def member_of(self, query: dict[str, str], site: str) -> dict[str, Any]:
        account = query.get("accountId", "")
        names = sorted(g for g, members in self.groups.items() if account in members)
        start, limit = int(query.get("start", "0")), min(int(query.get("limit", "200")), 200)
        rows = [{"type": "group", "name": g, "id": group_id(g),
                 "_links": {"self": f"{site}/rest/api/group/by-id?id={group_id(g)}"}}
                for g in names[start:start + limit]]
        links = {"base": site, "context": "/wiki",
                 "self": f"{site}/rest/api/user/memberof?accountId={account}"}
        if start + limit < len(names):
            links["next"] = "/rest/api/user/memberof?" + urlencode(
                {"accountId": account, "start": start + limit, "limit": limit})
        return {"results": rows, "start": start, "limit": limit, "size": len(rows),
                "_links": links}
