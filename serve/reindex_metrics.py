"""A running reindex's metrics: pages by outcome, and its pages per second.

``ReindexRates.update`` is the job's ``on_progress`` hook (``embeddings.reindex``): it adds
what the progress counts moved since the last call to ``clinisight_reindex_pages_total`` and
sets ``clinisight_reindex_pages_per_second`` to the job's pages done (embedded, skipped,
failed) over its wall time so far; ``finish`` adds the rest and sets the rate back to 0.
"""

from __future__ import annotations

import time

import metrics
from embeddings.jobs import ReindexProgress
from metrics.catalog import REINDEX_OUTCOMES


class ReindexRates:
    def __init__(self, progress: ReindexProgress) -> None:
        self.progress = progress
        self.tenant = progress.tenant
        self.started = time.monotonic()
        self.counted = dict.fromkeys(REINDEX_OUTCOMES, 0)
        metrics.zero("clinisight_reindex_pages_total",
                     [{"tenant": self.tenant, "outcome": o} for o in REINDEX_OUTCOMES])
        metrics.set_gauge("clinisight_reindex_pages_per_second", 0.0, tenant=self.tenant)

    def _count(self, progress: ReindexProgress) -> int:
        done = 0
        for outcome in REINDEX_OUTCOMES:
            now = int(getattr(progress, outcome))
            metrics.inc("clinisight_reindex_pages_total", now - self.counted[outcome],
                        tenant=self.tenant, outcome=outcome)
            self.counted[outcome] = now
            done += now if outcome != "removed" else 0
        return done

    async def update(self, progress: ReindexProgress) -> None:
        done = self._count(progress)
        elapsed = time.monotonic() - self.started
        if elapsed > 0:
            metrics.set_gauge("clinisight_reindex_pages_per_second", done / elapsed,
                              tenant=self.tenant)

    def finish(self) -> None:
        self._count(self.progress)
        metrics.set_gauge("clinisight_reindex_pages_per_second", 0.0, tenant=self.tenant)
