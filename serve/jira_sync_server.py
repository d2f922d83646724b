"""``JiraSync`` in the cluster: one replica, the agents reached by handle, the sweep on a
jittered loop.

Why a deployment of its own, one replica: a sweep wants one runner (as ``serve.sweeper``), and a
backfill of a large site runs for minutes, which must not sit in an ingress replica. Should two
replicas ever run (a restart overlapping), a sweep done twice changes nothing.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve.handle import DeploymentHandle

from config.settings import Settings
from serve.background import Periodic
from serve.jira_sync import JiraSync, handle_apply
from store.factory import open_stores

# The first pass soon after start rather than an interval later: it also reads each tenant's
# field ids, so webhooks of an API-token site are read with them from the first minutes on.
FIRST_SWEEP_S = 120.0
# Passes per interval: each pass sweeps the tenants whose own (jittered) time has come.
TICKS_PER_INTERVAL = 6


@serve.deployment(num_replicas=1, ray_actor_options={"num_cpus": 0.1}, max_ongoing_requests=20)
class JiraSyncServer:
    def __init__(self, settings: Settings, agents: dict[str, DeploymentHandle]) -> None:
        self.sync = JiraSync(settings, open_stores(settings), handle_apply(agents))
        tick = settings.jira_sync_interval_s / TICKS_PER_INTERVAL
        self.loop = Periodic("jira-sweep", self.sync.sweep_due, tick,
                             first_delay_s=min(FIRST_SWEEP_S, tick), jitter=0.1)
        self.loop.ensure()

    async def start_backfill(self, tenant: str, jql: str | None, forge_token: str | None,
                             resume: str | None) -> dict[str, Any]:
        self.loop.ensure()
        return await self.sync.start_backfill(tenant, jql, forge_token, resume)

    async def progress(self, tenant: str, job_id: str) -> dict[str, Any] | None:
        return await self.sync.progress(tenant, job_id)

    async def reconcile(self, tenant: str) -> dict[str, Any]:
        return await self.sync.reconcile(tenant)

    async def sweep(self) -> dict[str, Any]:
        return await self.sync.sweep()

    async def health(self) -> str:
        self.loop.ensure()
        return "ok"

    def check_health(self) -> None:
        self.loop.check()
