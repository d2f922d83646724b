"""The ingress SIGKILLed mid-batch under load: every delivery that got a 202 is in the event log
and is processed once the stack carries on; none that got a 202 is lost. The session's real stack
(dynalite, Ray, Serve; tests/serve/conftest.py), its Ingress replica found among the processes
that stack started and killed by pid; Serve restarts it, and the test waits until the restarted
replica acknowledges deliveries again, so the stack is whole for the tests after this one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from serve.auth import sign_jira_body
from serve.devkeys import jira_secret
from serve.stack import pid_file
from tests.utils.payloads import jira_epic
from tests.utils.stack import Stack

pytestmark = pytest.mark.stack


def ingress_pid(stack: Stack) -> int:
    """The Ingress replica among the descendants of this stack's supervisor (not another
    stack's on the same machine)."""
    supervisor = json.loads(pid_file(stack.settings).read_text())["pid"]
    rows = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True,
                          check=True).stdout.splitlines()
    parent: dict[int, int] = {}
    args: dict[int, str] = {}
    for row in rows:
        pid, ppid, cmd = (row.strip().split(None, 2) + [""])[:3]
        parent[int(pid)], args[int(pid)] = int(ppid), cmd
    for pid, cmd in args.items():
        if "ServeReplica:clinisight:Ingress" not in cmd:
            continue
        up = pid
        while up in parent and up not in (0, 1, supervisor):
            up = parent[up]
        if up == supervisor:
            return pid
    raise AssertionError("no Ingress replica under this stack's supervisor")


def test_every_acknowledged_delivery_survives_a_killed_ingress(stack: Stack) -> None:
    secret = jira_secret(stack.settings, "dev")
    acked: list[str] = []
    statuses: list[int | str] = []
    stop = threading.Event()
    lock = threading.Lock()
    counter = iter(range(1_000_000))

    def sender() -> None:
        with httpx.Client(base_url=stack.settings.http_url, timeout=10) as client:
            while not stop.is_set():
                with lock:
                    n = next(counter)
                body = json.dumps(jira_epic(key=f"KILL-{n}", summary=f"Crash epic {n}")).encode()
                try:
                    resp = client.post("/v1/jira/webhooks", params={"tenant": "dev"},
                                       content=body, headers={
                                           "x-hub-signature": sign_jira_body(body, secret),
                                           "x-atlassian-webhook-identifier": f"kill-{n}"})
                except httpx.HTTPError as exc:  # the killed process's connections
                    with lock:
                        statuses.append(type(exc).__name__)
                    continue
                with lock:
                    statuses.append(resp.status_code)
                    if resp.status_code == 202:
                        acked.append(resp.json()["eventId"])

    try:
        with ThreadPoolExecutor(8) as pool:
            for _ in range(8):
                pool.submit(sender)
            deadline = time.monotonic() + 30
            while len(acked) < 40 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(acked) >= 40, statuses[-5:]
            victim = ingress_pid(stack)
            os.kill(victim, signal.SIGKILL)  # mid-batch: eight senders have requests in flight
            killed_at = len(statuses)
            deadline = time.monotonic() + 120
            # Carry on until the restarted ingress has acknowledged deliveries again.
            while time.monotonic() < deadline:
                with lock:
                    later = [s for s in statuses[killed_at:] if s == 202]
                if len(later) >= 20:
                    break
                time.sleep(0.1)
            stop.set()
        assert any(s != 202 for s in statuses[killed_at:]), "the kill was not felt"
        assert ingress_pid(stack) != victim
        assert len(set(acked)) == len(acked)
        for event_id in acked:  # every acknowledged delivery: recorded, then processed
            assert stack.wait_final(event_id, timeout=300)["status"] == "done", event_id
        proposals = stack.state("TaskSmith")["data"]["proposals"]
        # This test's epics (the shared stack's tenant `dev` holds other tests' too).
        keys = [p["epicKey"] for p in proposals if p["epicKey"].startswith("KILL-")]
        assert len(keys) == len(set(keys)), "an event was processed twice"
    finally:
        stop.set()
