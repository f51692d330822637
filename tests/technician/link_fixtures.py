"""A registry with enrolled devices and a real mosquitto running the generated config."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from impetus.aggregator.broker_config import BrokerFiles, read_secret, write_broker_config
from impetus.aggregator.device_registry import DeviceRegistry, IssuedCredentials
from impetus.aggregator.mosquitto import MosquittoProcess, free_port
from impetus.edge_agent.credentials import public_key_b64
from impetus.protocol import ClockQuality, EnvelopeBase, PrivacyStamp, make_event

SITE = "piazza"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def tamper(device_id: str, seq: int) -> EnvelopeBase:
    """A small valid event whose seq the test chooses (seq is what replay protection keys on)."""
    return make_event(
        "tamper",
        device_id=device_id,
        site=SITE,
        seq=seq,
        payload={"kind": "covered", "score": 0.9},
        ts=T0 + timedelta(seconds=seq),
        clock=ClockQuality(source="ntp", offset_ms=0.4),
        privacy=PrivacyStamp(policy_id="default", policy_version=1),
    )


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.02)


@dataclass
class Enrolled:
    credentials: IssuedCredentials
    key: Ed25519PrivateKey


def enrol(registry: DeviceRegistry, site: str, device_id: str) -> Enrolled:
    key = Ed25519PrivateKey.generate()
    token = registry.issue_token(site, timedelta(minutes=5))
    return Enrolled(registry.enrol(token, device_id, public_key_b64(key), profile="generic-linux"), key)


def secured_broker(registry: DeviceRegistry, directory: Path) -> tuple[MosquittoProcess, BrokerFiles]:
    files = write_broker_config(
        registry,
        directory,
        site="piazza",
        server_names=["localhost", "127.0.0.1"],
        tls_port=free_port(),
        local_port=free_port(),
        run_as="root",
    )
    broker = MosquittoProcess(workdir=directory, port=files.local_port, config_file=files.conf)
    broker.start()
    return broker, files


@dataclass
class Connection:
    """A paho client that records whether the broker accepted it and what it received."""

    client: mqtt.Client
    accepted: threading.Event = field(default_factory=threading.Event)
    refused: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[str, bytes]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def connect(
    port: int,
    username: str,
    password: str,
    *,
    ca_cert: Path | None = None,
    subscribe: str | None = None,
    timeout: float = 5.0,
    client_id: str | None = None,
) -> Connection:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id or f"t-{username}", protocol=mqtt.MQTTv311
    )
    client.username_pw_set(username, password)
    if ca_cert is not None:
        client.tls_set(ca_certs=str(ca_cert))
    connection = Connection(client)
    subscribed = threading.Event()

    def on_connect(c: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if reason.is_failure:  # type: ignore[attr-defined]
            connection.refused.set()
            return
        if subscribe is None:
            connection.accepted.set()
        else:
            c.subscribe(subscribe, qos=1)

    def on_subscribe(c: mqtt.Client, userdata: object, mid: int, codes: object, props: object) -> None:
        subscribed.set()
        connection.accepted.set()

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        connection.received.append((message.topic, message.payload))
        connection.arrived.set()

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect_async("127.0.0.1", port)
    client.loop_start()
    for _ in range(int(timeout / 0.05)):
        if connection.accepted.is_set() or connection.refused.is_set():
            break
        connection.accepted.wait(0.05)
    return connection


def aggregator_login(files: BrokerFiles) -> tuple[str, str]:
    return read_secret(files.aggregator_secret)
