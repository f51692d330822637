"""A device that stopped cleanly is not a device that vanished: its own `offline` status (reason
`shutdown`) pages no one, while a Last Will (reason `connection_lost`) raises device-offline as
any silence does; a stopped device still away after `stopped_after_s` raises a minor alert.
The assembled aggregator on mosquitto, with short watchdog times."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from six_microphones import T0
from soc_events import SITE, event, piazza

from impetus.aggregator.alert_rules import Watchdog, load_rules
from impetus.aggregator.service import AggregatorService
from impetus.aggregator.soc import SocConfig
from impetus.protocol import topic_for


@pytest.fixture
def aggregator(tmp_path: Path, mosquitto) -> Callable[..., Any]:
    """`with aggregator(stopped_after_s=...) as service:`, offline after 1 s of silence."""

    @contextmanager
    def run(stopped_after_s: float) -> Iterator[AggregatorService]:
        watchdog = Watchdog(offline_after_s=1.0, check_every_s=0.2, stopped_after_s=stopped_after_s)
        operator = SocConfig(rules=load_rules().model_copy(update={"watchdog": watchdog}), site=piazza())
        with AggregatorService(
            mosquitto.url, tmp_path / "aggregator.db", "127.0.0.1:0", operator=operator
        ) as s:
            yield s

    return run


def say_goodbye(service: AggregatorService, device_client, device: str, reason: str) -> None:
    """The device reports (so it is seen), then its last word: an `offline` status."""
    client = device_client(service.broker_url, device)
    health = event("health", device, T0, {"uptime_s": 5.0, "outbox_backlog": 0})
    client.publish(topic_for(SITE, device, "health"), health.to_bytes(), qos=1).wait_for_publish(5)
    payload = {"state": "offline", "agent_version": "0.1.0", "reason": reason}
    status = event("status", device, T0, payload, seq=1)
    client.publish(topic_for(SITE, device, "status"), status.to_bytes(), qos=1, retain=True).wait_for_publish(
        5
    )


def offline_alerts(service: AggregatorService) -> dict[str, dict[str, Any]]:
    return {a["device"]: a for a in service.soc.alerts.page(alert_type="device_offline")[0]}


def test_a_device_that_stopped_cleanly_raises_no_alert_where_a_vanished_one_does(
    aggregator, device_client, wait_until
):
    with aggregator(stopped_after_s=0.0) as service:
        say_goodbye(service, device_client, "cam-w", "shutdown")
        say_goodbye(service, device_client, "cam-e", "connection_lost")
        wait_until(lambda: "cam-e" in offline_alerts(service), timeout=10, what="cam-e's alert")
        time.sleep(1.0)  # five more watchdog rounds: cam-w has been silent as long as cam-e
        alerts = offline_alerts(service)
        states = {d["device_id"]: d for d in service.store.devices()}
    assert list(alerts) == ["cam-e"]
    assert alerts["cam-e"]["severity"] == "moderate"
    assert states["cam-w"]["state"] == "offline"


def test_a_stopped_device_still_away_after_its_grace_raises_a_minor_alert(
    aggregator, device_client, wait_until
):
    with aggregator(stopped_after_s=2.0) as service:
        say_goodbye(service, device_client, "cam-w", "shutdown")
        started = time.monotonic()
        wait_until(lambda: "cam-w" in offline_alerts(service), timeout=10, what="cam-w's minor alert")
        waited = time.monotonic() - started
        alert = offline_alerts(service)["cam-w"]
        history = service.soc.alerts.history(alert["id"])
    assert waited >= 2.0 - 0.2  # not at offline_after_s (1 s): the grace of a planned stop
    assert alert["severity"] == "minor"
    assert any("stopped cleanly" in (h["note"] or "") for h in history)
