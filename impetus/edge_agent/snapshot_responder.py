"""The device's side of an operator-requested snapshot: a request arrives on the device's `cmd`
topic, the newest camera frame (in memory only) goes through the snapshot gate (policy, rate,
anonymiser, audit), and the answer - the anonymised JPEG or the refusal - goes out on the
device's `snapshot` topic. Under a counting-only policy every request is refused, and both the
refusal and its reason are in the audit log before the answer leaves.

It listens on its own MQTT connection (client id `DEVICE-snapshot`, same account: the ACL lets a
device read only its own cmd and write only its own snapshot topic), like the siren's.

    responder = SnapshotResponder.for_agent(agent)
    responder.start()
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from pydantic import ValidationError

from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.publisher import make_client
from impetus.privacy.anonymiser import Anonymiser
from impetus.privacy.gate import PrivacyRefusal
from impetus.privacy.snapshots import SnapshotGate
from impetus.protocol.snapshots import SnapshotReply, SnapshotRequest, sent_reply
from impetus.protocol.topics import cmd_topic, snapshot_topic

log = logging.getLogger(__name__)


class SnapshotResponder:
    def __init__(self, agent: EdgeAgent, anonymiser: Anonymiser | None = None) -> None:
        config = agent.config
        self.agent = agent
        self.gate = SnapshotGate(config.policy, agent.audit, anonymiser)
        self._cmd = cmd_topic(config.site, config.device_id)
        self._out = snapshot_topic(config.site, config.device_id)
        self._lock = threading.Lock()
        self._client = make_client(f"{config.device_id}-snapshot", config.broker, config.credentials)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._subscribed = threading.Event()

    def answer(self, request: SnapshotRequest) -> SnapshotReply:
        """The reply to one request: refused (and audited) unless the policy, the rate limit, a
        camera frame and a writable audit log all allow an anonymised image to leave."""
        config = self.agent.config
        common = {"request_id": request.request_id, "device_id": config.device_id, "site": config.site}
        with self._lock:
            frame = self.agent.scheduler.newest_frame()
            try:
                jpeg = self._release(frame.image if frame is not None else None, request)
            except PrivacyRefusal as refusal:
                return SnapshotReply(
                    **common,
                    ts=datetime.now(UTC),
                    status="refused",
                    reason=str(refusal),
                    policy=self.gate.policy_name,
                    audit_head=self.agent.audit.head,
                )
            run = self.gate.last_run
            assert run is not None
            return sent_reply(
                **common,
                ts=datetime.now(UTC),
                policy=self.gate.policy_name,
                jpeg=jpeg,
                masked={"faces": len(run.faces), "plates": len(run.plates), "persons": len(run.persons)},
                audit_head=self.agent.audit.head,
            )

    def _release(self, image: np.ndarray | None, request: SnapshotRequest) -> bytes:
        """The gate's JPEG; a failure of the anonymiser itself (a missing model file) becomes an
        audited refusal, since it runs on the MQTT thread and no image may leave unmasked."""
        try:
            return self.gate.release(
                image, requested_by=request.requested_by, now=time.time(), request_id=request.request_id
            )
        except PrivacyRefusal:
            raise
        except Exception as error:
            log.exception("snapshot %s: the anonymiser failed", request.request_id)
            refusal = PrivacyRefusal("anonymiser_failed", f"{type(error).__name__}: {error}")
            self.gate.refuse(refusal, requested_by=request.requested_by, request_id=request.request_id)
            raise refusal from error

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe(self._cmd, qos=1)

    def _on_subscribe(self, *args: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        try:
            request = SnapshotRequest.model_validate_json(message.payload)
        except ValidationError:
            return  # another command on the same topic (the siren's)
        reply = self.answer(request)
        log.info("snapshot %s for %s: %s", request.request_id, request.requested_by, reply.status)
        client.publish(self._out, reply.to_bytes(), qos=1)

    def wait_subscribed(self, timeout: float = 10.0) -> bool:
        return self._subscribed.wait(timeout)

    def start(self) -> None:
        broker = self.agent.config.broker
        self._client.connect_async(broker.host, broker.port, keepalive=30)
        self._client.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
