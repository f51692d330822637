"""`impetus edge simulate` builds each agent's config from the site plan's placements."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from impetus.edge_agent import plugins
from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.simulate import device_ids, simulated_configs
from impetus.protocol.site import DevicePlacement, Point, SiteDescription, Zone

SITE = SiteDescription(
    site="square",
    name="Small square",
    width_m=40,
    depth_m=30,
    zones=[
        Zone(name="centre", polygon=[Point(x_m=10, y_m=10), Point(x_m=30, y_m=10), Point(x_m=30, y_m=20)])
    ],
    devices=[
        DevicePlacement(
            device_id="pole-1",
            sensors=["camera", "microphone"],
            position=Point(x_m=25, y_m=12),
            profile="rpi5",
        ),
        DevicePlacement(
            device_id="mic-1", sensors=["microphone"], position=Point(x_m=0, y_m=0), profile="rpi-zero-2w"
        ),
    ],
)


def test_extra_devices_get_suffixed_ids() -> None:
    assert [d for d, _ in device_ids(SITE, 5)] == ["pole-1", "mic-1", "pole-1-2", "mic-1-2", "pole-1-3"]


def test_each_simulated_agent_gets_the_sources_and_detectors_its_sensors_imply(tmp_path: Path) -> None:
    start = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
    configs = simulated_configs(
        SITE,
        3,
        BrokerAddress.parse("mqtt://127.0.0.1:1883"),
        tmp_path,
        site_id="demo",
        realtime=False,
        start=start,
    )
    pole, mic, pole2 = configs
    assert [c.device_id for c in configs] == ["pole-1", "mic-1", "pole-1-2"]
    assert {c.site for c in configs} == {"demo"}
    assert [s.type for s in pole.sources] == ["scenario_video", "scenario_audio"]
    assert [s.type for s in mic.sources] == ["scenario_audio"]
    assert all(s.start == start and s.realtime is False for c in configs for s in c.sources)  # type: ignore[attr-defined]
    assert pole2.sources[0].device_id == "pole-1", "an extra device hears and sees what its placement does"  # type: ignore[attr-defined]
    video = {n for n, cls in plugins.detectors().items() if cls.consumes == "video"}
    audio = {n for n, cls in plugins.detectors().items() if cls.consumes == "audio"}
    assert set(pole.detectors) == video | audio
    assert set(mic.detectors) == audio
    assert pole.zone == "centre", "the zone comes from the placement's position when it names none"
    assert pole.profile.name == "rpi5" and mic.profile.name == "rpi-zero-2w"
    assert len({c.outbox_path for c in configs}) == 3


def test_the_scenario_can_be_compressed_for_short_runs(tmp_path: Path) -> None:
    broker = BrokerAddress.parse("mqtt://127.0.0.1:1883")
    (config,) = simulated_configs(SITE, 1, broker, tmp_path, scenario_s=30.0)
    assert {s.duration_s for s in config.sources} == {30.0}  # type: ignore[attr-defined]
