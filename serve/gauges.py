"""The periodic gauges: each tenant's backlog and index size, set by the one Sweeper replica
(every orchestrator replica would read the same index and set the same values).

Every ``metrics_backlog_interval_s`` it reads the event log's sparse ``unfinished`` index once
(keys only) and each known tenant's shard manifest (one GetItem), and sets
``clinisight_backlog_events`` and ``clinisight_index_chunks`` (chunks in the tenant's latest
snapshot: the live shard is at most one snapshot interval ahead). A tenant whose backlog
emptied is set to 0, not left at its last value. Known tenants: those with an audit chain
(every tenant that was ever served: each delivery is audited) and those with a backlog.

It also makes each known tenant's reindex series exist at 0, so a dashboard and an alert see
"no reindex ran" rather than "no data" (the reindex job, a Ray task, adds to them).
"""

from __future__ import annotations

import metrics
from index.snapshot import SnapshotStore
from metrics.catalog import REINDEX_OUTCOMES
from store.factory import Stores


class TenantGauges:
    def __init__(self, stores: Stores, snapshots: SnapshotStore) -> None:
        self.stores = stores
        self.snapshots = snapshots
        self._zeroed: set[str] = set()

    async def update(self) -> None:
        backlog = await self.stores.events.backlog()
        tenants = set(await self.stores.anchors.tenants()) | set(backlog)
        for tenant in sorted(tenants):
            entry = backlog.get(tenant)
            metrics.set_gauge("clinisight_backlog_events", entry.events if entry else 0,
                              tenant=tenant)
            manifest = await self.snapshots.manifest(tenant)
            metrics.set_gauge("clinisight_index_chunks",
                              manifest.vector_count if manifest else 0, tenant=tenant)
            if tenant not in self._zeroed:
                self._zeroed.add(tenant)
                metrics.zero("clinisight_reindex_pages_total",
                             [{"tenant": tenant, "outcome": o} for o in REINDEX_OUTCOMES])
                metrics.zero("clinisight_reindex_pages_per_second", [{"tenant": tenant}])
