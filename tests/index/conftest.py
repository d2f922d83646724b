from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from config.settings import Settings
from index.snapshot import SnapshotStore
from store.dynamo import DynamoTable, make_client


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="dynamodb")
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture
def table(settings: Settings, pool: ThreadPoolExecutor) -> DynamoTable:
    """This test's own ``ClinisightEmbeddings-<stage>`` table on the dynalite server."""
    return DynamoTable(make_client(settings), settings.table("Embeddings"), pool)


@pytest.fixture
def snapshots(table: DynamoTable) -> SnapshotStore:
    # Small parts, so even a test-sized shard spans several items.
    return SnapshotStore(table, part_bytes=64_000)
