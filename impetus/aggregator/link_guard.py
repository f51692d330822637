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

The highest seq of each device's current enrolment is saved in the registry (SQLite) at most
`SAVE_INTERVAL_S` after it was accepted, and when the aggregator stops; after a restart, anything
older than the window below it is still a replay. Within the window a restart forgets which seqs
were used, but a replay there is the same signed bytes, so the same event id, which the store
keeps only once.
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
SAVE_INTERVAL_S = 1.0


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
    def __init__(self, window: int, enrolled_at: str, high: int) -> None:
        self.window = window
        self.enrolled_at = enrolled_at
        self.high = high
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


def _signed_part(received: bytes, sig: str) -> bytes | None:
    """What the device signed, cut out of the message as received: devices send the canonical
    form, so it is those bytes less the `,"sig":"..."` member. Keys are sorted and every key after
    `sig` holds a scalar, so the last such member is the envelope's own."""
    member = b',"sig":"' + sig.encode("ascii") + b'"'
    at = received.rfind(member)
    return None if at < 0 else received[:at] + received[at + len(member) :]


def _verifies(
    device: RegisteredDevice, signature: bytes, event: EnvelopeBase, received: bytes | None
) -> bool:
    """Over the received bytes first (no re-serialisation: the common case); over the canonical
    form rebuilt from the parsed event only when a sender's bytes were not canonical."""
    signed = _signed_part(received, event.sig or "") if received is not None else None
    if signed is not None:
        try:
            device.public_key.verify(signature, signed)
            return True
        except InvalidSignature:
            pass
    canonical = event.signing_bytes()
    if canonical == signed:
        return False
    try:
        device.public_key.verify(signature, canonical)
    except InvalidSignature:
        return False
    return True


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
        self._unsaved: set[str] = set()
        self._saved_at = time.monotonic()
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
        with self._lock:
            self._unsaved.discard(device_id)

    def save(self) -> None:
        """Write the newest accepted seqs to the registry (also done as messages arrive)."""
        with self._lock:
            devices, self._unsaved = self._unsaved, set()
        self._saved_at = time.monotonic()
        highs = {d: (m.enrolled_at, m.high) for d in devices if (m := self._seqs.get(d)) is not None}
        if highs:
            self.registry.save_last_seqs(highs)

    def _memory(self, device: RegisteredDevice) -> _SeqMemory:
        memory = self._seqs.get(device.device_id)
        if memory is None:
            saved = self.registry.last_seq(device.device_id, device.enrolled_at)
            memory = _SeqMemory(self.replay_window, device.enrolled_at, -1 if saved is None else saved)
            self._seqs[device.device_id] = memory
        return memory

    def _device(self, device_id: str) -> RegisteredDevice | None:
        now = time.monotonic()
        cached = self._cache.get(device_id)
        if cached is not None and now - cached[0] < REGISTRY_CACHE_S:
            return cached[1]
        device = self.registry.device(device_id)
        before = cached[1] if cached is not None else None
        if before is not None and device is not None and device.enrolled_at != before.enrolled_at:
            self.forget(device_id)  # a new enrolment starts a new seq count
        self._cache[device_id] = (now, device)
        return device

    def _reject(self, code: str, event: EnvelopeBase, reason: str) -> ContractViolation:
        with self._lock:
            self._counts[code] += 1
        rejection = Rejection(code, event.device_id, event.site, reason, time.time())
        for listener in self._listeners:
            listener(rejection)
        return ContractViolation(code, reason)

    def __call__(self, event: EnvelopeBase, received: bytes | None = None) -> None:
        """Check `event`; `received`, the message as it came off the wire, saves re-serialising it."""
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
        except (binascii.Error, ValueError):
            raise self._reject("bad_signature", event, "the signature is not base64") from None
        if not _verifies(device, signature, event, received):
            raise self._reject("bad_signature", event, "signature does not match the device's registered key")
        if event.test:  # a technician's test event (doctor) carries no outbox seq
            with self._lock:
                self._counts["verified"] += 1
            return
        memory = self._memory(device)
        # The Last Will (`offline` status) reserves its seq when armed, so it may be old when sent.
        replay = memory.check(event.seq, event.event_id, may_be_old=event.type == "status")  # type: ignore[attr-defined]
        if replay is not None:
            raise self._reject("replayed_seq", event, replay)
        with self._lock:
            self._counts["verified"] += 1
            self._unsaved.add(event.device_id)
        if time.monotonic() - self._saved_at >= SAVE_INTERVAL_S:
            self.save()
