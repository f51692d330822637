"""The cheap gate in front of the expensive models, after Frigate's motion detector.

Each frame is turned grey, shrunk to `width` pixels, blurred and compared with a running-average
background; the thresholded difference is dilated and its contours become motion boxes. A frame
with no motion costs well under a millisecond, so the object detector runs only when something
moves, plus once every `keepalive_s` so that still objects (a bag left on the ground) stay tracked.

    gate = MotionGate()
    if gate.should_run(frame_bgr, t):
        boxes = detector.detect(frame_bgr)
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from impetus.edge_agent.vision.yolo import ObjectBox


@dataclass(frozen=True, slots=True)
class MotionResult:
    boxes: list[ObjectBox]
    changed_fraction: float
    """Share of the frame that differs from the background: near 1.0 for a lighting jump or a
    covered lens, after which the background is learnt anew instead of reporting motion forever."""


class MotionGate:
    """Running-average background on a downscaled grey frame; boxes in normalised coordinates."""

    def __init__(
        self,
        width: int = 160,
        threshold: int = 25,
        min_area: float = 0.0015,
        alpha: float = 0.05,
        keepalive_s: float = 2.0,
        reset_fraction: float = 0.6,
    ) -> None:
        if width < 32:
            raise ValueError(f"motion width {width} px is too small (expected at least 32)")
        self.width = width
        self.threshold = threshold
        self.min_area = min_area
        self.alpha = alpha
        self.keepalive_s = keepalive_s
        self.reset_fraction = reset_fraction
        self.background: np.ndarray | None = None
        self.last_run: float | None = None
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))

    def _small_grey(self, image_bgr: np.ndarray) -> np.ndarray:
        h, w = image_bgr.shape[:2]
        height = max(1, round(h * self.width / w))
        grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, (self.width, height), interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(small, (5, 5), 0).astype(np.float32)

    def update(self, image_bgr: np.ndarray) -> MotionResult:
        small = self._small_grey(image_bgr)
        if self.background is None or self.background.shape != small.shape:
            self.background = small.copy()
            return MotionResult([], 0.0)
        diff = cv2.absdiff(small, self.background)
        mask = (diff > self.threshold).astype(np.uint8) * 255
        changed = float(np.count_nonzero(mask)) / mask.size
        if changed > self.reset_fraction:
            self.background = small.copy()
            whole = ObjectBox("motion", 1.0, 0.0, 0.0, 1.0, 1.0)
            return MotionResult([whole], changed)
        # Moving pixels are learnt four times slower, so a slow walker does not fade away while an
        # object that stops (a parked car) still joins the background within seconds.
        cv2.accumulateWeighted(small, self.background, self.alpha, mask=cv2.bitwise_not(mask))
        cv2.accumulateWeighted(small, self.background, self.alpha / 4, mask=mask)
        mask = cv2.dilate(mask, self.kernel, iterations=2)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        sh, sw = small.shape
        boxes = []
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            if w * h / (sw * sh) >= self.min_area:
                boxes.append(ObjectBox("motion", 1.0, x / sw, y / sh, (x + w) / sw, (y + h) / sh))
        return MotionResult(boxes, changed)

    def should_run(self, image_bgr: np.ndarray, now_s: float) -> bool:
        """True when the expensive model should look at this frame: on motion or at the keep-alive."""
        moving = bool(self.update(image_bgr).boxes)
        due = self.last_run is None or now_s - self.last_run >= self.keepalive_s
        if moving or due:
            self.last_run = now_s
            return True
        return False
