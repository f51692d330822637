"""The detector's boxes on a real photograph (bus.jpg), rendered as an image kept beside the test
run: the evidence a reviewer opens to see the model is real."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from conftest import MODELS_DIR

from impetus.edge_agent.vision.render import BOX_BGR, draw_boxes
from impetus.edge_agent.vision.yolo import YoloDetector


def test_boxes_on_bus_jpg_are_rendered_where_the_people_and_the_bus_are(
    bus_photo: np.ndarray, tmp_path: Path
) -> None:
    found = YoloDetector.open(MODELS_DIR / "yolov3_tiny" / "yolov3_tiny_int8.onnx").detect(bus_photo)
    people = [b for b in found if b.class_name == "person" and b.score >= 0.5]
    assert len(people) >= 3 and any(b.class_name == "bus" for b in found)
    artefact = tmp_path / "bus_boxes.jpg"
    assert cv2.imwrite(str(artefact), draw_boxes(bus_photo, found))
    print(f"rendered boxes: {artefact}")

    rendered = cv2.imread(str(artefact))
    assert rendered is not None and rendered.shape == bus_photo.shape
    h, w = rendered.shape[:2]
    for box in people:
        x1, x2 = int(box.x1 * (w - 1)), int(box.x2 * (w - 1))
        y1 = int(box.y1 * (h - 1))
        edge = rendered[y1, (x1 + x2) // 2].astype(int)  # the middle of the box's top edge
        assert np.abs(edge - BOX_BGR).max() < 60, f"no box outline at the top of {box}"
    untouched = np.abs(rendered.astype(int) - bus_photo.astype(int)).max(axis=2) < 40
    assert untouched.mean() > 0.9, "only the outlines and labels were drawn, the photo is intact"
