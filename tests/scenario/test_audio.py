"""Microphone signals: each shot arrives with the physical delay, quieter further away, seamlessly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from impetus.scenario import Scenario

SR = 16_000
NEAR, FAR = "pole-south", "mic-southwest"


def distance(scenario: Scenario, device_id: str, label: str) -> float:
    e = next(e for e in scenario.emissions if e.label == label)
    mic = scenario.site.device(device_id)
    return math.dist((e.x_m, e.y_m, e.height_m), (mic.position.x_m, mic.position.y_m, mic.height_m))


def measured_lag(a: np.ndarray, b: np.ndarray) -> float:
    """Samples by which `b` lags `a`: the cross-correlation peak, refined by a parabola."""
    corr = np.correlate(b, a, mode="full")
    k = int(np.argmax(corr))
    y0, y1, y2 = corr[k - 1], corr[k], corr[k + 1]
    return k - (len(a) - 1) + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)


def test_a_shot_reaches_two_microphones_with_the_difference_of_their_distances_over_c(
    free_field: Scenario,
) -> None:
    shot = free_field.shot_times[0]
    n = int(0.18 * SR)  # ends before the second shot (>= 0.2 s later) can arrive
    near = free_field.pressure(NEAR, shot, n, SR)
    far = free_field.pressure(FAR, shot, n, SR)
    expected = (
        distance(free_field, FAR, "shot-0") - distance(free_field, NEAR, "shot-0")
    ) / free_field.speed_of_sound
    assert expected * SR > 50  # a real separation, not a few samples
    assert measured_lag(near, far) == pytest.approx(expected * SR, abs=1.0)


def test_in_the_echoing_square_the_first_arrival_is_the_direct_sound(scenario: Scenario) -> None:
    """Facade echoes follow the direct sound; its onset still comes at emission + distance / c."""
    shot = scenario.shot_times[0]
    first = round(shot * SR)
    for mic in (NEAR, FAR, "pole-east", "mic-northeast"):
        samples = np.abs(scenario.pressure(mic, first / SR, int(0.19 * SR), SR))
        onset = first + int(np.argmax(samples > 0.25 * samples.max()))
        expected = (shot + distance(scenario, mic, "shot-0") / scenario.speed_of_sound) * SR
        assert onset == pytest.approx(expected, abs=2.0), mic


def test_the_farther_microphone_hears_the_shot_quieter(free_field: Scenario) -> None:
    shot = free_field.shot_times[0]
    window = int(0.01 * SR)
    levels = {}
    for mic in (NEAR, FAR, "pole-east"):
        arrival = shot + distance(free_field, mic, "shot-0") / free_field.speed_of_sound
        samples = free_field.pressure(mic, arrival - 0.001, window, SR)
        levels[mic] = float(np.sqrt(np.mean(samples**2)))
    assert levels[NEAR] > levels[FAR] > levels["pole-east"]
    ratio = levels[NEAR] / levels[FAR]
    spreading = distance(free_field, FAR, "shot-0") / distance(free_field, NEAR, "shot-0")
    assert ratio == pytest.approx(spreading, rel=0.2)


def test_nothing_arrives_before_the_sound_could_have_travelled(free_field: Scenario) -> None:
    shot = free_field.shot_times[0]
    arrival = shot + distance(free_field, FAR, "shot-0") / free_field.speed_of_sound
    before = free_field.pressure(FAR, arrival - 0.02, int(0.018 * SR), SR)
    after = free_field.pressure(FAR, arrival, int(0.002 * SR), SR)
    assert np.abs(after).max() > 100 * np.abs(before).max()


@pytest.mark.parametrize("cuts", [[SR, SR], [1600] * 20, [1237, 4000, 26763]])
def test_audio_is_the_same_however_the_stream_is_cut_into_calls(scenario: Scenario, cuts: list[int]) -> None:
    t0 = scenario.shot_times[0] - 0.7  # spans the shot and a chunk boundary of the ambient bed
    whole = scenario.audio("pole-north", t0, sum(cuts), SR)
    first = round(t0 * SR)
    parts, at = [], first
    for n in cuts:
        parts.append(scenario.audio("pole-north", at / SR, n, SR))
        at += n
    assert np.array_equal(whole, np.concatenate(parts))


def test_audio_is_float32_contiguous_and_within_full_scale(scenario: Scenario) -> None:
    block = scenario.audio("mic-northeast", scenario.shot_times[0], 8000, SR)
    assert block.dtype == np.float32 and block.flags.c_contiguous and block.shape == (8000,)
    assert np.abs(block).max() <= 1.0


def test_the_crowd_grows_louder_as_it_gathers(scenario: Scenario) -> None:
    before_shots = scenario.shot_times[0] - 1.5
    crowded = scenario.pressure("pole-south", before_shots, SR, SR)
    early = scenario.pressure("pole-south", 0.2, SR, SR)
    assert np.sqrt(np.mean(crowded**2)) > 3 * np.sqrt(np.mean(early**2))


def test_a_device_without_a_microphone_is_refused(scenario: Scenario) -> None:
    with pytest.raises(KeyError, match="'nowhere' is not on the plan"):
        scenario.audio("nowhere", 0.0, 100)
