"""Against a real mosquitto running the config `impetus aggregator broker-config` writes: each
device speaks only under its own topics, over TLS with the site CA, and a revoked device is out."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from link_fixtures import aggregator_login, connect, enrol, secured_broker

from impetus.aggregator.broker_config import BrokerFiles, refresh_access, write_broker_config
from impetus.aggregator.cli import aggregator_cli
from impetus.aggregator.device_registry import DeviceRegistry
from impetus.aggregator.mosquitto import MosquittoProcess


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[DeviceRegistry]:
    registry = DeviceRegistry(tmp_path / "registry.db")
    yield registry
    registry.close()


@pytest.fixture
def site(registry: DeviceRegistry, tmp_path: Path) -> Iterator[tuple[MosquittoProcess, BrokerFiles]]:
    enrol(registry, "piazza", "pole-a")
    enrol(registry, "piazza", "pole-b")
    broker, files = secured_broker(registry, tmp_path / "broker")
    yield broker, files
    broker.stop()


def test_a_device_cannot_publish_under_another_devices_topics(
    registry: DeviceRegistry, tmp_path: Path
) -> None:
    a = enrol(registry, "piazza", "pole-a")
    enrol(registry, "piazza", "pole-b")
    broker, files = secured_broker(registry, tmp_path / "broker")
    try:
        watcher = connect(files.local_port, *aggregator_login(files), subscribe="impetus/v1/#")
        assert watcher.accepted.is_set()
        device = connect(files.tls_port, "pole-a", a.credentials.mqtt_password, ca_cert=files.ca_cert)
        assert device.accepted.is_set(), "device A could not connect over TLS with its own credentials"
        forged = device.client.publish("impetus/v1/piazza/pole-b/events/gunshot", b"forged", qos=1)
        forged.wait_for_publish(5)  # MQTT 3.1.1 acknowledges an ACL denial as success
        own = device.client.publish("impetus/v1/piazza/pole-a/health", b"mine", qos=1)
        own.wait_for_publish(5)
        assert watcher.arrived.wait(5)
        device.close()
        watcher.close()
        assert [topic for topic, _ in watcher.received] == ["impetus/v1/piazza/pole-a/health"]
    finally:
        broker.stop()


def test_a_wrong_password_or_no_tls_trust_is_refused(site: tuple[MosquittoProcess, BrokerFiles]) -> None:
    _, files = site
    wrong = connect(files.tls_port, "pole-a", "not-the-password", ca_cert=files.ca_cert)
    assert wrong.refused.is_set() and not wrong.accepted.is_set()
    wrong.close()
    anonymous = connect(files.local_port, "nobody", "")
    assert not anonymous.accepted.is_set()
    anonymous.close()


def test_a_revoked_device_is_refused_after_the_broker_rereads_its_files(
    registry: DeviceRegistry, tmp_path: Path
) -> None:
    a = enrol(registry, "piazza", "pole-a")
    broker, files = secured_broker(registry, tmp_path / "broker")
    try:
        before = connect(files.tls_port, "pole-a", a.credentials.mqtt_password, ca_cert=files.ca_cert)
        assert before.accepted.is_set()
        before.close()
        assert registry.revoke("pole-a")
        write_broker_config(
            registry,
            files.directory,
            site="piazza",
            server_names=["127.0.0.1"],
            tls_port=files.tls_port,
            local_port=files.local_port,
            run_as="root",
        )
        broker.reload()
        for _ in range(20):  # mosquitto handles the HUP in its own time
            after = connect(files.tls_port, "pole-a", a.credentials.mqtt_password, ca_cert=files.ca_cert)
            after.close()
            if after.refused.is_set():
                break
            time.sleep(0.1)
        assert after.refused.is_set() and not after.accepted.is_set()
        assert "pole-a" not in files.password_file.read_text()
        assert "user pole-a" not in files.acl_file.read_text()
    finally:
        broker.stop()


def test_a_revoked_device_already_connected_is_cut_off(registry: DeviceRegistry, tmp_path: Path) -> None:
    a = enrol(registry, "piazza", "pole-a")
    broker, files = secured_broker(registry, tmp_path / "broker")
    try:
        watcher = connect(files.local_port, *aggregator_login(files), subscribe="impetus/v1/#")
        device = connect(files.tls_port, "pole-a", a.credentials.mqtt_password, ca_cert=files.ca_cert)
        assert device.accepted.is_set()
        registry.revoke("pole-a")
        assert refresh_access(registry, files.directory)  # rewrites the files and HUPs mosquitto
        deadline = time.monotonic() + 5
        while device.client.is_connected() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not device.client.is_connected(), "mosquitto kept the revoked account's connection"
        device.client.publish("impetus/v1/piazza/pole-a/health", b"after revocation", qos=1)
        marker = connect(files.local_port, *aggregator_login(files), client_id="marker")
        marker.client.publish("impetus/v1/piazza/marker/cmd", b"marker", qos=1).wait_for_publish(5)
        assert watcher.arrived.wait(5)
        time.sleep(0.3)
        assert [topic for topic, _ in watcher.received] == ["impetus/v1/piazza/marker/cmd"]
        for connection in (device, marker, watcher):
            connection.close()
    finally:
        broker.stop()


def test_revoke_command_closes_the_account_at_once_and_names_an_unknown_device(
    registry: DeviceRegistry, tmp_path: Path
) -> None:
    a = enrol(registry, "piazza", "pole-a")
    broker, files = secured_broker(registry, tmp_path / "broker")
    try:
        args = ["--registry", str(registry.path), "--broker-dir", str(files.directory)]
        result = CliRunner().invoke(aggregator_cli, ["revoke", "pole-a", *args])
        assert result.exit_code == 0, result.output
        assert "revoked pole-a" in result.output and "mosquitto reloaded" in result.output
        refused = False
        for _ in range(20):
            after = connect(files.tls_port, "pole-a", a.credentials.mqtt_password, ca_cert=files.ca_cert)
            after.close()
            refused = after.refused.is_set()
            if refused:
                break
            time.sleep(0.1)
        assert refused
        again = CliRunner().invoke(aggregator_cli, ["revoke", "pole-a", *args])
        assert again.exit_code != 0 and "not enrolled or is already revoked" in again.output
    finally:
        broker.stop()
