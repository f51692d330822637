"""What one microphone records: every sound of the scenario, arriving when and as loud as physics says.

Each emission (a shot, a door slam...) is synthesised dry by `sounds` and carried to the microphone
by `propagation` (delay, spreading, air absorption, ground and facade reflections, reverberation).
The emission instant is placed to a fraction of a sample, so the arrival difference between two
microphones is (d1 - d2) / c exactly, which is what TDOA localisation relies on.

The ambient bed (crowd babble scaled by the people near the microphone, louder when they scream
and run, plus microphone self-noise) is made in fixed chunks seeded by their index and joined by
power-complementary cross-fades, so any block of samples comes out the same however the stream is
cut into calls.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from impetus.protocol.site import DevicePlacement, SiteDescription
from impetus.scenario.crowd import CrowdTrack
from impetus.scenario.propagation import ANECHOIC, Reflections, propagate
from impetus.scenario.sounds import P_REF, pascal, synthesise

CHUNK_S = 2.0
CROSSFADE_S = 0.05
PERSON_DB_SPL = 58.0
"""Mean level of one person in a crowd at 1 m (talking, chanting now and then, footsteps)."""
PANIC_GAIN = 3.0
"""Amplitude factor of a fleeing person (screams, running steps): about +10 dB."""
SELF_NOISE_DB_SPL = 30.0
"""Microphone self-noise as an equivalent sound level (a MEMS microphone with ~64 dB SNR)."""
NEAREST_PERSON_M = 2.0

SQUARE = Reflections(facades=3, facade_gain=0.4, rt60_s=0.8, critical_distance_m=15.0)
"""An open paved square: strong ground reflection, a few facade echoes, a short diffuse tail."""


@dataclass(frozen=True)
class Emission:
    """One sound put into the scene: dry signal `kind` from `seed`, starting at `t_s` exactly."""

    label: str
    kind: str
    t_s: float
    x_m: float
    y_m: float
    height_m: float
    seed: int
    gunshot: bool = False
    calibre: str | None = None

    def dry(self, sample_rate: int) -> np.ndarray:
        rng = np.random.default_rng(self.seed)
        if self.gunshot:
            return synthesise(self.kind, sample_rate, rng, calibre=self.calibre)
        return synthesise(self.kind, sample_rate, rng)


def _fractional_shift(signal: np.ndarray, fraction: float) -> np.ndarray:
    """Delay by `fraction` (0 <= fraction < 1) of a sample, band-limited (a phase ramp)."""
    size = 1 << (len(signal) + 64).bit_length()
    spectrum = np.fft.rfft(signal.astype(np.float64), size)
    spectrum *= np.exp(-2j * np.pi * np.fft.rfftfreq(size) * fraction)
    return np.fft.irfft(spectrum, size)[: len(signal) + 2]


class MicrophoneRenderer:
    """The pressure (pascal) at one microphone, for any range of sample indices at any rate."""

    def __init__(
        self,
        site: SiteDescription,
        placement: DevicePlacement,
        emissions: list[Emission],
        crowd: CrowdTrack,
        seed: int,
        free_field: bool = False,
    ) -> None:
        self.site = site
        self.placement = placement
        self.emissions = emissions
        self.crowd = crowd
        self.seed = seed
        self.free_field = free_field
        self._heard: dict[tuple[int, int], tuple[int, np.ndarray]] = {}
        self._chunks: dict[tuple[int, int], np.ndarray] = {}
        self._lock = threading.Lock()
        self._crowd_level = self._crowd_pressure()
        self._device_key = sum(ord(ch) * 131**i for i, ch in enumerate(placement.device_id)) % 2**31

    def distance_m(self, emission: Emission) -> float:
        p = self.placement
        return math.dist(
            (emission.x_m, emission.y_m, emission.height_m), (p.position.x_m, p.position.y_m, p.height_m)
        )

    def _crowd_pressure(self) -> np.ndarray:
        """RMS pressure of the crowd at the microphone, per crowd step: incoherent sum over people."""
        p = self.placement
        mic = np.array([p.position.x_m, p.position.y_m], dtype=np.float32)
        r2 = np.sum((self.crowd.positions - mic) ** 2, axis=2) + (p.height_m - 1.6) ** 2
        r2 = np.maximum(r2, NEAREST_PERSON_M**2)
        steps = np.arange(len(self.crowd.positions)) * self.crowd.dt_s
        panic = np.where(steps[:, None] >= self.crowd.flee_start_s[None, :], PANIC_GAIN**2, 1.0)
        power = np.sum(np.where(self.crowd.present, panic / r2, 0.0), axis=1)
        return pascal(PERSON_DB_SPL) * np.sqrt(power)

    def _heard_signal(self, index: int, sample_rate: int) -> tuple[int, np.ndarray]:
        """The emission as this microphone records it, with the sample index of its first sample."""
        key = (index, sample_rate)
        cached = self._heard.get(key)
        if cached is not None:
            return cached
        emission = self.emissions[index]
        start = emission.t_s * sample_rate
        first = math.floor(start)
        dry = _fractional_shift(emission.dry(sample_rate), start - first)
        reflections = ANECHOIC
        if not self.free_field:
            reflections = Reflections(
                ground_coefficient=SQUARE.ground_coefficient,
                source_height_m=emission.height_m,
                mic_height_m=self.placement.height_m,
                facades=SQUARE.facades,
                facade_gain=SQUARE.facade_gain,
                rt60_s=SQUARE.rt60_s,
                critical_distance_m=SQUARE.critical_distance_m,
            )
        rng = np.random.default_rng([emission.seed, self._device_key])
        heard = propagate(
            dry,
            sample_rate,
            self.distance_m(emission),
            self.site.temperature_c,
            reflections,
            rng,
            noise_db_spl=None,
        ).astype(np.float64)
        with self._lock:
            self._heard[key] = (first, heard)
        return first, heard

    def _chunk(self, index: int, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit-RMS crowd babble and unit-RMS self-noise of one chunk, faded in and out."""
        key = (index, sample_rate)
        cached = self._chunks.get(key)
        if cached is not None:
            return cached
        length = round(CHUNK_S * sample_rate)
        fade = round(CROSSFADE_S * sample_rate)
        rng = np.random.default_rng([self.seed, self._device_key, index + 1, sample_rate])
        babble = synthesise("crowd", sample_rate, rng, duration_s=(length + fade) / sample_rate)
        babble = babble.astype(np.float64)[: length + fade]
        babble /= max(float(np.sqrt(np.mean(babble**2))), 1e-12)
        noise = rng.standard_normal(length + fade)
        ramp = np.sin(0.5 * np.pi * (np.arange(fade) + 0.5) / fade)
        for signal in (babble, noise):
            signal[:fade] *= ramp
            signal[length:] *= ramp[::-1]
        with self._lock:
            if len(self._chunks) > 64:
                self._chunks.clear()
            self._chunks[key] = (babble, noise)
        return babble, noise

    def _ambient(self, first: int, n: int, sample_rate: int) -> np.ndarray:
        """Crowd babble at the level the people around make, and the microphone's self-noise."""
        length = round(CHUNK_S * sample_rate)
        fade = round(CROSSFADE_S * sample_rate)
        crowd, noise = np.zeros(n), np.zeros(n)
        for index in range((first - fade) // length, (first + n) // length + 1):
            babble, hiss = self._chunk(index, sample_rate)
            lo = max(first, index * length)
            hi = min(first + n, index * length + len(babble))
            if hi > lo:
                crowd[lo - first : hi - first] += babble[lo - index * length : hi - index * length]
                noise[lo - first : hi - first] += hiss[lo - index * length : hi - index * length]
        times = (first + np.arange(n)) / sample_rate
        steps = np.arange(len(self._crowd_level)) * self.crowd.dt_s
        level = np.interp(times, steps, self._crowd_level)
        return crowd * level + noise * (P_REF * 10.0 ** (SELF_NOISE_DB_SPL / 20.0))

    def pressure(self, first: int, n: int, sample_rate: int) -> np.ndarray:
        """Samples `first` .. `first + n - 1` (sample i is at i / sample_rate s), pascal, float64."""
        if first < 0 or n < 0:
            raise ValueError(f"sample range must start at 0 or later and be non-negative, got {first}, {n}")
        out = self._ambient(first, n, sample_rate)
        for index, emission in enumerate(self.emissions):
            if emission.t_s * sample_rate > first + n:
                continue
            start, heard = self._heard_signal(index, sample_rate)
            lo, hi = max(first, start), min(first + n, start + len(heard))
            if hi > lo:
                out[lo - first : hi - first] += heard[lo - start : hi - start]
        return out
