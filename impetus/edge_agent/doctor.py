"""`impetus edge doctor`: a pass/fail sheet of everything a device needs, for the technician on
the ladder. Each check is independent; a failure says what was wrong and what was expected.

    checks = run_doctor(load_agent_config("/etc/impetus/device.toml"))
    print(render(checks)); sys.exit(exit_code(checks))

Checks: each source delivers (camera frame size, microphone level), each enabled detector loads
and its inference time on this board, broker round trip (QoS 1 PUBACK of a signed test event),
clock offset (gunshot localisation needs < 2 ms), disk for the outbox, CPU temperature and
throttling.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import statistics
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import click
import numpy as np

from impetus.edge_agent import plugins
from impetus.edge_agent.agent import detector_context
from impetus.edge_agent.clock import SystemClock
from impetus.edge_agent.config import AgentConfig
from impetus.edge_agent.health import cpu_temperature_c, throttled
from impetus.edge_agent.sources.base import AudioBlock, Sample, VideoFrame
from impetus.edge_agent.test_event import BrokerUnreachable, send_test_event

Status = Literal["pass", "warn", "fail", "skip"]
CLOCK_WARN_MS = 2.0
DISK_FAIL_MB = 100.0
DISK_WARN_MB = 1000.0
TEMP_WARN_C = 80.0
SOURCE_TIMEOUT_S = 5.0
INFERENCE_RUNS = 3
COLOURS = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "bright_black"}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


def _read_one(config: AgentConfig, index: int) -> tuple[Check, Sample | None]:
    source_config = config.sources[index]
    source_type = plugins.sources()[source_config.type]
    label = f"{'camera' if source_type.kind == 'video' else 'microphone'} {source_config.name}"
    source = source_type(source_config)
    result: dict[str, Sample | BaseException | None] = {}

    def read() -> None:
        try:
            source.open()
            result["sample"] = source.read()
        except BaseException as error:
            result["error"] = error

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(SOURCE_TIMEOUT_S)
    with contextlib.suppress(Exception):
        source.close()
    if "error" in result:
        error = result["error"]
        return Check(label, "fail", f"{source_config.type}: {type(error).__name__}: {error}"), None
    sample = result.get("sample")
    if not isinstance(sample, VideoFrame | AudioBlock):
        return Check(
            label, "fail", f"no sample within {SOURCE_TIMEOUT_S:g} s from {source_config.type}"
        ), None
    if isinstance(sample, VideoFrame):
        height, width = sample.image.shape[:2]
        return Check(label, "pass", f"frame {width}x{height}"), sample
    rms = float(np.sqrt(np.mean(np.square(sample.samples, dtype=np.float64)))) if sample.samples.size else 0.0
    level = 20 * math.log10(rms) if rms > 0 else -math.inf
    status: Status = "warn" if level < -80 else "pass"
    hint = " (silent: is the microphone connected and unmuted?)" if status == "warn" else ""
    return Check(label, status, f"level {level:.1f} dBFS at {sample.sample_rate} Hz{hint}"), sample


def _synthetic(kind: str) -> Sample:
    now = datetime.now(UTC)
    if kind == "video":
        return VideoFrame(np.zeros((720, 1280, 3), dtype=np.uint8), now, 0)
    return AudioBlock(np.zeros(1600, dtype=np.float32), 16_000, now, 0, 0)


def _detector_checks(config: AgentConfig, samples: dict[str, Sample]) -> list[Check]:
    known = plugins.detectors()
    context = detector_context(config)
    checks = []
    for setting in config.detectors.values():
        name = f"detector {setting.name}"
        if not setting.config.enabled:
            checks.append(Check(name, "skip", "disabled"))
            continue
        detector_type = known[setting.name]
        try:
            started = time.perf_counter()
            detector = detector_type(setting.config, context)
            detector.setup()
            load_ms = (time.perf_counter() - started) * 1000
            sample = samples.get(detector_type.consumes) or _synthetic(detector_type.consumes)
            times = []
            for _ in range(INFERENCE_RUNS):
                started = time.perf_counter()
                detector.process(sample)
                times.append((time.perf_counter() - started) * 1000)
            detector.close()
        except Exception as error:
            checks.append(Check(name, "fail", f"{type(error).__name__}: {error}"))
            continue
        checks.append(
            Check(name, "pass", f"loads in {load_ms:.0f} ms; inference {statistics.median(times):.1f} ms")
        )
    return checks


def broker_round_trip(config: AgentConfig, timeout_s: float = 5.0) -> Check:
    """Publish one signed test event with QoS 1 and time the broker's acknowledgement."""
    name = f"broker {config.broker.url}"
    try:
        sent = send_test_event(
            config.broker, config.site, config.device_id, "health", timeout_s, config.credentials
        )
    except BrokerUnreachable as error:
        return Check(name, "fail", str(error))
    return Check(name, "pass", f"round trip {sent.ack_ms:.1f} ms")


def clock_check() -> Check:
    quality = SystemClock().quality()
    offset = quality.offset_ms
    if offset is None:
        return Check("clock", "warn", f"offset unknown ({quality.source}): gunshot localisation needs < 2 ms")
    status: Status = "pass" if abs(offset) <= CLOCK_WARN_MS else "warn"
    return Check(
        "clock", status, f"{quality.source} offset {offset:.2f} ms (warn above {CLOCK_WARN_MS:g} ms)"
    )


def disk_check(config: AgentConfig) -> Check:
    folder = config.outbox_path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free_mb = shutil.disk_usage(folder).free / 1e6
    status: Status = "fail" if free_mb < DISK_FAIL_MB else "warn" if free_mb < DISK_WARN_MB else "pass"
    return Check("outbox disk", status, f"{free_mb:,.0f} MB free at {folder}")


def thermal_check() -> Check:
    temperature, is_throttled = cpu_temperature_c(), throttled()
    if temperature is None and is_throttled is None:
        return Check("cpu temperature", "skip", "no thermal sensor readable on this machine")
    parts = []
    status: Status = "pass"
    if temperature is not None:
        parts.append(f"{temperature:.1f} °C")
        if temperature >= TEMP_WARN_C:
            status = "warn"
    if is_throttled:
        parts.append("throttled (undervoltage or heat)")
        status = "warn"
    elif is_throttled is False:
        parts.append("not throttled")
    return Check("cpu temperature", status, ", ".join(parts))


def run_doctor(config: AgentConfig, *, broker: bool = True) -> list[Check]:
    checks: list[Check] = []
    samples: dict[str, Sample] = {}
    for index in range(len(config.sources)):
        check, sample = _read_one(config, index)
        checks.append(check)
        if sample is not None:
            samples.setdefault("video" if isinstance(sample, VideoFrame) else "audio", sample)
    checks += _detector_checks(config, samples)
    if broker:
        checks.append(broker_round_trip(config))
    checks += [clock_check(), disk_check(config), thermal_check()]
    return checks


def render(checks: list[Check], colour: bool = True) -> str:
    width = max((len(c.name) for c in checks), default=10)
    lines = []
    for check in checks:
        mark = check.status.upper().ljust(4)
        if colour:
            mark = click.style(mark, fg=COLOURS[check.status], bold=check.status == "fail")
        lines.append(f"{mark}  {check.name.ljust(width)}  {check.detail}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append(f"{failed} failed, {warned} warnings, {len(checks)} checks")
    return "\n".join(lines)


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.status == "fail" for c in checks) else 0
