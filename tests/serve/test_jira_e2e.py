"""The Jira backfill through the real stack (dynalite, Ray, Serve) and the CLI, as a user runs
it: ``clinisight jira backfill`` → ingress → the ``JiraSync`` deployment → the agents'
deployments (``handle_events``), reading a local Jira site with an API token."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agents.jira_server import FieldIds, JiraSite, LocalJira
from tests.utils.stack import Stack


@pytest.fixture(scope="module")
def jira_stack(tmp_path_factory: pytest.TempPathFactory,
               models_dir: str) -> Iterator[tuple[Stack, LocalJira]]:
    basic = base64.b64encode(b"bot@clinic.org:t0ken").decode()
    # The site has Jira Software's points field and a hand-made "Story Points" one, which the
    # tenant's override names: discovery alone would read Jira Software's first.
    site = JiraSite(40, ids=FieldIds(story_points="customfield_10028",
                                     classic_points="customfield_10016"))
    local = LocalJira(site, throttle_every=2, expected_auth=f"Basic {basic}")
    with local.server() as server:
        s = Stack(Path(tmp_path_factory.mktemp("jira-stack")),
                  CLINISIGHT_MODEL_CACHE_DIR=models_dir,
                  CLINISIGHT_JIRA_BASE_URL=server.url, CLINISIGHT_JIRA_EMAIL="bot@clinic.org",
                  CLINISIGHT_JIRA_API_TOKEN="t0ken", CLINISIGHT_JIRA_PAGE_SIZE="15",
                  CLINISIGHT_JIRA_APPLY_BATCH="20", CLINISIGHT_JIRA_SYNC_INTERVAL_S="4",
                  CLINISIGHT_JIRA_FIELDS='{"dev": {"storyPoints": "customfield_10016"}}')
        info = s.up()
        assert info["health"]["status"] == "ok", info
        try:
            yield s, local
        finally:
            s.down()
            s.close()


def test_cli_backfill_fills_the_agents_through_their_deployments(
        jira_stack: tuple[Stack, LocalJira]) -> None:
    stack, local = jira_stack
    code, out = stack.cli("jira", "backfill", "--tenant", "dev", "--quiet")
    assert code == 0, out
    assert out["status"] == "succeeded" and out["applied"] == 40 and out["failed"] == 0
    assert out["pages"] == 3 and out["throttled"] >= 1  # 429s waited out
    assert out["fields"]["storyPoints"] == ["customfield_10016", "customfield_10028"]
    care = stack.state("CareTrack", "dev")["data"]
    assert len(care["issues"]) == 40 and care["issues"]["TM-2"]["parentKey"] == "TM-1"
    assert stack.state("RoadmapSmith", "dev")["data"]["epics"]["CM-11"]["estimate"] == 1.0
    backlog = stack.state("DealFlow", "dev")["data"]["backlog"]
    assert backlog and all(not key.endswith("-1") for key in backlog)

    # A webhook now is read through the map the backfill discovered (the orchestrator's).
    issue = local.site.issue(local.site.index("CM-3"))
    issue["fields"]["customfield_10016"] = 13.0  # the override's field
    issue["fields"]["customfield_10028"] = 5.0  # what discovery alone would have read
    sent = stack.post_jira({"webhookEvent": "jira:issue_updated", "timestamp": 1,
                            "issue": issue}, tenant="dev")
    assert sent.status_code == 202, sent.text
    assert stack.wait_final(sent.json()["eventId"], "dev")["status"] == "done"
    backlog = stack.state("DealFlow", "dev")["data"]["backlog"]
    assert backlog["CM-3"]["estimate"] == 13.0

    # A changed issue whose webhook was lost: the tenant's sweep, run now, repairs it.
    local.site.touch("CM-5", status={"name": "Done", "id": "10001",
                                     "statusCategory": {"key": "done", "name": "Done"}})
    swept = stack.client.post("/v1/tenants/dev/jira/reconcile",
                              headers=stack.bearer("dev"))
    assert swept.status_code == 200 and swept.json()["applied"] == 1, swept.text
    assert stack.state("CareTrack", "dev")["data"]["issues"]["CM-5"][
        "statusCategory"] == "done"


def test_the_periodic_sweep_repairs_without_being_asked(
        jira_stack: tuple[Stack, LocalJira]) -> None:
    stack, local = jira_stack
    code, out = stack.cli("jira", "backfill", "--tenant", "dev", "--quiet")
    assert code == 0, out
    local.site.touch("TM-7", labels=["phi", "compliance-reviewed"])  # its webhook is lost
    deadline = time.monotonic() + 60  # the stack sweeps every 4 s (±10%)
    while time.monotonic() < deadline:
        labels = stack.state("CareTrack", "dev")["data"]["issues"]["TM-7"]["labels"]
        if "compliance-reviewed" in labels:
            return
        time.sleep(0.5)
    raise AssertionError("the sweep loop never applied TM-7's change")


def test_cli_backfill_errors_print_json(jira_stack: tuple[Stack, LocalJira]) -> None:
    stack, _ = jira_stack
    code, out = stack.cli("jira", "backfill", "--tenant", "dev", "--jql", "summary ~ x",
                          "--quiet")
    assert code == 1 and out["status"] == "failed" and "JQL" in out["error"]
    code, out = stack.cli("jira", "backfill", "--tenant", "dev", "--resume", "nope")
    assert code == 1 and out["httpStatus"] == 422
