"""The synthesiser and the propagation model behave like the physics they claim."""

from __future__ import annotations

import numpy as np
import pytest

from impetus.protocol.site import speed_of_sound
from impetus.scenario.propagation import (
    ANECHOIC,
    Reflections,
    absorption_db_per_m,
    delay_s,
    propagate,
    to_full_scale,
)
from impetus.scenario.sounds import KINDS, NEGATIVE_KINDS, db_spl, synthesise

SR = 16_000


def band_energy_db(x: np.ndarray, low_hz: float, high_hz: float) -> float:
    """Band energy, independent of zero padding (Parseval: bins sum to N times the energy)."""
    spectrum = np.abs(np.fft.rfft(x)) ** 2 / len(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / SR)
    return 10.0 * float(np.log10(spectrum[(freqs >= low_hz) & (freqs < high_hz)].sum()))


def arrival_samples(heard: np.ndarray, dry: np.ndarray) -> float:
    """Lag of the cross-correlation maximum, refined by a parabola through its neighbours."""
    size = 1 << (len(heard) + len(dry)).bit_length()
    corr = np.fft.irfft(np.fft.rfft(heard, size) * np.conj(np.fft.rfft(dry, size)), size)[: len(heard)]
    k = int(np.argmax(corr))
    a, b, c = corr[k - 1], corr[k], corr[k + 1]
    return k + 0.5 * (a - c) / (a - 2 * b + c)


def test_kinds_are_gunshot_and_the_hard_negatives() -> None:
    assert KINDS[0] == "gunshot"
    assert set(NEGATIVE_KINDS) == set(KINDS) - {"gunshot"}
    assert {"door_slam", "balloon_pop", "firework", "clap", "speech", "crowd"} <= set(NEGATIVE_KINDS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_reproducible_from_its_seed(kind: str) -> None:
    first = synthesise(kind, SR, np.random.default_rng(11))
    again = synthesise(kind, SR, np.random.default_rng(11))
    other = synthesise(kind, SR, np.random.default_rng(12))
    assert first.dtype == np.float32 and first.ndim == 1 and np.all(np.isfinite(first))
    assert np.array_equal(first, again)
    assert len(first) != len(other) or not np.array_equal(first, other)


def test_levels_at_one_metre_follow_measured_figures() -> None:
    rng = np.random.default_rng(3)
    shots = [db_spl(float(np.abs(synthesise("gunshot", SR, rng)).max())) for _ in range(20)]
    claps = [db_spl(float(np.abs(synthesise("clap", SR, rng)).max())) for _ in range(20)]
    talk = [db_spl(float(np.sqrt(np.mean(synthesise("speech", SR, rng) ** 2)))) for _ in range(5)]
    assert min(shots) >= 140.0 and max(shots) <= 166.0
    assert min(claps) >= 109.0 and max(claps) <= 121.0
    assert min(talk) >= 55.0 and max(talk) <= 76.0


def test_a_rifle_crack_precedes_the_muzzle_blast() -> None:
    shot = synthesise("gunshot", SR, np.random.default_rng(5), crack=True, calibre="5.56mm")
    first = int(np.argmax(np.abs(shot) > 0.01 * np.abs(shot).max()))
    loudest = int(np.argmax(np.abs(shot)))
    assert first <= 2
    assert 0.005 * SR <= loudest - first <= 0.041 * SR


def test_bad_requests_name_what_was_expected() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="expected one of"):
        synthesise("thunder", SR, rng)
    with pytest.raises(ValueError, match="subsonic"):
        synthesise("gunshot", SR, rng, crack=True, calibre="45acp")
    with pytest.raises(ValueError, match="gunshots only"):
        synthesise("clap", SR, rng, crack=True)


@pytest.mark.parametrize("distance_m", [7.3, 51.19, 143.0])
def test_arrival_is_delayed_by_distance_over_speed_of_sound_to_a_sample(distance_m: float) -> None:
    dry = synthesise("gunshot", SR, np.random.default_rng(1)).astype(np.float64)
    heard = propagate(dry, SR, distance_m, 25.0, ANECHOIC, noise_db_spl=None)
    expected = distance_m / speed_of_sound(25.0) * SR
    assert delay_s(distance_m, 25.0) * SR == pytest.approx(expected)
    assert abs(arrival_samples(heard.astype(np.float64), dry) - expected) < 1.0


def test_level_falls_six_decibels_per_doubling_of_distance() -> None:
    dry = synthesise("engine", SR, np.random.default_rng(2), duration_s=1.0)
    levels = [
        band_energy_db(propagate(dry, SR, d, 15.0, ANECHOIC, noise_db_spl=None), 20, 500)
        for d in (10, 20, 40)
    ]
    assert levels[0] - levels[1] == pytest.approx(6.02, abs=0.1)
    assert levels[1] - levels[2] == pytest.approx(6.02, abs=0.1)


def test_high_frequencies_fade_faster_with_distance() -> None:
    dry = synthesise("gunshot", SR, np.random.default_rng(4))
    near = propagate(dry, SR, 10.0, 15.0, ANECHOIC, noise_db_spl=None)
    far = propagate(dry, SR, 150.0, 15.0, ANECHOIC, noise_db_spl=None)
    low_loss = band_energy_db(near, 100, 1000) - band_energy_db(far, 100, 1000)
    high_loss = band_energy_db(near, 5000, 7500) - band_energy_db(far, 5000, 7500)
    assert high_loss - low_loss > 5.0


def test_absorption_matches_the_iso_9613_table_at_10_degrees_70_percent() -> None:
    freqs = np.array([125, 250, 500, 1000, 2000, 4000, 8000])
    table_db_per_km = np.array([0.4, 1.0, 1.9, 3.7, 9.7, 32.8, 117.0])
    assert absorption_db_per_m(freqs, 10.0, 70.0) * 1000 == pytest.approx(table_db_per_km, rel=0.08)


def test_propagation_is_reproducible_and_adds_echoes_and_noise_from_the_seed() -> None:
    dry = synthesise("clap", SR, np.random.default_rng(6))
    room = Reflections(rt60_s=1.0, facades=4)
    a = propagate(dry, SR, 40.0, 10.0, room, rng=np.random.default_rng(9))
    b = propagate(dry, SR, 40.0, 10.0, room, rng=np.random.default_rng(9))
    dry_only = propagate(dry, SR, 40.0, 10.0, ANECHOIC, noise_db_spl=None)
    assert np.array_equal(a, b)
    assert len(a) > len(dry_only) + 0.9 * SR
    assert float(np.sum(a.astype(np.float64) ** 2)) > float(np.sum(dry_only.astype(np.float64) ** 2))


def test_microphone_clips_at_its_full_scale() -> None:
    shot = synthesise("gunshot", SR, np.random.default_rng(8))
    near = to_full_scale(propagate(shot, SR, 2.0, 15.0), full_scale_db_spl=120.0)
    assert near.max() == 1.0 and near.min() >= -1.0 and near.dtype == np.float32
