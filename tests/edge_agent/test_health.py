"""Health figures read from Linux: the CPU zone is preferred, missing figures are None."""

from __future__ import annotations

from pathlib import Path

from impetus.edge_agent.health import CpuLoad, cpu_temperature_c, memory_used_mb


def zone(root: Path, index: int, kind: str, millidegrees: int) -> None:
    folder = root / f"thermal_zone{index}"
    folder.mkdir(parents=True)
    (folder / "type").write_text(f"{kind}\n")
    (folder / "temp").write_text(f"{millidegrees}\n")


def test_the_cpu_thermal_zone_is_preferred_over_others(tmp_path: Path) -> None:
    zone(tmp_path, 0, "gpu-thermal", 39000)
    zone(tmp_path, 1, "cpu-thermal", 61500)
    assert cpu_temperature_c(tmp_path) == 61.5


def test_no_thermal_zone_means_no_temperature(tmp_path: Path) -> None:
    assert cpu_temperature_c(tmp_path) is None


def test_memory_used_is_total_minus_available(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:        4096000 kB\nMemFree:  100 kB\nMemAvailable:    3072000 kB\n")
    assert memory_used_mb(meminfo) == 1000.0
    assert memory_used_mb(tmp_path / "absent") is None


def test_cpu_load_is_the_busy_share_between_two_readings(tmp_path: Path) -> None:
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\n")
    load = CpuLoad(stat)
    stat.write_text("cpu  130 0 130 840 0 0 0 0 0 0\n")
    assert load.percent() == 60.0
    assert load.percent() is None, "no time passed between the two readings"
