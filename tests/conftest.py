from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings
from store.dynamo import ensure_tables, make_client
from store.factory import Stores, open_stores
from tests.utils.servers import Dynalite


@pytest.fixture(scope="session")
def dynalite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dynalite]:
    """One DynamoDB API server for the session; every test gets fresh tables (own stage)."""
    server = Dynalite(tmp_path_factory.mktemp("dynalite"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def settings(dynalite: Dynalite, tmp_path: Path) -> Settings:
    s = Settings(
        _env_file=None,
        stage=f"t{uuid.uuid4().hex[:10]}",
        dynamodb_endpoint=dynalite.url,
        data_dir=tmp_path / "data",
        anthropic_api_key=None,
        sentry_dsn=None,
    )
    ensure_tables(make_client(s), s)
    return s


@pytest.fixture
def stores(settings: Settings) -> Stores:
    return open_stores(settings)
