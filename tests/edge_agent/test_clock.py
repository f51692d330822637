"""The one clock: honest about its quality, simulated for scenario playback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from impetus.edge_agent.clock import SimulatedClock, now, parse_chrony_tracking, parse_timedatectl
from impetus.edge_agent.health import parse_vcgencmd_throttled

CHRONY_SYNCED = """Reference ID    : C0A80101 (192.168.1.1)
Stratum         : 3
System time     : 0.000123456 seconds slow of NTP time
Last offset     : -0.000012 seconds
Leap status     : Normal
"""


def test_now_is_timezone_aware_utc() -> None:
    assert now().tzinfo is UTC


def test_chrony_tracking_gives_the_offset_with_its_sign() -> None:
    slow = parse_chrony_tracking(CHRONY_SYNCED)
    assert slow is not None and slow.source == "ntp"
    assert slow.offset_ms == pytest.approx(-0.123456)
    fast = parse_chrony_tracking(CHRONY_SYNCED.replace("slow", "fast"))
    assert fast is not None and fast.offset_ms == pytest.approx(0.123456)
    assert parse_chrony_tracking(CHRONY_SYNCED.replace("Normal", "Not synchronised")) is None


def test_timedatectl_only_says_whether_ntp_is_synchronised() -> None:
    synced = parse_timedatectl("NTPSynchronized=yes\n")
    assert synced is not None and (synced.source, synced.offset_ms) == ("ntp", None)
    assert parse_timedatectl("NTPSynchronized=no\n") is None


def test_a_manual_simulated_clock_moves_only_when_told() -> None:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    clock = SimulatedClock(start, rate=0)
    assert clock.now() == start
    clock.advance(2.5)
    assert clock.now() == start + timedelta(seconds=2.5)
    assert clock.quality().source == "simulated"
    with pytest.raises(ValueError, match="timezone"):
        SimulatedClock(datetime(2026, 1, 1))


def test_pi_throttling_is_read_from_the_current_bits() -> None:
    assert parse_vcgencmd_throttled("throttled=0x0") is False
    assert parse_vcgencmd_throttled("throttled=0x50005") is True
    assert parse_vcgencmd_throttled("throttled=0x50000") is False, "past events only, not now"
    assert parse_vcgencmd_throttled("error") is None
