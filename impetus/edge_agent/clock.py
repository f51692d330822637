"""The one clock of an edge agent: UTC time plus an honest statement of how good it is.

Gunshot localisation compares onset times across devices, so every event carries the clock's
quality (`ntp`, `unsynced`, ...) and, where chrony can tell, the estimated offset from true UTC.
Scenario playback uses `SimulatedClock`, anchored to the scenario's start.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from impetus.protocol import ClockQuality

QUALITY_REFRESH_S = 60.0
_CHRONY_OFFSET = re.compile(r"^System time\s*:\s*([0-9.]+) seconds (fast|slow) of NTP time", re.MULTILINE)
_CHRONY_LEAP = re.compile(r"^Leap status\s*:\s*(.+)$", re.MULTILINE)


def now() -> datetime:
    """Current time, always timezone-aware UTC."""
    return datetime.now(UTC)


def parse_chrony_tracking(text: str) -> ClockQuality | None:
    """`chronyc tracking` output -> quality; None when chrony is not synchronised."""
    leap = _CHRONY_LEAP.search(text)
    if leap is None or leap.group(1).strip() == "Not synchronised":
        return None
    offset = _CHRONY_OFFSET.search(text)
    if offset is None:
        return ClockQuality(source="ntp")
    seconds = float(offset.group(1))
    # "fast of NTP time" means the local clock is ahead of true time.
    return ClockQuality(
        source="ntp", offset_ms=seconds * 1000.0 if offset.group(2) == "fast" else -seconds * 1000.0
    )


def parse_timedatectl(text: str) -> ClockQuality | None:
    """`timedatectl show -p NTPSynchronized` output -> quality (no offset is known from it)."""
    for line in text.splitlines():
        if line.strip() == "NTPSynchronized=yes":
            return ClockQuality(source="ntp")
    return None


def _run(command: list[str]) -> str | None:
    if shutil.which(command[0]) is None:
        return None
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=2.0, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def probe_quality() -> ClockQuality:
    """Ask chrony, then systemd-timesyncd; a machine that cannot say is `unsynced`."""
    chrony = _run(["chronyc", "tracking"])
    if chrony is not None and (quality := parse_chrony_tracking(chrony)) is not None:
        return quality
    timedatectl = _run(["timedatectl", "show", "-p", "NTPSynchronized"])
    if timedatectl is not None and (quality := parse_timedatectl(timedatectl)) is not None:
        return quality
    return ClockQuality(source="unsynced")


class Clock(Protocol):
    def now(self) -> datetime: ...

    def quality(self) -> ClockQuality: ...


class SystemClock:
    """The device's wall clock; its quality is probed at most once a minute (it shells out)."""

    def __init__(self, refresh_s: float = QUALITY_REFRESH_S) -> None:
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._quality: ClockQuality | None = None
        self._probed_at = 0.0

    def now(self) -> datetime:
        return now()

    def quality(self) -> ClockQuality:
        with self._lock:
            stale = time.monotonic() - self._probed_at > self._refresh_s
            if self._quality is None or stale:
                self._quality = probe_quality()
                self._probed_at = time.monotonic()
            return self._quality


class SimulatedClock:
    """Scenario time: `start` plus the monotonic time elapsed since creation times `rate`.

    With `rate=0` it only moves when told to (`advance`), which makes playback reproducible.
    """

    def __init__(self, start: datetime, rate: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("SimulatedClock start must carry a timezone (UTC)")
        if rate < 0:
            raise ValueError(f"SimulatedClock rate must be >= 0, got {rate}")
        self._start = start.astimezone(UTC)
        self._rate = rate
        self._origin = time.monotonic()
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._origin) * self._rate
            return self._start + timedelta(seconds=elapsed) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def quality(self) -> ClockQuality:
        return ClockQuality(source="simulated", offset_ms=0.0)
