"""The piazza plan and the protest-attack timeline: loadable, consistent, compressible."""

from __future__ import annotations

import math

import numpy as np
import pytest

from impetus.configfile import ConfigError, load_toml_model
from impetus.protocol.site import SiteDescription
from impetus.scenario import DEFAULT_PLAN, DEFAULT_TIMELINE, Scenario, Timeline

HEARING_RADIUS_M = 60.0


def test_every_point_of_the_square_is_heard_by_three_microphones() -> None:
    site = load_toml_model(DEFAULT_PLAN, SiteDescription)
    mics = np.array([[d.position.x_m, d.position.y_m] for d in site.devices if "microphone" in d.sensors])
    xs, ys = np.meshgrid(np.arange(0.0, site.width_m + 0.1, 1.0), np.arange(0.0, site.depth_m + 0.1, 1.0))
    points = np.stack([xs.ravel(), ys.ravel()], axis=1)
    distances = np.linalg.norm(points[:, None, :] - mics[None, :, :], axis=2)
    heard_by = (distances <= HEARING_RADIUS_M).sum(axis=1)
    assert heard_by.min() >= 3


def test_zones_tile_the_square_and_cameras_look_inwards() -> None:
    site = load_toml_model(DEFAULT_PLAN, SiteDescription)
    for x in np.arange(0.5, site.width_m, 2.0):
        for y in np.arange(0.5, site.depth_m, 2.0):
            assert site.zone_at(float(x), float(y)) is not None, (x, y)
    kinds = {z.kind for z in site.zones}
    assert {"gathering", "pedestrian", "road"} <= kinds
    cameras = [d for d in site.devices if "camera" in d.sensors]
    assert len(cameras) == 4
    centre = (site.width_m / 2, site.depth_m / 2)
    for cam in cameras:
        bearing = math.degrees(math.atan2(centre[0] - cam.position.x_m, centre[1] - cam.position.y_m)) % 360
        off = (bearing - cam.heading_deg + 180) % 360 - 180
        assert abs(off) < cam.fov_deg / 2, cam.device_id


def test_compression_keeps_the_order_of_events_and_the_real_gaps_between_shots() -> None:
    natural = load_toml_model(DEFAULT_TIMELINE, Timeline)
    short = natural.compressed(20.0)
    assert short.duration_s == 20.0
    k = 20.0 / natural.duration_s
    assert short.attack.t_s == pytest.approx(natural.attack.t_s * k)
    assert [c.t_s for c in short.hard_negatives] == pytest.approx([c.t_s * k for c in natural.hard_negatives])
    assert short.attack.interval_s == natural.attack.interval_s
    assert short.crowd.flee_speed_mps == natural.crowd.flee_speed_mps
    assert max(c.t_s for c in short.hard_negatives) < short.attack.t_s
    burst = short.phase("attack")
    real = natural.phase("attack")
    assert burst.end_s - burst.start_s == pytest.approx(real.end_s - real.start_s)


def test_too_short_a_scenario_is_refused_with_the_minimum() -> None:
    with pytest.raises(ValueError, match="too short; expected at least 15"):
        Scenario.default(duration_s=5.0)


def test_a_timeline_naming_an_unknown_zone_is_refused(tmp_path) -> None:
    text = DEFAULT_TIMELINE.read_text(encoding="utf-8").replace(
        'gathering_zone = "gathering"', 'gathering_zone = "agora"'
    )
    path = tmp_path / "story.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="'agora' is not a zone of site 'piazza'"):
        Scenario.load(DEFAULT_PLAN, path, duration_s=20.0)


def test_a_misspelt_timeline_key_names_file_and_key(tmp_path) -> None:
    text = DEFAULT_TIMELINE.read_text(encoding="utf-8").replace("shots = 4", "shoots = 4")
    path = tmp_path / "story.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"story\.toml: attack\.shoots: unknown key"):
        Scenario.load(DEFAULT_PLAN, path)


def test_the_same_seed_gives_the_same_world_and_another_seed_another() -> None:
    a = Scenario.default(duration_s=20.0, seed=11)
    b = Scenario.default(duration_s=20.0, seed=11)
    c = Scenario.default(duration_s=20.0, seed=12)
    assert a.shot_times == b.shot_times
    assert np.array_equal(a.crowd.positions, b.crowd.positions)
    assert np.array_equal(a.audio("pole-north", 12.0, 4000), b.audio("pole-north", 12.0, 4000))
    assert a.shot_times != c.shot_times
