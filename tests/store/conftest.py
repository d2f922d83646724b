"""Fixtures that give a store suite every implementation of one interface."""

from __future__ import annotations

import pytest

from store.events import EventLog, InMemoryEventLog
from store.factory import Stores


@pytest.fixture(params=["memory", "dynamodb"])
def events(request: pytest.FixtureRequest) -> EventLog:
    """A fresh event log: the twin, or the DynamoDB log on dynalite."""
    if request.param == "memory":
        return InMemoryEventLog()
    stores: Stores = request.getfixturevalue("stores")
    return stores.events
