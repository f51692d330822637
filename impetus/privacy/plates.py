"""Licence-plate candidates from a text detector: PP-OCRv4's DB text detector (Apache-2.0, from the
`rapidocr-onnxruntime==1.4.4` wheel) on onnxruntime. No plate detector ships openly, but a plate
is a short line of large characters; text regions of plate-like shape are masked. Shop signs and
posters get masked too: for redaction, hiding too much is the safe error.

See `models/ppocr_det/ppocr_det.md`.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from impetus.privacy.faces import MODELS_DIR, nms, session

PPOCR_DET = MODELS_DIR / "ppocr_det" / "ch_PP-OCRv4_det_infer.onnx"
PPOCR_VERSION = "ch-ppocrv4-det-rapidocr-1.4.4"
DEFAULT_PLATE_THRESHOLD = 0.5
PIXEL_THRESHOLD = 0.3  # rapidocr's `thresh`: which pixels are text
# A plate is wider than tall: EU 520x110 (4.7:1), US 12x6 in (2:1); two-line plates ~1.5:1.
ASPECT_RANGE = (1.3, 8.0)
MIN_HEIGHT_PX = 6
GROW = 1.5  # DB maps shrink text by design; rapidocr unclips by 1.6


class PlateDetector:
    """Runs with the image's short side brought up to `min_side` (rapidocr's own default, 736)
    unless that would take the long side past `max_side`. The text detector was trained on text
    that large: at a 600 x 482 photo's own size it finds a motion-blurred plate, at three quarters
    of it nothing at all (`benchmarks/anonymise.py`)."""

    version = PPOCR_VERSION

    def __init__(
        self, model: Path = PPOCR_DET, *, threads: int = 0, min_side: int = 736, max_side: int = 960
    ) -> None:
        self.session = session(model, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.min_side = min_side
        self.max_side = max_side

    def detect(self, image: np.ndarray, threshold: float = DEFAULT_PLATE_THRESHOLD) -> np.ndarray:
        """Nx5 float32 (x1, y1, x2, y2, mean text probability) of plate-shaped text regions."""
        h, w = image.shape[:2]
        scale = min(self.max_side / max(h, w), max(1.0, self.min_side / min(h, w)))
        in_w, in_h = max(32, round(w * scale / 32) * 32), max(32, round(h * scale / 32) * 32)
        shrink = in_w * in_h < w * h
        resized = cv2.resize(
            image, (in_w, in_h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        )
        blob = ((resized.astype(np.float32) / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)[None]
        prob = self.session.run(None, {self.input_name: blob})[0][0, 0]
        mask = (prob > PIXEL_THRESHOLD).astype(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        sx, sy = w / in_w, h / in_h
        found = []
        for label in range(1, count):
            x, y, bw, bh, _ = stats[label]
            score = float(prob[labels == label].mean())
            if score < threshold or bh * sy < MIN_HEIGHT_PX:
                continue
            aspect = (bw * sx) / (bh * sy)
            if not ASPECT_RANGE[0] <= aspect <= ASPECT_RANGE[1]:
                continue
            cx, cy = (x + bw / 2) * sx, (y + bh / 2) * sy
            half_w, half_h = bw * sx * GROW / 2, bh * sy * GROW * 1.3 / 2
            found.append(
                [max(0, cx - half_w), max(0, cy - half_h), min(w, cx + half_w), min(h, cy + half_h), score]
            )
        boxes = np.asarray(found, dtype=np.float32).reshape(-1, 5)
        return nms(boxes, 0.3)
