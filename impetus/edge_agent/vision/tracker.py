"""A light multi-object tracker (SORT-like, without a Kalman filter).

Tracks are predicted forward with a constant velocity, matched greedily to new detections by IoU
(centre distance as a fallback for small fast objects), and kept through short gaps. Time is in
seconds, not frames: the object detector runs only when the motion gate lets it, so a still bag may
be seen once every few seconds and must keep its id and its dwell time meanwhile.

    tracker = Tracker()
    for t, boxes in detections_over_time:
        for track in tracker.update(boxes, t):
            print(track.track_id, track.class_name, track.dwell_s, track.stationary_s(t))
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from impetus.edge_agent.vision.yolo import ObjectBox

CLASS_GROUPS: dict[str, str] = {
    "person": "person",
    "bicycle": "vehicle",
    "motorbike": "vehicle",
    "car": "vehicle",
    "bus": "vehicle",
    "truck": "vehicle",
    "backpack": "bag",
    "handbag": "bag",
    "suitcase": "bag",
    "umbrella": "umbrella",
}
"""Classes the detector confuses with each other (car/truck, handbag/backpack) share one track."""


def group_of(class_name: str) -> str:
    return CLASS_GROUPS.get(class_name, class_name)


@dataclass
class Track:
    track_id: int
    box: ObjectBox
    first_seen: float
    last_seen: float
    hits: int = 1
    velocity: tuple[float, float] = (0.0, 0.0)
    """Centre velocity in normalised units per second."""
    still_anchor: tuple[float, float] = (0.0, 0.0)
    still_since: float = 0.0
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=15))
    classes: Counter[str] = field(default_factory=Counter)

    @property
    def class_name(self) -> str:
        """The class seen most often on this track, so a flickering label does not flip the event."""
        return self.classes.most_common(1)[0][0]

    @property
    def group(self) -> str:
        return group_of(self.class_name)

    @property
    def median_score(self) -> float:
        """Median over the recent frames: one weak frame neither starts nor ends an object (Frigate)."""
        return statistics.median(self.scores)

    @property
    def dwell_s(self) -> float:
        return self.last_seen - self.first_seen

    def stationary_s(self, now: float) -> float:
        """How long the track's centre has stayed close to where it stopped."""
        return max(0.0, min(now, self.last_seen) - self.still_since)

    def predicted(self, now: float) -> ObjectBox:
        dt = now - self.last_seen
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        b = self.box
        return ObjectBox(b.class_name, b.score, b.x1 + dx, b.y1 + dy, b.x2 + dx, b.y2 + dy)


class Tracker:
    def __init__(
        self,
        iou_threshold: float = 0.25,
        max_age_s: float = 5.0,
        min_hits: int = 2,
        still_radius: float = 0.25,
        velocity_smoothing: float = 0.5,
    ) -> None:
        """`still_radius`: how far (in box diagonals) the centre may wander and still count as still."""
        self.iou_threshold = iou_threshold
        self.max_age_s = max_age_s
        self.min_hits = min_hits
        self.still_radius = still_radius
        self.velocity_smoothing = velocity_smoothing
        self.tracks: list[Track] = []
        self._next_id = 1

    def confirmed(self, track: Track) -> bool:
        return track.hits >= self.min_hits

    def update(self, detections: Sequence[ObjectBox], now: float) -> list[Track]:
        """Match this run's detections; returns the confirmed tracks that are still alive."""
        pairs = []
        for ti, track in enumerate(self.tracks):
            guess = track.predicted(now)
            for di, det in enumerate(detections):
                if group_of(det.class_name) != track.group:
                    continue
                overlap = guess.iou(det)
                (gx, gy), (dx, dy) = guess.centre, det.centre
                near = math.hypot(gx - dx, gy - dy) < 0.5 * max(guess.w, guess.h)
                if overlap >= self.iou_threshold or near:
                    pairs.append((overlap + (0.01 if near else 0.0), ti, di))
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for _, ti, di in sorted(pairs, reverse=True):
            if ti in used_tracks or di in used_dets:
                continue
            used_tracks.add(ti)
            used_dets.add(di)
            self._advance(self.tracks[ti], detections[di], now)
        for di, det in enumerate(detections):
            if di not in used_dets:
                self.tracks.append(self._start(det, now))
        self.tracks = [t for t in self.tracks if now - t.last_seen <= self.max_age_s]
        return [t for t in self.tracks if self.confirmed(t)]

    def _start(self, det: ObjectBox, now: float) -> Track:
        track = Track(self._next_id, det, now, now, still_anchor=det.centre, still_since=now)
        track.scores.append(det.score)
        track.classes[det.class_name] += 1
        self._next_id += 1
        return track

    def _advance(self, track: Track, det: ObjectBox, now: float) -> None:
        dt = now - track.last_seen
        if dt > 0:
            (ox, oy), (nx, ny) = track.box.centre, det.centre
            k = self.velocity_smoothing
            vx, vy = (nx - ox) / dt, (ny - oy) / dt
            track.velocity = (k * track.velocity[0] + (1 - k) * vx, k * track.velocity[1] + (1 - k) * vy)
        (ax, ay), (nx, ny) = track.still_anchor, det.centre
        if math.hypot(nx - ax, ny - ay) > self.still_radius * math.hypot(det.w, det.h):
            track.still_anchor, track.still_since = det.centre, now
        track.box = det
        track.last_seen = now
        track.hits += 1
        track.scores.append(det.score)
        track.classes[det.class_name] += 1
