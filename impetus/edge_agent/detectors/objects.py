"""Objects, left-behind bags and vehicles in pedestrian zones, from one camera.

Pipeline per frame: motion gate -> YOLOv3-tiny (only on motion, or at the keep-alive) -> tracker ->
scene rules. Events are few by design: one `object` per new confirmed track (rate-limited), one
`left_object` per bag that stays still and unattended, one `vehicle_in_pedestrian_zone` per vehicle
and zone. Zone membership is judged by the bottom centre of a box, in the image or, with a ground
calibration, on the site plan (the plan's pedestrian zones then apply).

Config (in the profile's TOML):

    [[detectors]]
    type = "objects"
    dwell_s = 60
    pedestrian_zones = [{ name = "square", polygon = [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]] }]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from impetus.edge_agent.detectors.base import Detection, Detector, DetectorConfig, register_detector
from impetus.edge_agent.sources.base import Sample, VideoFrame
from impetus.edge_agent.vision.ground import GroundPlane
from impetus.edge_agent.vision.motion import MotionGate
from impetus.edge_agent.vision.tracker import Track, Tracker
from impetus.edge_agent.vision.yolo import YoloDetector
from impetus.protocol.payloads import (
    Box,
    GroundPoint,
    LeftObjectPayload,
    Name,
    ObjectClass,
    ObjectPayload,
    VehicleClass,
    VehiclePayload,
)
from impetus.protocol.site import SiteDescription

Unit = Annotated[float, Field(ge=0.0, le=1.0)]
ImagePoint = tuple[Unit, Unit]
GroundXY = tuple[float, float]
BAG_CLASSES = ("backpack", "handbag", "suitcase")


class ImageZone(BaseModel):
    """A zone drawn on the camera image, in normalised coordinates (0..1, origin top left)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Name
    polygon: list[ImagePoint] = Field(min_length=3)


class GroundCalibration(BaseModel):
    """Four image points (normalised) and where they lie on the site plan (metres)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    image_points: list[ImagePoint] = Field(min_length=4, max_length=4)
    ground_points: list[GroundXY] = Field(min_length=4, max_length=4)


class ObjectsConfig(DetectorConfig):
    type: Literal["objects"] = "objects"
    model: str = Field("yolov3_tiny/yolov3_tiny_int8.onnx", description="relative to the models folder")
    input_width: Annotated[int, Field(ge=128, le=1280, multiple_of=32)] = 416
    score_threshold: Unit = 0.3
    confirm_score: Unit = Field(0.4, description="median score a track needs before it is reported")
    nms_iou: Unit = 0.45
    motion_width: Annotated[int, Field(ge=32, le=640)] = 160
    motion_threshold: Annotated[int, Field(ge=1, le=255)] = 25
    motion_min_area: Unit = 0.0015
    keepalive_s: Annotated[float, Field(gt=0.0)] = 2.0
    min_hits: Annotated[int, Field(ge=1)] = 2
    max_age_s: Annotated[float, Field(gt=0.0)] = 5.0
    object_classes: list[ObjectClass] = Field(
        default_factory=lambda: [
            "person", "bicycle", "car", "motorbike", "bus", "truck", "backpack", "handbag", "suitcase",
        ]
    )  # fmt: skip
    max_object_events_per_min: Annotated[int, Field(ge=0)] = 30
    left_object_classes: list[Literal["backpack", "handbag", "suitcase"]] = Field(
        default_factory=lambda: list(BAG_CLASSES)
    )
    dwell_s: Annotated[float, Field(gt=0.0, description="how long a bag must stay still")] = 60.0
    unattended_s: Annotated[float, Field(ge=0.0, description="how long with nobody near it")] = 10.0
    owner_radius: Annotated[float, Field(gt=0.0)] = Field(0.15, description="in frame units, no calibration")
    owner_radius_m: Annotated[float, Field(gt=0.0)] = 3.0
    vehicle_classes: list[VehicleClass] = Field(default_factory=lambda: ["car", "motorbike", "bus", "truck"])
    pedestrian_zones: list[ImageZone] = Field(default_factory=list)
    ground: GroundCalibration | None = None
    min_frames: Annotated[int, Field(ge=1, description="consecutive runs inside a zone")] = 3


ZoneTest = tuple[str, Callable[[float, float], bool]]


def _clip_box(track: Track) -> Box:
    b = track.box
    x1, y1 = min(max(b.x1, 0.0), 1.0), min(max(b.y1, 0.0), 1.0)
    x2, y2 = min(max(b.x2, x1), 1.0), min(max(b.y2, y1), 1.0)
    return Box(x=x1, y=y1, w=x2 - x1, h=y2 - y1)


def _image_zone_test(zone: ImageZone) -> Callable[[float, float], bool]:
    polygon = np.array(zone.polygon, dtype=np.float32)
    return lambda x, y: cv2.pointPolygonTest(polygon, (x, y), False) >= 0


def _ground_zone_test(
    plane: GroundPlane, contains: Callable[[float, float], bool]
) -> Callable[[float, float], bool]:
    return lambda x, y: contains(*plane.to_ground(x, y))


class SceneRules:
    """Turns tracks into the few events an operator needs; remembers what it already reported."""

    def __init__(
        self,
        config: ObjectsConfig,
        ground: GroundPlane | None = None,
        site_plan: SiteDescription | None = None,
    ) -> None:
        self.config = config
        self.ground = ground
        self.site_plan = site_plan if ground else None
        self.zones: list[ZoneTest] = [(z.name, _image_zone_test(z)) for z in config.pedestrian_zones]
        if ground and site_plan:
            for zone in site_plan.zones:
                if zone.kind == "pedestrian":
                    self.zones.append((zone.name, _ground_zone_test(ground, zone.contains)))
        self.reported_objects: set[int] = set()
        self.reported_left: set[int] = set()
        self.reported_vehicles: set[tuple[int, str]] = set()
        self.attended_at: dict[int, float] = {}
        self.in_zone_runs: dict[tuple[int, str], int] = {}
        self.recent_object_events: deque[float] = deque()

    def position(self, track: Track) -> GroundPoint | None:
        if self.ground is None:
            return None
        x_m, y_m = self.ground.to_ground(*track.box.bottom_centre)
        return GroundPoint(x_m=x_m, y_m=y_m)

    def zone_of(self, track: Track) -> str | None:
        if self.site_plan is None or self.ground is None:
            return None
        return self.site_plan.zone_at(*self.ground.to_ground(*track.box.bottom_centre))

    def distance(self, a: Track, b: Track) -> float:
        """Between the ground contact points: metres with a calibration, frame units without."""
        (ax, ay), (bx, by) = a.box.bottom_centre, b.box.bottom_centre
        if self.ground is not None:
            (ax, ay), (bx, by) = self.ground.to_ground(ax, ay), self.ground.to_ground(bx, by)
        return float(np.hypot(ax - bx, ay - by))

    def evaluate(self, tracks: list[Track], now: float, ts: datetime) -> list[Detection]:
        fresh = [t for t in tracks if t.median_score >= self.config.confirm_score]
        seen_now = [t for t in fresh if t.last_seen == now]
        events = self._objects(fresh, now, ts)
        events += self._left_objects(fresh, seen_now, now, ts)
        events += self._vehicles(fresh, seen_now, ts)
        return events

    def _objects(self, tracks: list[Track], now: float, ts: datetime) -> list[Detection]:
        while self.recent_object_events and now - self.recent_object_events[0] >= 60.0:
            self.recent_object_events.popleft()
        events = []
        for track in tracks:
            if track.track_id in self.reported_objects or track.class_name not in self.config.object_classes:
                continue
            if len(self.recent_object_events) >= self.config.max_object_events_per_min:
                break
            self.reported_objects.add(track.track_id)
            self.recent_object_events.append(now)
            payload = ObjectPayload(
                class_name=track.class_name,  # type: ignore[arg-type]
                box=_clip_box(track),
                score=round(track.median_score, 3),
                track_id=track.track_id,
                dwell_s=round(track.dwell_s, 2),
                position=self.position(track),
            )
            events.append(self._detection("object", payload, track, ts))
        return events

    def _left_objects(
        self, tracks: list[Track], seen_now: list[Track], now: float, ts: datetime
    ) -> list[Detection]:
        radius = self.config.owner_radius_m if self.ground else self.config.owner_radius
        people = [t for t in seen_now if t.class_name == "person"]
        events = []
        for bag in tracks:
            if bag.class_name not in self.config.left_object_classes:
                continue
            attended = self.attended_at.setdefault(bag.track_id, bag.first_seen)
            if any(self.distance(bag, person) <= radius for person in people):
                attended = self.attended_at[bag.track_id] = now
            unattended = now - attended
            if (
                bag.track_id in self.reported_left
                or bag.stationary_s(now) < self.config.dwell_s
                or unattended < self.config.unattended_s
            ):
                continue
            self.reported_left.add(bag.track_id)
            payload = LeftObjectPayload(
                class_name=bag.class_name,  # type: ignore[arg-type]
                box=_clip_box(bag),
                score=round(bag.median_score, 3),
                track_id=bag.track_id,
                dwell_s=round(bag.stationary_s(now), 2),
                unattended_s=round(unattended, 2),
                position=self.position(bag),
            )
            events.append(self._detection("left_object", payload, bag, ts))
        return events

    def _vehicles(self, tracks: list[Track], seen_now: list[Track], ts: datetime) -> list[Detection]:
        events = []
        seen_ids = {t.track_id for t in seen_now}
        for track in tracks:
            if track.class_name not in self.config.vehicle_classes:
                continue
            x, y = track.box.bottom_centre
            for name, contains in self.zones:
                key = (track.track_id, name)
                if track.track_id not in seen_ids:
                    continue
                runs = self.in_zone_runs[key] = self.in_zone_runs.get(key, 0) + 1 if contains(x, y) else 0
                if runs < self.config.min_frames or key in self.reported_vehicles:
                    continue
                self.reported_vehicles.add(key)
                payload = VehiclePayload(
                    class_name=track.class_name,  # type: ignore[arg-type]
                    box=_clip_box(track),
                    score=round(track.median_score, 3),
                    track_id=track.track_id,
                    dwell_s=round(track.dwell_s, 2),
                    speed_mps=self._speed(track),
                    position=self.position(track),
                )
                events.append(self._detection("vehicle_in_pedestrian_zone", payload, track, ts, name))
        return events

    def _speed(self, track: Track) -> float | None:
        if self.ground is None:
            return None
        x, y = track.box.bottom_centre
        vx, vy = track.velocity
        (ax, ay), (bx, by) = self.ground.to_ground(x, y), self.ground.to_ground(x - vx, y - vy)
        return round(min(float(np.hypot(ax - bx, ay - by)), 100.0), 2)

    def _detection(
        self,
        kind: str,
        payload: BaseModel,
        track: Track,
        ts: datetime,
        zone: str | None = None,
    ) -> Detection:
        return Detection(
            type=kind,
            payload=payload,
            ts=ts,
            confidence=round(track.median_score, 3),
            zone=zone or self.zone_of(track),
        )


@register_detector
class ObjectsDetector(Detector):
    """Motion gate -> YOLOv3-tiny -> tracker -> scene rules, on every frame of one camera."""

    type_name = "objects"
    consumes = "video"
    Config = ObjectsConfig
    declared_cost_ms = 25.0

    config: ObjectsConfig

    def setup(self) -> None:
        c = self.config
        self.yolo = YoloDetector.open(
            self.context.models_dir / c.model,
            self.context.execution_providers,
            input_width=c.input_width,
            score_threshold=c.score_threshold,
            nms_iou=c.nms_iou,
        )
        self.gate = MotionGate(
            width=c.motion_width,
            threshold=c.motion_threshold,
            min_area=c.motion_min_area,
            keepalive_s=c.keepalive_s,
        )
        self.tracker = Tracker(min_hits=c.min_hits, max_age_s=c.max_age_s)
        ground = GroundPlane.from_points(c.ground.image_points, c.ground.ground_points) if c.ground else None
        self.rules = SceneRules(c, ground, self.context.site_plan)

    def process(self, sample: Sample) -> list[Detection]:
        if not isinstance(sample, VideoFrame):
            raise TypeError(f"the objects detector consumes video frames, got {type(sample).__name__}")
        now = sample.ts.timestamp()
        if not self.gate.should_run(sample.image, now):
            return []
        tracks = self.tracker.update(self.yolo.detect(sample.image), now)
        return self.rules.evaluate(tracks, now, sample.ts)
