"""A Jira Cloud site on loopback for backfill and reconciliation: fields, enhanced search.

``GET /rest/api/3/field`` answers the site's fields in Jira's ``FieldDetails`` shape (``id``,
``key``, ``name``, ``untranslatedName``, ``custom``, ``clauseNames``, ``schema`` with ``type``,
``custom``/``system`` and ``customId``), with this site's own custom-field ids.
``POST /rest/api/3/search/jql`` answers ``{"issues", "nextPageToken", "isLast"}``: an opaque
token per page, no token at all on the last page (as Jira does, JRACLOUD-92184), at most 100
issues a page, only the fields asked for. Issues are Jira REST v3 issue objects: the status,
priority, project, issue type and user objects are those of the real webhook fixture
(../shared/fixtures/jira, mattermost-plugin-jira, Apache-2.0), descriptions in ADF.

The site (``JiraSite``) is a project pair generated from the issue index, nothing held per
issue but what a test changed, so a 10,000-issue site costs no memory: "CM" company-managed
(children name their epic in the Epic Link field) and "TM" team-managed (children name it in
``parent``); every block of ten is an epic, six stories and three sub-tasks, epics chained by
"Blocks" links. The JQL understood is what Clinisight sends: ``statusCategory != Done``,
``updated >= -<n>m|h|d``, ``project = K``, joined by OR / AND, then ``ORDER BY created|updated
ASC``; anything else is a 400 in Jira's words.

Faults: ``throttle_every=n`` answers every n-th search 429 with ``Retry-After``,
``X-RateLimit-Reset`` and ``RateLimit-Reason``; ``near_limit_every=n`` marks answers
``X-RateLimit-NearLimit: true``; ``fail_pages={page: [status, …]}`` answers that page's next
requests with those statuses (a failure mid-way); ``expected_auth`` answers 401 to anything else.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.utils.http import Recorded, Reply, ScriptedServer, json_reply
from tests.utils.payloads import JIRA, load

_FIXTURE = load(JIRA / "mattermost__webhook-cloud-issue-created-many-fields.json")["issue"]
_RESOLVED = load(JIRA / "mattermost__webhook-issue-updated-resolved.json")["issue"]
MAX_PAGE = 100
BLOCK = 10  # epic, 6 stories, 3 sub-tasks
STATUSES = [
    {"name": "To Do", "id": "10000", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    {"name": "In Progress", "id": "3",
     "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"}},
    _RESOLVED["fields"]["status"],  # Done, statusCategory done
]
PRIORITIES = ["High", "Medium", "Low"]
_CLAUSE = re.compile(r"^(?:statusCategory != Done|updated >= -(\d+)([mhd])|project = (\w+))$")


@dataclass(frozen=True)
class FieldIds:
    """This site's custom-field ids (they differ from site to site)."""

    story_points: str = "customfield_10016"
    epic_link: str = "customfield_10014"
    sprint: str = "customfield_10020"
    start_date: str = "customfield_10015"
    team: str = "customfield_10001"
    classic_points: str | None = None  # a hand-made "Story Points" number field as well


def _custom(fid: str, name: str, kind: str, custom: str, items: str | None = None
            ) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind, "custom": custom, "customId": int(fid.split("_")[1])}
    if items:
        schema["items"] = items
    return {"id": fid, "key": fid, "name": name, "untranslatedName": name, "custom": True,
            "orderable": True, "navigable": True, "searchable": True,
            "clauseNames": [f"cf[{fid.split('_')[1]}]", name], "schema": schema}


def _system(fid: str, name: str, kind: str) -> dict[str, Any]:
    return {"id": fid, "key": fid, "name": name, "custom": False, "orderable": True,
            "navigable": True, "searchable": True, "clauseNames": [fid],
            "schema": {"type": kind, "system": fid}}


def field_list(ids: FieldIds) -> list[dict[str, Any]]:
    out = [
        _system("summary", "Summary", "string"), _system("duedate", "Due date", "date"),
        _system("status", "Status", "status"), _system("labels", "Labels", "array"),
        {"id": "parent", "key": "parent", "name": "Parent", "custom": False, "orderable": False,
         "navigable": True, "searchable": False, "clauseNames": ["parent"]},
        _custom(ids.story_points, "Story point estimate", "number",
                "com.pyxis.greenhopper.jira:jsw-story-points"),
        _custom(ids.epic_link, "Epic Link", "any", "com.pyxis.greenhopper.jira:gh-epic-link"),
        _custom(ids.sprint, "Sprint", "array", "com.pyxis.greenhopper.jira:gh-sprint", "json"),
        _custom(ids.start_date, "Start date", "date",
                "com.atlassian.jira.plugin.system.customfieldtypes:datepicker"),
        _custom(ids.team, "Team", "team",
                "com.atlassian.jira.plugin.system.customfieldtypes:atlassian-team"),
        _custom("customfield_10019", "Rank", "any", "com.pyxis.greenhopper.jira:gh-lexo-rank"),
    ]
    if ids.classic_points:
        out.append(_custom(ids.classic_points, "Story Points", "number",
                           "com.atlassian.jira.plugin.system.customfieldtypes:float"))
    return out


def _adf(text: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1,
            "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


@dataclass
class JiraSite:
    """``n`` issues, half in CM, half in TM; ``changed`` holds what tests edited."""

    n: int
    ids: FieldIds = field(default_factory=FieldIds)
    base: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=20))
    changed: dict[int, dict[str, Any]] = field(default_factory=dict)
    touched: dict[int, datetime] = field(default_factory=dict)

    def project(self, i: int) -> str:
        return "CM" if i < self.n // 2 else "TM"

    def key(self, i: int) -> str:
        start = 0 if i < self.n // 2 else self.n // 2
        return f"{self.project(i)}-{i - start + 1}"

    def index(self, key: str) -> int:
        project, number = key.split("-")
        return int(number) - 1 + (0 if project == "CM" else self.n // 2)

    def category(self, i: int) -> str:
        status = self.changed.get(i, {}).get("status") or STATUSES[self._status_no(i)]
        return str(status["statusCategory"]["key"])

    def _status_no(self, i: int) -> int:
        return (i * 7 // 3) % 3

    def created(self, i: int) -> datetime:
        return self.base + timedelta(minutes=i)

    def updated(self, i: int) -> datetime:
        return self.touched.get(i, self.created(i) + timedelta(days=1))

    def touch(self, key: str, **fields: Any) -> None:
        """Change an issue in Jira now (its ``updated`` moves to now)."""
        i = self.index(key)
        self.changed.setdefault(i, {}).update(fields)
        self.touched[i] = datetime.now(UTC)

    def issue(self, i: int, wanted: list[str] | None = None) -> dict[str, Any]:
        """Issue ``i`` as ``/search/jql`` returns it (only ``wanted`` fields, if given)."""
        block, pos = i - i % BLOCK, i % BLOCK
        project, team_managed = self.project(i), self.project(i) == "TM"
        epic = self.key(block) if self.project(block) == project else None
        kind = "Epic" if pos == 0 else "Sub-task" if pos >= 7 else "Story"
        itype = copy.deepcopy(_FIXTURE["fields"]["issuetype"])
        itype.update(name=kind, subtask=kind == "Sub-task",
                     hierarchyLevel={"Epic": 1, "Story": 0, "Sub-task": -1}[kind])
        status = STATUSES[self._status_no(i)]
        f: dict[str, Any] = {
            "summary": f"{kind} {i}: lab results export for the clinic portal",
            "description": _adf(f"Work item {i}. Make the export faster for clinic staff."),
            "issuetype": itype,
            "labels": ["phi"] if i % 7 == 3 else ["portal"],
            "components": [{"id": "10000", "name": "Backend"}] if i % 2 else [],
            "priority": {**_FIXTURE["fields"]["priority"], "name": PRIORITIES[i % 3]},
            "status": status,
            "project": {**_FIXTURE["fields"]["project"], "key": project, "name": project,
                        "simplified": team_managed},
            "assignee": _FIXTURE["fields"]["assignee"] if i % 3 == 1 else None,
            "duedate": (self.base + timedelta(days=10 + i % 30)).date().isoformat()
            if i % 4 == 0 else None,
            "created": self.created(i).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "updated": self.updated(i).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "statuscategorychangedate": (self.created(i) + timedelta(hours=5)).strftime(
                "%Y-%m-%dT%H:%M:%S.000+0000"),
            "timeoriginalestimate": 28_800 if i % 5 == 2 else None,
            "issuelinks": self._links(i, block, pos),
            self.ids.story_points: None if pos >= 7 else float((i % 5) * 2 + 1),
            self.ids.sprint: [{"id": 7, "name": f"{project} Sprint 7", "state": "active",
                               "boardId": 1}] if pos else None,
            self.ids.start_date: self.created(i).date().isoformat() if pos == 0 else None,
            self.ids.team: {"id": "a1b2", "name": "Care team", "title": "Care team"}
            if i % 2 else None,
            self.ids.epic_link: None,
        }
        if pos >= 7:  # a sub-task of the story three before it
            f["parent"] = {"id": str(10000 + i - 3), "key": self.key(i - 3)}
        elif pos and epic:
            if team_managed:
                f["parent"] = {"id": str(10000 + block), "key": epic}
            else:
                f[self.ids.epic_link] = epic
        if self.ids.classic_points and pos and pos < 7:
            f[self.ids.classic_points] = None  # the hand-made field exists, left empty
        f.update(copy.deepcopy(self.changed.get(i, {})))
        if wanted is not None:
            f = {k: v for k, v in f.items() if k in wanted}
        return {"expand": "renderedFields,names,schema,operations,editmeta,changelog",
                "id": str(10000 + i), "self": f"https://clinic.atlassian.net/rest/api/3/issue/"
                f"{10000 + i}", "key": self.key(i), "fields": f}

    def _links(self, i: int, block: int, pos: int) -> list[dict[str, Any]]:
        if pos:
            return []
        kind = {"id": "10000", "name": "Blocks", "inward": "is blocked by",
                "outward": "blocks"}
        out = []
        nxt, prev = block + BLOCK, block - BLOCK
        if nxt < self.n and self.project(nxt) == self.project(i) and (block // BLOCK) % 3 != 2:
            out.append({"id": str(i), "type": kind, "outwardIssue": {"key": self.key(nxt)}})
        if prev >= 0 and self.project(prev) == self.project(i) and (prev // BLOCK) % 3 != 2:
            out.append({"id": str(prev), "type": kind, "inwardIssue": {"key": self.key(prev)}})
        return out

    def matches(self, jql: str) -> list[int] | str:
        """Indices matching ``jql`` in its order, or Jira's error message."""
        where, _, order = jql.partition(" ORDER BY ")
        now = datetime.now(UTC)
        ors = []
        for part in where.split(" OR "):
            ands = []
            for clause in part.split(" AND "):
                m = _CLAUSE.match(clause.strip())
                if not m:
                    return f"Error in the JQL Query: the clause '{clause.strip()}' is not valid."
                ands.append(m)
            ors.append(ands)

        def keep(i: int) -> bool:
            for ands in ors:
                ok = True
                for m in ands:
                    if m.group(0).startswith("statusCategory"):
                        ok = ok and self.category(i) != "done"
                    elif m.group(1):
                        unit = {"m": 60, "h": 3600, "d": 86_400}[m.group(2)]
                        ok = ok and self.updated(i) >= now - timedelta(
                            seconds=int(m.group(1)) * unit)
                    else:
                        ok = ok and self.project(i) == m.group(3)
                if ok:
                    return True
            return False

        found = [i for i in range(self.n) if keep(i)]
        if order.strip().startswith("updated"):
            found.sort(key=self.updated)
        return found


@dataclass
class LocalJira:
    """The HTTP face of a ``JiraSite``; ``requests`` counts what it answered."""

    site: JiraSite
    throttle_every: int | None = None
    near_limit_every: int | None = None
    retry_after: str = "0"
    fail_pages: dict[int, list[int]] = field(default_factory=dict)
    expected_auth: str | None = None
    searches: int = 0
    throttled: int = 0
    pages_served: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _results: dict[str, list[int]] = field(default_factory=dict)

    def server(self) -> ScriptedServer:
        return ScriptedServer(self.respond)

    def respond(self, req: Recorded) -> Reply:
        path = re.sub(r"^/ex/jira/[^/]+", "", req.path)  # the Forge API gateway prefix
        if self.expected_auth is not None and req.headers.get("authorization") != \
                self.expected_auth:
            return json_reply(401, {"errorMessages": ["You are not authorized to perform "
                                                      "this operation."]})
        limits = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "60"}
        if req.method == "GET" and path == "/rest/api/3/field":
            return json_reply(200, field_list(self.site.ids), limits)
        if req.method == "POST" and path == "/rest/api/3/search/jql":
            return self._search(req.json(), limits)
        return json_reply(404, {"errorMessages": [f"no route {req.method} {path}"]})

    def _search(self, body: dict[str, Any], limits: dict[str, str]) -> Reply:
        with self._lock:
            self.searches += 1
            count = self.searches
        if self.throttle_every and count % self.throttle_every == 0:
            with self._lock:
                self.throttled += 1
            reset = (datetime.now(UTC) + timedelta(seconds=float(self.retry_after))).strftime(
                "%Y-%m-%dT%H:%MZ")
            return json_reply(429, {"errorMessages": ["Rate limit exceeded."]}, {
                "Retry-After": self.retry_after, "X-RateLimit-Reset": reset,
                "RateLimit-Reason": "jira-burst-based", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Limit": "100"})
        jql = str(body.get("jql", ""))
        token = body.get("nextPageToken")
        query = hashlib.sha256(jql.encode()).hexdigest()[:16]
        offset = 0
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token))
                if state["q"] != query:
                    raise ValueError("another query's token")
                offset = int(state["o"])
            except (ValueError, KeyError, TypeError):
                return json_reply(400, {"errorMessages": ["The provided next page token is "
                                                          "invalid or expired."]})
        size = min(int(body.get("maxResults", 50)), MAX_PAGE)
        page_no = offset // size
        with self._lock:
            faults = self.fail_pages.get(page_no)
            fault = faults.pop(0) if faults else None
        if fault is not None:
            return json_reply(fault, {"errorMessages": ["Internal server error"]})
        if token is None or query not in self._results:
            found = self.site.matches(jql)
            if isinstance(found, str):
                return json_reply(400, {"errorMessages": [found], "warningMessages": []})
            self._results[query] = found  # a search context, as Jira keeps one per token
        found = self._results[query]
        wanted = [str(f) for f in body.get("fields") or ["id"]]
        issues = [self.site.issue(i, wanted) for i in found[offset:offset + size]]
        answer: dict[str, Any] = {"issues": issues, "isLast": offset + size >= len(found)}
        if not answer["isLast"]:
            answer["nextPageToken"] = base64.urlsafe_b64encode(json.dumps(
                {"q": query, "o": offset + size}).encode()).decode()
        headers = dict(limits)
        if self.near_limit_every and count % self.near_limit_every == 0:
            headers["X-RateLimit-NearLimit"] = "true"
        with self._lock:
            self.pages_served.append(page_no)
        return json_reply(200, answer, headers)


def main() -> None:
    """``python -m tests.agents.jira_server --issues N [--port P]``: serve a site until killed
    (the backfill benchmark runs it in a process of its own, so its CPU and memory are not the
    backfill's). Prints ``{"url": …}`` once listening."""
    import argparse
    import time as _time

    p = argparse.ArgumentParser()
    p.add_argument("--issues", type=int, required=True)
    p.add_argument("--throttle-every", type=int, default=None)
    args = p.parse_args()
    local = LocalJira(JiraSite(args.issues), throttle_every=args.throttle_every)
    with local.server() as server:
        print(json.dumps({"url": server.url}), flush=True)
        while True:
            _time.sleep(3600)


if __name__ == "__main__":
    main()
