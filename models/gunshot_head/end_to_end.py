"""The real gunshot detector over generated clips, scored shot by shot: shared by the benchmark
(`benchmarks/gunshot.py`, its own seeds) and by `fit_burst_threshold.py` (the validation seeds).

A clip is a recording that ends: a shot in its last 100 ms is decided when it ends
(`Detector.finish`); a shot counts as found when an event's onset lies within `MATCH_S` of its
direct arrival, and every other event is a false one.
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from dataset import SAMPLE_RATE, Clip, kinds_for, make_clip

from impetus.edge_agent.detectors.base import DetectorContext
from impetus.edge_agent.detectors.gunshot import GunshotConfig, GunshotDetector
from impetus.edge_agent.sources.base import AudioBlock

MODELS = Path(__file__).resolve().parent.parent

BLOCK = 800
"""50 ms, the microphone source's default block."""
MATCH_S = 0.005
T0 = datetime(2025, 6, 1, tzinfo=UTC)


def new_detector(config: GunshotConfig) -> GunshotDetector:
    detector = GunshotDetector(config, DetectorContext("bench", "bench", MODELS))
    detector.setup()
    return detector


class Timed:
    """Runs blocks through a detector, timing each call and noting when each event came out."""

    def __init__(self, config: GunshotConfig) -> None:
        self.detector = new_detector(config)
        self.seconds = 0.0
        self.audio_s = 0.0

    def run(self, audio: np.ndarray, first: int = 0) -> list[tuple[float, float, float]]:
        """(onset s, emitted at s of audio, score) for each event; `first` is the stream sample
        the audio starts at (a long stream arrives in chunks)."""
        out = []
        for k in range(first, first + len(audio), BLOCK):
            samples = audio[k - first : k - first + BLOCK]
            block = AudioBlock(samples, SAMPLE_RATE, T0 + timedelta(seconds=k / SAMPLE_RATE), 0, k)
            began = time.perf_counter()
            found = self.detector.process(block)
            self.seconds += time.perf_counter() - began
            for detection in found:
                onset = (detection.ts - T0).total_seconds()
                out.append((onset, (k + len(samples)) / SAMPLE_RATE, detection.confidence))
        self.audio_s += len(audio) / SAMPLE_RATE
        return out

    def finish(self) -> list[tuple[float, float, float]]:
        """The recording has ended: what the detector still decides, as `edge analyse` does. No
        microphone stops, so these have no latency (NaN)."""
        return [((d.ts - T0).total_seconds(), math.nan, d.confidence) for d in self.detector.finish()]


def evaluate_clips(count: int, config: GunshotConfig, first_seed: int) -> dict[str, object]:
    """Clips `first_seed` .. `first_seed + count - 1`, each a recording of its own (`finish`
    between them), through one detector."""
    shots = found = false = 0
    errors: list[float] = []
    latencies: list[float] = []
    per_kind: Counter[str] = Counter()
    fp_kind: Counter[str] = Counter()
    timed = Timed(config)
    for i in range(count):
        clip: Clip = make_clip(kinds_for(i), np.random.default_rng(first_seed + i))
        per_kind[clip.kind] += 1
        events = timed.run(clip.audio) + timed.finish()
        arrivals = [a / SAMPLE_RATE for a in clip.arrivals]
        print(f"\r  clip {i + 1}/{count}", end="", file=sys.stderr)
        shots += len(arrivals)
        matched: set[int] = set()
        for onset, emitted, _ in events:
            near = [j for j, a in enumerate(arrivals) if abs(onset - a) <= MATCH_S and j not in matched]
            if near:
                matched.add(near[0])
                errors.append((onset - arrivals[near[0]]) * 1000.0)
                if not math.isnan(emitted):
                    latencies.append((emitted - arrivals[near[0]]) * 1000.0)
            else:
                false += 1
                fp_kind[clip.kind] += 1
        found += len(matched)
    print(file=sys.stderr)
    abs_err = np.abs(errors) if errors else np.zeros(1)
    table = {
        kind: {"clips": n, "false_events": fp_kind[kind]}
        for kind, n in sorted(per_kind.items())
        if kind != "gunshot"
    }
    return {
        "clips": count,
        "shots": shots,
        "recall": found / max(shots, 1),
        "precision": found / max(found + false, 1),
        "false_events": false,
        "false_events_in_gunshot_clips": fp_kind["gunshot"],
        "per_negative_kind": table,
        "onset_error_ms": {p: float(np.percentile(abs_err, int(p[1:]))) for p in ("p50", "p90", "p99")}
        | {"max": float(abs_err.max()), "mean_signed": float(np.mean(errors)) if errors else 0.0},
        "latency_ms_after_arrival": {
            "p50": float(np.percentile(latencies, 50)) if latencies else 0.0,
            "p90": float(np.percentile(latencies, 90)) if latencies else 0.0,
        },
    }
