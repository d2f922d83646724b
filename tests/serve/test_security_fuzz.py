"""Hypothesis fuzzing of what parses untrusted input: the wire models and what the ingress does
with a payload they accept (event id, kind, the agent event), the JSON body parser, and
Confluence's storage-format parser. Each may refuse input, but only in the ways the ingress maps
to a 4xx (``ValidationError`` / ``HttpError``); storage parsing never raises at all."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from agents.mindmesh_models import AskIn
from embeddings.storage_format import parse_storage, storage_to_text
from serve.errors import HttpError, parse_json
from serve.wire import ForgeEventIn, JiraWebhookIn, event_id_for, kind_of, to_agent_event

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# Keys the models look at, so that generated objects reach deep into them.
KEYS = st.sampled_from([
    "eventType", "webhookEvent", "issue", "fields", "summary", "issuetype", "hierarchyLevel",
    "name", "key", "id", "description", "labels", "components", "priority", "status",
    "statusCategory", "project", "parent", "assignee", "accountId", "issuelinks", "type",
    "inwardIssue", "outwardIssue", "customfield_10016", "timeoriginalestimate", "timestamp",
    "changelog", "items", "field", "content", "space", "version", "number", "retryContext",
    "duedate", "type", "text", "question", "k",
]) | st.text(max_size=8)
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-(10**400),
           max_value=10**400) | st.floats(allow_nan=True) | st.text(max_size=40)
           | st.sampled_from(["avi:jira:created:issue", "avi:confluence:updated:page",
                              "jira:issue_updated", "Epic", "status", "2024-01-01"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(KEYS, inner, max_size=6), max_leaves=30)


def _accept_like(source: str, payload: dict[str, Any]) -> None:
    """What the intake route does with a payload: validate (a ValidationError is a 422), then
    everything ``accept`` does with it, which must not raise at all (it would be a 500)."""
    model = JiraWebhookIn if source == "jira" else ForgeEventIn
    try:
        parsed = model.model_validate(payload)
    except ValidationError:
        return
    event_type = parsed.webhookEvent if isinstance(parsed, JiraWebhookIn) else parsed.eventType
    event_id = event_id_for(payload, None)
    kind = kind_of(source, event_type)
    if kind:
        to_agent_event("t1", event_id, source, kind, payload)


@FUZZ
@given(payload=st.dictionaries(KEYS, JSON, max_size=8), source=st.sampled_from(["forge", "jira"]))
def test_wire_models_accept_or_refuse_cleanly(payload: dict[str, Any], source: str) -> None:
    _accept_like(source, payload)


@FUZZ
@given(event_type=st.sampled_from(["avi:jira:created:issue", "jira:issue_created"]),
       fields=st.dictionaries(KEYS, JSON, max_size=8), extra=JSON)
def test_issue_events_with_hostile_fields(event_type: str, fields: dict[str, Any],
                                          extra: Any) -> None:
    source = "jira" if event_type.startswith("jira:") else "forge"
    key = "webhookEvent" if source == "jira" else "eventType"
    payload = {key: event_type, "timestamp": extra,
               "issue": {"id": "1", "key": "K-1", "fields": {"summary": "s", **fields}},
               "changelog": {"items": [{"field": "status"}]}}
    _accept_like(source, payload)


@FUZZ
@given(body=JSON)
def test_payload_models_for_the_api(body: Any) -> None:
    try:
        AskIn.model_validate(body)
    except ValidationError:
        pass


@FUZZ
@given(raw=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()))
def test_json_body_parser_refuses_with_a_4xx(raw: bytes) -> None:
    try:
        parse_json(raw)
    except HttpError as exc:
        assert 400 <= exc.status < 500


def test_json_body_parser_on_pathological_documents() -> None:
    for raw in (b"[" * 100_000, b'{"a":' * 50_000, b"1" * 5000, b'{"n": ' + b"9" * 5000 + b"}",
                b'"\xff\xfe"', b"\x00", b'{"a": NaN}'):
        try:
            parse_json(raw)
        except HttpError as exc:
            assert 400 <= exc.status < 500


TAGS = st.sampled_from(["p", "h1", "h2", "ul", "li", "table", "tr", "td", "ac:structured-macro",
                        "ac:parameter", "ac:rich-text-body", "ac:plain-text-body", "ri:page",
                        "ac:link", "ac:image", "br", "code", "pre", "![CDATA[", "?xml", "!--"])


@st.composite
def markup(draw: st.DrawFn) -> str:
    parts = []
    for _ in range(draw(st.integers(0, 25))):
        choice = draw(st.integers(0, 4))
        tag = draw(TAGS)
        if choice == 0:
            parts.append(f"<{tag}>")
        elif choice == 1:
            parts.append(f"</{tag}>")
        elif choice == 2:
            parts.append(f'<{tag} ac:name="{draw(st.text(max_size=5))}"/>')
        else:
            parts.append(draw(st.text(max_size=20)))
    return "".join(parts)


@FUZZ
@given(xhtml=markup() | st.text(max_size=300))
def test_storage_format_parser_never_raises(xhtml: str) -> None:
    sections = parse_storage(xhtml)
    assert isinstance(sections, list)
    assert isinstance(storage_to_text(xhtml), str)


def test_storage_format_parser_on_deep_nesting() -> None:
    assert isinstance(parse_storage("<ul><li>" * 5000 + "x"), list)
    assert isinstance(parse_storage("<p>" + "&amp;" * 10_000 + "</p>"), list)
