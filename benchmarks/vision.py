"""Vision on one CPU core at 640x360: the motion gate, YOLOv3-tiny fp32 and int8, the tracker, the tamper
check, the objects pipeline with and without the gate on a quiet and a busy scene, and the full
camera pipeline (objects + tamper on every frame) on a typical scene.

    .venv/bin/python benchmarks/vision.py

Scenes are the test composites (real crops of bus.jpg, see tests/vision/vision_scenes.py): quiet is
one man standing still for 100 frames; busy is people walking through for all 120 frames; typical is
a street where someone walks through now and then (the busy walk-throughs between quiet stretches,
people in view 40 % of the time). Goals (issue #4): >= 15 frames/s with the gate on a typical scene,
gating >= 4x on a quiet scene, peak RSS <= 300 MB. Prints a table, writes
benchmarks/results/vision.json and the detector's boxes on bus.jpg as
benchmarks/results/vision_bus_boxes.jpg (the photo itself is never committed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "vision"))

from vision_scenes import cutouts, fetch_photos, paste, video, walking  # noqa: E402

from impetus.edge_agent.detectors.base import DetectorContext  # noqa: E402
from impetus.edge_agent.detectors.objects import ObjectsConfig, ObjectsDetector  # noqa: E402
from impetus.edge_agent.detectors.tamper import TamperConfig, TamperDetector  # noqa: E402
from impetus.edge_agent.vision.motion import MotionGate  # noqa: E402
from impetus.edge_agent.vision.tracker import Tracker  # noqa: E402
from impetus.edge_agent.vision.yolo import YoloDetector  # noqa: E402

MODELS = ROOT / "models"
RESULTS = ROOT / "benchmarks" / "results"
CACHE = Path(os.environ.get("IMPETUS_MEDIA_CACHE", Path.home() / ".cache" / "impetus" / "test-media"))


def ms_per_call(fn: Callable[[], object], repeat: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat * 1000


def pipeline_fps(frames: list[np.ndarray], keepalive_s: float, model: str) -> tuple[float, int]:
    context = DetectorContext(device_id="bench", site="bench", models_dir=MODELS)
    detector = ObjectsDetector(ObjectsConfig(model=model, keepalive_s=keepalive_s), context)
    detector.setup()
    samples = video(frames, fps=10)
    started = time.perf_counter()
    for sample in samples:
        detector.process(sample)
    return len(samples) / (time.perf_counter() - started), detector.yolo.calls


def full_pipeline_fps(frames: list[np.ndarray]) -> tuple[float, int]:
    """Objects (gate on) and tamper on every frame: what one camera costs a device's core."""
    context = DetectorContext(device_id="bench", site="bench", models_dir=MODELS)
    detectors = [ObjectsDetector(ObjectsConfig(), context), TamperDetector(TamperConfig(), context)]
    for detector in detectors:
        detector.setup()
    samples = video(frames, fps=10)
    started = time.perf_counter()
    for sample in samples:
        for detector in detectors:
            detector.process(sample)
    return len(samples) / (time.perf_counter() - started), detectors[0].yolo.calls


def pipeline_rss_mb() -> float:
    """Peak RSS of a process that runs only what a camera runs: the int8 objects pipeline and tamper."""
    code = (
        "import runpy, sys; sys.argv = ['vision.py', '--rss-child']; "
        f"runpy.run_path({str(Path(__file__))!r}, run_name='__main__')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def rss_child() -> None:
    cut = cutouts(cv2.imread(str(fetch_photos(CACHE)["bus.jpg"])))
    frames = walking(cut, 50, 60, 10)
    context = DetectorContext(device_id="bench", site="bench", models_dir=MODELS)
    detectors = [ObjectsDetector(ObjectsConfig(), context), TamperDetector(TamperConfig(), context)]
    for detector in detectors:
        detector.setup()
    for sample in video(frames):
        for detector in detectors:
            detector.process(sample)
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's peak across exec on Linux.
    status = Path("/proc/self/status").read_text()
    print(int(status.split("VmHWM:")[1].split()[0]) / 1024)


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    photos = fetch_photos(CACHE)
    bus = cv2.imread(str(photos["bus.jpg"]))
    zidane = cv2.imread(str(photos["zidane.jpg"]))
    cut = cutouts(bus)
    still = cut.background.copy()
    paste(still, cut.person, 200, 350, 220)
    quiet = [still.copy() for _ in range(100)]
    busy = walking(cut, 50, 60, 10) + walking(cut, 50, 560, -10)
    frame = busy[10]
    rows: list[tuple[str, float, str]] = []
    results: dict[str, object] = {"frame": "640x360", "threads": 1, "cpu": os.cpu_count()}

    gate = MotionGate()
    gate.update(frame)
    rows.append(("motion gate", ms_per_call(lambda: gate.update(frame), 200), "ms/frame"))

    detections = {}
    for name in ("yolov3_tiny", "yolov3_tiny_int8"):
        yolo = YoloDetector.open(MODELS / "yolov3_tiny" / f"{name}.onnx")
        rows.append((f"{name} 416x256", ms_per_call(lambda y=yolo: y.detect(frame), 20), "ms/frame"))
        rows.append((f"{name} 416x416", ms_per_call(lambda y=yolo: y.detect(bus), 10), "ms/frame"))
        for photo_name, photo in (("bus.jpg", bus), ("zidane.jpg", zidane)):
            found = yolo.detect(photo)
            detections[f"{name} {photo_name}"] = [
                {
                    "class": b.class_name,
                    "score": round(b.score, 3),
                    "box": [round(v, 3) for v in (b.x1, b.y1, b.x2, b.y2)],
                }
                for b in found
            ]
        if name.endswith("int8"):
            render = bus.copy()
            h, w = render.shape[:2]
            for b in yolo.detect(bus):
                p1, p2 = (int(b.x1 * w), int(b.y1 * h)), (int(b.x2 * w), int(b.y2 * h))
                cv2.rectangle(render, p1, p2, (0, 200, 255), 3)
                cv2.putText(
                    render, f"{b.class_name} {b.score:.2f}", (p1[0] + 4, p1[1] + 28), 0, 0.9, (0, 200, 255), 2
                )
            RESULTS.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(RESULTS / "vision_bus_boxes.jpg"), render)
    results["detections"] = detections

    yolo = YoloDetector.open(MODELS / "yolov3_tiny" / "yolov3_tiny_int8.onnx")
    boxes = [b for f in busy[:10] for b in yolo.detect(f)][:10]
    tracker = Tracker()
    clock = iter(range(10**9))
    rows.append(
        ("tracker, 10 boxes", ms_per_call(lambda: tracker.update(boxes, next(clock) * 0.1), 500), "ms/update")
    )

    tamper = TamperDetector(TamperConfig(), DetectorContext(device_id="b", site="b", models_dir=MODELS))
    tamper.setup()
    samples = iter(video(busy * 20))
    rows.append(
        ("tamper check", ms_per_call(lambda: tamper.process(next(samples)), 500, warmup=12), "ms/frame")
    )

    model = "yolov3_tiny/yolov3_tiny_int8.onnx"
    for scene_name, frames in (("quiet", quiet), ("busy", busy)):
        for gated, keepalive in (("gate on", 2.0), ("gate off", 0.001)):  # 1 ms: every frame
            fps, calls = pipeline_fps(frames, keepalive, model)
            rows.append(
                (
                    f"objects pipeline int8, {scene_name}, {gated}",
                    fps,
                    f"frames/s ({calls} runs/{len(frames)})",
                )
            )
    fps_fp32, _ = pipeline_fps(busy, 2.0, "yolov3_tiny/yolov3_tiny.onnx")
    rows.append(("objects pipeline fp32, busy, gate on", fps_fp32, "frames/s"))
    typical = quiet[:90] + busy[:60] + quiet[:90] + busy[60:]
    full = {}
    for scene_name, frames in (("typical", typical), ("busy", busy)):
        fps, calls = full_pipeline_fps(frames)
        full[scene_name] = fps
        rows.append(
            (
                f"full pipeline (objects + tamper), {scene_name}, gate on",
                fps,
                f"frames/s ({calls} runs/{len(frames)})",
            )
        )
    figure = {name: value for name, value, _ in rows}
    quiet_on, quiet_off = (figure[f"objects pipeline int8, quiet, gate {g}"] for g in ("on", "off"))
    gating = quiet_on / quiet_off
    rows.append(("gating speed-up, quiet scene (gate on / off)", gating, "x"))
    rss = pipeline_rss_mb()
    rows.append(("peak RSS, objects + tamper, own process", rss, "MB"))
    goals = {
        "fps_typical_gate_on": {
            "value": round(full["typical"], 2),
            "goal": ">= 15",
            "met": full["typical"] >= 15,
        },
        "gating_quiet": {"value": round(gating, 2), "goal": ">= 4", "met": gating >= 4},
        "peak_rss_mb": {"value": round(rss, 1), "goal": "<= 300", "met": rss <= 300},
    }
    results["goals"] = goals

    results["figures"] = {name: {"value": round(value, 3), "unit": unit} for name, value, unit in rows}
    width = max(len(name) for name, _, _ in rows)
    for name, value, unit in rows:
        print(f"{name:<{width}}  {value:9.2f}  {unit}")
    for name, goal in goals.items():
        print(f"goal {name}: {goal['value']} (goal {goal['goal']}) {'met' if goal['met'] else 'NOT met'}")
    for key, found in detections.items():
        print(key, ", ".join(f"{d['class']} {d['score']:.2f}" for d in found))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "vision.json").write_text(json.dumps(results, indent=2))
    print(f"wrote {RESULTS / 'vision.json'}")


if __name__ == "__main__":
    rss_child() if "--rss-child" in sys.argv else main()
