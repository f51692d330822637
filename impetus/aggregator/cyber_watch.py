"""What the aggregator sees of attacks on the device fleet, as findings for the SOC's `cyber`
alerts: bursts of signature failures or replays, unknown device ids, a device publishing far above
its expected rate, a device going silent right after a tamper event.

Fed by `LinkGuard.add_listener(watch.on_rejection)` (refused messages) and
`Ingest.add_listener(watch.on_event)` (stored events); `tick()` (every second from `start()`)
finds the silences. Each finding goes to `sink` once per device and kind per `cooldown_s`, with
its evidence, so one attack is one alert rather than a flood.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from impetus.aggregator.link_guard import Rejection

log = logging.getLogger(__name__)

FindingKind = Literal[
    "signature_failures", "replays", "unknown_device", "rate_anomaly", "silent_after_tamper"
]


@dataclass(frozen=True)
class CyberFinding:
    kind: FindingKind
    site: str
    device_id: str
    severity: Literal["moderate", "severe"]
    summary: str
    evidence: dict[str, Any]
    at: float


FindingSink = Callable[[CyberFinding], None]
LastSeen = Callable[[str], float | None]


@dataclass(frozen=True)
class CyberThresholds:
    burst_window_s: float = 60.0
    signature_failures: int = 5  # bad signatures from one device id within the window
    replays: int = 3
    rate_window_s: float = 60.0
    max_events_per_window: int = 120  # detection events; health and status are not counted
    silence_after_tamper_s: float = 60.0
    cooldown_s: float = 600.0


@dataclass
class _Tamper:
    site: str
    at: float
    event_id: str
    kind: str


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    samples: deque[str] = field(default_factory=lambda: deque(maxlen=5))

    def add(self, at: float, sample: str, window_s: float) -> int:
        self.times.append(at)
        self.samples.append(sample)
        while self.times and self.times[0] < at - window_s:
            self.times.popleft()
        return len(self.times)


class CyberWatch:
    def __init__(
        self,
        sink: FindingSink,
        *,
        thresholds: CyberThresholds | None = None,
        last_seen: LastSeen | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sink = sink
        self.thresholds = thresholds or CyberThresholds()
        self.last_seen = last_seen
        self.clock = clock
        self.findings: list[CyberFinding] = []
        self._windows: dict[tuple[str, str], _Window] = defaultdict(_Window)
        self._reported: dict[tuple[str, str], float] = {}
        self._tampers: dict[str, _Tamper] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- inputs ---------------------------------------------------------------------------------

    def on_rejection(self, rejection: Rejection) -> None:
        t = self.thresholds
        if rejection.code == "unknown_device":
            self._report(
                "unknown_device",
                rejection.site,
                rejection.device_id,
                "moderate",
                f"messages from a device id the registry does not accept: {rejection.device_id}",
                {"reason": rejection.reason},
            )
            return
        kind: FindingKind = "signature_failures" if rejection.code == "bad_signature" else "replays"
        limit = t.signature_failures if kind == "signature_failures" else t.replays
        with self._lock:
            window = self._windows[(kind, rejection.device_id)]
            count = window.add(rejection.at, rejection.reason, t.burst_window_s)
            samples = list(window.samples)
        if count >= limit:
            what = "signature failures" if kind == "signature_failures" else "replayed sequence numbers"
            self._report(
                kind,
                rejection.site,
                rejection.device_id,
                "severe",
                f"{count} {what} for {rejection.device_id} within {t.burst_window_s:g} s: forged or "
                "replayed traffic on the device link",
                {"count": count, "window_s": t.burst_window_s, "reasons": samples},
            )

    def on_event(self, item: dict[str, Any]) -> None:
        """A stored event (ingest listener): counts the rate, remembers tamper events."""
        event_type, device_id, site = item.get("type"), str(item.get("device_id")), str(item.get("site"))
        if item.get("test") or event_type in ("status", "health"):
            return
        now = self.clock()
        if event_type == "tamper":
            payload = item.get("payload") or {}
            with self._lock:
                self._tampers[device_id] = _Tamper(
                    site, now, str(item.get("event_id")), str(payload.get("kind"))
                )
        t = self.thresholds
        with self._lock:
            count = self._windows[("rate", device_id)].add(now, str(event_type), t.rate_window_s)
        if count > t.max_events_per_window:
            self._report(
                "rate_anomaly",
                site,
                device_id,
                "moderate",
                f"{device_id} sent {count} events within {t.rate_window_s:g} s (expected at most "
                f"{t.max_events_per_window}): a faulty or hijacked device, or a flood",
                {"count": count, "window_s": t.rate_window_s, "limit": t.max_events_per_window},
            )

    def tick(self) -> None:
        """Report devices silent for `silence_after_tamper_s` since their last tamper event."""
        now = self.clock()
        with self._lock:
            due = [
                (device_id, tamper)
                for device_id, tamper in self._tampers.items()
                if now - tamper.at >= self.thresholds.silence_after_tamper_s
            ]
        for device_id, tamper in due:
            heard = self.last_seen(device_id) if self.last_seen is not None else None
            with self._lock:
                self._tampers.pop(device_id, None)
            if heard is not None and heard > tamper.at:
                continue
            self._report(
                "silent_after_tamper",
                tamper.site,
                device_id,
                "severe",
                f"{device_id} went silent right after a tamper event ({tamper.kind}): the sensor may "
                "have been disabled or removed",
                {
                    "tamper_event_id": tamper.event_id,
                    "tamper_kind": tamper.kind,
                    "silent_for_s": round(now - tamper.at, 1),
                    "last_seen": heard,
                },
            )

    # -- output ---------------------------------------------------------------------------------

    def _report(
        self,
        kind: FindingKind,
        site: str,
        device_id: str,
        severity: Literal["moderate", "severe"],
        summary: str,
        evidence: dict[str, Any],
    ) -> None:
        now = self.clock()
        with self._lock:
            last = self._reported.get((kind, device_id))
            if last is not None and now - last < self.thresholds.cooldown_s:
                return
            self._reported[(kind, device_id)] = now
        finding = CyberFinding(kind, site, device_id, severity, summary, evidence, now)
        self.findings.append(finding)
        try:
            self.sink(finding)
        except Exception:
            log.exception("cyber finding sink failed for %s/%s", kind, device_id)

    # -- background -----------------------------------------------------------------------------

    def start(self, every_s: float = 1.0) -> None:
        def run() -> None:
            while not self._stop.wait(every_s):
                self.tick()

        self._thread = threading.Thread(target=run, name="cyber-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


def store_last_seen(devices: Callable[[], list[dict[str, Any]]]) -> LastSeen:
    """`last_seen` from the event store's device list (ISO timestamps -> epoch seconds)."""

    def last_seen(device_id: str) -> float | None:
        for device in devices():
            if device.get("device_id") == device_id and device.get("last_seen"):
                return datetime.fromisoformat(str(device["last_seen"]).replace("Z", "+00:00")).timestamp()
        return None

    return last_seen
