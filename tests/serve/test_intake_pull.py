"""``dispatch_on_accept`` off: the ingress records and acknowledges, and leaves every accepted
event unfinished in the event log for the orchestrator's re-drive to pull. Nothing accepted is
dropped for want of a push (the intake benchmark and its plain-uvicorn ceiling run this way)."""

from __future__ import annotations

import json

from config.settings import Settings
from serve.auth import sign_jira_body
from tests.utils.fit import TestKey
from tests.utils.ingress import InProcessIngress
from tests.utils.payloads import jira_epic


async def test_accepted_events_wait_in_the_log_for_re_drive(settings: Settings) -> None:
    s = settings.model_copy(update={"dispatch_on_accept": False, "rate_limit_per_s": 0.0})
    ingress = InProcessIngress(s, TestKey(), jira_secrets={"acme": "s3cret"})
    try:
        ids = []
        for n in range(5):
            body = json.dumps(jira_epic(key=f"CARE-{n}")).encode()
            resp = await ingress.client.post(
                "/v1/jira/webhooks", params={"tenant": "acme"}, content=body,
                headers={"x-hub-signature": sign_jira_body(body, "s3cret"),
                         "x-atlassian-webhook-identifier": f"pull-{n}"})
            assert resp.status_code == 202, resp.text
            assert resp.json()["status"] == "accepted"
            ids.append(resp.json()["eventId"])
        assert sorted(await ingress.drain()) == sorted(("acme", i) for i in ids)
        for event_id in ids:
            record = await ingress.stores.events.get("acme", event_id)
            assert record is not None and record.status.value == "accepted"
        unfinished = await ingress.stores.events.list_unfinished()
        assert sorted(i for t, i in unfinished if t == "acme") == sorted(ids)
    finally:
        await ingress.aclose()
