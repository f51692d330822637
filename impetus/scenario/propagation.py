"""What a microphone at a distance hears of a dry source signal (pascal at 1 m, from `sounds`).

The direct path is delayed by distance / c (fractional samples, applied as a phase ramp, so the
arrival lands between samples exactly where physics puts it), attenuated by spherical spreading
(1/r re 1 m, -6 dB per doubling) and by atmospheric absorption (ISO 9613-1, which removes the high
frequencies first: at 20 °C and 50 % humidity ~0.03 dB/m at 4 kHz, ~0.1 dB/m at 8 kHz). An image
source models the ground reflection, a few random image sources the facades around a square, and an
exponentially decaying noise tail (RT60, critical distance) the diffuse reverberation. Microphone
self-noise is added last. The output starts at the emission instant, so sample i is at
`emission + i / sample_rate`. Example::

    heard = propagate(shot, 16_000, 80.0, 15.0, Reflections(), rng=np.random.default_rng(1))
    samples = to_full_scale(heard)        # what a 120 dB SPL full-scale MEMS microphone records
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from impetus.protocol.site import speed_of_sound
from impetus.scenario.sounds import P_REF


def delay_s(distance_m: float, temperature_c: float) -> float:
    """Travel time of sound over `distance_m` in air at `temperature_c`."""
    if distance_m < 0:
        raise ValueError(f"distance must be non-negative, got {distance_m} m")
    return distance_m / speed_of_sound(temperature_c)


def absorption_db_per_m(
    freqs_hz: np.ndarray, temperature_c: float, humidity_percent: float = 50.0, pressure_kpa: float = 101.325
) -> np.ndarray:
    """Pure-tone atmospheric absorption coefficient of ISO 9613-1:1993, in dB per metre."""
    t = temperature_c + 273.15
    t0, t01, pr = 293.15, 273.16, 101.325
    pa = pressure_kpa / pr
    psat = 10.0 ** (-6.8346 * (t01 / t) ** 1.261 + 4.6151)
    h = humidity_percent * psat / pa
    fr_o = pa * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = pa * (t / t0) ** -0.5 * (9.0 + 280.0 * h * math.exp(-4.170 * ((t / t0) ** (-1.0 / 3.0) - 1.0)))
    f2 = np.asarray(freqs_hz, dtype=np.float64) ** 2
    return (
        8.686
        * f2
        * (
            1.84e-11 / pa * (t / t0) ** 0.5
            + (t / t0) ** -2.5
            * (
                0.01275 * math.exp(-2239.1 / t) / (fr_o + f2 / fr_o)
                + 0.1068 * math.exp(-3352.0 / t) / (fr_n + f2 / fr_n)
            )
        )
    )


@dataclass(frozen=True)
class Reflections:
    """The surroundings between source and microphone.

    `ground_coefficient` is the pressure reflection coefficient of the ground (0.9-1.0 for paving,
    0.5-0.8 for grass, 0 for no ground wave); heights place the image source. `facades` early
    reflections arrive 5-80 ms after the direct sound at `facade_gain` of its amplitude or less.
    The diffuse tail decays by 60 dB in `rt60_s` and carries as much energy as the direct sound
    at `critical_distance_m` (a few metres in a street canyon, tens of metres in an open square).
    """

    ground_coefficient: float = 0.9
    source_height_m: float = 1.5
    mic_height_m: float = 4.0
    facades: int = 3
    facade_gain: float = 0.5
    rt60_s: float = 0.8
    critical_distance_m: float = 15.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ground_coefficient <= 1.0:
            raise ValueError(f"ground_coefficient must lie in [0, 1], got {self.ground_coefficient}")
        if not 0.0 <= self.facade_gain <= 1.0:
            raise ValueError(f"facade_gain must lie in [0, 1], got {self.facade_gain}")
        if self.facades < 0 or self.rt60_s < 0 or self.critical_distance_m <= 0:
            raise ValueError("facades and rt60_s must be non-negative and critical_distance_m positive")


ANECHOIC = Reflections(ground_coefficient=0.0, facades=0, rt60_s=0.0)
"""Free field: the direct path only."""


def propagate(
    dry: np.ndarray,
    sample_rate: int,
    distance_m: float,
    temperature_c: float,
    reflections: Reflections = ANECHOIC,
    rng: np.random.Generator | None = None,
    *,
    noise_db_spl: float | None = 30.0,
    humidity_percent: float = 50.0,
) -> np.ndarray:
    """The pressure at a microphone `distance_m` (direct, slant path) from the source, from the
    emission instant on, float32 pascal. `noise_db_spl` is the microphone's self-noise as an
    equivalent sound level (about 30 dB for a MEMS microphone with 64 dB SNR); None for none."""
    if dry.ndim != 1 or len(dry) == 0:
        raise ValueError(f"dry signal must be a non-empty 1-D array, got shape {dry.shape}")
    if distance_m <= 0:
        raise ValueError(f"distance must be positive, got {distance_m} m")
    rng = rng if rng is not None else np.random.default_rng(0)
    c = speed_of_sound(temperature_c)
    paths: list[tuple[float, float]] = [(distance_m, 1.0)]
    if reflections.ground_coefficient > 0:
        dh = reflections.mic_height_m - reflections.source_height_m
        horizontal2 = max(distance_m**2 - dh**2, 0.0)
        ground = math.sqrt(horizontal2 + (reflections.mic_height_m + reflections.source_height_m) ** 2)
        paths.append((max(ground, distance_m), reflections.ground_coefficient))
    for _ in range(reflections.facades):
        extra = rng.uniform(0.005, 0.080) * c
        paths.append((distance_m + extra, reflections.facade_gain * rng.uniform(0.2, 1.0)))
    tail_s = reflections.rt60_s if reflections.rt60_s > 0 else 0.0
    longest = max(p[0] for p in paths) / c
    n_out = math.ceil((longest + tail_s) * sample_rate) + len(dry) + 2
    size = 1 << (n_out + len(dry) - 1).bit_length()
    freqs = np.fft.rfftfreq(size, 1.0 / sample_rate)
    alpha = absorption_db_per_m(freqs, temperature_c, humidity_percent)
    source = np.fft.rfft(dry.astype(np.float64), size)
    total = np.zeros_like(source)
    for length, gain in paths:
        r = max(length, 1.0)
        attenuation = (gain / r) * 10.0 ** (-alpha * r / 20.0)
        total += source * attenuation * np.exp(-2j * np.pi * freqs * (length / c))
    if tail_s > 0:
        total += source * _tail_response(
            size, sample_rate, distance_m / c, reflections, alpha * distance_m, rng
        )
    heard = np.fft.irfft(total, size)[:n_out]
    if noise_db_spl is not None:
        heard += rng.standard_normal(n_out) * P_REF * 10.0 ** (noise_db_spl / 20.0)
    return heard.astype(np.float32)


def _tail_response(
    size: int,
    sample_rate: int,
    arrival_s: float,
    reflections: Reflections,
    absorption_db: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Frequency response of the diffuse tail: decaying noise that builds up from 5-20 ms after
    the direct sound, with the energy of a direct sound at the critical distance."""
    n = int(reflections.rt60_s * sample_rate)
    t = np.arange(n) / sample_rate
    build_up = np.minimum(1.0, t / 0.02)  # the diffuse field builds up over ~20 ms as reflections multiply
    tail = rng.standard_normal(n) * np.exp(-6.91 * t / reflections.rt60_s) * build_up
    tail *= (1.0 / reflections.critical_distance_m) / float(np.sqrt(np.sum(tail**2)))
    impulse = np.zeros(size)
    start = int((arrival_s + rng.uniform(0.005, 0.020)) * sample_rate)
    end = min(size, start + n)
    impulse[start:end] = tail[: end - start]
    return np.fft.rfft(impulse) * 10.0 ** (-absorption_db / 20.0)


def to_full_scale(pressure_pa: np.ndarray, full_scale_db_spl: float = 120.0) -> np.ndarray:
    """What a digital microphone records: pressure scaled so `full_scale_db_spl` peak is 1.0, and
    clipped there (MEMS microphones overload at 116-130 dB SPL; near shots do clip)."""
    scale = P_REF * 10.0 ** (full_scale_db_spl / 20.0)
    return np.clip(pressure_pa / scale, -1.0, 1.0).astype(np.float32)
