from collections.abc import Iterator

import pytest

from .confluence_server import FakeConfluence, load_fixture_pages


@pytest.fixture
def confluence() -> Iterator[FakeConfluence]:
    """A fresh Confluence double over the fixture pages, on loopback, for one test."""
    server = FakeConfluence(load_fixture_pages()).start()
    try:
        yield server
    finally:
        server.stop()


class Sleeps(list[float]):
    """Stands in for asyncio.sleep: records the delays and returns at once."""

    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
