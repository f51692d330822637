"""Shared fixtures: a real mosquitto broker per test, on a free loopback port."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from impetus.aggregator.mosquitto import MosquittoProcess, free_port, wait_for_port

__all__ = ["Mosquitto", "free_port", "wait_for_port"]

Mosquitto = MosquittoProcess


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A real mosquitto that a test can `stop()` and `start()` again on the same port (outages)."""
    if shutil.which("mosquitto") is None:
        pytest.fail("mosquitto is not installed: run `apt-get install -y mosquitto mosquitto-clients`")
    broker = MosquittoProcess(workdir=tmp_path / "mosquitto")
    broker.start()
    yield broker
    broker.stop()
