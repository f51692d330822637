"""Gunshot localisation accuracy and cost on simulated geometries.

Microphones stand on 4 m poles evenly spaced on an ellipse inset 5 m into the area; shots are
fired at 1.5 m from uniformly random places inside it; every onset gets Gaussian timing noise of
the stated size, which is also what each report declares (as the clock quality would). Reported:
position error percentiles, the share within 15 m (ShotSpotter's claim: 96 % with 6+ sensors), how
often the true place lies inside the reported 95 % radius, refusals, and CPU milliseconds per
solve (thread time, so other work on the machine does not inflate it).

    .venv/bin/python benchmarks/localisation.py [--trials 200]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

import numpy as np

from impetus.aggregator.localisation import SOURCE_HEIGHT_M, Localisation, ShotReport, localise
from impetus.aggregator.tdoa_solver import Bounds
from impetus.protocol.site import speed_of_sound

RESULTS = Path(__file__).resolve().parent / "results" / "localisation.json"
TEMPERATURE_C = 15.0
MIC_HEIGHT_M = 4.0
INSET_M = 5.0


def microphones(count: int, width: float, depth: float) -> np.ndarray:
    angles = 2.0 * math.pi * np.arange(count) / count + math.pi / 4.0
    return np.column_stack(
        [
            width / 2.0 + (width / 2.0 - INSET_M) * np.cos(angles),
            depth / 2.0 + (depth / 2.0 - INSET_M) * np.sin(angles),
        ]
    )


def trial_reports(
    mics: np.ndarray,
    source: np.ndarray,
    noise_s: float,
    rng: np.random.Generator,
    echo: tuple[int, float] | None,
) -> list[ShotReport]:
    c = speed_of_sound(TEMPERATURE_C)
    dist = np.sqrt(((mics - source) ** 2).sum(axis=1) + (MIC_HEIGHT_M - SOURCE_HEIGHT_M) ** 2)
    onsets = 100.0 + dist / c + rng.normal(0.0, noise_s, size=len(mics))
    if echo is not None:
        onsets[echo[0]] += echo[1]
    return [
        ShotReport(f"mic-{k}", x_m=x, y_m=y, height_m=MIC_HEIGHT_M, onset=float(t), timing_sigma_s=noise_s)
        for k, ((x, y), t) in enumerate(zip(mics, onsets, strict=True))
    ]


def run_cell(
    count: int, noise_s: float, width: float, depth: float, trials: int, seed: int, echo: bool = False
) -> dict[str, float | int]:
    rng = np.random.default_rng(seed)
    mics = microphones(count, width, depth)
    bounds = Bounds(0.0, 0.0, width, depth)
    errors, inside, refused, solve_ms, echo_caught = [], 0, 0, [], 0
    for _ in range(trials):
        source = rng.uniform([0.0, 0.0], [width, depth])
        planted = (int(rng.integers(count)), float(rng.uniform(0.005, 0.03))) if echo else None
        made = trial_reports(mics, source, noise_s, rng, planted)
        started = time.thread_time()
        result = localise(made, temperature_c=TEMPERATURE_C, bounds=bounds)
        solve_ms.append((time.thread_time() - started) * 1e3)
        if not isinstance(result, Localisation):
            refused += 1
            continue
        error = math.hypot(result.position[0] - source[0], result.position[1] - source[1])
        errors.append(error)
        inside += error <= result.radius_95_m
        if planted is not None:
            echo_caught += [r.device_id for r in result.rejected_devices] == [f"mic-{planted[0]}"]
    located = np.array(errors) if errors else np.array([math.nan])
    row: dict[str, float | int] = {
        "microphones": count,
        "noise_ms": noise_s * 1e3,
        "trials": trials,
        "p50_m": float(np.percentile(located, 50)),
        "p90_m": float(np.percentile(located, 90)),
        "p95_m": float(np.percentile(located, 95)),
        "within_15m": float(np.mean(located <= 15.0)) * len(errors) / trials,
        "inside_r95": inside / max(len(errors), 1),
        "refused": refused / trials,
        "cpu_ms_per_solve": float(np.mean(solve_ms)),
    }
    if echo:
        row["echo_rejected"] = echo_caught / trials
    return row


def print_table(title: str, rows: list[dict[str, float | int]]) -> None:
    print(f"\n{title}")
    header = f"{'mics':>4} {'noise ms':>8} {'p50 m':>7} {'p90 m':>7} {'p95 m':>7} {'<=15 m':>7}"
    header += f" {'in r95':>7} {'refused':>7} {'cpu ms':>8}"
    if "echo_rejected" in rows[0]:
        header += f" {'echo out':>8}"
    print(header)
    for r in rows:
        line = (
            f"{r['microphones']:>4} {r['noise_ms']:>8.2f} {r['p50_m']:>7.2f} {r['p90_m']:>7.2f}"
            f" {r['p95_m']:>7.2f} {r['within_15m']:>7.1%} {r['inside_r95']:>7.1%} {r['refused']:>7.1%}"
            f" {r['cpu_ms_per_solve']:>8.2f}"
        )
        if "echo_rejected" in r:
            line += f" {r['echo_rejected']:>8.1%}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=200, help="shots per cell (default 200)")
    args = parser.parse_args()
    site = [
        run_cell(count, noise_ms / 1e3, 100.0, 60.0, args.trials, seed=100 * count + k)
        for count in (3, 4, 5, 6)
        for k, noise_ms in enumerate((0.05, 0.2, 1.0, 2.0))
    ]
    print_table("100 x 60 m site: error vs timing noise and microphones", site)
    area = [
        run_cell(count, noise_ms / 1e3, 100.0, 100.0, args.trials, seed=1000 * count + k)
        for count in (4, 6, 8)
        for k, noise_ms in enumerate((0.1, 1.0, 5.0))
    ]
    print_table("100 x 100 m area (issue #3 geometries): error vs clock jitter and sensors", area)
    echoes = [run_cell(count, 2e-4, 100.0, 60.0, args.trials, seed=7 + count, echo=True) for count in (5, 6)]
    print_table("100 x 60 m site, one microphone hears a 5-30 ms echo instead of the direct sound", echoes)
    goal = next(r for r in area if r["microphones"] == 6 and r["noise_ms"] == 1.0)
    met = goal["p50_m"] <= 3.0 and goal["p90_m"] <= 8.0
    print(f"\ngoal (6 sensors, 1 ms jitter: median <= 3 m, p90 <= 8 m): {'met' if met else 'NOT met'}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "localisation",
                "machine": {
                    "python": platform.python_version(),
                    "cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count(),
                    "load_1min": os.getloadavg()[0],
                },
                "site_100x60": site,
                "area_100x100": area,
                "echo": echoes,
                "goal_6_sensors_1ms": {"p50_m": goal["p50_m"], "p90_m": goal["p90_m"], "met": met},
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
