"""Left-behind bag and camera tamper on the scenario's cameras, scored against its ground truth.

- Left-behind bag: the objects detector (motion gate, YOLOv3-tiny int8, tracker, scene rules) with
  photographed people and the scenario's bag (where the story puts it, and 8 m in front of
  pole-south), on every camera that sees the bag, from just before
  the drop until dwell + 20 s after it at `--fps`. Goal (issue #4): a `left_object` event within
  dwell + 5 s of the drop.
- Tamper: the tamper detector on each camera's normal sequence, the whole story with the crowd
  gathering, the shots and the dispersal (goal: no event), then its first 30 s covered, defocused,
  moved and blacked out from 15 s on (goal: each detected, as its kind).

    .venv/bin/python benchmarks/scene_events.py [--fps 2] [--dwell 20]

Prints a table, writes benchmarks/results/scene_events.json. Known result: the scenario draws the
bag as a plain box (no photograph of a bag is available offline), which no COCO detector takes
for a backpack, so the bag rows measure that gap until the scenario gets a photographed bag.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from impetus.edge_agent.detectors.base import DetectorContext
from impetus.edge_agent.detectors.objects import ObjectsConfig, ObjectsDetector
from impetus.edge_agent.detectors.tamper import TamperConfig, TamperDetector
from impetus.edge_agent.sources.base import VideoFrame
from impetus.protocol.payloads import LeftObjectPayload, TamperPayload
from impetus.protocol.site import Point
from impetus.scenario import PhotoSprites, Scenario

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"
RESULTS = ROOT / "benchmarks" / "results"
TAMPER_AT_S = 15.0
TAMPER_SECONDS = 30.0


def near_bag(seed: int) -> Scenario:
    """The same story with the bag put down 8 m in front of pole-south, where a camera can see it
    at a size a COCO detector resolves (in the default story it lies 25-30 m from every camera)."""
    base = Scenario.default(seed=seed)
    bag = base.timeline.bag
    assert bag is not None
    moved = bag.model_copy(
        update={
            "position": Point(x_m=46.0, y_m=17.0),
            "approach_from": Point(x_m=20.0, y_m=12.0),
            "leave_to": Point(x_m=0.0, y_m=10.0),
        }
    )
    return Scenario(base.site, base.timeline.model_copy(update={"bag": moved}), seed)


def cameras(scenario: Scenario) -> list[str]:
    return [d.device_id for d in scenario.site.devices if "camera" in d.sensors]


def bag_in_view(scenario: Scenario, device: str, t: float) -> bool:
    return any(
        o.cls == "backpack" and o.visible_fraction > 0.3 for o in scenario.frame_truth(device, t).objects
    )


def left_bag(scenario: Scenario, device: str, fps: float, dwell_s: float) -> dict[str, object]:
    truth = scenario.ground_truth()["bag"]
    drop = float(truth["drop_s"])
    sprites = PhotoSprites.from_cache()
    context = DetectorContext(device, scenario.site.site, MODELS, site_plan=scenario.site)
    detector = ObjectsDetector(ObjectsConfig(dwell_s=dwell_s), context)
    detector.setup()
    start = max(0.0, drop - 5.0)
    found = None
    for k in range(int((dwell_s + 25.0) * fps)):
        t = start + k / fps
        image = scenario.frame(device, t, sprites=sprites)
        for detection in detector.process(VideoFrame(image, scenario.start + timedelta(seconds=t), k)):
            if isinstance(detection.payload, LeftObjectPayload) and found is None:
                found = t
    delay = None if found is None else found - drop
    boxes = [o.box for o in scenario.frame_truth(device, drop + 10.0).objects if o.cls == truth["class_name"]]
    return {
        "bag": truth["class_name"],
        "bag_px": [round(boxes[0].w * 640, 1), round(boxes[0].h * 360, 1)] if boxes else None,
        "owner_leaves_after_drop_s": round(float(truth["owner_leaves_s"]) - drop, 2),
        "detected_after_drop_s": None if delay is None else round(delay, 2),
        "within_goal": delay is not None and delay <= dwell_s + 5.0,
    }


TAMPERS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "covered": lambda image, rng: np.full_like(image, 70) + rng.integers(0, 4, image.shape, dtype=np.uint8),
    "defocused": lambda image, rng: cv2.GaussianBlur(image, (0, 0), 6),
    "moved": lambda image, rng: np.roll(image, image.shape[1] // 5, axis=1),
    "blackout": lambda image, rng: (rng.integers(0, 6, image.shape)).astype(np.uint8),
}


def tamper_run(scenario: Scenario, device: str, fps: float, kind: str | None) -> list[str]:
    detector = TamperDetector(TamperConfig(), DetectorContext(device, scenario.site.site, MODELS))
    detector.setup()
    rng = np.random.default_rng(7)
    kinds = []
    seconds = scenario.duration_s if kind is None else TAMPER_SECONDS
    for k in range(int(seconds * fps)):
        t = k / fps
        image = scenario.frame(device, t)
        if kind is not None and t >= TAMPER_AT_S:
            image = TAMPERS[kind](image, rng)
        for detection in detector.process(VideoFrame(image, scenario.start + timedelta(seconds=t), k)):
            assert isinstance(detection.payload, TamperPayload)
            kinds.append(detection.payload.kind)
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--dwell", type=float, default=20.0)
    args = parser.parse_args()
    started = time.monotonic()
    scenario = Scenario.default(seed=1)
    drop = float(scenario.ground_truth()["bag"]["drop_s"])
    bags = {
        f"{name}/{device}": left_bag(story, device, args.fps, args.dwell)
        for name, story in (("default", scenario), ("near", near_bag(1)))
        for device in cameras(story)
        if bag_in_view(story, device, drop + 10.0)
    }
    print(f"left-behind {scenario.ground_truth()['bag']['class_name']}, dwell {args.dwell} s")
    print(f"{'story/camera':<20} {'bag px':>9} {'owner leaves':>12} {'event after drop':>17} {'goal':>6}")
    for device, row in bags.items():
        delay = row["detected_after_drop_s"]
        size = row["bag_px"]
        print(
            f"{device:<20} {'-' if size is None else f'{size[0]:.0f}x{size[1]:.0f}':>9} "
            f"{row['owner_leaves_after_drop_s']:>11.1f}s "
            f"{'missed' if delay is None else f'{delay:.1f} s':>17} "
            f"{'ok' if row['within_goal'] else 'MISS':>6}"
        )
    tamper: dict[str, dict[str, list[str]]] = {}
    for device in cameras(scenario):
        tamper[device] = {"normal": tamper_run(scenario, device, args.fps, None)}
        for kind in TAMPERS:
            tamper[device][kind] = tamper_run(scenario, device, args.fps, kind)
    print(f"\n{'camera':<12} " + " ".join(f"{k:>10}" for k in ["normal", *TAMPERS]))
    for device, runs in tamper.items():
        cells = ["none" if not runs["normal"] else ",".join(runs["normal"])]
        cells += ["ok" if kind in runs[kind] else ",".join(runs[kind]) or "missed" for kind in TAMPERS]
        print(f"{device:<12} " + " ".join(f"{c:>10}" for c in cells))
    detected = sum(kind in runs[kind] for runs in tamper.values() for kind in TAMPERS)
    false = sum(len(runs["normal"]) for runs in tamper.values())
    summary = {
        "left_object_within_dwell_plus_5s": sum(bool(r["within_goal"]) for r in bags.values()),
        "cameras_seeing_the_bag": len(bags),
        "tamper_detected": detected,
        "tamper_cases": len(tamper) * len(TAMPERS),
        "tamper_false_events_on_normal": false,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(
        f"\nleft bag within dwell + 5 s on {summary['left_object_within_dwell_plus_5s']}/{len(bags)} "
        f"cameras; "
        f"tamper {detected}/{summary['tamper_cases']} detected, {false} events on normal sequences"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {"fps": args.fps, "dwell_s": args.dwell, "bag": bags, "tamper": tamper, "summary": summary}
    (RESULTS / "scene_events.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
