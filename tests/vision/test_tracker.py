"""The tracker keeps identities across frames and measures how long things stay."""

from __future__ import annotations

from conftest import MODELS_DIR
from vision_scenes import Cutouts, walking

from impetus.edge_agent.vision.tracker import Tracker
from impetus.edge_agent.vision.yolo import ObjectBox, YoloDetector


def box(cls: str, x: float, y: float, w: float = 0.05, h: float = 0.1, score: float = 0.8) -> ObjectBox:
    return ObjectBox(cls, score, x - w / 2, y - h, x + w / 2, y)


def test_a_walking_person_keeps_one_track_id(cut: Cutouts) -> None:
    yolo = YoloDetector.open(MODELS_DIR / "yolov3_tiny" / "yolov3_tiny_int8.onnx")
    tracker = Tracker()
    ids = set()
    for i, frame in enumerate(walking(cut, 15, 120, 15)):
        for track in tracker.update(yolo.detect(frame), i / 10):
            ids.add(track.track_id)
    assert len(ids) == 1
    assert tracker.tracks[0].dwell_s > 1.3


def test_two_people_crossing_keep_their_own_ids() -> None:
    tracker = Tracker()
    for i in range(20):
        t = i * 0.1
        tracker.update([box("person", 0.1 + 0.04 * i, 0.8), box("person", 0.9 - 0.04 * i, 0.7)], t)
    by_id = {t.track_id: t.box.centre[0] for t in tracker.tracks}
    assert by_id == {1: by_id[1], 2: by_id[2]} and by_id[1] > 0.8 and by_id[2] < 0.2


def test_a_still_object_accumulates_dwell_and_stationary_time_between_sparse_runs() -> None:
    tracker = Tracker(max_age_s=5.0)
    for t in (0.0, 2.0, 4.0, 6.0, 8.0):  # the detector ran only at the keep-alive
        tracks = tracker.update([box("suitcase", 0.5, 0.8)], t)
    assert [tr.track_id for tr in tracks] == [1]
    assert tracks[0].dwell_s == 8.0 and tracks[0].stationary_s(8.0) == 8.0


def test_moving_restarts_the_stationary_clock_but_not_the_dwell() -> None:
    tracker = Tracker()
    for t in range(5):
        tracker.update([box("backpack", 0.3, 0.8)], float(t))
    for t in range(5, 8):
        tracker.update([box("backpack", 0.3 + 0.03 * (t - 4), 0.8)], float(t))
    track = tracker.tracks[0]
    assert track.dwell_s == 7.0 and track.stationary_s(7.0) == 0.0


def test_a_track_is_dropped_after_max_age() -> None:
    tracker = Tracker(max_age_s=1.0)
    tracker.update([box("person", 0.5, 0.8)], 0.0)
    tracker.update([box("person", 0.5, 0.8)], 0.1)
    assert tracker.update([], 1.5) == []


def test_the_class_and_score_do_not_flicker_with_one_bad_frame() -> None:
    tracker = Tracker()
    labels = ["car", "car", "truck", "car", "car"]
    scores = [0.8, 0.7, 0.2, 0.75, 0.8]
    for i, (label, score) in enumerate(zip(labels, scores, strict=True)):
        tracks = tracker.update([box(label, 0.5, 0.8, 0.2, 0.2, score)], i * 0.1)
    assert tracks[0].class_name == "car" and tracks[0].median_score == 0.75
