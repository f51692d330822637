"""Boxes drawn on a frame, for technicians checking a camera on site and for test artefacts.

Never called in the event path: frames stay on the device, and this draws only on a copy a person
asked for (a still from a commissioning check, a photograph in a test).
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np

from impetus.edge_agent.vision.yolo import ObjectBox

BOX_BGR = (0, 200, 255)


def draw_boxes(
    image_bgr: np.ndarray, boxes: Iterable[ObjectBox], colour: tuple[int, int, int] = BOX_BGR
) -> np.ndarray:
    """A copy of the frame with each box outlined and labelled `class score`."""
    out = image_bgr.copy()
    h, w = out.shape[:2]
    thickness = max(1, round(min(h, w) / 300))
    for box in boxes:
        p1 = (int(box.x1 * (w - 1)), int(box.y1 * (h - 1)))
        p2 = (int(box.x2 * (w - 1)), int(box.y2 * (h - 1)))
        cv2.rectangle(out, p1, p2, colour, thickness)
        label = (p1[0] + 2 * thickness, max(p1[1] - 3 * thickness, 12 * thickness))
        cv2.putText(out, f"{box.class_name} {box.score:.2f}", label, 0, 0.3 * thickness, colour, thickness)
    return out
