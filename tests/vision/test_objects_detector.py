"""The objects detector end to end on composited real photographs, and its scene rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from vision_scenes import Cutouts, paste, video, walking

from impetus.configfile import ConfigError, validate
from impetus.edge_agent.detectors.base import Detection, DetectorContext
from impetus.edge_agent.detectors.objects import ObjectsConfig, ObjectsDetector, SceneRules
from impetus.edge_agent.vision.tracker import Tracker
from impetus.edge_agent.vision.yolo import ObjectBox
from impetus.protocol.payloads import LeftObjectPayload, ObjectPayload, VehiclePayload
from impetus.protocol.site import SiteDescription

LEFT_HALF = [(0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (0.0, 1.0)]


def run(context: DetectorContext, frames: list, **settings: object) -> list[Detection]:
    detector = ObjectsDetector(ObjectsConfig.model_validate(settings), context)
    detector.setup()
    return [event for sample in video(frames) for event in detector.process(sample)]


def bus_arriving(cut: Cutouts, frames: int = 25) -> list:
    out = []
    for i in range(frames):
        frame = cut.background.copy()
        paste(frame, cut.bus, 640 - 20 * i, 340, 160)
        out.append(frame)
    return out


def test_a_person_walking_past_raises_one_object_event(cut: Cutouts, context: DetectorContext) -> None:
    events = run(context, walking(cut, 20, 100, 15))
    assert [e.type for e in events] == ["object"]
    payload = events[0].payload
    assert isinstance(payload, ObjectPayload)
    assert payload.class_name == "person" and payload.score >= 0.5 and payload.position is None


def test_a_bus_driving_into_a_pedestrian_zone_raises_one_vehicle_event(
    cut: Cutouts, context: DetectorContext
) -> None:
    zones = [{"name": "plaza", "polygon": LEFT_HALF}]
    events = run(context, bus_arriving(cut), pedestrian_zones=zones, object_classes=[])
    assert [e.type for e in events] == ["vehicle_in_pedestrian_zone"]
    payload = events[0].payload
    assert isinstance(payload, VehiclePayload)
    assert payload.class_name == "bus" and events[0].zone == "plaza"
    assert payload.box.x + payload.box.w / 2 <= 0.5  # judged by the bottom centre, inside the zone


def test_a_bus_that_stays_on_the_road_raises_no_vehicle_event(cut: Cutouts, context: DetectorContext) -> None:
    zones = [{"name": "plaza", "polygon": [(0.0, 0.5), (0.1, 0.5), (0.1, 1.0), (0.0, 1.0)]}]
    events = run(context, bus_arriving(cut), pedestrian_zones=zones, object_classes=[])
    assert events == []


def test_site_plan_zones_apply_through_the_ground_calibration(cut: Cutouts, context: DetectorContext) -> None:
    plan = SiteDescription.model_validate(
        {
            "site": "square",
            "name": "Main square",
            "width_m": 40,
            "depth_m": 20,
            "zones": [
                {
                    "name": "market",
                    "kind": "pedestrian",
                    "polygon": [
                        {"x_m": 0, "y_m": 0},
                        {"x_m": 20, "y_m": 0},
                        {"x_m": 20, "y_m": 10},
                        {"x_m": 0, "y_m": 10},
                    ],
                }
            ],
        }
    )
    ground = {
        "image_points": [(0.0, 1.0), (1.0, 1.0), (1.0, 0.5), (0.0, 0.5)],
        "ground_points": [(0.0, 0.0), (40.0, 0.0), (40.0, 20.0), (0.0, 20.0)],
    }
    context = DetectorContext(device_id="cam-1", site="square", models_dir=context.models_dir, site_plan=plan)
    events = run(context, bus_arriving(cut), ground=ground, object_classes=[])
    assert [e.type for e in events] == ["vehicle_in_pedestrian_zone"]
    payload = events[0].payload
    assert isinstance(payload, VehiclePayload) and events[0].zone == "market"
    assert payload.position is not None and 0 <= payload.position.x_m <= 20 and payload.speed_mps is not None


def box(cls: str, x: float, y: float, w: float = 0.05, h: float = 0.1) -> ObjectBox:
    return ObjectBox(cls, 0.8, x - w / 2, y - h, x + w / 2, y)


def left_bag_events(person_path: list[float | None], **settings: object) -> list[tuple[float, Detection]]:
    """A suitcase stays at x=0.5; the person is at the given x each second (None: out of view)."""
    config = ObjectsConfig.model_validate({"dwell_s": 5.0, "unattended_s": 2.0, **settings})
    rules, tracker = SceneRules(config), Tracker()
    found = []
    for t, x in enumerate(person_path):
        boxes = [box("suitcase", 0.5, 0.9)] + ([box("person", x, 0.9, 0.08, 0.4)] if x is not None else [])
        now = float(t)
        for event in rules.evaluate(tracker.update(boxes, now), now, datetime.fromtimestamp(now, UTC)):
            if event.type == "left_object":
                found.append((now, event))
    return found


def test_a_bag_whose_owner_walks_away_raises_one_left_object_after_the_dwell() -> None:
    path = [0.55] * 4 + [0.6 + 0.1 * i for i in range(4)] + [None] * 10
    found = left_bag_events(path)
    assert len(found) == 1
    when, event = found[0]
    payload = event.payload
    assert isinstance(payload, LeftObjectPayload)
    assert payload.class_name == "suitcase" and payload.dwell_s >= 5.0 and payload.unattended_s >= 2.0
    assert when == 6.0  # owner last within 0.15 at t=4; unattended for 2 s at t=6, still for 6 s


def test_a_bag_beside_its_owner_raises_nothing() -> None:
    assert left_bag_events([0.55] * 20) == []


def test_a_pedestrian_zone_off_the_image_is_refused_with_the_key_named() -> None:
    bad = {"type": "objects", "pedestrian_zones": [{"name": "plaza", "polygon": [(0, 0), (1.5, 0), (1, 1)]}]}
    with pytest.raises(ConfigError, match=r"pedestrian_zones\.0\.polygon\.1\.0"):
        validate("profile.toml", bad, ObjectsConfig)
