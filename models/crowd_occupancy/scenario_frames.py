"""Scenario frames with the truth the crowd estimator is fitted and scored on.

For one camera of the site plan: the crowd detector configured as the simulator configures it,
and for each frame at `fps` its occupancy feature per zone next to the true number of people
whose feet stand inside the camera's counting region (the quadrilateral of its four ground
reference points) and in that zone, plus the scenario's crowd motion truth.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np

from impetus.edge_agent.config import DetectorSetting
from impetus.edge_agent.detectors.base import DetectorContext
from impetus.edge_agent.detectors.crowd import CrowdConfig, CrowdDetector
from impetus.edge_agent.simulate import with_ground_calibration
from impetus.edge_agent.sources.base import VideoFrame
from impetus.edge_agent.vision.crowd_flow import CrowdMotionEstimate
from impetus.edge_agent.vision.crowd_view import _inside_polygon
from impetus.scenario import Scenario, SpriteBank

WIDTH, HEIGHT = 640, 360


@dataclass(frozen=True)
class Observation:
    t_s: float
    features: dict[str, float]
    """occupancy feature S per zone the detector reports on"""
    truth: dict[str, int]
    areas_m2: dict[str, float]
    motion: CrowdMotionEstimate | None
    dispersal: bool
    image: np.ndarray


def crowd_detector(
    scenario: Scenario, device_id: str, models_dir: Path, config: CrowdConfig | None = None
) -> CrowdDetector:
    placement = scenario.device(device_id, "camera")
    setting = with_ground_calibration({"crowd": DetectorSetting("crowd", config or CrowdConfig())}, placement)
    context = DetectorContext(
        device_id, scenario.site.site, models_dir, placement=placement, site_plan=scenario.site
    )
    detector = CrowdDetector(setting["crowd"].config, context)
    detector.setup()
    return detector


def truth_counts(scenario: Scenario, detector: CrowdDetector, t_s: float) -> dict[str, int]:
    calibration = detector.config.ground
    assert calibration is not None
    quad = np.asarray(calibration.ground_points, dtype=np.float64)
    xy = scenario.people(t_s).xy.reshape(-1, 2)
    xy = xy[_inside_polygon(quad, xy)] if len(xy) else xy
    counts = {}
    taken = np.zeros(len(xy), dtype=bool)
    for zone in scenario.site.zones:
        polygon = np.array([(p.x_m, p.y_m) for p in zone.polygon])
        inside = (_inside_polygon(polygon, xy) & ~taken) if len(xy) else taken
        taken |= inside
        counts[zone.name] = int(inside.sum())
    return counts


def observations(
    scenario: Scenario,
    device_id: str,
    detector: CrowdDetector,
    fps: float,
    sprites: SpriteBank | None = None,
    until_s: float | None = None,
) -> Iterator[Observation]:
    end = scenario.duration_s if until_s is None else min(until_s, scenario.duration_s)
    for k in range(int(end * fps)):
        t = k / fps
        image = scenario.frame(device_id, t, WIDTH, HEIGHT, sprites)
        feature, motion, dispersal = detector.observe(
            VideoFrame(image, scenario.start + timedelta(seconds=t), k)
        )
        truth = truth_counts(scenario, detector, t)
        zones = detector.zones
        yield Observation(
            t_s=t,
            features={z.name: float(feature[i]) for i, z in zones},
            truth={z.name: truth[z.name] for _, z in zones},
            areas_m2={z.name: z.area_m2 for _, z in zones},
            motion=motion,
            dispersal=dispersal,
            image=image,
        )
