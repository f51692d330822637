"""The cheap stage: sharp rises pass, steady or slowly swelling sound does not, block size never matters."""

from __future__ import annotations

import numpy as np
import pytest

from impetus.edge_agent.audio.impulse import measure
from impetus.edge_agent.audio.onset import OnsetGate, low_quantile
from impetus.scenario.propagation import ANECHOIC, delay_s, propagate, to_full_scale
from impetus.scenario.sounds import synthesise

SR = 16_000


def noise(seconds: float, level: float, seed: int = 0) -> np.ndarray:
    return (level * np.random.default_rng(seed).standard_normal(round(seconds * SR))).astype(np.float32)


def onsets(audio: np.ndarray, block: int) -> list[int]:
    gate = OnsetGate(SR)
    return [o.sample for k in range(0, len(audio), block) for o in gate.feed(audio[k : k + block])]


def test_a_click_in_noise_is_one_candidate_at_its_frame() -> None:
    audio = noise(2.0, 1e-3)
    audio[20_005:20_040] += 0.3
    assert onsets(audio, 1600) == [20_000]


def test_steady_noise_and_a_slow_swell_let_nothing_through() -> None:
    swell = noise(4.0, 1.0, seed=1) * np.linspace(1e-4, 0.3, 4 * SR).astype(np.float32)
    assert onsets(noise(4.0, 0.05), 1600) == []
    assert onsets(swell, 1600) == []


@pytest.mark.parametrize("block", [333, 1000, 4096, 48_000])
def test_block_size_never_changes_what_is_found(block: int) -> None:
    audio = noise(3.0, 1e-3, seed=2)
    for at in (1_599, 16_000, 30_001, 41_000):
        audio[at : at + 50] += np.float32(0.2)
    frame_starts = [1_568, 16_000, 29_984, 40_992]  # 2 ms (32-sample) frames holding each rise
    assert onsets(audio, block) == onsets(audio, 1600) == frame_starts


def test_the_onset_is_the_wavefront_arrival_to_within_a_sample() -> None:
    """The 20 % crossing of a band-limited shock front leads the ideal step by under a sample,
    the same at every microphone, so it cancels in time differences."""
    shot = synthesise("gunshot", SR, np.random.default_rng(3))
    distance = 61.7
    heard = to_full_scale(propagate(shot, SR, distance, 20.0, ANECHOIC, noise_db_spl=25.0))
    arrival = delay_s(distance, 20.0) * SR
    trigger = onsets(heard, 1600)[0]
    impulse = measure(heard, trigger, SR, floor_db=-80.0)
    assert abs(impulse.onset - arrival) < 1.0
    assert impulse.peak_dbfs <= 0.0 and 0.0 < impulse.duration_ms < 200.0


def test_a_faint_click_does_not_hide_the_shot_that_follows_it() -> None:
    audio = noise(1.0, 1e-4, seed=4)
    audio[8_000:8_030] += np.float32(0.003)
    audio[8_320:8_400] += np.float32(0.5)  # 20 ms later, 40 dB louder: inside the refractory time
    audio[8_352:8_400] += np.float32(0.4)  # the same impulse growing is not a new candidate
    assert onsets(audio, 1600) == [8_000, 8_320]


def test_the_floor_quantile_is_numpys_20th_percentile_without_its_overhead() -> None:
    rng = np.random.default_rng(3)
    for frames in (1, 2, 3, 25, 50, 401):
        energy = rng.normal(-60.0, 20.0, frames)
        assert abs(low_quantile(energy) - float(np.percentile(energy, 20))) < 1e-9
