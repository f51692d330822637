"""Gunshot detector: accuracy on held-out generated audio, false alarms per hour, cost and latency.

Everything runs the real detector plugin (gate, YAMNet through onnxruntime, fitted head) on audio
from `models/gunshot_head/dataset.py` with seeds that neither training nor testing used.

- clips: half contain bursts of shots 5-150 m away, the rest one hard negative each (door slams,
  balloon pops, firecrackers, fireworks, claps, hammering, engines, speech, music, rain, crowds);
  a shot counts as found when an event's onset lies within 5 ms of its direct arrival. A clip is
  a recording that ends: a shot in its last 100 ms is decided when it ends (`Detector.finish`).
- background: `--hours` of mixed urban background (`dataset.Street`: rain, crowds, traffic,
  talk, music, quiet nights, with a door slam, balloon pop, clap or bout of hammering every ~10 s
  on average); every event is a false alarm, and the 95 % upper bound of the daily rate is given.
  Firecrackers and fireworks are left out of this stream and reported per clip above (they are a
  festival problem, not an everyday one).
- cost: gate per block, the expensive stage per candidate, real-time factor on one core, and the
  latency from a shot's arrival to its event (block end + compute) with the microphone source's
  default 50 ms blocks.

    .venv/bin/python benchmarks/gunshot.py [--clips 400] [--hours 24] [--threshold T] [--burst-threshold B]

`--threshold` runs the detector at another operating point than the head's own (the model card
lists the validation set's), to see what a city's choice costs in recall and false alarms;
`--burst-threshold` does the same for the shots after a confirmed one.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "models" / "gunshot_head"))

from dataset import SAMPLE_RATE, SPLITS, Street  # noqa: E402
from end_to_end import BLOCK, Timed, evaluate_clips  # noqa: E402

from impetus.edge_agent.audio.onset import OnsetGate  # noqa: E402
from impetus.edge_agent.detectors.gunshot import GunshotConfig  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "gunshot.json"


def evaluate_background(hours: float, config: GunshotConfig) -> dict[str, float]:
    """False alarms over `hours` of mixed urban background (`dataset.Street`), streamed chunk by
    chunk; every event is a false alarm."""
    street = Street(np.random.default_rng(SPLITS["bench"] + 777_777))
    timed = Timed(config)
    gate = OnsetGate(SAMPLE_RATE)
    gate_s = 0.0
    candidates = blocks = 0
    alarms: list[float] = []
    offset = 0
    for chunk in street.chunks(hours):
        alarms += [onset for onset, _, _ in timed.run(chunk, offset)]
        began = time.perf_counter()
        for k in range(0, len(chunk), BLOCK):
            candidates += len(gate.feed(chunk[k : k + BLOCK]))
            blocks += 1
        gate_s += time.perf_counter() - began
        offset += len(chunk)
    hours = offset / SAMPLE_RATE / 3600.0
    stage_ms = max(0.0, (timed.seconds - gate_s) * 1000.0 / max(candidates, 1))
    return {
        "hours": hours,
        "false_alarms": len(alarms),
        "false_alarms_per_hour": len(alarms) / hours,
        "false_alarms_per_day_upper_95": 24.0 * poisson_upper_95(len(alarms)) / hours,
        "gate_candidates_per_minute": candidates / (hours * 60),
        "gate_ms_per_block": gate_s * 1000.0 / blocks,
        "model_ms_per_candidate": stage_ms,
        "real_time_factor": timed.audio_s / timed.seconds,
        "threshold": timed.detector.threshold,
    }


def poisson_upper_95(count: int) -> float:
    """One-sided 95 % upper bound of a Poisson mean after observing `count` events (exact,
    chi-square by bisection on the Poisson CDF)."""
    low, high = 0.0, 10.0 + 5.0 * count
    for _ in range(100):
        mean = 0.5 * (low + high)
        cdf = sum(math.exp(-mean) * mean**k / math.factorial(k) for k in range(count + 1))
        low, high = (mean, high) if cdf > 0.05 else (low, mean)
    return high


def main() -> None:
    logging.getLogger("impetus.edge_agent.detectors.gunshot").setLevel(logging.ERROR)  # clipping notes
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=400)
    parser.add_argument("--hours", type=float, default=24.0, help="of mixed urban background")
    parser.add_argument("--threshold", type=float, help="instead of the head's own")
    parser.add_argument("--burst-threshold", type=float, help="within a burst, instead of the head's own")
    args = parser.parse_args()
    config = GunshotConfig(threshold=args.threshold, burst_threshold=args.burst_threshold)
    clips = evaluate_clips(args.clips, config, SPLITS["bench"])
    street_figures = evaluate_background(args.hours, config)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"\nheld-out clips: {clips['clips']} ({clips['shots']} shots at 5-150 m)")
    print(f"  recall {clips['recall']:.3f}   precision {clips['precision']:.3f}", end="")
    print(f"   false events {clips['false_events']}")
    print(f"  {'negative kind':14s} {'clips':>6s} {'false events':>13s}")
    for kind, row in clips["per_negative_kind"].items():  # type: ignore[union-attr]
        print(f"  {kind:14s} {row['clips']:6d} {row['false_events']:13d}")
    err = clips["onset_error_ms"]
    print(f"  onset error |ms|: p50 {err['p50']:.3f}  p90 {err['p90']:.3f}", end="")  # type: ignore[index]
    print(f"  p99 {err['p99']:.3f}  max {err['max']:.3f}")  # type: ignore[index]
    lat = clips["latency_ms_after_arrival"]
    block_ms = BLOCK * 1000 // SAMPLE_RATE
    print(f"  event after arrival ({block_ms} ms blocks): p50 {lat['p50']:.0f} ms", end="")  # type: ignore[index]
    print(f"  p90 {lat['p90']:.0f} ms")  # type: ignore[index]
    s = street_figures
    print(
        f"\nurban background: {s['hours']:.1f} h, {s['false_alarms']} false alarms "
        f"({s['false_alarms_per_hour'] * 24:.2f} per day; 95% upper bound "
        f"{s['false_alarms_per_day_upper_95']:.2f} per day)"
    )
    print(
        f"  gate: {s['gate_ms_per_block']:.3f} ms per {block_ms} ms block, "
        f"{s['gate_candidates_per_minute']:.1f} "
        f"candidates/min; expensive stage {s['model_ms_per_candidate']:.2f} ms per candidate"
    )
    print(f"  real-time factor (whole detector, one core): {s['real_time_factor']:.0f}x", end="")
    print(f"   peak RSS {peak_mb:.0f} MB")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "clips": clips,
                "street": street_figures,
                "peak_rss_mb": peak_mb,
                "machine": {
                    "python": platform.python_version(),
                    "cpu": platform.processor() or platform.machine(),
                },
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
