"""Replay protection outlives the aggregator: the newest seq of each device is saved in the
registry, so a captured event played back after a restart is still dead-lettered as a replay."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
from link_fixtures import SITE, enrol, tamper, wait_until
from paho.mqtt.enums import CallbackAPIVersion

from impetus.aggregator.device_registry import DeviceRegistry
from impetus.aggregator.link_security import LinkSecurity
from impetus.aggregator.mosquitto import MosquittoProcess
from impetus.aggregator.service import AggregatorService
from impetus.edge_agent.credentials import EventSigner
from impetus.protocol import EnvelopeBase, topic_for


def publish(broker: MosquittoProcess, events: list[EnvelopeBase]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="attacker-or-device")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for event in events:
            client.publish(topic_for(SITE, "pole-a", "tamper"), event.to_bytes(), qos=1).wait_for_publish(5)
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_replay_after_an_aggregator_restart_is_still_rejected(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    registry = DeviceRegistry(tmp_path / "registry.db")
    signer = EventSigner(enrol(registry, SITE, "pole-a").key)
    registry.close()
    security = LinkSecurity(tmp_path / "registry.db", require_signatures=True, replay_window=8)
    events = [signer.sign(tamper("pole-a", seq)) for seq in range(1, 21)]

    def aggregator() -> AggregatorService:
        return AggregatorService(mosquitto.url, tmp_path / "events.db", "127.0.0.1:0", security=security)

    with aggregator() as before:
        publish(mosquitto, events)
        wait_until(lambda: before.store.event_count() == 20, "20 events stored")

    with aggregator() as after:
        publish(mosquitto, [events[0]])  # captured before the restart, older than the window
        wait_until(lambda: after.ingest.counters()["dead_letters"] == 1, "the replay dead-lettered")
        publish(mosquitto, [signer.sign(tamper("pole-a", 21))])  # the device carries on
        wait_until(lambda: after.store.event_count() == 21, "the next event stored")
        assert [d["reason_code"] for d in after.store.dead_letters().items] == ["replayed_seq"]
        assert after.link is not None and after.link.guard.counters()["replayed_seq"] == 1
