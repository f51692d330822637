"""Scenario engine: how fast it builds, renders frames and renders microphone audio on this CPU.

A demo runs 4 cameras at 5 fps and 7 microphones at 16 kHz in real time on one machine, so frames
must take well under 100 ms and a second of audio well under a second.

    .venv/bin/python benchmarks/scenario_render.py [--duration 20] [--frames 40]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from impetus.scenario import Scenario

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "scenario_render.json"


def timed_ms(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="compressed scenario length, s")
    parser.add_argument("--frames", type=int, default=40, help="frames timed per camera")
    args = parser.parse_args()

    build_natural_ms = timed_ms(lambda: Scenario.default())
    started = time.perf_counter()
    scenario = Scenario.default(duration_s=args.duration)
    build_ms = (time.perf_counter() - started) * 1000.0
    cameras = [d.device_id for d in scenario.site.devices if "camera" in d.sensors]
    mics = [d.device_id for d in scenario.site.devices if "microphone" in d.sensors]
    busiest = scenario.shot_times[0] - 0.5

    rows = []
    for device in cameras:
        scenario.frame(device, 0.0)  # the cached background is built once per camera
        times = [busiest - 2.0 + 4.0 * k / args.frames for k in range(args.frames)]
        frame_ms = [timed_ms(lambda t=t, d=device: scenario.frame(d, t)) for t in times]
        truth_ms = [timed_ms(lambda t=t, d=device: scenario.frame_truth(d, t)) for t in times]
        people = scenario.frame_truth(device, busiest).in_view
        rows.append(
            {
                "camera": device,
                "people_in_view": people,
                "frame_ms_median": round(statistics.median(frame_ms), 2),
                "frame_ms_max": round(max(frame_ms), 2),
                "truth_ms_median": round(statistics.median(truth_ms), 2),
            }
        )

    audio = []
    for device in mics:
        first = timed_ms(lambda d=device: scenario.audio(d, busiest - 1.0, 32_000))
        blocks = [
            timed_ms(lambda k=k, d=device: scenario.audio(d, busiest + 1.0 + k * 0.1, 1600))
            for k in range(20)
        ]
        audio.append(
            {
                "microphone": device,
                "ms_per_audio_second_cold": round(first / 2.0, 2),
                "ms_per_audio_second_in_blocks": round(sum(blocks) / 2.0, 2),
            }
        )

    result = {
        "benchmark": "scenario_render",
        "machine": f"{platform.machine()} {platform.processor() or platform.platform()}",
        "frame_size": [640, 360],
        "scenario_duration_s": args.duration,
        "people": scenario.crowd.people,
        "build_ms": round(build_ms, 1),
        "build_natural_length_ms": round(build_natural_ms, 1),
        "cameras": rows,
        "microphones": audio,
    }
    print(
        f"build: {build_ms:.0f} ms ({args.duration:g} s scenario), {build_natural_ms:.0f} ms (natural length)"
    )
    print(f"{'camera':<12} {'people':>7} {'frame ms':>9} {'max ms':>7} {'truth ms':>9}")
    for r in rows:
        print(
            f"{r['camera']:<12} {r['people_in_view']:>7} {r['frame_ms_median']:>9.1f} "
            f"{r['frame_ms_max']:>7.1f} {r['truth_ms_median']:>9.1f}"
        )
    print(f"{'microphone':<14} {'ms / audio s (cold)':>20} {'(100 ms blocks)':>16}")
    for a in audio:
        cold, warm = a["ms_per_audio_second_cold"], a["ms_per_audio_second_in_blocks"]
        print(f"{a['microphone']:<14} {cold:>20.1f} {warm:>16.1f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
