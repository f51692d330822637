"""A technician's test event: one valid, clearly marked (`test: true`) event of any type, sent
to check the path from a device to the SOC end to end.

It uses its own MQTT client id (`<device>-test-<random>`) so it never knocks the real agent of
that device off the broker, and waits for the broker's PUBACK before reporting success.

>>> sent = send_test_event(BrokerAddress.parse("mqtt://127.0.0.1:1883"), "piazza", "pole-1", "gunshot")
>>> sent.event.event_id, sent.ack_ms
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from pydantic import BaseModel

from impetus import __version__
from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.clock import SystemClock
from impetus.edge_agent.credentials import DeviceCredentials
from impetus.edge_agent.publisher import make_client
from impetus.privacy.gate import PrivacyGate
from impetus.privacy.policy import load_policy
from impetus.protocol import EVENT_TYPES, EnvelopeBase, make_event
from impetus.protocol.payloads import (
    Box,
    CrowdPayload,
    DetectorHealth,
    GunshotPayload,
    HealthPayload,
    LeftObjectPayload,
    ObjectPayload,
    StatusPayload,
    TamperPayload,
    VehiclePayload,
)
from impetus.protocol.topics import topic_for


class BrokerUnreachable(ConnectionError):
    """The broker could not be reached or refused us; the message says which and where."""


def sample_payload(event_type: str, now: datetime) -> BaseModel:
    """A plausible payload of each type, recognisable as a test by its round figures."""
    box = Box(x=0.4, y=0.5, w=0.1, h=0.2)
    payloads: dict[str, BaseModel] = {
        "gunshot": GunshotPayload(
            onset_ts=now - timedelta(milliseconds=200), peak_dbfs=-6.0, duration_ms=12.0, score=0.9
        ),
        "crowd": CrowdPayload(count=120, area_m2=400.0, density=0.3, level_of_service="B"),
        "object": ObjectPayload(class_name="person", box=box, score=0.8, track_id=1, dwell_s=2.0),
        "left_object": LeftObjectPayload(
            class_name="backpack", box=box, score=0.8, track_id=2, dwell_s=90.0, unattended_s=60.0
        ),
        "vehicle_in_pedestrian_zone": VehiclePayload(
            class_name="car", box=box, score=0.8, track_id=3, speed_mps=4.0
        ),
        "tamper": TamperPayload(kind="covered", score=0.9, detail="test event"),
        "health": HealthPayload(
            uptime_s=60.0, outbox_backlog=0, detectors={"test": DetectorHealth(fps=1.0, inference_ms=1.0)}
        ),
        "status": StatusPayload(state="online", agent_version=__version__),
    }
    if event_type not in payloads:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {', '.join(EVENT_TYPES)}")
    return payloads[event_type]


def build_test_event(site: str, device_id: str, event_type: str) -> EnvelopeBase:
    clock = SystemClock()
    gate = PrivacyGate(load_policy("counting-only"))
    now = clock.now()
    event = make_event(
        event_type,
        device_id=device_id,
        site=site,
        seq=0,
        payload=sample_payload(event_type, now),
        ts=now,
        clock=clock.quality(),
        privacy=gate.stamp(),
        test=True,
    )
    return gate.admit(event)


@dataclass(frozen=True)
class SentTestEvent:
    event: EnvelopeBase
    ack_ms: float  # from publish to the broker's PUBACK


def send_test_event(
    broker: BrokerAddress,
    site: str,
    device_id: str,
    event_type: str,
    timeout_s: float = 10.0,
    credentials: DeviceCredentials | None = None,
) -> SentTestEvent:
    """Publish one test event with QoS 1 and return it once the broker has acknowledged it.

    With `credentials` (a provisioned device) it logs in with the device's account, trusts only the
    site CA for `mqtts://`, and signs the event with the device's key, as the agent does.
    """
    event = build_test_event(site, device_id, event_type)
    if credentials is not None and credentials.signer is not None:
        event = credentials.signer.sign(event)
    client = make_client(f"{device_id}-test-{secrets.token_hex(3)}", broker, credentials)
    answered = threading.Event()
    outcome: dict[str, Any] = {}

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        outcome["reason"] = reason
        answered.set()

    client.on_connect = on_connect
    try:
        client.connect(broker.host, broker.port, keepalive=30)
    except (OSError, ValueError) as error:
        raise BrokerUnreachable(f"cannot reach the broker at {broker.url}: {error}") from None
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            raise BrokerUnreachable(f"the broker at {broker.url} did not answer within {timeout_s:g} s")
        if outcome["reason"].is_failure:
            raise BrokerUnreachable(
                f"the broker at {broker.url} refused the connection: {outcome['reason']} "
                "(credentials revoked or wrong?)"
            )
        started = time.perf_counter()
        info = client.publish(topic_for(site, device_id, event_type), event.to_bytes(), qos=1)
        info.wait_for_publish(timeout_s)
        if not info.is_published():
            raise BrokerUnreachable(f"the broker at {broker.url} did not acknowledge within {timeout_s:g} s")
        return SentTestEvent(event, (time.perf_counter() - started) * 1000)
    finally:
        client.disconnect()
        client.loop_stop()
