"""Time-ordered event ids (UUIDv7, RFC 9562), so ids sort like the events they name."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_counter = 0

EVENT_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_EVENT_ID_RE = re.compile(EVENT_ID_PATTERN)


def new_event_id() -> str:
    """A UUIDv7 string; ids made in the same millisecond by one process still sort in order."""
    global _last_ms, _counter
    with _lock:
        ms = int(time.time() * 1000)
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter > 0xFFF:
                ms += 1
                _counter = 0
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x3FF
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= counter << 64
    value |= 0b10 << 62
    value |= rand
    return str(uuid.UUID(int=value))


def is_event_id(text: str) -> bool:
    return bool(_EVENT_ID_RE.match(text))


def event_id_time_ms(event_id: str) -> int:
    """The millisecond timestamp embedded in an event id."""
    return uuid.UUID(event_id).int >> 80
