"""The exported YOLOv3-tiny through onnxruntime, on a real photograph."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import MODELS_DIR
from vision_scenes import Cutouts, walking

from impetus.edge_agent.inference import ModelFileError
from impetus.edge_agent.vision.yolo import DetectorInputError, YoloDetector, input_size_for


@pytest.mark.parametrize("model", ["yolov3_tiny.onnx", "yolov3_tiny_int8.onnx"])
def test_finds_the_people_and_the_bus_in_bus_jpg(model: str, bus_photo: np.ndarray) -> None:
    found = YoloDetector.open(MODELS_DIR / "yolov3_tiny" / model).detect(bus_photo)
    people = [b for b in found if b.class_name == "person" and b.score >= 0.5]
    buses = [b for b in found if b.class_name == "bus"]
    assert len(people) >= 3
    assert len(buses) == 1
    bus = buses[0]
    assert bus.w > 0.9 and 0.15 < bus.y1 < 0.3 and 0.6 < bus.y2 < 0.75  # the bus spans the photo
    assert all(0.0 <= v <= 1.0 for b in found for v in (b.x1, b.y1, b.x2, b.y2))


def test_one_person_gets_one_box_not_a_nested_second(cut: Cutouts) -> None:
    frame = walking(cut, 1, 200, 0)[0]
    found = YoloDetector.open(MODELS_DIR / "yolov3_tiny" / "yolov3_tiny_int8.onnx").detect(frame)
    assert [b.class_name for b in found] == ["person"]


def test_wide_frames_run_at_a_reduced_height_instead_of_padding_to_square() -> None:
    assert input_size_for(640, 360, 416) == (416, 256)
    assert input_size_for(1920, 1080, 416) == (416, 256)
    assert input_size_for(810, 1080, 416) == (416, 416)


def test_input_width_must_be_a_multiple_of_32() -> None:
    with pytest.raises(DetectorInputError, match="multiple of 32"):
        input_size_for(640, 360, 400)


def test_a_grey_frame_is_refused_with_what_was_expected() -> None:
    detector = YoloDetector.open(MODELS_DIR / "yolov3_tiny" / "yolov3_tiny_int8.onnx")
    with pytest.raises(DetectorInputError, match=r"expected BGR uint8 \(H, W, 3\)"):
        detector.detect(np.zeros((360, 640), dtype=np.uint8))


def test_a_missing_model_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nowhere\.onnx"):
        YoloDetector.open(tmp_path / "nowhere.onnx")
