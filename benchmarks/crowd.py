"""The crowd detector scored against the scenario's ground truth, on seeds the fit never saw.

For every camera of the default site, over the whole protest-attack scenario at its natural time
scale (`--fps` frames a second): per (zone, frame) the counted people against the true number of
people whose feet stand in that zone inside the camera's counting region, Fruin level-of-service
accuracy on the same pairs, how long after the true onset each camera flags the dispersal, and
the detector's cost per frame (640x360 in, one core).

    .venv/bin/python benchmarks/crowd.py [--fps 2] [--seeds 1 2]

Goals (issue #4): count MAE <= 10 % of the true count, LoS accuracy >= 90 %, dispersal flagged
within 3 s of the onset. Prints a table, writes benchmarks/results/crowd.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models" / "crowd_occupancy"))

from scenario_frames import crowd_detector, observations  # noqa: E402

from impetus.edge_agent.detectors.crowd import level_of_service  # noqa: E402
from impetus.scenario import Scenario  # noqa: E402

MODELS = ROOT / "models"
RESULTS = ROOT / "benchmarks" / "results"
BUSY = 10


def score_camera(scenario: Scenario, device: str, fps: float) -> dict[str, object]:
    detector = crowd_detector(scenario, device, MODELS)
    onset = float(scenario.ground_truth()["dispersal_start_s"])
    errors, truths, levels, flagged = [], [], [], []
    for row in observations(scenario, device, detector, fps):
        if row.dispersal:
            flagged.append(row.t_s)
        for zone, feature in row.features.items():
            counted, truth, area = detector.model.count(feature), row.truth[zone], row.areas_m2[zone]
            errors.append(counted - truth)
            truths.append(truth)
            levels.append(level_of_service(counted / area) == level_of_service(truth / area))
    err, truth = np.abs(np.array(errors)), np.array(truths, dtype=np.float64)
    busy = truth >= BUSY
    after = [t - onset for t in flagged if t >= onset - 1.0]
    return {
        "pairs": len(truth),
        "mae_persons": float(err.mean()),
        "relative_mae_busy": float((err[busy] / truth[busy]).mean()) if busy.any() else None,
        "relative_mae_of_mean": float(err.sum() / max(truth.sum(), 1.0)),
        "los_accuracy": float(np.mean(levels)),
        "dispersal_delay_s": after[0] if after else None,
        "false_dispersals": len([t for t in flagged if t < onset - 1.0]),
    }


def detector_ms(scenario: Scenario, device: str, frames: int = 40) -> float:
    from datetime import timedelta

    from impetus.edge_agent.sources.base import VideoFrame

    cv2.setNumThreads(1)
    detector = crowd_detector(scenario, device, MODELS)
    t0 = scenario.timeline.duration_s * 0.3
    images = [scenario.frame(device, t0 + k / 5.0) for k in range(frames)]
    started = time.perf_counter()
    for k, image in enumerate(images):
        detector.process(VideoFrame(image, scenario.start + timedelta(seconds=t0 + k / 5.0), k))
    return (time.perf_counter() - started) / frames * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    per_camera: dict[str, dict[str, object]] = {}
    for seed in args.seeds:
        scenario = Scenario.default(seed=seed)
        for device in [d.device_id for d in scenario.site.devices if "camera" in d.sensors]:
            per_camera[f"{device}/seed{seed}"] = score_camera(scenario, device, args.fps)
    scenario = Scenario.default(seed=args.seeds[0])
    cost = detector_ms(scenario, "pole-south")
    rows = list(per_camera.items())
    print(
        f"{'camera':<22} {'pairs':>5} {'MAE':>6} {'rel.MAE>=10':>11} {'rel.sum':>7} "
        f"{'LoS acc':>7} {'disp. s':>7}"
    )
    for name, r in rows:
        rel = r["relative_mae_busy"]
        delay = r["dispersal_delay_s"]
        print(
            f"{name:<22} {r['pairs']:>5} {r['mae_persons']:>6.1f} "
            f"{'-' if rel is None else f'{rel:.1%}':>11} {r['relative_mae_of_mean']:>7.1%} "
            f"{r['los_accuracy']:>7.1%} {'missed' if delay is None else f'{delay:.2f}':>7}"
        )
    delays = [r["dispersal_delay_s"] for _, r in rows]
    summary = {
        "relative_mae_busy": float(
            np.mean([r["relative_mae_busy"] for _, r in rows if r["relative_mae_busy"]])
        ),
        "relative_mae_of_mean": float(np.mean([r["relative_mae_of_mean"] for _, r in rows])),
        "los_accuracy": float(np.mean([r["los_accuracy"] for _, r in rows])),
        "dispersal_within_3s": sum(1 for d in delays if d is not None and d <= 3.0) / len(delays),
        "false_dispersals": sum(int(r["false_dispersals"]) for _, r in rows),
        "detector_ms_per_frame_640x360": cost,
    }
    print(
        f"\nmean over cameras: rel. MAE (true >= {BUSY}) {summary['relative_mae_busy']:.1%} (goal <= 10 %), "
        f"LoS accuracy {summary['los_accuracy']:.1%} (goal >= 90 %), dispersal within 3 s on "
        f"{summary['dispersal_within_3s']:.0%} of cameras, "
        f"{summary['false_dispersals']} false dispersal flags, "
        f"{cost:.1f} ms per frame"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"fps": args.fps, "seeds": args.seeds, "cameras": per_camera, "summary": summary}
    (RESULTS / "crowd.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
