"""Optional whole-person masking: YOLOv3-tiny (COCO, `models/yolov3_tiny/`) people boxes, for
footage where a body, clothing or gait identifies as much as a face. Opened here with onnxruntime
directly (the privacy package does not import the edge agent's vision code).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from impetus.privacy.faces import MODELS_DIR, nms, session

YOLO = MODELS_DIR / "yolov3_tiny" / "yolov3_tiny_int8.onnx"
YOLO_VERSION = "yolov3-tiny-coco-int8"
DEFAULT_PERSON_THRESHOLD = 0.3
PERSON = 0
INPUT_LONG_SIDE = 416
PAD_GREY = 127


class PersonDetector:
    version = YOLO_VERSION

    def __init__(self, model: Path = YOLO, *, threads: int = 0) -> None:
        self.session = session(model, threads)

    def detect(self, image: np.ndarray, threshold: float = DEFAULT_PERSON_THRESHOLD) -> np.ndarray:
        """Nx5 float32 (x1, y1, x2, y2, score) of people, in image pixels."""
        h, w = image.shape[:2]
        scale = INPUT_LONG_SIDE / max(h, w)
        in_w, in_h = int(np.ceil(w * scale / 32) * 32), int(np.ceil(h * scale / 32) * 32)
        new_w, new_h = round(w * scale), round(h * scale)
        canvas = np.full((in_h, in_w, 3), PAD_GREY, np.uint8)
        left, top = (in_w - new_w) // 2, (in_h - new_h) // 2
        canvas[top : top + new_h, left : left + new_w] = cv2.resize(image, (new_w, new_h))
        blob = canvas[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32) / 255.0
        boxes, scores = self.session.run(None, {"images": blob})
        person = scores[0, :, PERSON]
        keep = person > threshold
        if not keep.any():
            return np.zeros((0, 5), np.float32)
        cx, cy, bw, bh = (boxes[0, keep] * [in_w, in_h, in_w, in_h]).T
        x1 = np.clip((cx - bw / 2 - left) / scale, 0, w)
        y1 = np.clip((cy - bh / 2 - top) / scale, 0, h)
        x2 = np.clip((cx + bw / 2 - left) / scale, 0, w)
        y2 = np.clip((cy + bh / 2 - top) / scale, 0, h)
        found = np.stack([x1, y1, x2, y2, person[keep]], axis=1).astype(np.float32)
        return nms(found, 0.45)
