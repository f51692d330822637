"""The publisher: drains the outbox to the MQTT broker and says whether the device is alive.

paho-mqtt 2.x, MQTT 3.1.1 (the embedded broker speaks nothing newer), QoS 1, client id = device
id. On connect it queues a retained `online` status; the Last Will is a retained `offline`
status, so a device that loses power or network shows as offline without saying goodbye.
Reconnects back off exponentially. Rows leave the outbox only on PUBACK; messages in flight
when a connection drops are resent by paho on reconnect, so nothing is lost or sent twice
(except after a crash, where the outbox resends what had no PUBACK yet: at-least-once, and
the aggregator dedups by `event_id`).

>>> publisher = Publisher(identity, outbox, gate, clock, BrokerAddress.parse("mqtt://127.0.0.1:1883"))
>>> publisher.start(); ...; publisher.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from impetus import __version__
from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.clock import Clock
from impetus.edge_agent.credentials import DeviceCredentials
from impetus.edge_agent.outbox import Outbox
from impetus.privacy.gate import PrivacyGate, PrivacyRefusal
from impetus.protocol import EnvelopeBase, make_event
from impetus.protocol.payloads import HealthPayload, StatusPayload
from impetus.protocol.topics import status_topic

log = logging.getLogger(__name__)

# The first health goes out this soon after start, so the SOC sees the detectors running
# without waiting a whole interval.
FIRST_HEALTH_S = 5.0


@dataclass(frozen=True)
class DeviceIdentity:
    device_id: str
    site: str
    zone: str | None = None
    profile: str | None = None
    capabilities: tuple[str, ...] = field(default_factory=tuple)


def make_client(
    client_id: str, broker: BrokerAddress, credentials: DeviceCredentials | None = None
) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=True
    )
    if credentials is not None:
        client.username_pw_set(credentials.username, credentials.password)
    if broker.tls:
        ca = credentials.ca_cert if credentials is not None else None
        client.tls_set(ca_certs=str(ca) if ca is not None else None)
    return client


class Publisher:
    """Runs paho's network loop and a drain thread; thread-safe `wait_*` helpers for callers."""

    def __init__(
        self,
        identity: DeviceIdentity,
        outbox: Outbox,
        gate: PrivacyGate,
        clock: Clock,
        broker: BrokerAddress,
        *,
        health: Callable[[], HealthPayload] | None = None,
        health_interval_s: float = 30.0,
        max_in_flight: int = 100,
        reconnect_min_s: int = 1,
        reconnect_max_s: int = 30,
        keepalive_s: int = 30,
        credentials: DeviceCredentials | None = None,
    ) -> None:
        self.identity = identity
        self._signer = credentials.signer if credentials is not None else None
        self.outbox = outbox
        self.gate = gate
        self.clock = clock
        self.broker = broker
        self.health = health
        self.health_interval_s = health_interval_s
        self.max_in_flight = max_in_flight
        self.keepalive_s = keepalive_s
        self._client = make_client(identity.device_id, broker, credentials)
        self._client.max_inflight_messages_set(max_in_flight)
        self._client.reconnect_delay_set(reconnect_min_s, reconnect_max_s)
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._lock = threading.Lock()
        self._mid_rows: dict[int, int] = {}
        self._early_acks: set[int] = set()
        self._acked: list[int] = []
        self._connected = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._will: EnvelopeBase | None = None
        self.connects = 0

    # -- status -------------------------------------------------------------------------------

    def _status(self, state: str, seq: int = 0, reason: str | None = None) -> EnvelopeBase:
        rule = self.gate.policy.types.get("status")
        if rule is None or "reason" not in rule.fields:
            reason = None  # a policy older than `reason`: the device still says offline, without why
        payload = StatusPayload(
            state=state,  # type: ignore[arg-type]
            reason=reason,  # type: ignore[arg-type]
            agent_version=__version__,
            profile=self.identity.profile,
            capabilities=list(self.identity.capabilities),
        )
        event = make_event(
            "status",
            device_id=self.identity.device_id,
            site=self.identity.site,
            zone=self.identity.zone,
            seq=seq,
            payload=payload,
            ts=self.clock.now(),
            clock=self.clock.quality(),
            privacy=self.gate.stamp(),
        )
        return self.gate.admit(event)

    def _arm_will(self) -> None:
        """A fresh `offline` will (own event id and seq) for the next connection."""
        self._will = self._status("offline", seq=self.outbox.next_seq(), reason="connection_lost")
        if self._signer is not None:
            self._will = self._signer.sign(self._will)
        self._client.will_set(
            status_topic(self.identity.site, self.identity.device_id),
            self._will.to_bytes(),
            qos=1,
            retain=True,
        )

    # -- paho callbacks (network thread) ------------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            log.warning("broker %s refused the connection: %s", self.broker.url, reason)
            return
        self.connects += 1
        log.info("connected to %s as %s", self.broker.url, self.identity.device_id)
        self.outbox.put(self._status("online"))
        self._connected.set()
        self._wake.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connected.clear()
        if not self._stopping.is_set():
            log.warning(
                "lost the broker %s (%s); outbox backlog %d", self.broker.url, reason, self.outbox.backlog()
            )
            self._arm_will()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        with self._lock:
            row = self._mid_rows.pop(mid, None)
            if row is None:
                self._early_acks.add(mid)
            else:
                self._acked.append(row)
        self._wake.set()

    # -- drain thread -------------------------------------------------------------------------

    def _flush_acks(self) -> None:
        with self._lock:
            acked, self._acked = self._acked, []
        if acked:
            self.outbox.ack(acked)

    def _send_batch(self) -> None:
        for row in self.outbox.claim(self.max_in_flight - self.outbox.in_flight()):
            payload = row.payload if self._signer is None else self._signer.sign_payload(row.payload)
            info = self._client.publish(row.topic, payload, qos=row.qos, retain=row.retain)
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                log.warning("paho refused %s (%s); it stays in the outbox", row.event_id, info.rc)
                self.outbox.release([row.id])
                continue
            with self._lock:
                if info.mid in self._early_acks:
                    self._early_acks.discard(info.mid)
                    self._acked.append(row.id)
                else:
                    self._mid_rows[info.mid] = row.id

    def put_health(self) -> None:
        if self.health is None:
            return
        event = make_event(
            "health",
            device_id=self.identity.device_id,
            site=self.identity.site,
            zone=self.identity.zone,
            seq=0,
            payload=self.health(),
            ts=self.clock.now(),
            clock=self.clock.quality(),
            privacy=self.gate.stamp(),
        )
        try:
            self.outbox.put(self.gate.admit(event))
        except PrivacyRefusal:
            return

    def _drain(self) -> None:
        next_health = time.monotonic() + min(self.health_interval_s, FIRST_HEALTH_S)
        while not self._stopping.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            self._flush_acks()
            if self._connected.is_set():
                self._send_batch()
            if self.health is not None and not self._closing.is_set() and time.monotonic() >= next_health:
                next_health = time.monotonic() + self.health_interval_s
                self.put_health()
        self._flush_acks()

    # -- public -------------------------------------------------------------------------------

    def notify(self) -> None:
        """Something new is in the outbox: send it now rather than at the next poll."""
        self._wake.set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def start(self) -> None:
        self._arm_will()
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=self.keepalive_s)
        self._client.loop_start()
        self._thread = threading.Thread(
            target=self._drain, name=f"drain-{self.identity.device_id}", daemon=True
        )
        self._thread.start()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def wait_drained(self, timeout: float) -> bool:
        """True once every stored message has been acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.outbox.backlog() == 0:
                return True
            self._wake.set()
            time.sleep(0.05)
        return self.outbox.backlog() == 0

    def stop(self, drain_timeout: float = 5.0) -> None:
        """Send what can be sent within `drain_timeout`, say `offline`, and disconnect cleanly.

        What is not acknowledged stays in the outbox for the next start.
        """
        if self._thread is None:
            return
        self._closing.set()
        if self._connected.is_set():
            self.wait_drained(drain_timeout)
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._thread = None
        if self._connected.is_set() and self._will is not None:
            # Said by the device itself (not its Last Will): the aggregator tells a planned stop
            # from a device that vanished.
            farewell = self._status("offline", seq=self.outbox.next_seq(), reason="shutdown")
            if self._signer is not None:
                farewell = self._signer.sign(farewell)
            goodbye = self._client.publish(
                status_topic(self.identity.site, self.identity.device_id),
                farewell.to_bytes(),
                qos=1,
                retain=True,
            )
            try:
                goodbye.wait_for_publish(timeout=drain_timeout)
            except (RuntimeError, ValueError):
                log.warning("could not say offline before disconnecting")
        self._client.disconnect()
        self._client.loop_stop()
        self._flush_acks()
