"""Fit the crowd detector's occupancy regression on scenario frames with ground truth.

Runs the crowd detector's own observation pipeline (foreground, perspective-normalised occupancy
per zone) over every camera of the default scenario (seed 0, natural time scale, `--fps` frames a
second) and fits count = a * S + b * S^2 by least squares, weighted by 1 / max(count, 10), on
every (zone, frame) pair whose zone shows at least 20 m2, against the true number of people whose
feet stand in that zone inside the camera's counting region. Writes `coefficients.json` beside
this file with the fit's provenance. The benchmark `benchmarks/crowd.py` scores it on other seeds.

    .venv/bin/python models/crowd_occupancy/fit_occupancy.py [--fps 2] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scenario_frames import crowd_detector, observations  # noqa: E402

from impetus.scenario import Scenario  # noqa: E402

SHAPE = 0.3
"""Share of a (person height)^2 square that a standing silhouette covers (design constant)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.monotonic()
    scenario = Scenario.default(seed=args.seed)
    features, truths = [], []
    with tempfile.TemporaryDirectory() as scratch:
        models = Path(scratch)
        (models / "crowd_occupancy").mkdir()
        (models / "crowd_occupancy" / "coefficients.json").write_text(
            json.dumps({"a": 1, "b": 0, "shape": SHAPE})
        )
        for device in [d.device_id for d in scenario.site.devices if "camera" in d.sensors]:
            detector = crowd_detector(scenario, device, models)
            for row in observations(scenario, device, detector, args.fps):
                features += [row.features[z] for z in row.features]
                truths += [row.truth[z] for z in row.features]
    s, y = np.array(features), np.array(truths, dtype=np.float64)
    design = np.column_stack([s, s * s])
    # Relative errors matter (10 people missed in a zone of 20 is worse than in one of 800): each
    # pair is weighted by 1 / max(true count, 10).
    weight = 1.0 / np.maximum(y, 10.0)
    (a, b), *_ = np.linalg.lstsq(design * weight[:, None], y * weight, rcond=None)
    predicted = np.clip(design @ np.array([a, b]), 0.0, None)
    busy = y >= 10
    out = {
        "a": float(a),
        "b": float(b),
        "shape": SHAPE,
        "fitted_on": {
            "scenario": scenario.timeline.name,
            "seed": args.seed,
            "fps": args.fps,
            "pairs": len(y),
            "mae_persons": round(float(np.abs(predicted - y).mean()), 2),
            "relative_mae_where_10_or_more": round(float((np.abs(predicted - y)[busy] / y[busy]).mean()), 3),
            "seconds": round(time.monotonic() - started, 1),
        },
    }
    (HERE / "coefficients.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
