from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from tests.utils.stack import Stack


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One exported-model cache for every stack of the session (the ONNX export is slow)."""
    return str(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, models_dir: str) -> Iterator[Stack]:
    """One real stack (dynalite, Ray, Serve) for the HTTP tests; each test uses its own tenants."""
    # Export folders are made in each test's tmp_path: let the stack read under pytest's base.
    s = Stack(tmp_path_factory.mktemp("stack"), CLINISIGHT_MODEL_CACHE_DIR=models_dir,
              CLINISIGHT_EXPORT_ROOT=str(tmp_path_factory.getbasetemp()))
    started = time.monotonic()
    info = s.up()
    assert info["health"]["status"] == "ok", info
    s.startup_seconds = time.monotonic() - started
    yield s
    s.down()
    s.close()
