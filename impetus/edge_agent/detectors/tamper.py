"""Camera tamper: covered, blacked out, defocused or moved, one `tamper` event per incident.

Cheap enough for every frame: each frame is shrunk to `width` pixels and compared with statistics
learnt over the first `learn_frames` frames (brightness, contrast, sharpness as the variance of the
Laplacian). Every `move_check_every` frames, ORB features are matched against the reference view
and RANSAC fits the global shift of the background (people walking by are outliers; phase
correlation was tried and follows a large passer-by instead). A few features found exactly where
they were in the reference (`min_still`) prove the camera has not moved, however much of the view a
dense crowd hides or how coherently it walks: a moved or turned camera keeps none. A condition must
hold for `persist_frames` frames in a row to raise an event, and the scene must look normal for
`clear_frames` frames before the same incident can be raised again (hysteresis: one event per
incident, not per frame). Statistics follow slow changes (daylight) only while nothing is wrong.

    [[detectors]]
    type = "tamper"
    persist_frames = 5
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import Field

from impetus.edge_agent.detectors.base import Detection, Detector, DetectorConfig, register_detector
from impetus.edge_agent.sources.base import Sample, VideoFrame
from impetus.protocol.payloads import TamperPayload

TamperKind = Literal["covered", "defocused", "moved", "blackout"]
Fraction = Annotated[float, Field(gt=0.0, lt=1.0)]
STILL_PX = 2.0
"""How close to its reference position (pixels at `move_width`) a feature must be to count as still."""


class TamperConfig(DetectorConfig):
    type: Literal["tamper"] = "tamper"
    width: Annotated[int, Field(ge=64, le=640)] = 160
    learn_frames: Annotated[int, Field(ge=1)] = 10
    persist_frames: Annotated[int, Field(ge=1)] = 5
    clear_frames: Annotated[int, Field(ge=1)] = 10
    blackout_brightness: Annotated[float, Field(gt=0.0, lt=255.0)] = 20.0
    covered_contrast: Fraction = Field(0.25, description="contrast below this share of the reference")
    flat_contrast: Annotated[float, Field(ge=0.0)] = 8.0
    defocus_ratio: Fraction = Field(0.25, description="sharpness below this share of the reference")
    move_fraction: Fraction = Field(0.06, description="global shift, as a share of the frame width")
    move_width: Annotated[int, Field(ge=160, le=1280)] = 320
    move_check_every: Annotated[int, Field(ge=1)] = 5
    min_inliers: Annotated[int, Field(ge=4)] = 12
    min_still: Annotated[int, Field(ge=1)] = Field(
        3, description="reference features still within STILL_PX of where they were: the camera has not moved"
    )
    adapt_rate: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.01


@dataclass
class Reference:
    shape: tuple[int, ...]
    brightness: float
    contrast: float
    sharpness: float
    keypoints: tuple[cv2.KeyPoint, ...]
    descriptors: np.ndarray | None


@dataclass(frozen=True)
class Verdict:
    kind: TamperKind
    score: float
    detail: str


def _measure(grey: np.ndarray) -> tuple[float, float, float]:
    sharpness = float(cv2.Laplacian(grey, cv2.CV_32F).var())
    return float(grey.mean()), float(grey.std()), sharpness


@register_detector
class TamperDetector(Detector):
    type_name = "tamper"
    consumes = "video"
    Config = TamperConfig
    declared_cost_ms = 1.0

    config: TamperConfig

    def setup(self) -> None:
        self.recalibrate()

    def recalibrate(self) -> None:
        """Learn the normal view again (after a technician re-aims the camera on purpose)."""
        self.orb = cv2.ORB_create(nfeatures=400, fastThreshold=10)
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self.learning: list[tuple[np.ndarray, np.ndarray]] = []
        self.reference: Reference | None = None
        self.frames = 0
        self.last_move: Verdict | None = None
        self.active: TamperKind | None = None
        self.pending: TamperKind | None = None
        self.pending_run = 0
        self.normal_run = 0

    def _grey(self, image: np.ndarray, width: int) -> np.ndarray:
        h, w = image.shape[:2]
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return cv2.resize(grey, (width, max(8, round(h * width / w))), interpolation=cv2.INTER_AREA)

    def _learn(self, image: np.ndarray, grey: np.ndarray) -> None:
        self.learning.append((grey, self._grey(image, self.config.move_width)))
        if len(self.learning) < self.config.learn_frames:
            return
        stats = np.array([_measure(small) for small, _ in self.learning])
        view = np.median(np.stack([view for _, view in self.learning]), axis=0).astype(np.uint8)
        keypoints, descriptors = self.orb.detectAndCompute(view, None)
        brightness, contrast, sharpness = (float(v) for v in np.median(stats, axis=0))
        self.reference = Reference(grey.shape, brightness, contrast, sharpness, keypoints, descriptors)
        self.learning = []

    def classify(self, image: np.ndarray, grey: np.ndarray) -> Verdict | None:
        ref, c = self.reference, self.config
        if ref is None:
            return None
        brightness, contrast, sharpness = _measure(grey)
        if brightness < c.blackout_brightness <= ref.brightness / 2:
            score = 1.0 - brightness / c.blackout_brightness
            return Verdict("blackout", score, f"brightness {brightness:.0f} (normally {ref.brightness:.0f})")
        flat = max(c.flat_contrast, c.covered_contrast * ref.contrast)
        if contrast < flat:
            score = 1.0 - contrast / flat
            return Verdict("covered", score, f"contrast {contrast:.1f} (normally {ref.contrast:.1f})")
        if sharpness < c.defocus_ratio * ref.sharpness:
            score = 1.0 - sharpness / (c.defocus_ratio * ref.sharpness)
            return Verdict("defocused", score, f"sharpness {sharpness:.0f} (normally {ref.sharpness:.0f})")
        if self.frames % c.move_check_every == 0:
            self.last_move = self._moved(self._grey(image, c.move_width), ref)
        return self.last_move

    def _moved(self, view: np.ndarray, ref: Reference) -> Verdict | None:
        """The background's global shift against the reference, or the view lost altogether."""
        c = self.config
        keypoints, descriptors = self.orb.detectAndCompute(view, None)
        if ref.descriptors is None or len(ref.keypoints) < c.min_inliers:
            return None  # a featureless scene: movement cannot be judged, and is not guessed
        matches = self.matcher.match(ref.descriptors, descriptors) if descriptors is not None else []
        inliers, dx, dy = 0, 0.0, 0.0
        src = np.float32([ref.keypoints[m.queryIdx].pt for m in matches]).reshape(-1, 2)
        dst = np.float32([keypoints[m.trainIdx].pt for m in matches]).reshape(-1, 2)
        if int((np.linalg.norm(dst - src, axis=1) <= STILL_PX).sum()) >= c.min_still:
            return None
        if len(matches) >= c.min_inliers:
            fit, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
            if fit is not None:
                inliers, dx, dy = int(mask.sum()), float(fit[0, 2]), float(fit[1, 2])
        if inliers < c.min_inliers:
            return Verdict(
                "moved", 1.0, f"view no longer matches the reference ({inliers} of {len(matches)})"
            )
        shift = math.hypot(dx, dy) / view.shape[1]
        if shift > c.move_fraction:
            score = min(1.0, shift / (2 * c.move_fraction))
            return Verdict("moved", score, f"view shifted by {dx:+.0f}, {dy:+.0f} px of {view.shape[1]}")
        return None

    def _adapt(self, grey: np.ndarray) -> None:
        ref, rate = self.reference, self.config.adapt_rate
        if ref is None or rate == 0.0:
            return
        brightness, contrast, sharpness = _measure(grey)
        ref.brightness += rate * (brightness - ref.brightness)
        ref.contrast += rate * (contrast - ref.contrast)
        ref.sharpness += rate * (sharpness - ref.sharpness)

    def process(self, sample: Sample) -> list[Detection]:
        if not isinstance(sample, VideoFrame):
            raise TypeError(f"the tamper detector consumes video frames, got {type(sample).__name__}")
        grey = self._grey(sample.image, self.config.width).astype(np.float32)
        if self.reference is not None and self.reference.shape != grey.shape:
            self.recalibrate()
        if self.reference is None:
            self._learn(sample.image, grey)
            return []
        self.frames += 1
        verdict = self.classify(sample.image, grey)
        if verdict is None:
            self.pending, self.pending_run = None, 0
            if self.active is None:
                self._adapt(grey)
            else:
                self.normal_run += 1
                if self.normal_run >= self.config.clear_frames:
                    self.active = None
            return []
        self.normal_run = 0
        if verdict.kind == self.active:
            return []
        if verdict.kind == self.pending:
            self.pending_run += 1
        else:
            self.pending, self.pending_run = verdict.kind, 1
        if self.pending_run < self.config.persist_frames:
            return []
        self.active, self.pending, self.pending_run = verdict.kind, None, 0
        payload = TamperPayload(
            kind=verdict.kind, score=round(min(max(verdict.score, 0.0), 1.0), 3), detail=verdict.detail
        )
        return [Detection(type="tamper", payload=payload, ts=sample.ts, confidence=payload.score)]
