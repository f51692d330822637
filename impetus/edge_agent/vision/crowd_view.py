"""What one camera's pixels mean on the ground, for counting people without detecting them.

From the four-point ground calibration (normalised image -> site metres) and the camera's height,
every pixel of a downscaled frame gets: whether it is in the counting region (the quadrilateral
of the four reference points, or a polygon drawn by the technician), the ground area it covers,
how tall a standing person whose body covers it appears (so occupancy can be normalised for
perspective, after Chan et al. 2008), where that person's feet are, and which zone of the site
plan they stand in.

The horizon is the image line the homography sends to infinity; for a camera without roll a
person of height P standing anywhere appears `(v - v_horizon) * P / camera_height` pixels tall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from impetus.edge_agent.vision.ground import CalibrationError, GroundPlane
from impetus.protocol.site import SiteDescription

PERSON_HEIGHT_M = 1.7
OUTSIDE = -1
MIN_PERSON_PX = 2.0


@dataclass(frozen=True)
class CrowdView:
    width: int
    height: int
    plane: GroundPlane
    region: np.ndarray
    """bool (height, width): the pixels counted."""
    person_px: np.ndarray
    """float (height, width): apparent height of a person whose body covers the pixel; 0 above the horizon."""
    ground_xy: np.ndarray
    """float (height, width, 2): site metres of the feet of a person whose body centre is at the pixel."""
    pixel_area_m2: np.ndarray
    zone_names: tuple[str, ...]
    zone_of_pixel: np.ndarray
    """int (height, width): index into `zone_names` of the pixel's own ground point, OUTSIDE if none."""
    zone_of_feet: np.ndarray
    """int (height, width): index into `zone_names` of the feet of the person covering the pixel."""

    @property
    def region_area_m2(self) -> float:
        return float(self.pixel_area_m2[self.region].sum())

    def zone_areas_m2(self) -> dict[str, float]:
        """Ground area of each zone inside the counting region."""
        inside = self.region & (self.zone_of_pixel != OUTSIDE)
        sums = np.bincount(self.zone_of_pixel[inside], self.pixel_area_m2[inside], len(self.zone_names))
        return {name: float(area) for name, area in zip(self.zone_names, sums, strict=True)}

    @classmethod
    def build(
        cls,
        width: int,
        height: int,
        image_points: Sequence[tuple[float, float]],
        ground_points: Sequence[tuple[float, float]],
        camera_height_m: float,
        region: Sequence[tuple[float, float]] | None = None,
        site_plan: SiteDescription | None = None,
        region_name: str = "view",
    ) -> CrowdView:
        """`image_points` and `region` in normalised image coordinates (0..1, origin top left)."""
        if camera_height_m <= PERSON_HEIGHT_M:
            raise CalibrationError(
                f"camera height {camera_height_m} m: expected more than a person's {PERSON_HEIGHT_M} m"
            )
        scale = np.array([width, height], dtype=np.float64)
        pixels = [tuple(np.array(p) * scale) for p in image_points]
        plane = GroundPlane.from_points(pixels, ground_points)
        m = plane.matrix
        u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        if abs(m[2, 1]) < 1e-12:
            raise CalibrationError("the calibration puts the horizon at infinity; expected a tilted camera")
        horizon = -(m[2, 0] * u + m[2, 2]) / m[2, 1]
        person = np.clip((v - horizon) * PERSON_HEIGHT_M / camera_height_m, 0.0, None)
        person[person < MIN_PERSON_PX] = 0.0
        own = _map(m, u, v)
        feet = _map(m, u, np.minimum(v + person / 2.0, height - 0.5))
        area = _pixel_area(m, u, v)
        polygon = np.array(region if region is not None else image_points, dtype=np.float64) * scale
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
        inside = (mask > 0) & (person > 0)
        if not inside.any():
            raise CalibrationError("the counting region lies entirely above the horizon")
        zones = tuple(z.name for z in site_plan.zones) if site_plan else (region_name,)
        if site_plan:
            zone_own, zone_feet = _zone_index(site_plan, own), _zone_index(site_plan, feet)
        else:
            zone_own = np.where(inside, 0, OUTSIDE)
            feet_px = _to_image(np.linalg.inv(m), feet)
            zone_feet = np.where(_inside_polygon(polygon, feet_px), 0, OUTSIDE)
        return cls(width, height, plane, inside, person, feet, area, zones, zone_own, zone_feet)


def _map(m: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    w = m[2, 0] * u + m[2, 1] * v + m[2, 2]
    x = (m[0, 0] * u + m[0, 1] * v + m[0, 2]) / w
    y = (m[1, 0] * u + m[1, 1] * v + m[1, 2]) / w
    return np.stack([x, y], axis=-1)


def _to_image(inverse: np.ndarray, xy: np.ndarray) -> np.ndarray:
    return _map(inverse, xy[..., 0], xy[..., 1])


def _pixel_area(m: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """|det J| of the homography at each pixel centre: square metres of ground per pixel."""
    dx = _map(m, u + 0.5, v) - _map(m, u - 0.5, v)
    dy = _map(m, u, v + 0.5) - _map(m, u, v - 0.5)
    return np.abs(dx[..., 0] * dy[..., 1] - dx[..., 1] * dy[..., 0])


def _inside_polygon(polygon: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Even-odd rule for many points at once (the same test as `Zone.contains`)."""
    x, y = points[..., 0], points[..., 1]
    inside = np.zeros(points.shape[:-1], dtype=bool)
    for (ax, ay), (bx, by) in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
        if ay == by:
            continue
        crosses = (ay > y) != (by > y)
        at = ax + (y - ay) * (bx - ax) / (by - ay)
        inside ^= crosses & (x < at)
    return inside


def _zone_index(site: SiteDescription, xy: np.ndarray) -> np.ndarray:
    out = np.full(xy.shape[:-1], OUTSIDE, dtype=np.int64)
    for index, zone in enumerate(site.zones):
        polygon = np.array([(p.x_m, p.y_m) for p in zone.polygon], dtype=np.float64)
        free = out == OUTSIDE
        out[free & _inside_polygon(polygon, xy)] = index
    return out
