from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from serve.routing import route
from serve.wire import (
    ForgeEventIn,
    JiraWebhookIn,
    adf_text,
    event_id_for,
    kind_of,
    to_agent_event,
)
from tests.utils.payloads import forge_epic, forge_event_files, jira_epic, jira_files, load


@pytest.mark.parametrize("path", jira_files(), ids=lambda p: p.stem)
def test_every_real_jira_webhook_validates(path: Path) -> None:
    payload = load(path)
    parsed = JiraWebhookIn.model_validate(payload)
    kind = kind_of("jira", parsed.webhookEvent)
    assert kind is not None
    event = to_agent_event("t", "e", "jira", kind, payload)
    assert event.issue is not None and event.issue.key
    # None of the real fixtures is an epic: workflow and backlog agents only; comments: nobody.
    expected = [] if kind == "issue_commented" else ["CareTrack", "DealFlow"]
    assert route(event) == expected


@pytest.mark.parametrize("path", forge_event_files(), ids=lambda p: p.stem)
def test_every_forge_example_validates(path: Path) -> None:
    ForgeEventIn.model_validate(load(path))


def test_forge_kinds() -> None:
    assert kind_of("forge", "avi:jira:created:issue") == "issue_created"
    assert kind_of("forge", "avi:confluence:trashed:page") == "page_trashed"
    assert kind_of("forge", "avi:confluence:updated:task") is None
    assert kind_of("jira", "jira:worklog_updated") is None


def test_epic_is_recognised_by_hierarchy_or_name_and_routed() -> None:
    payload = jira_epic()
    event = to_agent_event("t", "e", "jira", "issue_created", payload)
    assert event.issue is not None and event.issue.is_epic
    assert route(event) == ["TaskSmith", "CareTrack", "RoadmapSmith"]
    payload["issue"]["fields"]["issuetype"] = {"name": "에픽", "hierarchyLevel": 1}
    assert to_agent_event("t", "e", "jira", "issue_created", payload).issue.is_epic  # type: ignore[union-attr]


def test_missing_summary_names_the_field() -> None:
    payload = jira_epic()
    del payload["issue"]["fields"]["summary"]
    with pytest.raises(ValidationError) as err:
        JiraWebhookIn.model_validate(payload)
    assert ("issue", "fields", "summary") in [e["loc"] for e in err.value.errors()]


def test_issue_event_without_issue_is_invalid() -> None:
    with pytest.raises(ValidationError, match="'issue' is required"):
        ForgeEventIn.model_validate({"eventType": "avi:jira:created:issue"})


def test_event_id_prefers_the_webhook_identifier_and_ignores_retry_context() -> None:
    first, retry = forge_epic(), forge_epic(retry=2)
    assert event_id_for(first, None) == event_id_for(retry, None)
    assert event_id_for(first, None) != event_id_for(forge_epic(key="CARE-9"), None)
    assert event_id_for(first, "wh-123") == "wh-123"
    assert event_id_for(first, "bad id with spaces").startswith("h-")


def test_adf_description_becomes_text_with_bullets() -> None:
    doc = {"type": "doc", "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": "Intro"}]},
        {"type": "bulletList", "content": [
            {"type": "listItem", "content": [
                {"type": "paragraph", "content": [{"type": "text", "text": "First item"}]}]},
        ]},
    ]}
    assert adf_text(doc).splitlines() == ["Intro", "* First item"]
