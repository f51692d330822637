"""Crowd motion from dense optical flow, in metres per second on the ground.

Farneback flow between consecutive downscaled grey frames; every moving foreground pixel of the
counting region is carried to the ground through the homography at the feet of the body covering
it, so speeds are m/s whatever the distance from the camera. Reported: mean speed, mean direction
(degrees clockwise from +y, the site's north), coherence (length of the mean unit vector: 1 when
everyone moves the same way, near 0 for random milling or a crowd fleeing in all directions) and
how much of the motion points away from the crowd's centre (`outward`, -1..1).

`DispersalWatch` flags the panic signature the aggregator escalates on: the crowd's speed jumps
well above its own recent baseline and above a walking pace, with the motion pointing outward.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from impetus.edge_agent.vision.crowd_view import CrowdView

MIN_FLOW_PX = 0.15


@dataclass(frozen=True, slots=True)
class CrowdMotionEstimate:
    speed_mps: float
    direction_deg: float
    coherence: float
    outward: float
    moving_share: float


class CrowdFlow:
    def __init__(self, view: CrowdView, max_speed_mps: float = 12.0) -> None:
        self.view = view
        self.max_speed_mps = max_speed_mps
        self.previous: np.ndarray | None = None
        self.previous_s = 0.0

    def update(self, grey: np.ndarray, foreground: np.ndarray, now_s: float) -> CrowdMotionEstimate | None:
        """`grey` at the view's size; None on the first frame or when nothing in the region moves."""
        previous, previous_s = self.previous, self.previous_s
        self.previous, self.previous_s = grey, now_s
        dt = now_s - previous_s
        if previous is None or dt <= 0.0:
            return None
        # Flow on a half-size frame (a quarter of the cost), brought back to the view's pixels.
        half = cv2.calcOpticalFlowFarneback(
            cv2.pyrDown(previous), cv2.pyrDown(grey), None, 0.5, 2, 9, 2, 5, 1.1, 0
        )
        flow = 2.0 * cv2.resize(half, (grey.shape[1], grey.shape[0]), interpolation=cv2.INTER_LINEAR)
        view = self.view
        moving = view.region & foreground & (np.hypot(flow[..., 0], flow[..., 1]) >= MIN_FLOW_PX)
        counted = int((view.region & foreground).sum())
        if not moving.any() or counted == 0:
            return None
        rows, cols = np.nonzero(moving[::2, ::2])  # every other pixel: the flow field is smooth
        rows, cols = 2 * rows, 2 * cols
        feet_v = np.minimum(rows + 0.5 + view.person_px[rows, cols] / 2.0, view.height - 0.5)
        u = cols + 0.5
        start = _ground(view, u, feet_v)
        end = _ground(view, u + flow[rows, cols, 0], feet_v + flow[rows, cols, 1])
        velocity = (end - start) / dt
        speed = np.hypot(velocity[:, 0], velocity[:, 1])
        keep = np.isfinite(speed) & (speed <= self.max_speed_mps)
        if not keep.any():
            return None
        velocity, speed, start = velocity[keep], speed[keep], start[keep]
        weights = 1.0 / np.maximum(view.person_px[rows, cols][keep], 1.0) ** 2
        weights /= weights.sum()
        units = velocity / np.maximum(speed, 1e-9)[:, None]
        mean_unit = (units * weights[:, None]).sum(axis=0)
        radial = start - (start * weights[:, None]).sum(axis=0)
        radial /= np.maximum(np.hypot(radial[:, 0], radial[:, 1]), 1e-6)[:, None]
        outward = float((weights * (units * radial).sum(axis=1)).sum())
        return CrowdMotionEstimate(
            speed_mps=float((weights * speed).sum()),
            direction_deg=math.degrees(math.atan2(mean_unit[0], mean_unit[1])) % 360.0,
            coherence=float(min(1.0, np.hypot(*mean_unit))),
            outward=outward,
            moving_share=float(moving.sum()) / counted,
        )


def _ground(view: CrowdView, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    m = view.plane.matrix
    w = m[2, 0] * u + m[2, 1] * v + m[2, 2]
    return np.stack([(m[0, 0] * u + m[0, 1] * v + m[0, 2]) / w, (m[1, 0] * u + m[1, 1] * v + m[1, 2]) / w], 1)


class DispersalWatch:
    """Sudden acceleration of a crowd against its own baseline speed over `baseline_s`, with the
    motion pointing outward or the crowd rushing one way (seen from one side, a crowd fleeing a
    point moves mostly in one direction). Not before half a baseline has been seen (a camera that
    just started has no baseline), nor for fewer than `min_people` (one runner is not a crowd)."""

    def __init__(
        self,
        baseline_s: float = 10.0,
        min_speed_mps: float = 2.0,
        factor: float = 2.0,
        min_outward: float = 0.0,
        min_coherence: float = 0.5,
        min_people: float = 10.0,
        refractory_s: float = 30.0,
    ) -> None:
        self.baseline_s = baseline_s
        self.min_speed_mps = min_speed_mps
        self.factor = factor
        self.min_outward = min_outward
        self.min_coherence = min_coherence
        self.min_people = min_people
        self.refractory_s = refractory_s
        self.history: deque[tuple[float, float]] = deque()
        self.last_flag: float | None = None

    def update(self, motion: CrowdMotionEstimate | None, people: float, now_s: float) -> bool:
        """True once at the onset of a dispersal (then quiet for `refractory_s`)."""
        speed = motion.speed_mps if motion else 0.0
        while self.history and self.history[0][0] < now_s - self.baseline_s:
            self.history.popleft()
        warm = bool(self.history) and now_s - self.history[0][0] >= self.baseline_s / 2
        baseline = float(np.median([s for _, s in self.history])) if warm else None
        self.history.append((now_s, speed))
        if motion is None or baseline is None or people < self.min_people:
            return False
        if self.last_flag is not None and now_s - self.last_flag < self.refractory_s:
            return False
        sudden = speed >= max(self.min_speed_mps, self.factor * baseline)
        away = motion.outward >= self.min_outward or motion.coherence >= self.min_coherence
        if sudden and away:
            self.last_flag = now_s
            return True
        return False
