"""Ingest: MQTT messages in, validated and stored, acknowledged only once they are on disk.

One thread owns the paho client. Messages are validated as they arrive and written in batches
(one transaction per batch); the PUBACKs for a batch are sent only after its commit, so a
`kill -9` or a power cut never loses a message the broker was told is safe. A fixed client id
with a persistent session makes the broker queue QoS 1 messages while the aggregator is down;
what it then redelivers twice is deduplicated by event id in the store.

    ingest = Ingest(store, "mqtt://127.0.0.1:1883")
    ingest.add_listener(lambda item: print(item["event_id"]))
    ingest.start()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.reasoncodes import ReasonCode

from impetus.aggregator.broker import parse_broker_url
from impetus.aggregator.store import DeadLetter, EventStore, RecordOutcome, ValidMessage
from impetus.protocol import ContractViolation, EnvelopeBase, parse_message
from impetus.protocol.topics import ingest_subscriptions

log = logging.getLogger(__name__)

DEFAULT_CLIENT_ID = "impetus-aggregator"
EventListener = Callable[[dict[str, Any]], None]
# Checks who sent a parsed message, given its bytes as received (impetus.aggregator.link_guard);
# raises ContractViolation.
SenderCheck = Callable[[EnvelopeBase, bytes], None]


class IngestError(RuntimeError):
    """Ingest could not reach or subscribe to its broker."""


@dataclass
class IngestCounters:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    status_updates: int = 0
    health_updates: int = 0
    batches: int = 0
    # Messages neither stored nor dead-lettered (the database refused both): left unacknowledged,
    # so the broker delivers them again after the next reconnect.
    unwritten: int = 0


@dataclass(frozen=True)
class _Pending:
    item: ValidMessage | DeadLetter
    mid: int
    qos: int
    link: int


class Ingest:
    """Subscribes to every device's events, status and health, and feeds the store.

    Group commit: a batch is written as soon as nothing more is waiting on the socket, so it is
    whatever arrived while the previous one was committing (one message when traffic is light,
    hundreds under a burst). `batch_size` bounds one transaction and `max_delay_s` how long a
    batch may keep growing while messages never stop coming.
    """

    def __init__(
        self,
        store: EventStore,
        broker_url: str,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        shared: bool = False,
        batch_size: int = 500,
        max_delay_s: float = 0.05,
        keepalive_s: int = 30,
        sender_check: SenderCheck | None = None,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.broker_url = broker_url
        self._sender_check = sender_check
        self._host, self._port = parse_broker_url(broker_url)
        self._store = store
        self._topics = ingest_subscriptions(shared=shared)
        self._batch_size = batch_size
        self._max_delay_s = max_delay_s
        self._keepalive_s = keepalive_s
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False, manual_ack=True
        )
        if username is not None:
            self._client.username_pw_set(username, password)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._counters = IngestCounters()
        self._counters_lock = threading.Lock()
        self._listeners: list[EventListener] = []
        self._listeners_lock = threading.Lock()
        self._pending: list[_Pending] = []
        self._first_pending_at = 0.0
        self._arrived_this_round = 0
        self._link = 0  # counts connections: an ack belongs to the connection that delivered it
        self._subscribed = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = "no connection attempt yet"

    # -- public ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    def counters(self) -> dict[str, int]:
        with self._counters_lock:
            return asdict(self._counters)

    def add_listener(self, listener: EventListener) -> None:
        """`listener(item)` runs on the ingest thread for each newly stored event: keep it quick."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: EventListener) -> None:
        with self._listeners_lock:
            self._listeners.remove(listener)

    def start(self, timeout: float = 10.0) -> None:
        """Return once subscribed; raise `IngestError` naming the broker if that fails."""
        if self._thread is not None:
            raise RuntimeError("ingest is already started")
        self._client.connect_async(self._host, self._port, keepalive=self._keepalive_s)
        self._thread = threading.Thread(target=self._run, name="ingest", daemon=True)
        self._thread.start()
        if not self._subscribed.wait(timeout):
            self.stop()
            raise IngestError(
                f"could not subscribe at {self.broker_url} within {timeout:g} s: {self._last_error}"
            )

    def stop(self, timeout: float = 10.0) -> None:
        """Write and acknowledge what has arrived, then disconnect cleanly (the session stays)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # -- the ingest thread ----------------------------------------------------------------------

    def _run(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            try:
                if self._client.socket() is None:
                    if not self._reconnect():
                        self._stopping.wait(backoff)
                        backoff = min(backoff * 2, 5.0)
                        continue
                    backoff = 0.1
                self._arrived_this_round = 0
                # With a batch pending, only take what is already waiting (group commit): the
                # batch grows while the previous one commits, never by waiting for more.
                rc = self._client.loop(timeout=0.0 if self._pending else self._max_delay_s)
                if self._pending and self._batch_due(rc):
                    self._flush()
            except Exception:
                log.exception("ingest loop error; carrying on")
                self._stopping.wait(0.1)
        self._shutdown()

    def _reconnect(self) -> bool:
        try:
            self._client.reconnect()
        except (OSError, ValueError) as error:
            self._last_error = f"{type(error).__name__}: {error}"
            log.warning("broker %s unreachable: %s", self.broker_url, self._last_error)
            return False
        return True

    def _batch_due(self, rc: MQTTErrorCode) -> bool:
        return (
            self._arrived_this_round == 0
            or rc != MQTTErrorCode.MQTT_ERR_SUCCESS
            or len(self._pending) >= self._batch_size
            or time.monotonic() - self._first_pending_at >= self._max_delay_s
        )

    def _shutdown(self) -> None:
        try:
            if self._pending:
                self._flush()
            self._client.disconnect()
        except Exception:
            log.exception("ingest shutdown")
        self._subscribed.clear()

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        if reason_code.is_failure:
            self._last_error = f"broker refused the connection: {reason_code}"
            log.error("%s: %s", self.broker_url, self._last_error)
            return
        self._link += 1
        client.subscribe([(topic, 1) for topic in self._topics])

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: object,
    ) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            self._last_error = f"broker refused the subscriptions {self._topics}: {refused}"
            log.error("%s: %s", self.broker_url, self._last_error)
            return
        log.info("subscribed at %s to %s", self.broker_url, ", ".join(self._topics))
        self._subscribed.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: object,
    ) -> None:
        self._subscribed.clear()
        self._link += 1  # acks still pending belong to a connection that is gone
        if not self._stopping.is_set():
            self._last_error = f"disconnected: {reason_code}"
            log.warning("lost the broker at %s (%s); reconnecting", self.broker_url, reason_code)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        received_at = datetime.now(UTC)
        topic = message._topic.decode("utf-8", errors="replace")  # paho's .topic raises on bad UTF-8
        item: ValidMessage | DeadLetter
        try:
            event = parse_message(topic, message.payload)
            if self._sender_check is not None:
                self._sender_check(event, message.payload)
            item = ValidMessage(event, topic, received_at)
        except ContractViolation as violation:
            item = DeadLetter(topic, violation.code, violation.reason, message.payload, received_at)
        except Exception as error:
            log.exception("validating a message on %s", topic)
            item = DeadLetter(
                topic, "internal", f"{type(error).__name__}: {error}", message.payload, received_at
            )
        if not self._pending:
            self._first_pending_at = time.monotonic()
        self._pending.append(_Pending(item, message.mid, message.qos, self._link))
        self._arrived_this_round += 1
        with self._counters_lock:
            self._counters.received += 1

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            outcome = self._store.record([p.item for p in batch])
            written = batch
        except Exception:
            log.exception("writing a batch of %d failed; writing its messages one by one", len(batch))
            outcome, written = self._record_one_by_one(batch)
        for pending in written:
            if pending.link == self._link:
                self._client.ack(pending.mid, pending.qos)
        with self._counters_lock:
            counters = self._counters
            counters.batches += 1
            counters.stored += len(outcome.stored)
            counters.duplicates += outcome.duplicates
            counters.dead_letters += outcome.dead_letters
            counters.status_updates += outcome.status_updates
            counters.health_updates += outcome.health_updates
            counters.unwritten += len(batch) - len(written)
        self._notify(outcome.stored)

    def _record_one_by_one(self, batch: list[_Pending]) -> tuple[RecordOutcome, list[_Pending]]:
        total = RecordOutcome()
        written: list[_Pending] = []
        for pending in batch:
            try:
                outcome = self._store.record([pending.item])
            except Exception as error:
                log.exception("storing a message from %s", pending.item.topic)
                letter = DeadLetter(
                    pending.item.topic,
                    "internal",
                    f"{type(error).__name__}: {error}",
                    _payload_of(pending.item),
                    pending.item.received_at,
                )
                try:
                    outcome = self._store.record([letter])
                except Exception:
                    log.exception("the database refuses dead letters too; leaving the message unacked")
                    continue
            written.append(pending)
            total.stored += outcome.stored
            total.duplicates += outcome.duplicates
            total.dead_letters += outcome.dead_letters
            total.status_updates += outcome.status_updates
            total.health_updates += outcome.health_updates
        return total, written

    def _notify(self, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            for item in items:
                try:
                    listener(item)
                except Exception:
                    log.exception("event listener %r failed", listener)


def _payload_of(item: ValidMessage | DeadLetter) -> bytes:
    return item.payload if isinstance(item, DeadLetter) else item.event.to_bytes()
