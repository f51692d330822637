"""The scripted actors whose exact moves the ground truth must state: the bag's owner and the car.

Both are closed-form functions of time, so the ground truth can give exact instants (when the
owner is far enough from the bag to call it unattended, when the car crosses into the zone).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from impetus.protocol.site import Zone
from impetus.scenario.crowd import zone_mask
from impetus.scenario.timeline import BagDrop, VehicleEntry

OWNER_RUN_MPS = 5.0
OWNER_REACTION_S = 0.8


def _unit(dx: float, dy: float) -> tuple[float, float, float]:
    length = math.hypot(dx, dy)
    if length == 0:
        return 0.0, 0.0, 0.0
    return dx / length, dy / length, length


@dataclass(frozen=True)
class BagOwner:
    """Walks in, puts the bag down, walks off; runs once the shots are heard."""

    bag: BagDrop
    flee_s: float
    """When the owner hears the first shot and starts to run."""

    @property
    def _approach(self) -> tuple[float, float, float]:
        b = self.bag
        return _unit(b.approach_from.x_m - b.position.x_m, b.approach_from.y_m - b.position.y_m)

    @property
    def _leave(self) -> tuple[float, float, float]:
        b = self.bag
        return _unit(b.leave_to.x_m - b.position.x_m, b.leave_to.y_m - b.position.y_m)

    @property
    def appear_s(self) -> float:
        return max(0.0, self.bag.drop_s - self._approach[2] / self.bag.walk_speed_mps)

    @property
    def walk_off_s(self) -> float:
        return self.bag.drop_s + self.bag.pause_s

    def _leave_distance(self, t_s: float) -> float:
        t0 = self.walk_off_s
        if t_s <= t0:
            return 0.0
        run_from = max(self.flee_s, t0)
        walked = self.bag.walk_speed_mps * (min(t_s, run_from) - t0)
        return walked + OWNER_RUN_MPS * max(0.0, t_s - run_from)

    def _time_at_distance(self, distance_m: float) -> float:
        t0 = self.walk_off_s
        run_from = max(self.flee_s, t0)
        walk_reach = self.bag.walk_speed_mps * (run_from - t0)
        if distance_m <= walk_reach:
            return t0 + distance_m / self.bag.walk_speed_mps
        return run_from + (distance_m - walk_reach) / OWNER_RUN_MPS

    @property
    def unattended_s(self) -> float:
        """When the owner is `unattended_m` from the bag: from then on the bag is left behind."""
        return self._time_at_distance(self.bag.unattended_m)

    @property
    def gone_s(self) -> float:
        return self._time_at_distance(self._leave[2])

    def position(self, t_s: float) -> tuple[float, float] | None:
        """Where the owner is, or None before they appear and after they have left."""
        b = self.bag
        if t_s < self.appear_s or t_s >= self.gone_s:
            return None
        if t_s < b.drop_s:
            ux, uy, _ = self._approach
            back = b.walk_speed_mps * (b.drop_s - t_s)
            return b.position.x_m + ux * back, b.position.y_m + uy * back
        ux, uy, _ = self._leave
        s = self._leave_distance(t_s)
        return b.position.x_m + ux * s, b.position.y_m + uy * s

    def speed(self, t_s: float) -> float:
        if t_s < self.bag.drop_s:
            return self.bag.walk_speed_mps
        if t_s < self.walk_off_s:
            return 0.0
        return OWNER_RUN_MPS if t_s >= self.flee_s else self.bag.walk_speed_mps


class Vehicle:
    """Drives along its path at constant speed, crossing into the zone at `enter_s`, then stops."""

    def __init__(self, entry: VehicleEntry, zone: Zone) -> None:
        self.entry = entry
        self.zone = zone
        self._pts = np.array([[p.x_m, p.y_m] for p in entry.path])
        seg = np.linalg.norm(np.diff(self._pts, axis=0), axis=1)
        self._cum = np.concatenate([[0.0], np.cumsum(seg)])
        samples = np.linspace(0.0, self._cum[-1], max(2, int(self._cum[-1] / 0.05)))
        inside = zone_mask(zone, self._at(samples))
        if not inside.any():
            raise ValueError(f"vehicle.path never enters zone {zone.name!r}")
        self._entry_s = float(samples[int(np.argmax(inside))])

    def _at(self, s: np.ndarray) -> np.ndarray:
        return np.stack(
            [np.interp(s, self._cum, self._pts[:, 0]), np.interp(s, self._cum, self._pts[:, 1])], 1
        )

    @property
    def appear_s(self) -> float:
        return self.entry.enter_s - self._entry_s / self.entry.speed_mps

    @property
    def stop_s(self) -> float:
        return self.appear_s + self._cum[-1] / self.entry.speed_mps

    @property
    def entry_point(self) -> tuple[float, float]:
        x, y = self._at(np.array([self._entry_s]))[0]
        return float(x), float(y)

    def pose(self, t_s: float) -> tuple[float, float, float] | None:
        """(x, y, heading in compass degrees), or None before the car comes into the scene."""
        if t_s < self.appear_s:
            return None
        s = min((t_s - self.appear_s) * self.entry.speed_mps, float(self._cum[-1]))
        x, y = self._at(np.array([s]))[0]
        seg = min(int(np.searchsorted(self._cum, s, side="right")) - 1, len(self._pts) - 2)
        dx, dy = self._pts[seg + 1] - self._pts[seg]
        return float(x), float(y), math.degrees(math.atan2(dx, dy)) % 360.0
