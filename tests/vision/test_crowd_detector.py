"""The crowd detector on the scenario's cameras: density per zone, level of service, dispersal."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from impetus.edge_agent.detectors.base import Detection, DetectorContext
from impetus.edge_agent.detectors.crowd import CrowdConfig, CrowdDetector, level_of_service
from impetus.edge_agent.sources.base import VideoFrame
from impetus.edge_agent.vision.crowd_view import CrowdView
from impetus.edge_agent.vision.ground import CalibrationError
from impetus.protocol.payloads import CrowdPayload
from impetus.scenario import Scenario

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "models" / "crowd_occupancy"))

from scenario_frames import crowd_detector  # noqa: E402

MODELS = REPO / "models"
FPS = 3.0


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return Scenario.default(duration_s=20.0, seed=3)


@pytest.fixture(scope="module")
def south_events(scenario: Scenario) -> list[tuple[float, Detection]]:
    detector = crowd_detector(scenario, "pole-south", MODELS)
    out = []
    for k in range(int(scenario.duration_s * FPS)):
        t = k / FPS
        frame = VideoFrame(scenario.frame("pole-south", t), scenario.start + timedelta(seconds=t), k)
        out += [(t, detection) for detection in detector.process(frame)]
    return out


def payloads(events: list[tuple[float, Detection]], zone: str) -> list[tuple[float, CrowdPayload]]:
    return [(t, d.payload) for t, d in events if d.zone == zone and isinstance(d.payload, CrowdPayload)]


def test_density_rises_to_level_e_as_the_protest_gathers(south_events: list[tuple[float, Detection]]) -> None:
    gathering = payloads(south_events, "gathering")
    assert gathering[0][1].level_of_service == "A"
    peak = max(p.density for _, p in gathering)
    assert 1.08 < peak <= 2.17, "the gathered protest is at Fruin's level E (about 1.3-1.9 persons/m2)"
    for _, payload in gathering:
        assert payload.density == pytest.approx(payload.count / payload.area_m2, abs=1e-3)
        assert payload.level_of_service == level_of_service(payload.density)
        assert payload.method == "regression"


def test_dispersal_is_flagged_once_within_three_seconds_of_the_onset(
    scenario: Scenario, south_events: list[tuple[float, Detection]]
) -> None:
    onset = scenario.ground_truth()["dispersal_start_s"]
    flagged = sorted({t for t, d in south_events if d.payload.motion and d.payload.motion.dispersal})
    assert len(flagged) == 1, flagged
    assert onset <= flagged[0] <= onset + 3.0
    motion = next(d.payload.motion for t, d in south_events if t == flagged[0])
    assert motion.speed_mps >= 2.0, "people run"


def test_events_come_at_a_bounded_rate(south_events: list[tuple[float, Detection]]) -> None:
    for zone in {d.zone for _, d in south_events}:
        times = [t for t, _ in payloads(south_events, zone)]
        assert len(times) <= 20 / 2.0 + 2, f"{zone}: {times}"


def test_the_simulated_camera_carries_its_ground_calibration(scenario: Scenario) -> None:
    detector = crowd_detector(scenario, "pole-west", MODELS)
    assert detector.config.ground is not None
    calibration = scenario.ground_calibration("pole-west")
    np.testing.assert_allclose(detector.config.ground.ground_points, calibration.ground_points, atol=1e-6)


def test_the_view_measures_the_ground_it_calibrates(scenario: Scenario) -> None:
    calibration = scenario.ground_calibration("pole-south")
    image = [(u / 640, v / 360) for u, v in calibration.image_points]
    ground = [tuple(p) for p in calibration.ground_points]
    view = CrowdView.build(320, 180, image, ground, camera_height_m=5.0)
    x, y = np.array(ground).T
    quad_area = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    assert view.region_area_m2 == pytest.approx(quad_area, rel=0.03)
    bottom, top = view.person_px[-1, 160], view.person_px[view.region[:, 160].argmax(), 160]
    assert bottom > 3 * top > 0, "near people look taller than far ones"


def test_without_a_ground_calibration_the_detector_says_what_it_needs() -> None:
    detector = CrowdDetector(CrowdConfig(), DetectorContext("cam-1", "square", MODELS))
    with pytest.raises(ValueError, match="needs a ground calibration"):
        detector.setup()


def test_a_degenerate_calibration_is_refused() -> None:
    line = [(0.1, 0.5), (0.4, 0.5), (0.6, 0.5), (0.9, 0.5)]
    with pytest.raises(CalibrationError, match="collinear"):
        CrowdView.build(320, 180, line, [(0, 0), (10, 0), (10, 10), (0, 10)], camera_height_m=5.0)


@pytest.mark.parametrize(
    ("density", "level"),
    [(0.0, "A"), (0.31, "A"), (0.5, "C"), (1.0, "D"), (2.0, "E"), (2.2, "F"), (5.0, "F")],
)
def test_fruin_levels_of_service(density: float, level: str) -> None:
    assert level_of_service(density) == level
