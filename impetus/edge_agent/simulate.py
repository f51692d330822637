"""Simulated devices: N real edge agents on the synthetic scenario, in one process.

Each agent is the real runtime (sources, scheduler, detectors, privacy gate, outbox, publisher);
only its sensors are synthetic. Device i takes the i-th placement of the site plan (cycling,
with `-2`, `-3`... suffixes once the plan runs out), gets the scenario sources its placement's
sensors imply and every installed detector plugin that consumes them. All sources share one
UTC `start`, so microphones agree on when a shot was heard.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from impetus.configfile import ConfigError
from impetus.edge_agent import plugins
from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.clock import SimulatedClock
from impetus.edge_agent.config import AgentConfig, DetectorSetting, Profile, load_profile
from impetus.edge_agent.sources.base import SourceConfig
from impetus.privacy.policy import DEFAULT_POLICY, load_policy
from impetus.protocol import EnvelopeBase
from impetus.protocol.site import DevicePlacement, SiteDescription

log = logging.getLogger(__name__)

SIMULATED_CROWD_FPS = 3.0
"""Frames a second the crowd detector of a simulated camera takes when its profile sets no budget."""
SENSOR_SOURCES = {"camera": ("scenario_video", "video"), "microphone": ("scenario_audio", "audio")}


def device_ids(site: SiteDescription, count: int) -> list[tuple[str, DevicePlacement]]:
    """`count` device ids over the plan's placements: the plan's own ids first, then suffixed."""
    if not site.devices:
        raise ValueError(f"site plan {site.site!r} places no devices")
    out = []
    for i in range(count):
        placement = site.devices[i % len(site.devices)]
        lap = i // len(site.devices)
        out.append((placement.device_id if lap == 0 else f"{placement.device_id}-{lap + 1}", placement))
    return out


def _source_config(
    sensor: str, placement: DevicePlacement, realtime: bool, start: datetime, scenario_s: float | None
) -> SourceConfig:
    kind, _ = SENSOR_SOURCES[sensor]
    known = plugins.sources()
    if kind not in known:
        raise ConfigError(
            "simulate",
            [f"source {kind!r} is not installed (the scenario engine provides it); known: {sorted(known)}"],
        )
    table = {
        "type": kind,
        "name": sensor,
        "device_id": placement.device_id,
        "realtime": realtime,
        "start": start,
    }
    if scenario_s is not None:
        table["duration_s"] = scenario_s
    return known[kind].Config.model_validate(table)


def _detectors(profile: Profile, kinds: set[str]) -> dict[str, DetectorSetting]:
    """Every installed detector of the needed kinds: the profile's settings where it has them."""
    chosen = {}
    for name, cls in plugins.detectors().items():
        if cls.consumes not in kinds:
            continue
        if name in profile.detectors:
            chosen[name] = profile.detectors[name]
            continue
        try:
            chosen[name] = DetectorSetting(name, cls.Config.model_validate({"type": name}))
        except ValidationError as error:
            log.warning("detector %s has no default config, left out of the simulation: %s", name, error)
    return chosen


def with_ground_calibration(
    detectors: dict[str, DetectorSetting], placement: DevicePlacement
) -> dict[str, DetectorSetting]:
    """A simulated camera knows its pose, so its crowd detector gets the four-point calibration a
    technician would survey (normalised image points and the site metres they show)."""
    crowd = detectors.get("crowd")
    if crowd is None or "camera" not in placement.sensors or getattr(crowd.config, "ground", True):
        return detectors
    from impetus.scenario import PinholeCamera

    calibration = PinholeCamera(placement, 640, 360).ground_calibration()
    ground = {
        "image_points": [(float(u) / 640, float(v) / 360) for u, v in calibration.image_points],
        "ground_points": [(float(x), float(y)) for x, y in calibration.ground_points],
    }
    config = type(crowd.config).model_validate({**crowd.config.model_dump(), "ground": ground})
    return {**detectors, "crowd": DetectorSetting("crowd", config, crowd.max_fps or SIMULATED_CROWD_FPS)}


def simulated_configs(
    site: SiteDescription,
    devices: int,
    broker: BrokerAddress,
    state_dir: Path,
    *,
    site_id: str | None = None,
    realtime: bool = True,
    start: datetime | None = None,
    scenario_s: float | None = None,
) -> list[AgentConfig]:
    """One config per simulated device; `scenario_s` compresses the scenario to that length."""
    start = start or datetime.now(UTC)
    policy = load_policy(DEFAULT_POLICY)
    profiles: dict[str, Profile] = {}
    configs = []
    for device_id, placement in device_ids(site, devices):
        if placement.profile not in profiles:
            profiles[placement.profile] = load_profile(placement.profile, require_detectors=False)
        profile = profiles[placement.profile]
        sources = tuple(_source_config(s, placement, realtime, start, scenario_s) for s in placement.sensors)
        kinds = {SENSOR_SOURCES[s][1] for s in placement.sensors}
        configs.append(
            AgentConfig(
                device_id=device_id,
                site=site_id or site.site,
                zone=placement.zone or site.zone_at(placement.position.x_m, placement.position.y_m),
                broker=broker,
                outbox_path=state_dir / f"{device_id}.outbox.sqlite",
                profile=profile,
                sources=sources,
                detectors=with_ground_calibration(_detectors(profile, kinds), placement),
                policy=policy,
                site_plan=site,
                placement=placement,
            )
        )
    return configs


@dataclass
class DeviceTally:
    """What one simulated device sent (admitted by the gate) and what the gate refused."""

    sent: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    backlog: int = 0

    def record(self, event: EnvelopeBase, allowed: bool, reason: str) -> None:
        if allowed:
            self.sent[event.type] += 1  # type: ignore[attr-defined]
        else:
            self.refused += 1


class Simulation:
    """N agents in one process, each in its own threads; `start`, then `join` (or `request_stop`)."""

    def __init__(self, configs: list[AgentConfig], start: datetime) -> None:
        self.tallies = {c.device_id: DeviceTally() for c in configs}
        self.agents = [
            EdgeAgent(
                c,
                # Simulated sensors stamp samples from the run's shared anchor, so the devices' clocks
                # agree exactly; saying `simulated` keeps them usable for gunshot localisation.
                clock=SimulatedClock(start),
                on_decision=self.tallies[c.device_id].record,
                durable_outbox=False,  # a simulated device has no power to lose
            )
            for c in configs
        ]
        self._threads: list[threading.Thread] = []

    def start(self, duration: float | None) -> None:
        """Start every agent; each serves until the scenario ends or `duration` passes."""
        started: list[EdgeAgent] = []
        try:
            for agent in self.agents:
                agent.start()
                started.append(agent)
        except BaseException:
            for agent in started:
                agent.stop()
            raise
        self._threads = [
            threading.Thread(target=a.serve, args=(duration,), name=f"agent-{a.config.device_id}")
            for a in self.agents
        ]
        for thread in self._threads:
            thread.start()

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def request_stop(self) -> None:
        for agent in self.agents:
            agent.request_stop()

    def join(self) -> dict[str, DeviceTally]:
        for thread in self._threads:
            thread.join()
        for agent in self.agents:
            self.tallies[agent.config.device_id].backlog = agent.final_backlog or 0
        return self.tallies


def run_simulation(
    configs: list[AgentConfig], duration: float | None, start: datetime
) -> dict[str, DeviceTally]:
    """Run every agent until the scenario ends or `duration` passes; what each device sent."""
    simulation = Simulation(configs, start)
    simulation.start(duration)
    return simulation.join()


def default_state_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="impetus-simulate-"))
