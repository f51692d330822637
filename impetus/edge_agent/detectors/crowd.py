"""Crowd density and motion per zone, from one calibrated camera, without identifying anyone.

Per frame: foreground on a downscaled frame -> perspective-normalised occupancy per zone of the
site plan inside the counting region -> count by the fitted occupancy regression (no individual
detection, so it does not saturate like a detector in a dense crowd) -> density in persons/m2 over
the zone's ground area in view -> Fruin's walkway level of service A-F -> trend. Optical flow on
the same frame gives mean speed, direction and coherence in m/s on the ground and the `dispersal`
flag (sudden outward acceleration: the panic signature the aggregator escalates on).

Events are few: one `crowd` event per zone every `report_every_s`, sooner when its level of
service changes, and at once for every zone in view when the crowd disperses.

The ground calibration is required: four points on the image (normalised 0..1) and where they lie
on the site plan (metres). The counting region is their quadrilateral unless `region` is drawn.

    [detectors.crowd]
    camera_height_m = 5.0
    ground = { image_points = [[0.1, 0.39], [0.9, 0.39], [0.9, 1.0], [0.1, 1.0]],
               ground_points = [[32.1, 40.8], [67.9, 40.8], [54.5, 16.0], [45.5, 16.0]] }
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import Field

from impetus.edge_agent.detectors.base import Detection, Detector, DetectorConfig, register_detector
from impetus.edge_agent.detectors.objects import GroundCalibration, ImagePoint
from impetus.edge_agent.sources.base import Sample, VideoFrame
from impetus.edge_agent.vision.crowd_flow import CrowdFlow, CrowdMotionEstimate, DispersalWatch
from impetus.edge_agent.vision.crowd_occupancy import ForegroundModel, Occupancy, OccupancyModel
from impetus.edge_agent.vision.crowd_view import CrowdView
from impetus.protocol.payloads import CrowdMotion, CrowdPayload

log = logging.getLogger(__name__)

LOS_WALKWAY = (("A", 0.31), ("B", 0.43), ("C", 0.72), ("D", 1.08), ("E", 2.17))
"""Fruin's walkway levels of service: the highest density (persons/m2) of each; above E is F."""
Level = Literal["A", "B", "C", "D", "E", "F"]


def level_of_service(density: float) -> Level:
    for level, limit in LOS_WALKWAY:
        if density <= limit:
            return level  # type: ignore[return-value]
    return "F"


class CrowdConfig(DetectorConfig):
    type: Literal["crowd"] = "crowd"
    ground: GroundCalibration | None = Field(None, description="required; see the module docstring")
    camera_height_m: Annotated[float, Field(gt=1.7, le=100.0)] | None = Field(
        None, description="default: the device's height on the site plan"
    )
    region: list[ImagePoint] | None = Field(
        None, min_length=3, description="default: the ground quadrilateral"
    )
    width: Annotated[int, Field(ge=80, le=1280)] = 320
    coefficients: str = Field(
        "crowd_occupancy/coefficients.json", description="relative to the models folder"
    )
    foreground_threshold: Annotated[float, Field(gt=0.0, le=255.0)] = 15.0
    static_s: Annotated[float, Field(gt=0.0)] = 5.0
    smooth_s: Annotated[float, Field(ge=0.0)] = 2.0
    report_every_s: Annotated[float, Field(gt=0.0)] = 10.0
    min_report_gap_s: Annotated[float, Field(ge=0.0)] = 2.0
    min_zone_area_m2: Annotated[float, Field(gt=0.0)] = 20.0
    trend_window_s: Annotated[float, Field(gt=0.0)] = 10.0
    trend_change: Annotated[float, Field(gt=0.0)] = 0.15
    dispersal_min_speed_mps: Annotated[float, Field(gt=0.0)] = 2.0
    dispersal_factor: Annotated[float, Field(gt=1.0)] = 2.0
    dispersal_min_outward: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.0


class _ZoneState:
    def __init__(self, name: str, area_m2: float) -> None:
        self.name = name
        self.area_m2 = area_m2
        self.counts: deque[tuple[float, float]] = deque()
        self.last_report: float | None = None
        self.last_level: Level | None = None
        self.last_count = 0

    def add(self, now: float, count: float, keep_s: float) -> None:
        self.counts.append((now, count))
        while self.counts and self.counts[0][0] < now - keep_s:
            self.counts.popleft()

    def mean(self, since: float, until: float) -> float | None:
        values = [c for t, c in self.counts if since < t <= until]
        return float(np.mean(values)) if values else None


@register_detector
class CrowdDetector(Detector):
    """Occupancy regression and optical flow over a calibrated ground plane, per zone."""

    type_name = "crowd"
    consumes = "video"
    Config = CrowdConfig
    declared_cost_ms = 8.0

    config: CrowdConfig

    def setup(self) -> None:
        c = self.config
        if c.ground is None:
            raise ValueError(
                f"{self.context.device_id}: the crowd detector needs a ground calibration: "
                "[detectors.crowd] ground = { image_points = [4 x [u, v] in 0..1], "
                "ground_points = [4 x [x_m, y_m]] }"
            )
        height = c.camera_height_m or (self.context.placement.height_m if self.context.placement else None)
        if height is None:
            raise ValueError(
                f"{self.context.device_id}: the crowd detector needs camera_height_m "
                "(or the device placed on a site plan)"
            )
        self.model = OccupancyModel.load(self.context.models_dir / c.coefficients)
        self.calibration, self.height_m = c.ground, height
        self.view: CrowdView | None = None
        self.foreground = ForegroundModel(threshold=c.foreground_threshold, static_s=c.static_s)
        self.watch = DispersalWatch(
            min_speed_mps=c.dispersal_min_speed_mps,
            factor=c.dispersal_factor,
            min_outward=c.dispersal_min_outward,
        )
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))

    def _build(self, frame_w: int, frame_h: int) -> None:
        c = self.config
        assert self.calibration is not None
        height = max(1, round(frame_h * c.width / frame_w))
        self.view = CrowdView.build(
            c.width,
            height,
            self.calibration.image_points,
            self.calibration.ground_points,
            self.height_m,
            region=c.region,
            site_plan=self.context.site_plan,
            region_name=str(self.context.extras.get("zone") or "view"),
        )
        self.occupancy = Occupancy(self.view, self.model.shape)
        self.flow = CrowdFlow(self.view)
        areas = self.view.zone_areas_m2()
        self.zones = [
            (index, _ZoneState(name, areas[name]))
            for index, name in enumerate(self.view.zone_names)
            if areas[name] >= c.min_zone_area_m2
        ]
        self.reports_zone = self.context.site_plan is not None
        log.info(
            "%s crowd view: %.0f m2 counted, zones %s",
            self.context.device_id,
            self.view.region_area_m2,
            {z.name: round(z.area_m2) for _, z in self.zones},
        )

    def observe(self, frame: VideoFrame) -> tuple[np.ndarray, CrowdMotionEstimate | None, bool]:
        """Occupancy feature per zone of the view, crowd motion, and whether a dispersal starts."""
        h, w = frame.image.shape[:2]
        if self.view is None or round(h * self.config.width / w) != self.view.height:
            self._build(w, h)
        view = self.view
        assert view is not None
        now = frame.ts.timestamp()
        small = cv2.resize(frame.image, (view.width, view.height), interpolation=cv2.INTER_AREA)
        mask = self.foreground.apply(small, now)
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, self.kernel).astype(bool)
        motion = self.flow.update(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), mask, now)
        feature = self.occupancy.feature(mask)
        people = sum(self.model.count(float(feature[i])) for i, _ in self.zones)
        return feature, motion, self.watch.update(motion, people, now)

    def process(self, sample: Sample) -> list[Detection]:
        if not isinstance(sample, VideoFrame):
            raise TypeError(f"the crowd detector consumes video frames, got {type(sample).__name__}")
        feature, motion, dispersal = self.observe(sample)
        now = sample.ts.timestamp()
        keep = max(2 * self.config.trend_window_s, self.config.smooth_s) + 1.0
        events = []
        for index, zone in self.zones:
            zone.add(now, self.model.count(float(feature[index])), keep)
            if (detection := self._report(zone, now, sample.ts, motion, dispersal)) is not None:
                events.append(detection)
        return events

    def _report(
        self, zone: _ZoneState, now: float, ts: datetime, motion: CrowdMotionEstimate | None, dispersal: bool
    ) -> Detection | None:
        c = self.config
        count = round(zone.mean(now - c.smooth_s, now) or 0.0)
        density = min(count / zone.area_m2, 20.0)
        level = level_of_service(density)
        since = None if zone.last_report is None else now - zone.last_report
        due = since is None or since >= c.report_every_s
        changed = level != zone.last_level and (since is None or since >= c.min_report_gap_s)
        news = count > 0 or zone.last_count > 0
        if not (dispersal or (news and (due or changed))):
            return None
        zone.last_report, zone.last_level, zone.last_count = now, level, count
        payload = CrowdPayload(
            count=count,
            area_m2=round(zone.area_m2, 1),
            density=round(density, 3),
            level_of_service=level,
            trend=self._trend(zone, now),
            method="regression",
            motion=None
            if motion is None
            else CrowdMotion(
                speed_mps=round(min(motion.speed_mps, 50.0), 2),
                direction_deg=round(motion.direction_deg, 1) % 360.0,
                coherence=round(motion.coherence, 3),
                dispersal=dispersal,
            ),
        )
        return Detection(
            type="crowd",
            payload=payload,
            ts=ts,
            confidence=0.7,
            zone=zone.name if self.reports_zone else None,
        )

    def _trend(self, zone: _ZoneState, now: float) -> Literal["rising", "steady", "falling"]:
        window = self.config.trend_window_s
        recent, before = zone.mean(now - window, now), zone.mean(now - 2 * window, now - window)
        if recent is None or before is None:
            return "steady"
        change = recent - before
        if abs(change) < max(2.0, self.config.trend_change * max(before, 1.0)):
            return "steady"
        return "rising" if change > 0 else "falling"
