"""The ingest's check of who sent a message: registered device, valid Ed25519 signature over the
envelope's canonical form, a `seq` that is not replayed. Raises `ContractViolation` with the codes
`unknown_device`, `bad_signature`, `replayed_seq`, so ingest dead-letters the message as it does
any other contract violation, and counts each code.

Policy: with `require_signatures` every message must come from an active registered device and be
signed. Without it, messages from devices the registry does not know are accepted unsigned (the
demo, the simulator, a lab broker), but a device that *is* registered must always sign: once
enrolled, its key is the only way to speak for it.

Replays: a device stamps `seq` from its outbox, strictly increasing. The guard remembers the last
`replay_window` seqs of each device with their event ids: the same (seq, event_id) again is a
redelivery (the store deduplicates it); a seq seen with another event id, or older than the
window, is a replay (except for `status`: the Last Will reserves its seq at connect time).
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from impetus.aggregator.device_registry import DeviceRegistry, RegisteredDevice
from impetus.protocol import ContractViolation, EnvelopeBase

REJECTION_CODES = ("unknown_device", "bad_signature", "replayed_seq")
DEFAULT_REPLAY_WINDOW = 4096
REGISTRY_CACHE_S = 2.0


@dataclass(frozen=True)
class Rejection:
    """One refused message, for the cyber findings."""

    code: str
    device_id: str
    site: str
    reason: str
    at: float


RejectionListener = Callable[[Rejection], None]


class _SeqMemory:
    def __init__(self, window: int) -> None:
        self.window = window
        self.high = -1
        self.recent: OrderedDict[int, str] = OrderedDict()

    def check(self, seq: int, event_id: str, may_be_old: bool = False) -> str | None:
        """None when fresh or a redelivery; the reason when a replay. Remembers fresh seqs."""
        seen = self.recent.get(seq)
        if seen is not None:
            return None if seen == event_id else f"seq {seq} was already used by event {seen}"
        if not may_be_old and seq <= self.high - self.window:
            return f"seq {seq} is older than the last {self.window} of this device (newest {self.high})"
        self.recent[seq] = event_id
        if len(self.recent) > self.window:
            self.recent.popitem(last=False)
        self.high = max(self.high, seq)
        return None


class LinkGuard:
    """Call it with each parsed envelope on the ingest thread; thread-safe for the counters."""

    def __init__(
        self,
        registry: DeviceRegistry,
        *,
        require_signatures: bool = False,
        replay_window: int = DEFAULT_REPLAY_WINDOW,
    ) -> None:
        if replay_window < 1:
            raise ValueError(f"replay_window must be at least 1 (got {replay_window})")
        self.registry = registry
        self.require_signatures = require_signatures
        self.replay_window = replay_window
        self._seqs: dict[str, _SeqMemory] = {}
        self._cache: dict[str, tuple[float, RegisteredDevice | None]] = {}
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listeners: list[RejectionListener] = []

    def add_listener(self, listener: RejectionListener) -> None:
        self._listeners.append(listener)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {code: self._counts[code] for code in (*REJECTION_CODES, "verified", "unsigned_accepted")}

    def forget(self, device_id: str) -> None:
        """Drop cached registry state (after a revocation or a new enrolment)."""
        self._cache.pop(device_id, None)
        self._seqs.pop(device_id, None)

    def _device(self, device_id: str) -> RegisteredDevice | None:
        now = time.monotonic()
        cached = self._cache.get(device_id)
        if cached is not None and now - cached[0] < REGISTRY_CACHE_S:
            return cached[1]
        device = self.registry.device(device_id)
        before = cached[1] if cached is not None else None
        if before is not None and device is not None and device.enrolled_at != before.enrolled_at:
            self._seqs.pop(device_id, None)  # a new enrolment starts a new seq count
        self._cache[device_id] = (now, device)
        return device

    def _reject(self, code: str, event: EnvelopeBase, reason: str) -> ContractViolation:
        with self._lock:
            self._counts[code] += 1
        rejection = Rejection(code, event.device_id, event.site, reason, time.time())
        for listener in self._listeners:
            listener(rejection)
        return ContractViolation(code, reason)

    def __call__(self, event: EnvelopeBase) -> None:
        device = self._device(event.device_id)
        if device is None:
            if self.require_signatures:
                raise self._reject(
                    "unknown_device", event, f"device {event.device_id!r} is not enrolled at this aggregator"
                )
            with self._lock:
                self._counts["unsigned_accepted"] += 1
            return
        if not device.active:
            raise self._reject(
                "unknown_device", event, f"device {event.device_id!r} was revoked at {device.revoked_at}"
            )
        if device.site != event.site:
            raise self._reject(
                "unknown_device",
                event,
                f"device {event.device_id!r} is enrolled for site {device.site!r}, not {event.site!r}",
            )
        if event.sig is None:
            raise self._reject("bad_signature", event, "unsigned message from an enrolled device")
        try:
            signature = base64.b64decode(event.sig, validate=True)
            device.public_key.verify(signature, event.signing_bytes())
        except (InvalidSignature, binascii.Error, ValueError):
            raise self._reject(
                "bad_signature", event, "signature does not match the device's registered key"
            ) from None
        if event.test:  # a technician's test event (doctor) carries no outbox seq
            with self._lock:
                self._counts["verified"] += 1
            return
        memory = self._seqs.setdefault(event.device_id, _SeqMemory(self.replay_window))
        # The Last Will (`offline` status) reserves its seq when armed, so it may be old when sent.
        replay = memory.check(event.seq, event.event_id, may_be_old=event.type == "status")  # type: ignore[attr-defined]
        if replay is not None:
            raise self._reject("replayed_seq", event, replay)
        with self._lock:
            self._counts["verified"] += 1
