"""The streaming gunshot detector on synthesised scenes (seeds no training run has used)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from impetus.edge_agent.audio.onset import OnsetGate
from impetus.edge_agent.detectors.base import Detection, DetectorContext
from impetus.edge_agent.detectors.gunshot import GunshotConfig, GunshotDetector
from impetus.edge_agent.sources.base import AudioBlock
from impetus.protocol.payloads import GunshotPayload
from impetus.scenario.propagation import Reflections, delay_s, propagate, to_full_scale
from impetus.scenario.sounds import synthesise

MODELS = Path(__file__).resolve().parents[2] / "models"
SR = 16_000
T0 = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
HELD_OUT = 9_000_000
TEMPERATURE = 18.0
STREET = Reflections(ground_coefficient=0.9, facades=2, facade_gain=0.3, rt60_s=0.6, critical_distance_m=25.0)


def new_detector() -> GunshotDetector:
    detector = GunshotDetector(GunshotConfig(), DetectorContext("mic-1", "plaza", MODELS))
    detector.setup()
    return detector


def scene(events: list[tuple[str, float, float]], seed: int, duration_s: float = 3.0) -> np.ndarray:
    """(kind, distance m, emission s) events over a quiet street, as a 120 dB SPL MEMS mic records
    it; the shots come from one 9 mm handgun."""
    rng = np.random.default_rng(HELD_OUT + seed)
    pressure = np.zeros(round(duration_s * SR))
    street = synthesise("engine", SR, rng, duration_s=duration_s)
    pressure += propagate(street, SR, 40.0, TEMPERATURE, STREET, rng, noise_db_spl=30.0)[: len(pressure)]
    for kind, distance, at in events:
        dry = synthesise(kind, SR, rng, calibre="9mm" if kind == "gunshot" else None)
        heard = propagate(dry, SR, distance, TEMPERATURE, STREET, rng, noise_db_spl=None)
        start = round(at * SR)
        end = min(len(pressure), start + len(heard))
        pressure[start:end] += heard[: end - start]
    return to_full_scale(pressure)


def run(detector: GunshotDetector, audio: np.ndarray, block: int = 1600, first: int = 0) -> list[Detection]:
    found: list[Detection] = []
    for k in range(0, len(audio), block):
        ts = T0 + timedelta(seconds=(first + k) / SR)
        found += detector.process(AudioBlock(audio[k : k + block], SR, ts, k // block, first + k))
    return found


def onset_error_ms(detection: Detection, emitted_s: float, distance_m: float) -> float:
    truth = T0 + timedelta(seconds=emitted_s + delay_s(distance_m, TEMPERATURE))
    assert isinstance(detection.payload, GunshotPayload)
    return (detection.payload.onset_ts - truth).total_seconds() * 1000.0


@pytest.mark.parametrize(("distance_m", "seed"), [(30.0, 1), (60.0, 2), (100.0, 3), (80.0, 7)])
def test_each_shot_of_a_burst_is_an_event_with_a_submillisecond_onset(distance_m: float, seed: int) -> None:
    shots = [0.4, 0.65, 0.9]
    found = run(new_detector(), scene([("gunshot", distance_m, t) for t in shots], seed))
    assert len(found) == 3
    payloads = [d.payload for d in found]
    assert all(isinstance(p, GunshotPayload) for p in payloads)
    assert [p.shot_index for p in payloads] == [0, 1, 2]  # type: ignore[attr-defined]
    assert len({p.burst_id for p in payloads}) == 1  # type: ignore[attr-defined]
    for detection, emitted in zip(found, shots, strict=True):
        assert abs(onset_error_ms(detection, emitted, distance_m)) < 1.0
        assert detection.ts == detection.payload.onset_ts  # type: ignore[attr-defined]
        assert detection.type == "gunshot" and detection.confidence >= 0.5


def test_shots_seconds_apart_open_a_new_burst() -> None:
    found = run(new_detector(), scene([("gunshot", 50.0, 0.3), ("gunshot", 50.0, 3.2)], 4, duration_s=4.5))
    assert len(found) == 2
    first, second = (d.payload for d in found)
    assert first.burst_id != second.burst_id  # type: ignore[attr-defined]
    assert first.shot_index == second.shot_index == 0  # type: ignore[attr-defined]


NEGATIVES = [
    (kind, distance, seed)
    for kind, distance in [("door_slam", 3.0), ("clap", 3.0), ("balloon_pop", 15.0), ("speech", 1.0)]
    for seed in range(10, 14)
]


@pytest.mark.parametrize(("kind", "distance_m", "seed"), NEGATIVES)
def test_stays_silent_on_hard_negatives(kind: str, distance_m: float, seed: int) -> None:
    audio = scene([(kind, distance_m, 0.5)], seed)
    if kind != "speech":  # talk rarely rises sharply enough to pass the gate; that is fine too
        assert OnsetGate(SR).feed(audio), (
            f"the {kind} must reach the expensive stage for this test to mean anything"
        )
    assert run(new_detector(), audio) == []


@pytest.mark.parametrize("block", [1600, 1000, 333])
def test_a_shot_straddling_a_block_boundary_is_reported_once(block: int) -> None:
    distance = 40.0
    boundary = block * (SR // block + 2)  # a block boundary a little over a second in
    emitted = (boundary - 3) / SR - delay_s(distance, TEMPERATURE)  # the front arrives 3 samples before it
    found = run(new_detector(), scene([("gunshot", distance, emitted)], 5), block=block)
    assert len(found) == 1
    assert abs(onset_error_ms(found[0], emitted, distance)) < 1.0


def test_lost_samples_restart_the_gate_without_shifting_later_onsets() -> None:
    detector = new_detector()
    audio = scene([("gunshot", 45.0, 1.6)], 6)
    blocks = list(range(0, len(audio), 1600))
    found: list[Detection] = []
    for n, k in enumerate(blocks):
        if n == 3:
            continue  # a block the source dropped: first_sample jumps
        ts = T0 + timedelta(seconds=k / SR)
        found += detector.process(AudioBlock(audio[k : k + 1600], SR, ts, n, k))
    assert len(found) == 1
    assert abs(onset_error_ms(found[0], 1.6, 45.0)) < 1.0


def test_config_refuses_unknown_keys_and_impossible_thresholds() -> None:
    with pytest.raises(ValidationError, match="thresh"):
        GunshotConfig(thresh=0.5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="less than 1"):
        GunshotConfig(threshold=1.5)


def test_anything_but_audio_is_refused_with_a_clear_error() -> None:
    detector = new_detector()
    with pytest.raises(TypeError, match="audio blocks"):
        detector.process(np.zeros(1600))  # type: ignore[arg-type]
