"""Fixtures for the edge runtime tests (helpers live in `edge_fixtures.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_fixtures import Collector, PersistentBroker


@pytest.fixture
def collector(mosquitto) -> Iterator[Collector]:  # type: ignore[no-untyped-def]
    sub = Collector(mosquitto.port)
    yield sub
    sub.close()


@pytest.fixture
def persistent_broker(tmp_path: Path) -> Iterator[PersistentBroker]:
    broker = PersistentBroker(tmp_path / "broker")
    broker.workdir.mkdir()
    broker.start()
    yield broker
    broker.stop()
