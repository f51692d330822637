"""A pinhole camera standing where the site plan puts it, and its ground-plane homography.

The plan gives position, mounting height, compass heading and horizontal field of view; the camera
is tilted down so its optical axis meets the ground `AIM_DISTANCE_M` ahead, as an installer would
aim a pole camera at the middle of its view. No lens distortion, square pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from impetus.protocol.site import DevicePlacement

AIM_DISTANCE_M = 20.0
NEAR_M = 0.5


@dataclass(frozen=True)
class GroundCalibration:
    """Four image points (pixels) and the ground points (site metres) they show, and the
    homography taking image pixels to ground metres: what a crowd counter needs to turn people
    per pixel area into people per square metre."""

    image_points: np.ndarray
    ground_points: np.ndarray
    image_to_ground: np.ndarray

    def to_ground(self, uv: np.ndarray) -> np.ndarray:
        pts = np.column_stack([np.asarray(uv, dtype=np.float64).reshape(-1, 2), np.ones(len(uv))])
        mapped = pts @ self.image_to_ground.T
        return mapped[:, :2] / mapped[:, 2:3]


class PinholeCamera:
    def __init__(self, placement: DevicePlacement, width: int, height: int) -> None:
        if "camera" not in placement.sensors:
            raise ValueError(f"device {placement.device_id!r} has no camera on the site plan")
        if width < 16 or height < 16:
            raise ValueError(f"frame size {width}x{height} is too small; expected at least 16x16 pixels")
        self.placement = placement
        self.width, self.height = width, height
        self.centre = np.array([placement.position.x_m, placement.position.y_m, placement.height_m])
        self.tilt_deg = math.degrees(math.atan2(placement.height_m, AIM_DISTANCE_M))
        heading = math.radians(placement.heading_deg)
        tilt = math.radians(self.tilt_deg)
        forward = np.array([math.sin(heading), math.cos(heading), 0.0])
        right = np.array([math.cos(heading), -math.sin(heading), 0.0])
        up = np.array([0.0, 0.0, 1.0])
        # Rows: camera x (right), y (down in the image), z (optical axis) in site coordinates.
        self.rotation = np.stack(
            [
                right,
                -math.cos(tilt) * up - math.sin(tilt) * forward,
                math.cos(tilt) * forward - math.sin(tilt) * up,
            ]
        )
        self.focal_px = (width / 2.0) / math.tan(math.radians(placement.fov_deg) / 2.0)
        self.cx, self.cy = width / 2.0, height / 2.0

    @property
    def intrinsics(self) -> np.ndarray:
        return np.array([[self.focal_px, 0.0, self.cx], [0.0, self.focal_px, self.cy], [0.0, 0.0, 1.0]])

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Site points (N, 3) in camera coordinates (N, 3); z is the depth along the optical axis."""
        return (np.asarray(points, dtype=np.float64) - self.centre) @ self.rotation.T

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (N, 2) and depths (N,) of site points (N, 3); pixels are meaningless where depth <= 0."""
        cam = self.to_camera(points)
        depth = cam[:, 2]
        safe = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
        u = self.focal_px * cam[:, 0] / safe + self.cx
        v = self.focal_px * cam[:, 1] / safe + self.cy
        return np.stack([u, v], axis=1), depth

    def project_polygon(self, points: np.ndarray) -> np.ndarray | None:
        """A planar polygon in site coordinates, clipped at the near plane, as image points."""
        cam = self.to_camera(points)
        clipped = []
        for a, b in zip(cam, np.roll(cam, -1, axis=0), strict=True):
            if a[2] >= NEAR_M:
                clipped.append(a)
            if (a[2] >= NEAR_M) != (b[2] >= NEAR_M):
                clipped.append(a + (b - a) * (NEAR_M - a[2]) / (b[2] - a[2]))
        if len(clipped) < 3:
            return None
        pts = np.array(clipped)
        return np.stack(
            [
                self.focal_px * pts[:, 0] / pts[:, 2] + self.cx,
                self.focal_px * pts[:, 1] / pts[:, 2] + self.cy,
            ],
            1,
        )

    @property
    def horizon_v(self) -> float:
        """Image row of the horizon (above row 0 when the camera looks steeply down)."""
        return self.cy - self.focal_px * math.tan(math.radians(self.tilt_deg))

    def ground_to_image(self) -> np.ndarray:
        """Homography taking ground points (x, y, 1) in site metres to image pixels."""
        r = self.rotation
        return self.intrinsics @ np.column_stack([r[:, 0], r[:, 1], -r @ self.centre])

    def ground_calibration(self) -> GroundCalibration:
        """Four well-spread image points on the ground (lower part of the frame) and their site
        positions, found by intersecting the pixel rays with the ground."""
        top = max(self.horizon_v + 0.25 * (self.height - self.horizon_v), 0.0)
        bottom = self.height - 1.0
        image = np.array(
            [
                [0.1 * self.width, top],
                [0.9 * self.width, top],
                [0.9 * self.width, bottom],
                [0.1 * self.width, bottom],
            ]
        )
        to_ground = np.linalg.inv(self.ground_to_image())
        to_ground /= to_ground[2, 2]
        calib = GroundCalibration(image, np.empty((0, 2)), to_ground)
        return GroundCalibration(image, calib.to_ground(image), to_ground)
