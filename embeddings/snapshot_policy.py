"""When a running reindex snapshots its tenant's shard.

A snapshot writes the whole shard, so snapshotting every N pages writes O(n²) bytes over a job:
at 2000 pages, every 50 pages meant 40 snapshots of a growing shard, some 20 times the final
shard's bytes sent to DynamoDB. Instead a snapshot is due ``interval_s`` after the last one
ended, or later if that keeps snapshots within ``max_share`` of the time: a snapshot that took
6 s with a 10% share puts the next one 54 s later. The job still snapshots once more at its end,
so what a crash can cost is bounded by time (the interval, or the larger gap a big shard needs),
not by bytes rewritten.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

DEFAULT_INTERVAL_S = 30.0
DEFAULT_MAX_SHARE = 0.1


@dataclass
class SnapshotPolicy:
    """Says when the next snapshot is due; ``snapshotted`` tells it one finished."""

    interval_s: float = DEFAULT_INTERVAL_S
    max_share: float = DEFAULT_MAX_SHARE
    clock: Callable[[], float] = time.monotonic
    _due_at: float = field(init=False)

    def __post_init__(self) -> None:
        if self.interval_s < 0:
            raise ValueError(f"interval_s must be at least 0, got {self.interval_s}")
        if not 0 < self.max_share <= 1:
            raise ValueError(f"max_share must be in (0, 1], got {self.max_share}")
        self._due_at = self.clock() + self.interval_s

    def due(self) -> bool:
        return self.clock() >= self._due_at

    def snapshotted(self, took_s: float) -> None:
        """A snapshot that took ``took_s`` just ended: the next is due after the interval, or
        after as long as keeps snapshotting at ``max_share`` of the time, whichever is later."""
        gap = max(self.interval_s, took_s * (1 - self.max_share) / self.max_share)
        self._due_at = self.clock() + gap
