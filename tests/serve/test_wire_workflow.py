"""The workflow facts the wire models read from real Jira webhooks (CareTrack, DealFlow,
RoadmapSmith): status category, assignee, dates, status transitions, epic link, "blocks" links."""

from __future__ import annotations

import copy

from agents.jira_fields import JiraFieldMap
from serve.routing import route
from serve.wire import to_agent_event
from tests.utils.payloads import JIRA, load

# The fixtures' site keeps Epic Link in customfield_10014 (the epic-link fixture's changelog
# names that fieldId); a site's ids come from field discovery (agents.jira_fields).
FIELDS = JiraFieldMap(epic_link=("customfield_10014",))


def snapshot(name: str, payload: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    event = to_agent_event("t", "e", "jira", "issue_updated", payload or load(JIRA / name),
                           FIELDS)
    assert event.issue is not None
    return event.issue


def test_created_issue_facts() -> None:
    s = snapshot("mattermost__webhook-cloud-issue-created-many-fields.json")
    assert s.status_category == "new" and s.assignee == "5cedcb4355a88a0fc86388ba"
    assert s.created == "2019-08-27T12:43:24.193-0700"
    assert s.status_changed_at == "2019-08-27T19:43:24+00:00"  # the changelog sets Status
    assert s.parent_key == "KT-17"  # the Epic Link custom field


def test_resolved_transition_uses_the_webhook_time() -> None:
    s = snapshot("mattermost__webhook-issue-updated-resolved.json")
    assert s.status == "Done" and s.status_category == "done"
    assert s.status_changed_at == "2019-02-16T03:15:40+00:00"


def test_blocks_and_depends_links_read_from_this_issues_side() -> None:
    payload = copy.deepcopy(load(JIRA / "mattermost__webhook-issue-updated-labels.json"))
    blocks = {"name": "Blocks", "inward": "is blocked by", "outward": "blocks"}
    depends = {"name": "Depends", "inward": "is depended on by", "outward": "depends on"}
    payload["issue"]["fields"]["issuelinks"] = [
        {"type": blocks, "outwardIssue": {"key": "TES-1"}},
        {"type": blocks, "inwardIssue": {"key": "TES-2"}},
        {"type": depends, "outwardIssue": {"key": "TES-3"}},
        {"type": {"name": "Relates", "inward": "relates to", "outward": "relates to"},
         "outwardIssue": {"key": "TES-4"}},
    ]
    s = snapshot("", payload)
    assert s.blocks == ["TES-1"] and s.blocked_by == ["TES-2", "TES-3"]


def test_non_epic_issue_events_go_to_caretrack_and_dealflow() -> None:
    payload = load(JIRA / "mattermost__webhook-issue-updated-labels.json")
    event = to_agent_event("t", "e", "jira", "issue_deleted", payload)
    assert route(event) == ["CareTrack", "DealFlow"]
