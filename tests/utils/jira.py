"""A local server speaking the slice of Jira Cloud REST v3 Clinisight uses, failing on purpose.

Create issue (``POST /rest/api/3/issue``), search (``POST /rest/api/3/search/jql``, understanding
the ``parent = "K" AND labels = "L"`` queries the write-back sends), issue links
(``POST /rest/api/3/issueLink``, ``GET /rest/api/3/issue/{key}?fields=issuelinks``). Answers in
Jira's shapes, errors in Jira's ``errorMessages``/``errors`` form. ``fail`` scripts failures:
a list of (method, path-prefix, reply, commit) consumed in order, where ``commit`` says whether
the request still takes effect (Jira committed, then the answer was lost).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any

from tests.utils.http import Recorded, Reply, ScriptedServer, json_reply

_JQL = re.compile(r'parent = "(?P<parent>[^"]+)" AND labels = "(?P<label>[^"]+)"')


@dataclass
class Failure:
    method: str
    path: str
    reply: Reply
    commit: bool = False


@dataclass
class FakeJira:
    project: str = "CARE"
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: list[dict[str, Any]] = field(default_factory=list)
    fail: list[Failure] = field(default_factory=list)
    _next: int = 100
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def server(self) -> ScriptedServer:
        return ScriptedServer(self.respond)

    def respond(self, req: Recorded) -> Reply:
        with self._lock:
            path = re.sub(r"^/ex/jira/[^/]+", "", req.path)  # the Forge API gateway prefix
            for i, f in enumerate(self.fail):
                if f.method == req.method and path.startswith(f.path):
                    del self.fail[i]
                    if f.commit:
                        self._handle(req, path)
                    return f.reply
            return self._handle(req, path)

    def _handle(self, req: Recorded, path: str) -> Reply:
        if req.method == "POST" and path == "/rest/api/3/issue":
            fields = req.json()["fields"]
            missing = [k for k in ("project", "summary", "issuetype") if k not in fields]
            if missing or fields.get("description", {}).get("type") != "doc":
                return json_reply(400, {"errorMessages": [],
                                        "errors": {k: f"{k} is required." for k in missing}
                                        or {"description": "Operation value must be an "
                                                           "Atlassian Document"}})
            self._next += 1
            key = f"{self.project}-{self._next}"
            self.issues[key] = {"id": str(10000 + self._next), "key": key, "fields": fields}
            return json_reply(201, {"id": str(10000 + self._next), "key": key,
                                    "self": f"https://example.atlassian.net/rest/api/3/issue/"
                                            f"{10000 + self._next}"})
        if req.method == "POST" and path == "/rest/api/3/search/jql":
            body = req.json()
            m = _JQL.fullmatch(body["jql"])
            hits = [i for i in self.issues.values()
                    if m and i["fields"].get("parent", {}).get("key") == m["parent"]
                    and m["label"] in i["fields"].get("labels", [])]
            return json_reply(200, {"issues": [
                {"id": i["id"], "key": i["key"], "fields": {"labels": i["fields"]["labels"]}}
                for i in hits], "isLast": True})
        if req.method == "POST" and path == "/rest/api/3/issueLink":
            self.links.append(req.json())
            return 201, {}, b""
        m2 = re.fullmatch(r"/rest/api/3/issue/([A-Z]+-\d+)\?fields=issuelinks", path)
        if req.method == "GET" and m2:
            key = m2.group(1)
            if key not in self.issues:
                return json_reply(404, {"errorMessages": ["Issue does not exist or you do not "
                                                          "have permission to see it."]})
            out = []
            for link in self.links:
                if link["inwardIssue"]["key"] == key:
                    out.append({"type": {"name": link["type"]["name"], "inward": "is blocked by",
                                         "outward": "blocks"}, "outwardIssue": link[
                                             "outwardIssue"]})
            return json_reply(200, {"key": key, "fields": {"issuelinks": out}})
        return json_reply(404, {"errorMessages": [f"no route {req.method} {path}"]})

    def created_for(self, parent: str) -> list[dict[str, Any]]:
        return [i for i in self.issues.values()
                if i["fields"].get("parent", {}).get("key") == parent]


def server_error() -> Reply:
    return json_reply(500, {"errorMessages": ["Internal server error"]})


def rate_limited(seconds: str = "0") -> Reply:
    return 429, {"retry-after": seconds, "content-type": "application/json"}, json.dumps(
        {"errorMessages": ["Rate limit exceeded."]}).encode()
