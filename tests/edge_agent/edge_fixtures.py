"""Helpers for the edge runtime tests: a plain paho subscriber, a broker with persistent
sessions, test media, and `dark`, a small real detector plugin (a covered-lens check)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from impetus.edge_agent.clock import SystemClock
from impetus.edge_agent.detectors.base import Detection, Detector, DetectorConfig
from impetus.edge_agent.sources.base import Sample, VideoFrame
from impetus.privacy.gate import PrivacyGate
from impetus.privacy.policy import load_policy
from impetus.protocol import EnvelopeBase, make_event, parse_message
from impetus.protocol.payloads import TamperPayload


class DarkConfig(DetectorConfig):
    type: Literal["dark"] = "dark"
    max_mean: float = 40.0
    work_ms: float = 0.0


class DarkDetector(Detector):
    """Reports `tamper/covered` for every frame darker than `max_mean`; `work_ms` of extra
    work per frame stands in for an expensive model when a test needs a slow detector.

    Registered only while an edge runtime test runs (see conftest), so other tests in the same
    process see the real plugins alone."""

    type_name = "dark"
    consumes = "video"
    Config = DarkConfig

    def __init__(self, config: DarkConfig, context: Any) -> None:  # type: ignore[override]
        super().__init__(config, context)
        self.config: DarkConfig = config
        self.seen: list[int] = []

    def process(self, sample: Sample) -> list[Detection]:
        assert isinstance(sample, VideoFrame)
        self.seen.append(sample.index)
        if self.config.work_ms:
            time.sleep(self.config.work_ms / 1000.0)
        mean = float(sample.image.mean())
        if mean > self.config.max_mean:
            return []
        payload = TamperPayload(kind="covered", score=1.0 - mean / 255.0, detail=f"frame {sample.index}")
        return [Detection(type="tamper", payload=payload, ts=sample.ts, confidence=payload.score)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class PersistentBroker:
    """mosquitto that keeps sessions and queued messages on disk across stop()/start()."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
            f"persistence_location {self.workdir}/\nmax_queued_messages 1000000\nuser root\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n"
        )
        self.process = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class Collector:
    """A plain paho subscriber recording every message under `impetus/v1/#`."""

    def __init__(self, port: int, client_id: str = "collector", persistent: bool = False) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv311,
            clean_session=not persistent,
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe("impetus/v1/#", qos=1)
        self.client.on_subscribe = lambda c, u, m, r, p: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(5):
            raise TimeoutError("the collector could not subscribe")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), bool(message.retain)))

    def events(self) -> list[EnvelopeBase]:
        with self._lock:
            raw = list(self.messages)
        return [parse_message(topic, payload) for topic, payload, _ in raw]

    def wait_for(
        self, predicate: Callable[[list[EnvelopeBase]], bool], timeout: float = 20.0
    ) -> list[EnvelopeBase]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            events = self.events()
            if predicate(events):
                return events
            time.sleep(0.05)
        raise AssertionError(f"condition not met within {timeout} s; {len(self.events())} messages arrived")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def of_type(events: list[EnvelopeBase], event_type: str) -> list[EnvelopeBase]:
    return [e for e in events if e.type == event_type]  # type: ignore[attr-defined]


def tamper_event(
    site: str = "test-site", device_id: str = "dev-1", detail: str = "generated"
) -> EnvelopeBase:
    """A valid, policy-stamped event, as a detector's output becomes after the gate."""
    return make_event(
        "tamper",
        device_id=device_id,
        site=site,
        seq=0,
        payload=TamperPayload(kind="covered", score=0.9, detail=detail),
        ts=datetime.now(UTC),
        clock=SystemClock().quality(),
        privacy=PrivacyGate(load_policy("counting-only")).stamp(),
    )


def write_frames(folder: Path, count: int, value: int = 10, size: tuple[int, int] = (48, 64)) -> Path:
    """A folder of `count` PNG frames of uniform grey `value`, each with its index drawn in."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = np.full((*size, 3), value, np.uint8)
        cv2.putText(image, str(i), (2, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (value + 40,) * 3, 1)
        cv2.imwrite(str(folder / f"frame_{i:05d}.png"), image)
    return folder
