"""Backfill and reconciliation against a local Jira site, the agents in-process on dynalite.

The agents' state after a backfill is compared with their state after the same issues arrived
one by one as webhooks: the same mirrors, findings, plan and roadmap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from agents.caretrack import CareTrack
from agents.dealflow import DealFlow
from agents.dealflow_models import DealFlowIn, MemberIn
from agents.jira_client import JiraClient, JiraCredentials
from agents.jira_fields import discover
from agents.roadmapsmith import RoadmapSmith
from agents.roadmapsmith_models import CapacityIn, RoadmapIn
from config.settings import Settings
from serve.jira_backfill import SyncJobs, new_job, run_sync
from serve.jira_sync import SYNC_AGENTS, JiraSync, in_process_apply
from serve.routing import route
from serve.wire import to_agent_event
from store.factory import Stores
from tests.agents.jira_server import STATUSES, FieldIds, JiraSite, LocalJira, field_list
from tests.utils.http import ScriptedServer

IDS = FieldIds(story_points="customfield_10028", epic_link="customfield_10008",
               sprint="customfield_10104", start_date="customfield_10300",
               team="customfield_10777", classic_points="customfield_10200")


@pytest.fixture
def jira() -> Iterator[tuple[LocalJira, ScriptedServer]]:
    local = LocalJira(JiraSite(60, IDS))
    with local.server() as server:
        yield local, server


def api_settings(settings: Settings, url: str, **more: Any) -> Settings:
    return settings.model_copy(update={"jira_base_url": url, "jira_email": "bot@clinic.org",
                                       "jira_api_token": SecretStr("t0ken"), "jira_max_retries": 2,
                                       **more})


async def seed(stores: Stores, settings: Settings, tenant: str) -> None:
    """A roster and a capacity, so DealFlow and RoadmapSmith plan on every change."""
    await DealFlow(stores.state).run(tenant, DealFlowIn(
        backlog=[], roster=[MemberIn(id="ana", capacity=20, skills=["backend"]),
                            MemberIn(id="raj", capacity=12)]))
    await RoadmapSmith(stores.state).run(tenant, RoadmapIn(
        epics=[], capacity=CapacityIn(teams=2, points_per_week=10)))


async def send_as_events(stores: Stores, settings: Settings, tenant: str,
                         site: JiraSite) -> None:
    """Every issue as its own ``jira:issue_created`` webhook, through the agents one by one."""
    fields = discover(field_list(site.ids))
    agents = {a.name: a for a in (CareTrack(stores.state), DealFlow(stores.state),
                                  RoadmapSmith(stores.state))}
    for i in range(site.n):
        payload = {"webhookEvent": "jira:issue_created", "timestamp": int(time.time() * 1000),
                   "issue": site.issue(i)}
        event = to_agent_event(tenant, f"wh-{i}", "jira", "issue_created", payload, fields)
        for name in route(event):
            if name in agents:
                await agents[name].handle_event(event)


async def state(stores: Stores, tenant: str) -> dict[str, dict[str, Any]]:
    out = {}
    for name in SYNC_AGENTS:
        rec = await stores.state.get(tenant, name)
        out[name] = rec.data if rec else {}
    return out


def findings(data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {fid: (f["rule"], f["severity"]) for fid, f in data.get("findings", {}).items()
            if f["status"] == "open"}


async def backfill(settings: Settings, stores: Stores, url: str, tenant: str,
                   **kw: Any) -> Any:
    s = api_settings(settings, url)
    progress = new_job(tenant, s.jira_backfill_jql)
    creds = JiraCredentials.api_token(url, "bot@clinic.org", "t0ken")
    async with JiraClient(creds, max_retries=2, backoff_s=0.01) as client:
        fields = discover(await client.fields())
        return await run_sync(progress, jira=client, fields=fields,
                              apply=in_process_apply(s, stores), jobs=SyncJobs(stores.state),
                              **{"page_size": 7, "batch_size": 20, **kw})


async def test_backfill_leaves_the_agents_as_the_same_issues_sent_as_events(
        settings: Settings, stores: Stores, jira: tuple[LocalJira, ScriptedServer]) -> None:
    local, server = jira
    for tenant in ("by-events", "by-backfill"):
        await seed(stores, settings, tenant)
    await send_as_events(stores, settings, "by-events", local.site)
    done = await backfill(settings, stores, server.url, "by-backfill")
    assert done.status == "succeeded", done.error
    # The default JQL takes open issues and those changed in 90 days: every one of these.
    assert done.applied == done.seen == 60 and done.failed == 0 and done.cursor is None
    assert done.pages == 9 and done.batches == 3  # 7 a page; the agents take 21, 21, 18

    events, filled = await state(stores, "by-events"), await state(stores, "by-backfill")
    assert filled["CareTrack"]["issues"] == events["CareTrack"]["issues"]
    assert len(filled["CareTrack"]["issues"]) == 60
    assert findings(filled["CareTrack"]) == findings(events["CareTrack"])
    assert {rule for rule, _ in findings(filled["CareTrack"]).values()} >= {
        "phi_without_review", "unassigned_high_priority"}
    assert filled["DealFlow"]["backlog"] == events["DealFlow"]["backlog"]
    plan, plan_ev = filled["DealFlow"]["plan"], events["DealFlow"]["plan"]
    assert plan["assignments"] == plan_ev["assignments"] and plan["assignments"]
    assert plan["unplaced"] == plan_ev["unplaced"]
    assert filled["RoadmapSmith"]["epics"] == events["RoadmapSmith"]["epics"]
    road, road_ev = filled["RoadmapSmith"]["roadmap"], events["RoadmapSmith"]["roadmap"]
    assert [e["key"] for e in road["epics"]] == [e["key"] for e in road_ev["epics"]]
    assert road["criticalPath"] == road_ev["criticalPath"] and len(road["criticalPath"]) > 1

    # What the site's own field ids carried arrived: points, epic link (CM), parent (TM).
    mirror = filled["CareTrack"]["issues"]
    assert mirror["CM-2"]["parentKey"] == "CM-1" and mirror["TM-2"]["parentKey"] == "TM-1"
    assert mirror["CM-9"]["parentKey"] == "CM-6"  # a sub-task names its story
    backlog = filled["DealFlow"]["backlog"]
    assert any(item["estimate"] == 5.0 for item in backlog.values())
    assert all(not k.endswith(("-1", "-11", "-21")) for k in backlog)  # epics are not backlog
    assert {"CM-1", "TM-1"} <= set(filled["RoadmapSmith"]["epics"])
    assert "TaskSmith" not in {r.agent for r in await stores.state.list("by-backfill")}


async def test_throttling_and_a_failure_mid_way_resume_without_loss_or_duplicates(
        settings: Settings, stores: Stores, jira: tuple[LocalJira, ScriptedServer]) -> None:
    local, server = jira
    local.throttle_every = 3  # every third search: 429 with Retry-After
    local.near_limit_every = 4
    local.fail_pages = {5: [500, 502, 503]}  # page 5 fails past the client's 2 retries
    first = await backfill(settings, stores, server.url, "acme", batch_size=14)
    assert first.status == "failed" and "Jira answered 5" in (first.error or "")
    assert first.throttled > 0  # 429s were waited out, not failures
    # The agents took two batches of 14 (pages 0-3); pages 4 and 5 were not applied.
    assert first.applied == 28 and first.cursor is not None
    mirror = (await state(stores, "acme"))["CareTrack"]["issues"]
    assert len(mirror) == 28

    served_before = list(local.pages_served)
    jobs = SyncJobs(stores.state)
    saved = await jobs.get("acme", first.job_id)
    assert saved is not None and saved.cursor == first.cursor and saved.status == "failed"
    creds = JiraCredentials.api_token(server.url, "bot@clinic.org", "t0ken")
    async with JiraClient(creds, max_retries=2, backoff_s=0.01) as client:
        done = await run_sync(saved, jira=client, fields=discover(await client.fields()),
                              apply=in_process_apply(settings, stores), jobs=jobs,
                              page_size=7, batch_size=14)
    assert done.status == "succeeded", done.error
    assert done.applied == 60 and done.seen == 60 and done.job_id == first.job_id
    resumed = local.pages_served[len(served_before):]
    assert min(resumed) == 4  # from the first page not applied, none before it again
    assert sorted(set(resumed)) == list(range(4, 9))
    assert len((await state(stores, "acme"))["CareTrack"]["issues"]) == 60


async def test_a_dropped_event_is_repaired_by_the_next_sweep(
        settings: Settings, stores: Stores, jira: tuple[LocalJira, ScriptedServer]) -> None:
    local, server = jira
    s = api_settings(settings, server.url, jira_page_size=10, jira_sync_overlap_s=300)
    sync = JiraSync(s, stores, in_process_apply(s, stores))
    started = await sync.start_backfill("acme")
    await sync.wait(started["jobId"])
    finished = await sync.progress("acme", started["jobId"])
    assert finished is not None and finished["status"] == "succeeded"
    before = await state(stores, "acme")
    assert before["CareTrack"]["issues"]["CM-3"]["statusCategory"] != "done"

    # CM-3 is resolved in Jira; the webhook never arrives. TM-4 gets an assignee, also unsent.
    local.site.touch("CM-3", status=STATUSES[2])
    local.site.touch("TM-4", assignee={"accountId": "acc-77", "displayName": "Kim"})
    swept = await sync.reconcile("acme")
    assert swept["status"] == "succeeded" and swept["applied"] == 2, swept
    assert swept["windowMinutes"] >= 5  # since the backfill began, plus the overlap
    after = await state(stores, "acme")
    assert after["CareTrack"]["issues"]["CM-3"]["statusCategory"] == "done"
    assert after["CareTrack"]["issues"]["TM-4"]["assignee"] == "acc-77"
    assert "TM-4" not in after["DealFlow"]["backlog"]  # assigned now: not DealFlow's to place

    # The next sweep overlaps the last one: it reads the same issues again, changing nothing.
    again = await sync.reconcile("acme")
    assert again["status"] == "succeeded" and again["applied"] == 2
    final = await state(stores, "acme")
    assert final["CareTrack"]["issues"] == after["CareTrack"]["issues"]
    assert findings(final["CareTrack"]) == findings(after["CareTrack"])
    assert (await sync.sweep())["acme"]["status"] == "succeeded"  # every tenant, now
    # The loop's pass takes only tenants whose own jittered time has come: not acme, just swept.
    last = await SyncJobs(stores.state).last_sweep("acme")
    assert 3240 <= last["nextSweepAt"] - last["sweepStartedAt"] <= 3960  # an hour ± 10%
    assert await sync.sweep_due() == {}


async def test_sweep_skips_a_tenant_without_credentials(settings: Settings,
                                                        stores: Stores) -> None:
    sync = JiraSync(settings, stores, in_process_apply(settings, stores))
    assert await sync.reconcile("acme") == {"tenant": "acme", "status": "skipped",
                                            "reason": "no Jira credentials"}


async def test_an_issue_jira_sends_malformed_is_reported_by_key(
        settings: Settings, stores: Stores, jira: tuple[LocalJira, ScriptedServer]) -> None:
    local, server = jira
    local.site.touch("CM-4", summary=None)  # Jira never does this; a proxy in between might
    done = await backfill(settings, stores, server.url, "acme")
    assert done.status == "succeeded" and done.failed == 1 and done.applied == 59
    assert done.failures[0]["key"] == "CM-4" and "summary" in done.failures[0]["reason"]
