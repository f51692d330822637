"""Physically grounded sound sources for training, testing and the demo.

Every sound is a dry source signal: the pressure, in pascal, that a free-field microphone 1 m from
the source would record, before any propagation (`propagation.propagate` takes it from there).
Levels follow measured figures: a handgun's muzzle blast peaks at about 150-160 dB SPL at 1 m
(about 630-2000 Pa), a rifle's up to ~165 dB, a hand clap at 110-120 dB, a door slam at 100-115 dB,
conversational speech at ~60 dB. Sample 0 is the first sound of the event (for a gunshot with a
supersonic crack, the crack; otherwise the muzzle blast), so a scenario can place the emission
instant exactly.

Impulsive sounds are rendered at 8x the target rate and band-limited in the frequency domain, so a
shock front does not alias. Example::

    rng = np.random.default_rng(7)
    shot = synthesise("gunshot", 16_000, rng)          # pascal at 1 m, float32
    spl_peak = 20 * np.log10(np.abs(shot).max() / P_REF)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

P_REF = 20e-6
"""Reference pressure of dB SPL, in pascal."""

OVERSAMPLE = 8

NEGATIVE_KINDS: tuple[str, ...] = (
    "door_slam",
    "balloon_pop",
    "firecracker",
    "firework",
    "clap",
    "hammering",
    "engine",
    "speech",
    "music",
    "rain",
    "crowd",
)
KINDS: tuple[str, ...] = ("gunshot", *NEGATIVE_KINDS)

IMPULSIVE_KINDS: tuple[str, ...] = ("gunshot", "door_slam", "balloon_pop", "firecracker", "firework", "clap")
"""Kinds made of one or a few short events; the others are continuous backgrounds."""


def pascal(db_spl: float) -> float:
    return P_REF * 10.0 ** (db_spl / 20.0)


def db_spl(pressure_pa: float) -> float:
    return 20.0 * float(np.log10(max(pressure_pa, 1e-12) / P_REF))


@dataclass(frozen=True)
class Calibre:
    """Muzzle-blast parameters at 1 m: peak level, positive-phase duration, bullet speed."""

    name: str
    peak_db: tuple[float, float]
    duration_ms: tuple[float, float]
    bullet_speed_mps: float


CALIBRES: tuple[Calibre, ...] = (
    Calibre("22lr", (140.0, 150.0), (0.25, 0.5), 330.0),
    Calibre("9mm", (152.0, 160.0), (0.5, 0.9), 360.0),
    Calibre("45acp", (152.0, 158.0), (0.7, 1.1), 260.0),
    Calibre("12gauge", (155.0, 162.0), (1.2, 2.2), 400.0),
    Calibre("5.56mm", (157.0, 165.0), (0.8, 1.4), 940.0),
    Calibre("7.62mm", (158.0, 166.0), (1.2, 2.0), 830.0),
)


def friedlander(t: np.ndarray, duration_s: float, decay: float) -> np.ndarray:
    """The ideal blast wave: instantaneous rise, positive phase of `duration_s`, then the
    negative phase; `decay` (1-3 for small charges) sets how fast it falls back."""
    x = t / duration_s
    wave = (1.0 - x) * np.exp(-decay * x)
    return np.where(t >= 0.0, wave, 0.0)


def _band_limit(fine: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample an OVERSAMPLE-times-faster signal to `sample_rate`, cutting below Nyquist.

    The signal is padded before and after, so the filter's ringing around a shock front neither
    wraps round to the end of the signal nor starts before sample 0 (the lead is cut off)."""
    n_out = len(fine) // OVERSAMPLE
    lead, tail = 32, n_out // 4 + 32
    padded = np.concatenate(
        [np.zeros(lead * OVERSAMPLE), fine[: n_out * OVERSAMPLE], np.zeros(tail * OVERSAMPLE)]
    )
    total = lead + n_out + tail
    spectrum = np.fft.rfft(padded)
    keep = total // 2 + 1
    cut = spectrum[:keep].copy()
    taper_start = int(keep * 0.9)
    cut[taper_start:] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, np.pi, keep - taper_start)))
    return np.fft.irfft(cut, total)[lead : lead + n_out] / OVERSAMPLE


def _fine_time(duration_s: float, sample_rate: int) -> np.ndarray:
    n = round(duration_s * sample_rate) * OVERSAMPLE
    return np.arange(n) / (sample_rate * OVERSAMPLE)


def _fft_convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = len(a) + len(b) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[:n]


def _band_noise(
    n: int, low_hz: float, high_hz: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Unit-RMS Gaussian noise with energy only between `low_hz` and `high_hz`."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0.0
    noise = np.fft.irfft(spectrum, n)
    rms = float(np.sqrt(np.mean(noise**2)))
    return noise / rms if rms > 0 else noise


def _pink_noise(n: int, sample_rate: int, rng: np.random.Generator, low_hz: float = 20.0) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum /= np.sqrt(np.maximum(freqs, low_hz))
    noise = np.fft.irfft(spectrum, n)
    return noise / float(np.sqrt(np.mean(noise**2)))


def _modes(
    freqs: np.ndarray, decays_s: np.ndarray, amps: np.ndarray, duration_s: float, sample_rate: int
) -> np.ndarray:
    """A struck object: a sum of exponentially decaying sinusoids (its resonant modes)."""
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    phases = 2 * np.pi * freqs[:, None] * t[None, :]
    return np.sum(amps[:, None] * np.exp(-t[None, :] / decays_s[:, None]) * np.sin(phases), axis=0)


def _normalise_peak(x: np.ndarray, peak_db: float) -> np.ndarray:
    return x * (pascal(peak_db) / float(np.max(np.abs(x))))


def _place(out: np.ndarray, x: np.ndarray, start: int) -> None:
    end = min(len(out), start + len(x))
    if end > start:
        out[start:end] += x[: end - start]


def gunshot(
    sample_rate: int, rng: np.random.Generator, *, calibre: str | None = None, crack: bool = False
) -> np.ndarray:
    """Muzzle blast (Friedlander wave whose positive phase grows with the charge) followed by the
    turbulent decay of the propellant gas; with `crack`, a supersonic bullet's N-wave arrives
    5-40 ms ahead of the blast (only for calibres whose bullets fly faster than sound)."""
    options = [c for c in CALIBRES if calibre in (None, c.name)]
    if not options:
        raise ValueError(f"unknown calibre {calibre!r}; expected one of {[c.name for c in CALIBRES]}")
    cal = options[int(rng.integers(len(options)))]
    peak_db = rng.uniform(*cal.peak_db)
    td = rng.uniform(*cal.duration_ms) / 1000.0
    supersonic = crack and cal.bullet_speed_mps > 343.0
    if crack and not supersonic:
        raise ValueError(f"a {cal.name} bullet is subsonic and makes no crack; ask for a rifle calibre")
    lead = rng.uniform(0.005, 0.040) if supersonic else 0.0
    t = _fine_time(0.3 + lead, sample_rate)
    blast_t = t - lead
    blast = friedlander(blast_t, td, rng.uniform(1.0, 2.5))
    gas = _band_noise(len(t), 300.0, 6000.0, sample_rate * OVERSAMPLE, rng)
    gas *= np.where(blast_t > 0, np.exp(-np.maximum(blast_t, 0) / rng.uniform(0.004, 0.015)), 0.0)
    fine = blast + rng.uniform(0.03, 0.08) * gas
    if supersonic:
        n_len = rng.uniform(0.15, 0.4) / 1000.0
        n_wave = np.where((t >= 0) & (t < n_len), 1.0 - 2.0 * t / n_len, 0.0)
        fine += rng.uniform(0.1, 0.4) * n_wave
    return _normalise_peak(_band_limit(fine, sample_rate), peak_db)


def balloon_pop(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A very short blast (0.1-0.4 ms) and the ringing of the torn membrane: loud, shot-like."""
    t = _fine_time(0.12, sample_rate)
    fine = friedlander(t, rng.uniform(0.1e-3, 0.4e-3), rng.uniform(1.0, 3.0))
    ring = _band_noise(len(t), 1500.0, 8000.0, sample_rate * OVERSAMPLE, rng) * np.exp(
        -t / rng.uniform(0.003, 0.01)
    )
    fine += rng.uniform(0.05, 0.2) * ring
    return _normalise_peak(_band_limit(fine, sample_rate), rng.uniform(130.0, 148.0))


def firecracker(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A string of small charges: irregular bangs 20-200 ms apart, each a short blast."""
    bangs = int(rng.integers(1, 16))
    gaps = rng.uniform(0.02, 0.2, size=bangs)
    starts = np.concatenate([[0.0], np.cumsum(gaps[:-1])])
    out = np.zeros(int((starts[-1] + 0.3) * sample_rate))
    for i, start in enumerate(starts):
        t = _fine_time(0.1, sample_rate)
        fine = friedlander(t, rng.uniform(0.15e-3, 0.6e-3), rng.uniform(1.0, 3.0))
        fine += 0.05 * _band_noise(len(t), 500, 7000, sample_rate * OVERSAMPLE, rng) * np.exp(-t / 0.01)
        level = rng.uniform(138.0, 152.0) if i == 0 else rng.uniform(132.0, 150.0)
        _place(out, _normalise_peak(_band_limit(fine, sample_rate), level), int(start * sample_rate))
    return out


def firework(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """An aerial shell: mortar lift thump, a rising whistle or hiss, the burst (long positive phase,
    3-10 ms, from a large charge) and the crackle of many tiny stars."""
    rise = rng.uniform(1.0, 2.5)
    out = np.zeros(int((rise + 2.5) * sample_rate))
    t = _fine_time(0.2, sample_rate)
    lift = friedlander(t, rng.uniform(3e-3, 6e-3), 1.5)
    _place(out, _normalise_peak(_band_limit(lift, sample_rate), rng.uniform(130.0, 140.0)), 0)
    n_rise = int(rise * sample_rate)
    tr = np.arange(n_rise) / sample_rate
    if rng.random() < 0.5:
        f = rng.uniform(1500, 2500) + rng.uniform(500, 2000) * tr / rise
        whistle = np.sin(2 * np.pi * np.cumsum(f) / sample_rate)
    else:
        whistle = _band_noise(n_rise, 2000, 7000, sample_rate, rng)
    whistle *= np.sin(np.pi * tr / rise) * pascal(rng.uniform(95.0, 110.0))
    _place(out, whistle, int(0.05 * sample_rate))
    t = _fine_time(0.4, sample_rate)
    burst = friedlander(t, rng.uniform(3e-3, 10e-3), rng.uniform(1.0, 2.0))
    _place(out, _normalise_peak(_band_limit(burst, sample_rate), rng.uniform(150.0, 165.0)), n_rise)
    for _ in range(int(rng.integers(0, 200))):
        star = _band_noise(int(0.004 * sample_rate), 1000, 7500, sample_rate, rng) * pascal(
            rng.uniform(100, 125)
        )
        star *= np.exp(-np.arange(len(star)) / (0.001 * sample_rate))
        _place(out, star, n_rise + int(rng.uniform(0.05, 2.0) * sample_rate))
    return out


def door_slam(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A heavy panel hitting its frame: low body modes ringing for ~0.1 s, higher panel modes and
    the latch click; sometimes a rebound."""

    def hit() -> np.ndarray:
        body = _modes(
            rng.uniform(40, 200, 3), rng.uniform(0.04, 0.15, 3), rng.uniform(0.5, 1.0, 3), 0.4, sample_rate
        )
        panel = _modes(
            rng.uniform(300, 1500, 5), rng.uniform(0.01, 0.05, 5), rng.uniform(0.1, 0.4, 5), 0.4, sample_rate
        )
        click = np.zeros_like(body)
        n_click = int(0.003 * sample_rate)
        click[:n_click] = _band_noise(n_click, 1000, 7000, sample_rate, rng) * rng.uniform(0.2, 0.8)
        attack = np.minimum(1.0, np.arange(len(body)) / (rng.uniform(0.5e-3, 2e-3) * sample_rate))
        return (body + panel) * attack + click

    out = np.zeros(int(0.6 * sample_rate))
    _place(out, _normalise_peak(hit(), rng.uniform(100.0, 116.0)), 0)
    if rng.random() < 0.4:
        _place(
            out, _normalise_peak(hit(), rng.uniform(88.0, 100.0)), int(rng.uniform(0.05, 0.15) * sample_rate)
        )
    return out


def clap(sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Hand claps: a 1-2 ms rise, the air pocket between the palms resonating near 1-2.5 kHz and
    decaying in 5-15 ms; one to six claps at a clapping rhythm."""
    count = int(rng.integers(1, 7))
    period = rng.uniform(0.2, 0.35)
    out = np.zeros(int((count * period + 0.1) * sample_rate))
    for i in range(count):
        n = int(0.06 * sample_rate)
        t = np.arange(n) / sample_rate
        centre = rng.uniform(1000, 2500)
        burst = _band_noise(n, centre * 0.5, centre * 2.0, sample_rate, rng)
        burst *= np.minimum(1.0, t / rng.uniform(0.0005, 0.002)) * np.exp(-t / rng.uniform(0.005, 0.015))
        start = int((i * period + rng.uniform(-0.02, 0.02) + 0.02) * sample_rate)
        _place(
            out, _normalise_peak(burst, rng.uniform(110.0, 120.0)), max(0, start - int(0.02 * sample_rate))
        )
    return out


def hammering(sample_rate: int, rng: np.random.Generator, duration_s: float | None = None) -> np.ndarray:
    """Steel hammer on metal or wood: a click, metallic modes ringing 30-200 ms, every 0.3-0.8 s."""
    duration = duration_s or rng.uniform(2.0, 4.0)
    out = np.zeros(int(duration * sample_rate))
    period = rng.uniform(0.3, 0.8)
    metal = rng.random() < 0.6
    freqs = rng.uniform(800, 6000, 5) if metal else rng.uniform(150, 1200, 4)
    t = 0.0
    while t < duration - 0.05:
        decays = rng.uniform(0.03, 0.2, len(freqs)) if metal else rng.uniform(0.005, 0.03, len(freqs))
        hit = _modes(
            freqs * rng.uniform(0.98, 1.02), decays, rng.uniform(0.3, 1.0, len(freqs)), 0.3, sample_rate
        )
        n_click = int(0.002 * sample_rate)
        hit[:n_click] += _band_noise(n_click, 500, 7500, sample_rate, rng) * 0.8
        _place(out, _normalise_peak(hit, rng.uniform(108.0, 124.0)), int(t * sample_rate))
        t += period * rng.uniform(0.85, 1.15)
    return out


def engine(sample_rate: int, rng: np.random.Generator, duration_s: float | None = None) -> np.ndarray:
    """A four-stroke engine: harmonics of the firing frequency (rpm/60 x cylinders/2) drifting with
    the throttle, plus intake and exhaust noise; 85-100 dB at 1 m."""
    duration = duration_s or rng.uniform(2.0, 4.0)
    n = int(duration * sample_rate)
    t = np.arange(n) / sample_rate
    cylinders = int(rng.choice([2, 4, 6]))
    rpm = rng.uniform(700, 3500) * (1 + 0.15 * np.sin(2 * np.pi * rng.uniform(0.05, 0.3) * t))
    phase = 2 * np.pi * np.cumsum(rpm / 60.0 * cylinders / 2.0) / sample_rate
    tone = np.zeros(n)
    for h in range(1, 25):
        tone += rng.uniform(0.2, 1.0) / h * np.sin(h * phase + rng.uniform(0, 2 * np.pi))
    tone /= float(np.sqrt(np.mean(tone**2)))
    noise = _band_noise(n, 50, 3000, sample_rate, rng)
    signal = tone + rng.uniform(0.2, 0.6) * noise
    return signal * pascal(rng.uniform(85.0, 100.0)) / float(np.sqrt(np.mean(signal**2)))


VOWELS = np.array(
    [
        [730, 1090, 2440],
        [270, 2290, 3010],
        [300, 870, 2240],
        [530, 1840, 2480],
        [570, 840, 2410],
        [660, 1720, 2410],
    ]
)
"""First three formant frequencies (Hz) of a, i, u, e, o, ae (Peterson & Barney)."""


def speech(
    sample_rate: int, rng: np.random.Generator, duration_s: float | None = None, level_db: float | None = None
) -> np.ndarray:
    """Formant-like babble: syllables at ~4 per second, each a glottal pulse train (f0 with
    intonation) through the formant resonances of a random vowel, led by a fricative or a plosive."""
    duration = duration_s or rng.uniform(2.0, 4.0)
    out = np.zeros(int(duration * sample_rate))
    f0_base = rng.uniform(90, 230)
    t = rng.uniform(0.0, 0.2)
    while t < duration - 0.3:
        syllable = rng.uniform(0.12, 0.3)
        n = int(syllable * sample_rate)
        f0 = f0_base * (1 + 0.1 * rng.standard_normal()) * np.linspace(1.0, rng.uniform(0.85, 1.1), n)
        phase = np.cumsum(f0) / sample_rate
        pulses = np.diff(np.floor(phase), prepend=0.0)
        formants = VOWELS[int(rng.integers(len(VOWELS)))] * rng.uniform(0.9, 1.15)
        tt = np.arange(int(0.03 * sample_rate)) / sample_rate
        ir = sum(
            np.exp(-np.pi * 90 * tt) * np.sin(2 * np.pi * f * tt) / (k + 1) for k, f in enumerate(formants)
        )
        voiced = _fft_convolve(pulses, ir)[:n] * np.hanning(n)
        consonant_n = int(rng.uniform(0.02, 0.08) * sample_rate)
        lo = rng.uniform(1500, 4000)
        consonant = _band_noise(consonant_n, lo, min(lo * 2.5, sample_rate / 2 - 1), sample_rate, rng)
        consonant *= np.hanning(consonant_n) * 0.3 * float(np.sqrt(np.mean(voiced**2)))
        start = int(t * sample_rate)
        _place(out, consonant, start)
        _place(out, voiced, start + consonant_n // 2)
        t += syllable + (rng.uniform(0.15, 0.4) if rng.random() < 0.2 else rng.uniform(0.0, 0.05))
    rms = float(np.sqrt(np.mean(out**2)))
    return out * pascal(level_db if level_db is not None else rng.uniform(58.0, 75.0)) / max(rms, 1e-12)


def music(sample_rate: int, rng: np.random.Generator, duration_s: float | None = None) -> np.ndarray:
    """Loudspeaker music: harmonic notes of a scale in two to four voices over a drum kit (kick,
    snare and hi-hat, the snare being a sharp hard negative); 85-100 dB at 1 m."""
    duration = duration_s or rng.uniform(2.0, 4.0)
    n = int(duration * sample_rate)
    out = np.zeros(n)
    beat = 60.0 / rng.uniform(80, 150)
    root = rng.uniform(110, 220)
    scale = np.array([0, 2, 4, 5, 7, 9, 11, 12])
    for _ in range(int(rng.integers(2, 5))):
        t = 0.0
        while t < duration:
            length = beat * float(rng.choice([0.5, 1.0, 2.0]))
            m = int(length * sample_rate)
            tt = np.arange(m) / sample_rate
            f = root * 2 ** (float(rng.choice(scale)) / 12 + int(rng.integers(0, 2)))
            note = sum(
                np.sin(2 * np.pi * f * h * tt) / h**1.5 for h in range(1, 8) if f * h < sample_rate / 2
            )
            note *= np.minimum(1.0, tt / 0.01) * np.exp(-tt / rng.uniform(0.2, 1.0))
            _place(out, 0.3 * note, int(t * sample_rate))
            t += length
    k = 0
    while k * beat / 2 < duration:
        start = int(k * beat / 2 * sample_rate)
        tt = np.arange(int(0.2 * sample_rate)) / sample_rate
        if k % 4 == 0:
            kick = np.sin(2 * np.pi * np.cumsum(50 + 70 * np.exp(-tt / 0.03)) / sample_rate) * np.exp(
                -tt / 0.08
            )
            _place(out, 2.0 * kick, start)
        elif k % 4 == 2:
            snare = _band_noise(len(tt), 1000, 6000, sample_rate, rng) + np.sin(2 * np.pi * 200 * tt)
            _place(out, 1.5 * snare * np.exp(-tt / 0.05), start)
        hat = _band_noise(len(tt), 6000, sample_rate / 2 - 1, sample_rate, rng) * np.exp(-tt / 0.01)
        _place(out, 0.3 * hat, start)
        k += 1
    return out * pascal(rng.uniform(85.0, 100.0)) / float(np.sqrt(np.mean(out**2)))


def rain(sample_rate: int, rng: np.random.Generator, duration_s: float | None = None) -> np.ndarray:
    """Drops hitting hard surfaces (Poisson arrivals, each a damped ring at 1-8 kHz) over the
    broadband hiss of the shower; 55-75 dB."""
    duration = duration_s or rng.uniform(2.0, 4.0)
    n = int(duration * sample_rate)
    out = _pink_noise(n, sample_rate, rng) * 0.5
    drop_n = int(0.01 * sample_rate)
    tt = np.arange(drop_n) / sample_rate
    for start in rng.integers(0, n, size=int(rng.uniform(200, 2000) * duration)):
        f = rng.uniform(1000, min(8000, sample_rate / 2 - 500))
        drop = np.sin(2 * np.pi * f * tt) * np.exp(-tt / rng.uniform(0.001, 0.004)) * rng.lognormal(0.0, 0.7)
        _place(out, drop, int(start))
    return out * pascal(rng.uniform(55.0, 75.0)) / float(np.sqrt(np.mean(out**2)))


def crowd(sample_rate: int, rng: np.random.Generator, duration_s: float | None = None) -> np.ndarray:
    """Many voices at different distances (babble) and footsteps; 65-85 dB."""
    duration = duration_s or rng.uniform(2.0, 4.0)
    n = int(duration * sample_rate)
    out = np.zeros(n)
    for _ in range(int(rng.integers(6, 20))):
        out += speech(sample_rate, rng, duration, level_db=rng.uniform(45, 65))[:n]
    step_n = int(0.04 * sample_rate)
    tt = np.arange(step_n) / sample_rate
    for _ in range(int(rng.integers(3, 15))):
        t = rng.uniform(0, 0.5)
        cadence = rng.uniform(0.45, 0.6)
        level = pascal(rng.uniform(45, 60))
        while t < duration:
            step = _band_noise(step_n, 60, 2000, sample_rate, rng) * np.exp(-tt / 0.01) * level
            _place(out, step, int(t * sample_rate))
            t += cadence * rng.uniform(0.9, 1.1)
    return out * pascal(rng.uniform(65.0, 85.0)) / float(np.sqrt(np.mean(out**2)))


_GENERATORS: dict[str, Callable[..., np.ndarray]] = {
    "gunshot": gunshot,
    "door_slam": door_slam,
    "balloon_pop": balloon_pop,
    "firecracker": firecracker,
    "firework": firework,
    "clap": clap,
    "hammering": hammering,
    "engine": engine,
    "speech": speech,
    "music": music,
    "rain": rain,
    "crowd": crowd,
}


def synthesise(
    kind: str,
    sample_rate: int,
    rng: np.random.Generator,
    *,
    duration_s: float | None = None,
    crack: bool = False,
    calibre: str | None = None,
) -> np.ndarray:
    """The dry signal of one `kind` of sound, pascal at 1 m, float32.

    `duration_s` applies to the continuous kinds (hammering, engine, speech, music, rain, crowd);
    `crack` and `calibre` to gunshots. Everything random comes from `rng`, so a seed reproduces a sound.
    """
    if kind not in _GENERATORS:
        raise ValueError(f"unknown sound kind {kind!r}; expected one of {list(KINDS)}")
    if sample_rate < 8000:
        raise ValueError(f"sample rate {sample_rate} Hz is too low; expected at least 8000 Hz")
    if kind == "gunshot":
        signal = gunshot(sample_rate, rng, calibre=calibre, crack=crack)
    elif crack or calibre is not None:
        raise ValueError(f"crack and calibre apply to gunshots only, not to {kind!r}")
    elif kind in IMPULSIVE_KINDS:
        signal = _GENERATORS[kind](sample_rate, rng)
    else:
        if duration_s is not None and duration_s <= 0:
            raise ValueError(f"duration_s must be positive, got {duration_s}")
        signal = _GENERATORS[kind](sample_rate, rng, duration_s)
    return signal.astype(np.float32)
