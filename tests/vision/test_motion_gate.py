"""The motion gate decides when the object detector may run."""

from __future__ import annotations

from vision_scenes import Cutouts, paste, video, walking

from impetus.edge_agent.detectors.base import DetectorContext
from impetus.edge_agent.detectors.objects import ObjectsConfig, ObjectsDetector
from impetus.edge_agent.vision.motion import MotionGate


def objects_detector(context: DetectorContext, **settings: object) -> ObjectsDetector:
    detector = ObjectsDetector(ObjectsConfig.model_validate(settings), context)
    detector.setup()
    return detector


def test_a_still_scene_runs_the_model_only_at_the_keepalive(cut: Cutouts, context: DetectorContext) -> None:
    frame = cut.background.copy()
    paste(frame, cut.person, 200, 350, 220)
    detector = objects_detector(context, keepalive_s=2.0)
    for sample in video([frame.copy() for _ in range(30)], fps=10):  # 3 s
        detector.process(sample)
    assert detector.yolo.calls == 2  # at 0 s and at 2 s


def test_a_walking_person_runs_the_model_on_every_frame(cut: Cutouts, context: DetectorContext) -> None:
    detector = objects_detector(context, keepalive_s=60.0)
    for sample in video(walking(cut, 12, 150, 12)):
        detector.process(sample)
    assert detector.yolo.calls == 12


def test_motion_box_lies_where_the_person_moved(cut: Cutouts) -> None:
    gate = MotionGate()
    gate.update(cut.background)
    frame = cut.background.copy()
    x1, y1, x2, y2 = paste(frame, cut.person, 450, 350, 220)
    result = gate.update(frame)
    assert len(result.boxes) == 1
    box = result.boxes[0]
    w, h = frame.shape[1], frame.shape[0]
    assert abs(box.x1 - x1 / w) < 0.05 and abs(box.x2 - x2 / w) < 0.05
    assert abs(box.y1 - y1 / h) < 0.05 and abs(box.y2 - y2 / h) < 0.05


def test_an_unchanged_frame_has_no_motion(cut: Cutouts) -> None:
    gate = MotionGate()
    gate.update(cut.background)
    assert gate.update(cut.background.copy()).boxes == []


def test_a_sudden_change_of_the_whole_view_is_learnt_at_once(cut: Cutouts) -> None:
    gate = MotionGate()
    gate.update(cut.background)
    darker = (cut.background * 0.3).astype(cut.background.dtype)
    first = gate.update(darker)
    assert first.changed_fraction > 0.6 and len(first.boxes) == 1
    assert gate.update(darker.copy()).boxes == []
