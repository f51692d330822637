"""Fixtures for the edge runtime tests (helpers live in `edge_fixtures.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from edge_fixtures import Collector, DarkDetector, PersistentBroker

from impetus.edge_agent.plugins import detectors


@pytest.fixture(autouse=True)
def dark_plugin() -> Iterator[None]:
    """The `dark` test detector is installed for these tests only."""
    installed = detectors()
    installed["dark"] = DarkDetector
    yield
    installed.pop("dark", None)


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
