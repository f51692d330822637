"""Against a real mosquitto running the config `impetus aggregator broker-config` writes: a device
may answer snapshot requests on its own `snapshot` topic, never on another device's."""

from __future__ import annotations

from pathlib import Path

from link_fixtures import aggregator_login, connect, enrol, secured_broker

from impetus.aggregator.device_registry import DeviceRegistry
from impetus.protocol.topics import snapshot_topic


def test_a_device_answers_snapshots_only_on_its_own_snapshot_topic(tmp_path: Path) -> None:
    registry = DeviceRegistry(tmp_path / "registry.db")
    a = enrol(registry, "piazza", "pole-a")
    enrol(registry, "piazza", "pole-b")
    broker, files = secured_broker(registry, tmp_path / "broker")
    try:
        watcher = connect(files.local_port, *aggregator_login(files), subscribe="impetus/v1/#")
        device = connect(files.tls_port, "pole-a", a.credentials.mqtt_password, ca_cert=files.ca_cert)
        assert watcher.accepted.is_set() and device.accepted.is_set()
        forged = device.client.publish(snapshot_topic("piazza", "pole-b"), b"forged", qos=1)
        forged.wait_for_publish(5)  # MQTT 3.1.1 acknowledges an ACL denial as success
        device.client.publish(snapshot_topic("piazza", "pole-a"), b"mine", qos=1).wait_for_publish(5)
        assert watcher.arrived.wait(5)
        device.close()
        watcher.close()
        assert [topic for topic, _ in watcher.received] == ["impetus/v1/piazza/pole-a/snapshot"]
    finally:
        broker.stop()
        registry.close()
