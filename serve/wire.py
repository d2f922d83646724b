"""Wire models for what Forge and Jira send, kept apart from the internal models.

They validate only what Clinisight uses and tolerate every other key (payloads from other sites
carry extra keys, localised names and custom fields). ``to_agent_event`` turns a validated
payload into the internal ``AgentEvent``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agents.events import AgentEvent, IssueSnapshot, PageRef
from agents.jira_fields import JiraFieldMap

_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_KEY_RE = re.compile(r"^[A-Z][A-Z0-9_]+-\d+$")


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class NamedIn(_Open):
    name: str | None = None
    key: str | None = None
    value: str | None = None


class IssueTypeIn(_Open):
    name: str = ""
    hierarchyLevel: int | None = None  # noqa: N815 - Jira's field name


class StatusIn(NamedIn):
    statusCategory: NamedIn | None = None  # noqa: N815 - Jira's field name


class UserIn(_Open):
    accountId: str | None = None  # noqa: N815
    displayName: str | None = None  # noqa: N815
    name: str | None = None


class LinkTypeIn(_Open):
    name: str = ""
    inward: str = ""
    outward: str = ""


class LinkedIssueIn(_Open):
    key: str


class IssueLinkIn(_Open):
    type: LinkTypeIn | None = None
    inwardIssue: LinkedIssueIn | None = None  # noqa: N815
    outwardIssue: LinkedIssueIn | None = None  # noqa: N815


class IssueFieldsIn(_Open):
    summary: str = Field(max_length=32_768)
    issuetype: IssueTypeIn | None = None
    description: str | dict[str, Any] | None = None
    labels: list[str] = Field(default_factory=list)
    components: list[NamedIn] = Field(default_factory=list)
    priority: NamedIn | None = None
    status: StatusIn | None = None
    project: NamedIn | None = None
    parent: dict[str, Any] | None = None
    assignee: UserIn | None = None
    duedate: str | None = None
    created: str | None = None
    updated: str | None = None
    statuscategorychangedate: str | None = None
    timeoriginalestimate: int | None = None
    issuelinks: list[IssueLinkIn] = Field(default_factory=list)
    # Story points, epic link, sprint, start date and team are custom fields whose ids differ
    # from site to site: they stay in ``model_extra`` and are read through the tenant's
    # ``JiraFieldMap`` (agents.jira_fields), never by a fixed id.


class IssueIn(_Open):
    id: str | int
    key: str = Field(min_length=1, max_length=255)
    fields: IssueFieldsIn


class ChangeItemIn(_Open):
    field: str | None = None
    toString: str | None = None  # noqa: N815


class ChangelogIn(_Open):
    items: list[ChangeItemIn] = Field(default_factory=list)


class JiraWebhookIn(_Open):
    webhookEvent: str = Field(min_length=1, max_length=128)  # noqa: N815
    timestamp: int | None = None
    issue_event_type_name: str | None = None
    issue: IssueIn | None = None
    changelog: ChangelogIn | None = None

    @model_validator(mode="after")
    def _issue_for_issue_events(self) -> JiraWebhookIn:
        if self.webhookEvent.startswith(("jira:issue_", "comment_")) and self.issue is None:
            raise ValueError(f"'issue' is required for {self.webhookEvent} events")
        return self


class ForgeEventIn(_Open):
    eventType: str = Field(min_length=1, max_length=128)  # noqa: N815
    issue: IssueIn | None = None
    content: dict[str, Any] | None = None
    retryContext: dict[str, Any] | None = None  # noqa: N815

    @model_validator(mode="after")
    def _issue_for_issue_events(self) -> ForgeEventIn:
        if self.eventType.startswith("avi:jira:") and self.eventType.endswith(":issue"):
            if self.issue is None:
                raise ValueError(f"'issue' is required for {self.eventType} events")
        return self


# Normalised event kinds
_JIRA_KINDS = {
    "jira:issue_created": "issue_created",
    "jira:issue_updated": "issue_updated",
    "jira:issue_deleted": "issue_deleted",
    "comment_created": "issue_commented",
}
_FORGE_KIND = re.compile(r"^avi:(jira|confluence):(\w+):(\w+)$")


def kind_of(source: str, event_type: str) -> str | None:
    """A normalised kind (issue_created, page_updated, …) or None when Clinisight has no use."""
    if source == "jira":
        return _JIRA_KINDS.get(event_type)
    m = _FORGE_KIND.match(event_type)
    if not m:
        return None
    _, verb, noun = m.groups()
    if noun == "issue" and verb in {"created", "updated", "deleted", "assigned", "commented"}:
        return f"issue_{verb}"
    if noun == "page" and verb in {"created", "updated", "trashed", "deleted", "moved",
                                   "permissions_updated"}:
        return f"page_{verb}"
    return None


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (Jira REST v3 descriptions)."""
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text", ""))
    parts = [adf_text(c) for c in node.get("content") or []]
    kind = node.get("type")
    if kind == "listItem":
        return "* " + " ".join(p.strip() for p in parts if p.strip()) + "\n"
    if kind in {"paragraph", "heading", "codeBlock", "blockquote", "tableRow"}:
        return "".join(parts) + "\n"
    if kind == "hardBreak":
        return "\n"
    return "".join(parts)


def _links(links: list[IssueLinkIn]) -> tuple[list[str], list[str]]:
    """(keys this issue blocks, keys blocking it) from Jira's ``issuelinks``.

    A link lists the *other* issue and reads from this one: ``outwardIssue: B`` on A means
    "A <outward> B" (A blocks B), ``inwardIssue: B`` means "A <inward> B" (A is blocked by B);
    see Atlassian's "Jira issue linking model" guide. "Blocks" links count as dependencies, and
    "Depends" links the other way round ("A depends on B" = B blocks A); "relates to", "clones"
    and the like do not.
    """
    blocks: list[str] = []
    blocked_by: list[str] = []
    for link in links:
        kind = link.type or LinkTypeIn()
        words = f"{kind.name} {kind.outward}".lower()
        if "block" in words:
            forward, backward = blocks, blocked_by
        elif "depend" in words:
            forward, backward = blocked_by, blocks
        else:
            continue
        if link.outwardIssue is not None:
            forward.append(link.outwardIssue.key)
        if link.inwardIssue is not None:
            backward.append(link.inwardIssue.key)
    return blocks, blocked_by


def _points(value: Any) -> float | None:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except OverflowError:  # an integer past float's range is no estimate
        return None


def _status_changed_at(changelog: ChangelogIn | None, timestamp: int | None) -> str | None:
    """The webhook's time when this very delivery moved the issue to a new status."""
    if changelog is None or timestamp is None:
        return None
    if not any((item.field or "").lower() == "status" for item in changelog.items):
        return None
    try:
        return datetime.fromtimestamp(timestamp / 1000, UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):  # a timestamp no calendar has: not a change
        return None


def _custom(f: IssueFieldsIn, ids: tuple[str, ...]) -> list[Any]:
    """The values of the fields ``ids`` names, in its order, the empty ones left out."""
    extra = f.model_extra or {}
    values = [extra.get(fid) if fid != "duedate" else f.duedate for fid in ids]
    return [v for v in values if v not in (None, "", [])]


def _epic_link(f: IssueFieldsIn, ids: tuple[str, ...]) -> str | None:
    for value in _custom(f, ids):
        key = value.get("key") if isinstance(value, dict) else value
        if isinstance(key, str) and _KEY_RE.match(key):
            return key
    return None


def _sprint(f: IssueFieldsIn, ids: tuple[str, ...]) -> str | None:
    """The active sprint's name (Jira Cloud sends every sprint the issue was in)."""
    for value in _custom(f, ids):
        sprints = value if isinstance(value, list) else [value]
        named = [s for s in sprints if isinstance(s, dict) and isinstance(s.get("name"), str)]
        active = [s for s in named if s.get("state") == "active"] or named
        if active:
            return str(active[-1]["name"])
        if isinstance(sprints[-1], str):  # Jira Server's serialised form; name=… inside
            m = re.search(r"name=([^,\]]*)", sprints[-1])
            return m.group(1) if m else None
    return None


def _named(f: IssueFieldsIn, ids: tuple[str, ...]) -> str | None:
    for value in _custom(f, ids):
        if isinstance(value, str):
            return value
        if isinstance(value, dict):
            for k in ("name", "title", "value"):
                if isinstance(value.get(k), str):
                    return str(value[k])
    return None


def _date(f: IssueFieldsIn, ids: tuple[str, ...]) -> str | None:
    for value in _custom(f, ids):
        if isinstance(value, str) and len(value) >= 10:
            return value[:10]
    return None


def _points_of(f: IssueFieldsIn, ids: tuple[str, ...]) -> float | None:
    for value in _custom(f, ids):
        points = _points(value)
        if points is not None:
            return points
    return None


NO_FIELDS = JiraFieldMap()


def snapshot(issue: IssueIn, status_changed_at: str | None = None,
              fields: JiraFieldMap | None = None) -> IssueSnapshot:
    """The internal snapshot; ``fields`` says where this site keeps its custom fields (none
    known: story points, epic link, sprint, start date and team stay empty)."""
    f = issue.fields
    cf = fields or NO_FIELDS
    itype = f.issuetype or IssueTypeIn()
    parent = f.parent or {}
    blocks, blocked_by = _links(f.issuelinks)
    category = f.status.statusCategory if f.status else None
    assignee = f.assignee
    return IssueSnapshot(
        id=str(issue.id),
        key=issue.key,
        summary=f.summary,
        description=adf_text(f.description) if f.description else "",
        issue_type=itype.name,
        # Epics are hierarchy level 1 in Jira Cloud; the name may be localised, so check both.
        is_epic=itype.hierarchyLevel == 1 or itype.name.strip().lower() == "epic",
        labels=[str(label) for label in f.labels],
        components=[c.name for c in f.components if c.name],
        priority=f.priority.name if f.priority else None,
        status=f.status.name if f.status else None,
        project_key=f.project.key if f.project else None,
        # Team-managed projects (and company-managed ones since Jira's 2023 change) say
        # ``parent``; older company-managed ones keep the epic in the Epic Link field.
        parent_key=parent.get("key") if isinstance(parent.get("key"), str)
        else _epic_link(f, cf.epic_link),
        status_category=category.key if category else None,
        assignee=(assignee.accountId or assignee.displayName or assignee.name)
        if assignee else None,
        due_date=_date(f, cf.due_date) if cf.due_date else f.duedate,
        created=f.created,
        updated=f.updated,
        status_changed_at=status_changed_at or f.statuscategorychangedate,
        story_points=_points_of(f, cf.story_points),
        original_estimate_s=f.timeoriginalestimate,
        blocks=blocks,
        blocked_by=blocked_by,
        sprint=_sprint(f, cf.sprint),
        start_date=_date(f, cf.start_date),
        team=_named(f, cf.team),
    )


def to_agent_event(
    tenant: str, event_id: str, source: str, kind: str,
    payload: dict[str, Any] | JiraWebhookIn | ForgeEventIn,
    fields: JiraFieldMap | None = None,
) -> AgentEvent:
    """The internal event of a delivery; the ingress hands it the model it validated already
    (a plain payload is validated here first)."""
    if isinstance(payload, JiraWebhookIn | ForgeEventIn):
        parsed: JiraWebhookIn | ForgeEventIn = payload
    else:
        parsed = (JiraWebhookIn if source == "jira" else ForgeEventIn).model_validate(payload)
    changed_at = (
        _status_changed_at(parsed.changelog, parsed.timestamp)
        if isinstance(parsed, JiraWebhookIn) else None
    )
    return AgentEvent(
        tenant=tenant,
        event_id=event_id,
        kind=kind,
        source=source,
        issue=snapshot(parsed.issue, changed_at, fields) if parsed.issue else None,
        page=_page_ref(parsed.content)
        if isinstance(parsed, ForgeEventIn) and kind.startswith("page_") else None,
    )


def _page_ref(content: dict[str, Any] | None) -> PageRef | None:
    """The page a Confluence event names: ``content.id``, its space key, title and version."""
    if not content or not isinstance(content.get("id"), str | int):
        return None
    space: dict[str, Any] = content["space"] if isinstance(content.get("space"), dict) else {}
    version: dict[str, Any] = (
        content["version"] if isinstance(content.get("version"), dict) else {}
    )
    number = version.get("number")
    return PageRef(
        page_id=str(content["id"]),
        space_key=space.get("key") if isinstance(space.get("key"), str) else None,
        title=str(content.get("title") or ""),
        version=number if isinstance(number, int) else None,
    )


def event_id_for(payload: dict[str, Any], header_id: str | None) -> str:
    """The delivery's identity: Atlassian's webhook identifier, else a hash of the payload.

    Forge retries carry ``retryContext`` inside the payload; it is left out of the hash so a
    retry maps to the same id as the first delivery.
    """
    if header_id and _ID_RE.match(header_id):
        return header_id
    body = {k: v for k, v in payload.items() if k != "retryContext"}
    try:  # orjson writes the same canonical form (sorted keys, no spaces, UTF-8), 5-10x faster
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer past 64 bits: the standard library's writer takes it
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"),
                               ensure_ascii=False).encode()
    return "h-" + hashlib.sha256(canonical).hexdigest()[:40]
