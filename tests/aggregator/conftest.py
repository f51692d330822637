"""Fixtures for the aggregator: real brokers, real SQLite files, events built by the contract."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from impetus.aggregator.broker import EmbeddedBroker, parse_broker_url
from impetus.aggregator.ingest import Ingest
from impetus.aggregator.store import EventStore
from impetus.protocol import ClockQuality, EnvelopeBase, PrivacyStamp, make_event

SITE = "square"
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

PAYLOADS: dict[str, dict[str, Any]] = {
    "tamper": {"kind": "covered", "score": 0.9},
    "gunshot": {
        "onset_ts": "2025-06-01T12:00:00.000100Z",
        "peak_dbfs": -3.0,
        "duration_ms": 4.0,
        "score": 0.97,
    },
    "crowd": {"count": 120, "area_m2": 100.0, "density": 1.2, "level_of_service": "C"},
    "health": {"uptime_s": 60.0, "outbox_backlog": 0},
    "status": {"state": "online", "agent_version": "0.1.0"},
}


def build_event(
    event_type: str = "tamper",
    *,
    device_id: str = "cam-01",
    seq: int = 0,
    ts: datetime | None = None,
    test: bool = False,
    payload: dict[str, Any] | None = None,
) -> EnvelopeBase:
    return make_event(
        event_type,
        device_id=device_id,
        site=SITE,
        seq=seq,
        payload=payload if payload is not None else PAYLOADS[event_type],
        ts=ts if ts is not None else T0 + timedelta(seconds=seq),
        clock=ClockQuality(source="ntp", offset_ms=0.4),
        privacy=PrivacyStamp(policy_id="default", policy_version=1),
        test=test,
    )


def wait_until(condition: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        time.sleep(0.02)


def connect_client(broker_url: str, client_id: str, **will: Any) -> mqtt.Client:
    """A device-side paho client with its network loop running; `will` goes to `will_set`."""
    host, port = parse_broker_url(broker_url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id)
    if will:
        client.will_set(**will)
    client.connect(host, port)
    client.loop_start()
    return client


@pytest.fixture
def new_event() -> Callable[..., EnvelopeBase]:
    """`new_event("gunshot", device_id=..., seq=...)`: a valid event, as a device would send it."""
    return build_event


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., None]:
    return wait_until


@pytest.fixture
def device_client() -> Iterator[Callable[..., mqtt.Client]]:
    """`device_client(url, client_id, **will)`: a connected device-side client, closed afterwards."""
    clients: list[mqtt.Client] = []

    def connect(broker_url: str, client_id: str, **will: Any) -> mqtt.Client:
        client = connect_client(broker_url, client_id, **will)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.disconnect()  # first: it wakes the network thread, which loop_stop then joins
        client.loop_stop()


@pytest.fixture
def embedded_broker() -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker()
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture(params=["mosquitto", "embedded"])
def any_broker_url(request: pytest.FixtureRequest) -> str:
    """The same behaviour is expected of an external mosquitto and of the embedded broker."""
    if request.param == "mosquitto":
        return request.getfixturevalue("mosquitto").url
    return request.getfixturevalue("embedded_broker").url


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    opened = EventStore(tmp_path / "aggregator.db")
    yield opened
    opened.close()


@pytest.fixture
def start_ingest(store: EventStore) -> Iterator[Callable[[str], Ingest]]:
    started: list[Ingest] = []

    def start(broker_url: str) -> Ingest:
        ingest = Ingest(store, broker_url, client_id=f"aggregator-test-{len(started)}")
        ingest.start()
        started.append(ingest)
        return ingest

    yield start
    for ingest in started:
        ingest.stop()
