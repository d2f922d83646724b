"""When a running reindex snapshots: after the interval, later when snapshots grow costly."""

from __future__ import annotations

import pytest

from embeddings.snapshot_policy import SnapshotPolicy


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_due_once_the_interval_has_passed_since_the_start_then_since_the_last() -> None:
    clock = Clock()
    policy = SnapshotPolicy(interval_s=30, clock=clock)
    clock.now += 29.9
    assert not policy.due()
    clock.now += 0.1
    assert policy.due()
    policy.snapshotted(took_s=1.0)  # cheap: the interval rules
    clock.now += 29.9
    assert not policy.due()
    clock.now += 0.1
    assert policy.due()


def test_a_costly_snapshot_pushes_the_next_one_out_to_keep_its_share() -> None:
    clock = Clock()
    policy = SnapshotPolicy(interval_s=30, max_share=0.1, clock=clock)
    policy.snapshotted(took_s=6.0)  # 6 s at 10% of the time: the next in 54 s, not 30
    clock.now += 53.9
    assert not policy.due()
    clock.now += 0.1
    assert policy.due()


def test_interval_zero_snapshots_after_every_write() -> None:
    clock = Clock()
    policy = SnapshotPolicy(interval_s=0, max_share=1.0, clock=clock)
    assert policy.due()
    policy.snapshotted(took_s=5.0)
    assert policy.due()


@pytest.mark.parametrize(("interval_s", "max_share"), [(-1.0, 0.1), (30.0, 0.0), (30.0, 1.5)])
def test_bad_settings_are_refused(interval_s: float, max_share: float) -> None:
    with pytest.raises(ValueError, match="interval_s|max_share"):
        SnapshotPolicy(interval_s=interval_s, max_share=max_share)
