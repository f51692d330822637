"""An aggregator restarted mid-incident carries on where it stopped: new events join the open
alerts (no duplicates), corroboration counts each device once, and the escalation and inhibition
windows that began before the restart still run. Real restarts of the assembled service, on
mosquitto and one SQLite file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from six_microphones import T0
from soc_events import SITE, event, piazza

from impetus.aggregator.service import AggregatorService
from impetus.aggregator.soc import SocConfig
from impetus.protocol import EnvelopeBase, topic_for


def crowd_at(device: str, at: datetime, level: str, confidence: float, seq: int) -> EnvelopeBase:
    payload = {"count": 300, "area_m2": 100.0, "density": 3.0, "level_of_service": level}
    return event("crowd", device, at, payload, zone="east", seq=seq, confidence=confidence)


@pytest.fixture
def aggregator(tmp_path: Path, mosquitto) -> Callable[[], Any]:
    """`with aggregator() as service:` one run of the aggregator on the same database file."""

    @contextmanager
    def run() -> Iterator[AggregatorService]:
        operator = SocConfig(site=piazza(), admin_key="imp_restart-test-key")
        with AggregatorService(
            mosquitto.url, tmp_path / "aggregator.db", "127.0.0.1:0", operator=operator
        ) as s:
            yield s

    return run


def publish(service: AggregatorService, device_client, events: list[EnvelopeBase]) -> None:
    client = device_client(service.broker_url, f"dev-{events[0].event_id}")
    for item in events:
        topic = topic_for(SITE, item.device_id, item.type)  # type: ignore[attr-defined]
        client.publish(topic, item.to_bytes(), qos=1).wait_for_publish(5)


def alerts(service: AggregatorService, kind: str) -> list[dict[str, Any]]:
    return service.soc.alerts.page(alert_type=kind)[0]


def test_a_restart_mid_incident_keeps_the_open_alert_its_corroboration_and_its_escalation_window(
    aggregator, device_client, wait_until
):
    with aggregator() as first:
        publish(
            first,
            device_client,
            [crowd_at("cam-e", T0, "F", 0.9, 0), crowd_at("cam-x", T0 + timedelta(seconds=60), "F", 0.5, 0)],
        )
        wait_until(lambda: [a["event_count"] for a in alerts(first, "crowd")] == [2], what="the crowd alert")
        [before] = alerts(first, "crowd")
    assert before["severity"] == "moderate"
    assert before["confidence"] == pytest.approx(0.95)  # noisy-OR of 0.9 and 0.5

    with aggregator() as second:
        publish(second, device_client, [crowd_at("cam-e", T0 + timedelta(seconds=125), "F", 0.9, 1)])
        wait_until(lambda: alerts(second, "crowd")[0]["event_count"] == 3, what="the event joining")
        [after] = alerts(second, "crowd")
        history = [h["action"] for h in second.soc.alerts.history(after["id"])]
    assert after["id"] == before["id"]
    assert after["confidence"] == pytest.approx(0.95)  # cam-e again: no new corroboration
    assert after["severity"] == "severe"  # level F since T0, sustained 125 s across the restart
    assert "escalated" in history


def test_a_device_that_reported_tamper_before_a_restart_stays_untrusted_after_it(
    aggregator, device_client, wait_until
):
    with aggregator() as first:
        tamper = event("tamper", "cam-e", T0, {"kind": "covered", "score": 0.9}, zone="east")
        publish(first, device_client, [tamper])
        wait_until(lambda: len(alerts(first, "tamper")) == 1, what="the tamper alert")

    with aggregator() as second:
        publish(second, device_client, [crowd_at("cam-e", T0 + timedelta(seconds=30), "F", 0.9, 1)])
        wait_until(lambda: len(alerts(second, "crowd")) == 1, what="the crowd alert")
        [crowd] = alerts(second, "crowd")
    assert crowd["untrusted"] is True
