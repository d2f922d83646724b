"""Which of a Jira site's fields hold story points, sprint, epic link, start date, due date, team.

Custom-field ids differ from site to site (story points are ``customfield_10016`` on one site,
``customfield_10028`` on another), so they are discovered from ``GET /rest/api/3/field``, never
assumed: first by the field's type (``schema.custom``, which Jira sets from the plugin that owns
the field and no admin can rename), then by name (``name`` / ``untranslatedName``) for fields
created by hand, e.g. a plain number field called "Story Points". A role may match several
fields (a site with a classic "Story Points" number field *and* Jira Software's "Story point
estimate"): all are kept in that order and the first one an issue has a value in wins, which is
how one site's company-managed and team-managed projects are both read right. A per-tenant
override in the settings (``jira_fields``) puts the named field first.

The map is kept per tenant in the state store (``~jira#fields``) with when it was read; the
backfill and the reconciliation sweep re-read it when it is older than
``jira_fields_refresh_s`` (a day by default), every other reader takes what is stored.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from store.state import StateStore

FIELDS_KEY = "~jira#fields"
ROLES = ("story_points", "sprint", "epic_link", "start_date", "due_date", "team")

# schema.custom of the fields Jira's own plugins create, per role, best first.
_BY_TYPE: dict[str, tuple[str, ...]] = {
    "story_points": ("com.pyxis.greenhopper.jira:jsw-story-points",),
    "sprint": ("com.pyxis.greenhopper.jira:gh-sprint",),
    "epic_link": ("com.pyxis.greenhopper.jira:gh-epic-link",),
    "start_date": ("com.atlassian.jpo:jpo-custom-field-baseline-start",),
    "team": ("com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team",
             "com.atlassian.teams:rm-teams-custom-field-team"),
}
# Names (lower case) of fields an admin may have created by hand, and the JSON types that fit.
_BY_NAME: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "story_points": (("story points", "story point estimate", "story point"), ("number",)),
    "sprint": (("sprint",), ("array", "any", "string")),
    "epic_link": (("epic link",), ("any", "string")),
    "start_date": (("start date", "target start"), ("date", "datetime")),
    "due_date": (("due date",), ("date", "datetime")),
    "team": (("team",), ("team", "any", "string", "option")),
}


class JiraFieldMap(BaseModel):
    """Field ids per role, best first. Empty tuple: the site has no such field."""

    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True)

    story_points: tuple[str, ...] = ()
    sprint: tuple[str, ...] = ()
    epic_link: tuple[str, ...] = ()
    start_date: tuple[str, ...] = ()
    due_date: tuple[str, ...] = ("duedate",)  # a system field: the same id on every site
    team: tuple[str, ...] = ()
    discovered_at: float = 0.0  # epoch seconds; 0 = never read from the site

    def custom_ids(self) -> list[str]:
        """Every field id the map names, for a search's ``fields`` list."""
        out: list[str] = []
        for role in ROLES:
            for fid in getattr(self, role):
                if fid not in out:
                    out.append(fid)
        return out

    def with_overrides(self, overrides: dict[str, str] | None) -> JiraFieldMap:
        """``{"storyPoints": "customfield_10028", …}`` (or snake_case roles) put first."""
        if not overrides:
            return self
        update: dict[str, tuple[str, ...]] = {}
        for name, fid in overrides.items():
            role = _role(name)
            current: tuple[str, ...] = getattr(self, role)
            update[role] = (fid, *(f for f in current if f != fid))
        return self.model_copy(update=update)

    def public(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


def _role(name: str) -> str:
    snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")
    if snake not in ROLES:
        raise ValueError(f"unknown Jira field role {name!r}; roles: "
                         f"{', '.join(to_camel(r) for r in ROLES)}")
    return snake


def discover(fields: Iterable[dict[str, Any]], now: float | None = None) -> JiraFieldMap:
    """The map for one site from its ``GET /rest/api/3/field`` answer."""
    items = [f for f in fields if isinstance(f, dict) and isinstance(f.get("id"), str)]
    found: dict[str, list[str]] = {role: [] for role in ROLES}
    for role, types in _BY_TYPE.items():
        for wanted in types:
            found[role] += [f["id"] for f in items if _schema(f).get("custom") == wanted]
    for role, (names, json_types) in _BY_NAME.items():
        for f in items:
            names_of = {str(f.get("name", "")).strip().lower(),
                        str(f.get("untranslatedName", "")).strip().lower()}
            kind = _schema(f).get("type")
            if names_of & set(names) and (kind is None or kind in json_types) \
                    and f["id"] not in found[role]:
                found[role].append(f["id"])
    if not any(_schema(f).get("system") == "duedate" or f["id"] == "duedate" for f in items):
        found["due_date"] = [fid for fid in found["due_date"] if fid != "duedate"]
    elif "duedate" not in found["due_date"]:
        found["due_date"].insert(0, "duedate")
    return JiraFieldMap(**{role: tuple(ids) for role, ids in found.items()},
                        discovered_at=now if now is not None else time.time())


def _schema(field: dict[str, Any]) -> dict[str, Any]:
    schema = field.get("schema")
    return schema if isinstance(schema, dict) else {}


class FieldCache:
    """Each tenant's map in the state store, the settings' overrides applied on read."""

    def __init__(self, state: StateStore, overrides: dict[str, dict[str, str]] | None = None,
                 refresh_s: float = 86_400.0, memo_s: float = 0.0) -> None:
        """``memo_s``: keep what was read in this process that long (the orchestrator reads
        the map for every event; a new discovery reaches it within that time)."""
        self.state = state
        self.overrides = overrides or {}
        self.refresh_s = refresh_s
        self.memo_s = memo_s
        self._memo: dict[str, tuple[float, JiraFieldMap | None]] = {}

    async def get(self, tenant: str) -> JiraFieldMap | None:
        """The stored map (overrides applied), or None when the site was never read."""
        if self.memo_s:
            kept = self._memo.get(tenant)
            if kept is not None and kept[0] > time.monotonic():
                return kept[1]
        found = await self._read(tenant)
        if self.memo_s:
            self._memo[tenant] = (time.monotonic() + self.memo_s, found)
        return found

    async def _read(self, tenant: str) -> JiraFieldMap | None:
        rec = await self.state.get(tenant, FIELDS_KEY)
        if rec is None:
            return JiraFieldMap().with_overrides(self.overrides.get(tenant)) \
                if tenant in self.overrides else None
        return JiraFieldMap.model_validate(rec.data["map"]).with_overrides(
            self.overrides.get(tenant))

    def stale(self, found: JiraFieldMap | None) -> bool:
        return found is None or time.time() - found.discovered_at >= self.refresh_s

    async def put(self, tenant: str, found: JiraFieldMap) -> JiraFieldMap:
        data = {"map": found.model_dump(mode="json"),
                "readAt": datetime.fromtimestamp(found.discovered_at, UTC).isoformat(
                    timespec="seconds")}
        await self.state.update(tenant, FIELDS_KEY, lambda _: data)
        return found.with_overrides(self.overrides.get(tenant))
