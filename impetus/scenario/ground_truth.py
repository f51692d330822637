"""What really happened, for tests and benchmarks to score detectors and the correlator against.

One JSON document: every shot with its exact emission time and position (and when its direct sound
reached each microphone), the hard negatives, the bag and the car, and per second the crowd per
zone. Times are scenario seconds, each paired with an absolute UTC time from the run's anchor.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from impetus.protocol.canonical import format_ts
from impetus.protocol.site import SiteDescription, speed_of_sound
from impetus.scenario.actors import BagOwner, Vehicle
from impetus.scenario.audio import Emission
from impetus.scenario.crowd import CrowdTrack, zone_mask
from impetus.scenario.timeline import Timeline

SCHEMA = "impetus.scenario-truth/1"
LOCAL_CELL_M = 4.0
LOS_WALKWAY = (("A", 0.31), ("B", 0.43), ("C", 0.72), ("D", 1.08), ("E", 2.17))
"""Fruin's walkway levels of service: the highest density (persons/m2) of each; above E is F."""


def level_of_service(density: float) -> str:
    for level, limit in LOS_WALKWAY:
        if density <= limit:
            return level
    return "F"


@dataclass(frozen=True)
class TruthInputs:
    site: SiteDescription
    timeline: Timeline
    seed: int
    emissions: list[Emission]
    crowd: CrowdTrack
    owner: BagOwner | None
    vehicle: Vehicle | None


def _crowd_second(inputs: TruthInputs, t: float) -> dict[str, Any]:
    xy, velocity, present = inputs.crowd.at(t)
    xy, velocity = xy[present].astype(np.float64), velocity[present].astype(np.float64)
    if inputs.owner is not None and (owner := inputs.owner.position(t)) is not None:
        ahead = inputs.owner.position(t + 0.05) or owner
        xy = np.vstack([xy, owner])
        velocity = np.vstack([velocity, (np.array(ahead) - np.array(owner)) / 0.05])
    zones = {}
    for zone in inputs.site.zones:
        count = int(zone_mask(zone, xy).sum()) if len(xy) else 0
        density = count / zone.area_m2()
        zones[zone.name] = {
            "count": count,
            "density": round(density, 4),
            "level_of_service": level_of_service(density),
        }
    peak = 0.0
    if len(xy):
        bins = [
            np.arange(0.0, inputs.site.width_m + LOCAL_CELL_M, LOCAL_CELL_M),
            np.arange(0.0, inputs.site.depth_m + LOCAL_CELL_M, LOCAL_CELL_M),
        ]
        cells, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins)
        peak = float(cells.max()) / LOCAL_CELL_M**2
    speeds = np.linalg.norm(velocity, axis=1)
    moving = speeds > 1e-6
    direction, coherence = 0.0, 0.0
    if moving.any():
        units = velocity[moving] / speeds[moving, None]
        mean = units.mean(axis=0)
        coherence = float(np.linalg.norm(mean))
        direction = math.degrees(math.atan2(mean[0], mean[1])) % 360.0
    return {
        "t_s": t,
        "present": len(xy),
        "zones": zones,
        "peak_density": round(peak, 4),
        "peak_level_of_service": level_of_service(peak),
        "mean_speed_mps": round(float(speeds.mean()) if len(speeds) else 0.0, 4),
        "direction_deg": round(direction, 2),
        "coherence": round(coherence, 4),
    }


def build(inputs: TruthInputs, start: datetime) -> dict[str, Any]:
    """The ground truth of one run whose scenario second 0 is `start` (UTC)."""

    def ts(t_s: float) -> str:
        return format_ts(start + timedelta(seconds=t_s))

    site, timeline = inputs.site, inputs.timeline
    c = speed_of_sound(site.temperature_c)
    mics = [d for d in site.devices if "microphone" in d.sensors]

    def sound(e: Emission) -> dict[str, Any]:
        arrivals = {}
        for mic in mics:
            d = math.dist((e.x_m, e.y_m, e.height_m), (mic.position.x_m, mic.position.y_m, mic.height_m))
            arrivals[mic.device_id] = round(e.t_s + d / c, 7)
        return {
            "label": e.label,
            "kind": e.kind,
            "t_s": round(e.t_s, 7),
            "ts": ts(e.t_s),
            "x_m": e.x_m,
            "y_m": e.y_m,
            "height_m": e.height_m,
            "zone": site.zone_at(e.x_m, e.y_m),
            "arrival_s": arrivals,
        }

    shots = [
        {**sound(e), "burst_id": "burst-0", "shot_index": i, "calibre": e.calibre}
        for i, e in enumerate(e for e in inputs.emissions if e.gunshot)
    ]
    negatives = [sound(e) for e in inputs.emissions if not e.gunshot]
    flee = inputs.crowd.flee_start_s[np.isfinite(inputs.crowd.flee_start_s)]
    truth: dict[str, Any] = {
        "schema": SCHEMA,
        "scenario": timeline.name,
        "site": site.site,
        "seed": inputs.seed,
        "start_utc": ts(0.0),
        "duration_s": timeline.duration_s,
        "temperature_c": site.temperature_c,
        "speed_of_sound_mps": c,
        "phases": [p.model_dump() for p in timeline.phases],
        "shots": shots,
        "hard_negatives": negatives,
        "dispersal_start_s": float(flee.min()) if len(flee) else None,
        "bag": None,
        "vehicle": None,
        "crowd": [_crowd_second(inputs, float(t)) for t in range(math.floor(timeline.duration_s) + 1)],
    }
    if inputs.owner is not None:
        bag, owner = inputs.owner.bag, inputs.owner
        truth["bag"] = {
            "class_name": bag.class_name,
            "drop_s": bag.drop_s,
            "drop_ts": ts(bag.drop_s),
            "x_m": bag.position.x_m,
            "y_m": bag.position.y_m,
            "zone": site.zone_at(bag.position.x_m, bag.position.y_m),
            "owner_leaves_s": round(owner.unattended_s, 4),
            "owner_leaves_ts": ts(owner.unattended_s),
            "unattended_m": bag.unattended_m,
            "owner_gone_s": round(owner.gone_s, 4),
        }
    if inputs.vehicle is not None:
        v = inputs.vehicle
        x, y = v.entry_point
        truth["vehicle"] = {
            "class_name": v.entry.class_name,
            "enter_s": v.entry.enter_s,
            "enter_ts": ts(v.entry.enter_s),
            "zone": v.zone.name,
            "x_m": round(x, 3),
            "y_m": round(y, 3),
            "stop_s": round(float(v.stop_s), 4),
        }
    return truth


def write(truth: dict[str, Any], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, indent=1) + "\n", encoding="utf-8")
    return path
