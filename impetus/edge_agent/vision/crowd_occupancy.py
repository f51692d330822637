"""How many people stand in a zone when they are too many to detect one by one.

A detector saturates in a dense crowd (people hide each other, heads are a few pixels), so the
count comes from occupancy instead, as in privacy-preserving counting without tracking (Chan et
al. 2008): which pixels differ from the empty scene, normalised for perspective.

- `ForegroundModel`: a background on a downscaled colour frame, learnt only where nothing is in
  front of it (a dense crowd standing for minutes is not absorbed), except pixels that have not
  changed at all for `static_s` (a ghost of someone who was there when the camera started).
- `occupancy`: per horizontal band of the counting region, the share of foreground pixels f is
  turned into people by the overlap law of randomly placed silhouettes, -ln(1 - f) silhouettes
  per silhouette area, where a silhouette covers about (person height in pixels)^2 times a shape
  constant. The band's people are shared among zones by where the feet of the covering bodies are.
- `OccupancyModel`: count = a * S + b * S^2 from that feature S, with `a` and `b` fitted on
  scenario frames with ground truth (`models/crowd_occupancy/fit_occupancy.py`).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from impetus.edge_agent.vision.crowd_view import OUTSIDE, CrowdView

BANDS = 12
MAX_COVER = 0.98


class ForegroundModel:
    """Foreground mask of a frame already resized to the view's size (BGR uint8)."""

    def __init__(
        self, threshold: float = 22.0, alpha: float = 0.05, static_s: float = 5.0, noise: float = 4.0
    ) -> None:
        self.threshold = threshold
        self.alpha = alpha
        self.static_s = static_s
        self.noise = noise
        self.background: np.ndarray | None = None
        self.previous: np.ndarray | None = None
        self.still_since: np.ndarray | None = None

    def apply(self, small_bgr: np.ndarray, now_s: float) -> np.ndarray:
        frame = cv2.GaussianBlur(small_bgr, (3, 3), 0).astype(np.float32)
        if self.background is None or self.background.shape != frame.shape:
            self.background = frame.copy()
            self.previous = frame
            self.still_since = np.full(frame.shape[:2], now_s)
            return np.zeros(frame.shape[:2], dtype=bool)
        assert self.previous is not None and self.still_since is not None
        foreground = cv2.absdiff(frame, self.background).max(axis=2) > self.threshold
        moved = cv2.absdiff(frame, self.previous).max(axis=2) > self.noise
        self.still_since[moved] = now_s
        ghost = now_s - self.still_since >= self.static_s
        absorb = (~foreground | ghost).astype(np.uint8)
        cv2.accumulateWeighted(frame, self.background, self.alpha, mask=absorb)
        self.previous = frame
        return foreground & ~ghost


@dataclass(frozen=True)
class OccupancyModel:
    """count = a * S + b * S^2, S the perspective-normalised occupancy of a zone."""

    a: float
    b: float
    shape: float
    """share of a (person height)^2 square a standing silhouette covers"""

    @classmethod
    def load(cls, path: Path) -> OccupancyModel:
        try:
            data = json.loads(path.read_text())
            return cls(a=float(data["a"]), b=float(data["b"]), shape=float(data["shape"]))
        except FileNotFoundError:
            raise FileNotFoundError(f"crowd occupancy coefficients {path} not found") from None
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"{path}: expected a JSON object with numbers a, b, shape ({error})") from None

    def count(self, feature: float) -> float:
        return max(0.0, self.a * feature + self.b * feature * feature)


class Occupancy:
    """Per-zone occupancy feature S of one view; the band geometry is computed once."""

    def __init__(self, view: CrowdView, shape: float, bands: int = BANDS) -> None:
        self.view = view
        rows = np.flatnonzero(view.region.any(axis=1))
        edges = np.linspace(rows[0], rows[-1] + 1, bands + 1).round().astype(int)
        self.bands = [(lo, hi) for lo, hi in itertools.pairwise(edges) if hi > lo]
        silhouette = shape * np.where(view.person_px > 0, view.person_px, np.inf) ** 2
        self.per_pixel = np.where(view.region, 1.0 / silhouette, 0.0)
        self.zones = len(view.zone_names)

    def feature(self, foreground: np.ndarray) -> np.ndarray:
        """S per zone (index as `view.zone_names`): silhouettes in view, before overlap correction."""
        out = np.zeros(self.zones)
        region, feet = self.view.region, self.view.zone_of_feet
        for lo, hi in self.bands:
            inside = region[lo:hi]
            pixels = int(inside.sum())
            if pixels == 0:
                continue
            fg = foreground[lo:hi] & inside
            cover = min(float(fg.sum()) / pixels, MAX_COVER)
            if cover <= 0.0:
                continue
            people = -np.log1p(-cover) * float(self.per_pixel[lo:hi].sum())
            weights = self.per_pixel[lo:hi][fg]
            zones = feet[lo:hi][fg]
            known = zones != OUTSIDE
            if not known.any():
                continue
            shares = np.bincount(zones[known], weights[known], self.zones)
            out += people * shares / weights.sum()
        return out
