"""From image to ground: a plane homography calibrated from four reference points.

A technician marks four points on the camera image (normalised 0..1) and gives where they lie on the
site plan (metres, site frame). Any point where an object touches the ground (the bottom centre of
its box) then maps to site coordinates, so zones drawn on the plan and distances in metres apply.

    plane = GroundPlane.from_points(image=[(0.1, 0.9), ...], ground=[(0.0, 0.0), ...])
    x_m, y_m = plane.to_ground(0.5, 0.8)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


class CalibrationError(ValueError):
    """Reference points that cannot define a ground plane."""


@dataclass(frozen=True)
class GroundPlane:
    matrix: np.ndarray

    @classmethod
    def from_points(
        cls, image: Sequence[tuple[float, float]], ground: Sequence[tuple[float, float]]
    ) -> GroundPlane:
        if len(image) != 4 or len(ground) != 4:
            raise CalibrationError(
                f"got {len(image)} image and {len(ground)} ground points; expected exactly 4 of each"
            )
        src = np.array(image, dtype=np.float32)
        dst = np.array(ground, dtype=np.float32)
        for name, pts in (("image", src), ("ground", dst)):
            area = abs(cv2.contourArea(pts))
            if area < 1e-6:
                raise CalibrationError(f"the 4 {name} points are collinear or repeated (area {area:.2g})")
        return cls(cv2.getPerspectiveTransform(src, dst))

    def to_ground(self, x: float, y: float) -> tuple[float, float]:
        gx, gy, w = self.matrix @ np.array([x, y, 1.0])
        return float(gx / w), float(gy / w)
