"""What a device reports about itself in `health`: load, temperature, throttling, memory.

Read straight from Linux (`/proc`, `/sys/class/thermal`, `vcgencmd` on a Raspberry Pi); a
figure the machine cannot give is None, never a guess.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

THERMAL_ROOT = Path("/sys/class/thermal")
# Zones that measure the SoC/CPU; on a Pi it is `cpu-thermal`, on x86 `x86_pkg_temp`, on a Jetson `CPU-therm`.
CPU_ZONE_TYPES = ("cpu-thermal", "cpu_thermal", "x86_pkg_temp", "cpu-therm", "soc_thermal", "acpitz")


def cpu_temperature_c(root: Path = THERMAL_ROOT) -> float | None:
    zones = sorted(root.glob("thermal_zone*"))
    readings: dict[str, float] = {}
    for zone in zones:
        try:
            kind = (zone / "type").read_text().strip().lower()
            readings.setdefault(kind, int((zone / "temp").read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    for kind in CPU_ZONE_TYPES:
        if kind in readings:
            return readings[kind]
    return next(iter(readings.values()), None)


def parse_vcgencmd_throttled(text: str) -> bool | None:
    """`throttled=0x50005` -> True when under-voltage or throttling is happening now (bits 0-3)."""
    match = re.search(r"throttled=0x([0-9a-fA-F]+)", text)
    if match is None:
        return None
    return bool(int(match.group(1), 16) & 0xF)


def throttled() -> bool | None:
    if shutil.which("vcgencmd") is None:
        return None
    try:
        done = subprocess.run(["vcgencmd", "get_throttled"], capture_output=True, text=True, timeout=2.0)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_vcgencmd_throttled(done.stdout)


def memory_used_mb(meminfo: Path = Path("/proc/meminfo")) -> float | None:
    try:
        fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
        total_kb = int(fields["MemTotal"].split()[0])
        available_kb = int(fields["MemAvailable"].split()[0])
    except (OSError, KeyError, ValueError):
        return None
    return (total_kb - available_kb) / 1024.0


@dataclass
class CpuLoad:
    """CPU busy percentage since the previous call (all cores together), from `/proc/stat`."""

    stat: Path = Path("/proc/stat")

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._last = self._read()

    def _read(self) -> tuple[int, int] | None:
        try:
            values = [int(v) for v in self.stat.read_text().splitlines()[0].split()[1:]]
        except (OSError, ValueError, IndexError):
            return None
        idle = values[3] + (values[4] if len(values) > 4 else 0)
        return sum(values), idle

    def percent(self) -> float | None:
        with self._lock:
            current = self._read()
            last, self._last = self._last, current
        if current is None or last is None or current[0] <= last[0]:
            return None
        total, idle = current[0] - last[0], current[1] - last[1]
        return max(0.0, 100.0 * (total - idle) / total)
