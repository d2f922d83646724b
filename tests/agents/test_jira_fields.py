"""Field discovery from ``/rest/api/3/field``: by type, then by name, never by a fixed id."""

from __future__ import annotations

import pytest

from agents.jira_fields import FieldCache, JiraFieldMap, discover
from config.settings import Settings
from serve.wire import to_agent_event
from store.factory import Stores
from tests.agents.jira_server import FieldIds, JiraSite, field_list
from tests.utils.payloads import JIRA, load


def test_roles_found_by_schema_type_whatever_the_ids() -> None:
    ids = FieldIds(story_points="customfield_10028", epic_link="customfield_10008",
                   sprint="customfield_10104", start_date="customfield_10300",
                   team="customfield_10777")
    found = discover(field_list(ids))
    assert found.story_points == ("customfield_10028",)
    assert found.epic_link == ("customfield_10008",)
    assert found.sprint == ("customfield_10104",)
    assert found.start_date == ("customfield_10300",)
    assert found.team == ("customfield_10777",)
    assert found.due_date == ("duedate",)
    assert "customfield_10019" not in found.custom_ids()  # Rank: not a role


def test_plugin_type_first_then_a_hand_made_field_by_name() -> None:
    found = discover(field_list(FieldIds(classic_points="customfield_10200")))
    assert found.story_points == ("customfield_10016", "customfield_10200")
    # Only a hand-made number field called "Story Points": found by its name.
    hand_made = [{"id": "customfield_12345", "name": "Story Points", "custom": True,
                  "schema": {"type": "number",
                             "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float",
                             "customId": 12345}},
                 {"id": "customfield_999", "name": "Story Points", "custom": True,
                  "schema": {"type": "string", "custom": "x:textfield"}}]
    assert discover(hand_made).story_points == ("customfield_12345",)  # the text one is not
    assert discover([]).story_points == () and discover([]).due_date == ()


def test_overrides_put_the_named_field_first() -> None:
    found = discover(field_list(FieldIds())).with_overrides({"storyPoints": "customfield_77"})
    assert found.story_points == ("customfield_77", "customfield_10016")
    with pytest.raises(ValueError, match="unknown Jira field role 'points'"):
        JiraFieldMap().with_overrides({"points": "customfield_1"})


def test_settings_refuse_a_bad_override(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="unknown role 'points'"):
        Settings(_env_file=None, jira_fields={"acme": {"points": "customfield_1"}})
    with pytest.raises(ValueError, match="is not a field id"):
        Settings(_env_file=None, jira_fields={"acme": {"storyPoints": "drop table"}})


def test_other_ids_are_read_right_and_no_fixed_id_is_assumed() -> None:
    ids = FieldIds(story_points="customfield_10028", epic_link="customfield_10008",
                   sprint="customfield_10104", start_date="customfield_10300",
                   team="customfield_10777")
    site = JiraSite(20, ids)
    fields = discover(field_list(ids))
    story = site.issue(2)  # a CM story under epic CM-1, 5 points
    payload = {"webhookEvent": "jira:issue_updated", "issue": story}
    snap = to_agent_event("t", "e", "jira", "issue_updated", payload, fields).issue
    assert snap is not None
    assert snap.story_points == 5.0 and snap.parent_key == "CM-1"
    assert snap.sprint == "CM Sprint 7" and snap.team is None
    epic = to_agent_event("t", "e", "jira", "issue_updated",
                          {"webhookEvent": "jira:issue_updated", "issue": site.issue(0)},
                          fields).issue
    assert epic is not None and epic.start_date == site.created(0).date().isoformat()
    # The same payload with Jira Cloud's usual ids would be misread with them: not assumed.
    blind = to_agent_event("t", "e", "jira", "issue_updated", payload).issue
    assert blind is not None and blind.story_points is None and blind.parent_key is None


def test_real_webhook_epic_link_read_through_the_sites_map() -> None:
    payload = load(JIRA / "mattermost__webhook-issue-updated-epic-link.json")
    fields = discover(field_list(FieldIds(epic_link="customfield_10014")))
    snap = to_agent_event("t", "e", "jira", "issue_updated", payload, fields).issue
    assert snap is not None and snap.parent_key == "TES-12"


async def test_cache_keeps_the_map_per_tenant_and_knows_when_it_is_stale(
        stores: Stores) -> None:
    cache = FieldCache(stores.state, {"acme": {"storyPoints": "customfield_5"}},
                       refresh_s=60)
    assert await cache.get("other") is None and cache.stale(None)
    fresh = discover(field_list(FieldIds()))
    await cache.put("acme", fresh)
    got = await cache.get("acme")
    assert got is not None and got.story_points == ("customfield_5", "customfield_10016")
    assert not cache.stale(got)
    old = discover(field_list(FieldIds()), now=0.0)
    assert cache.stale(old)
    assert await cache.get("other") is None  # one tenant's map is not another's
