"""Measure one impulse around a gate onset: exact onset time, peak, duration and shape features.

The onset is where the rectified signal, walking back from the peak, last stays below a threshold
(a fraction of the peak, or a few times the noise, whichever is higher), interpolated between the
two samples that straddle it. On a shock front that lands within a fraction of a sample of the
arrival, which is what time-difference-of-arrival localisation needs; it depends on the front, not
on the level, so near and far microphones measure the same instant of the same wavefront.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PEAK_SEARCH_S = 0.008
ONSET_FRACTION = 0.2
NOISE_MULTIPLE = 4.0
DURATION_DROP_DB = 20.0

SHAPE_FEATURES: tuple[str, ...] = (
    "rise_ms",
    "crest_db",
    "early_energy_db",
    "duration_ms",
    "snr_db",
    "pre_energy_db",
    "centroid_khz",
    "low_band_db",
    "decay_db_per_ms",
    "spectral_slope_db_per_octave",
    "mid_band_db",
    "high_band_db",
    "negative_phase",
    "zero_crossings_per_ms",
    "late_energy_db",
)
"""Names, in order, of the shape features `Impulse.shape` holds; the gunshot head uses them."""


@dataclass(frozen=True, slots=True)
class Impulse:
    onset: float
    """Onset in samples from the start of the analysed window (fractional)."""
    peak_dbfs: float
    duration_ms: float
    shape: np.ndarray


def _db(power: float) -> float:
    return 10.0 * float(np.log10(power + 1e-12))


def measure(window: np.ndarray, trigger: int, sample_rate: int, floor_db: float) -> Impulse:
    """Analyse `window` (audio in [-1, 1]) around the gate's `trigger` index in it; the window
    must reach at least a little before the trigger and some tens of milliseconds after it."""
    x = window.astype(np.float64)
    rect = np.abs(x)
    frame = max(1, round(0.002 * sample_rate))
    lo = max(0, trigger - 2 * frame)
    hi = min(len(x), trigger + round(PEAK_SEARCH_S * sample_rate))
    if hi <= lo:
        raise ValueError(f"trigger {trigger} lies outside the {len(x)}-sample window")
    peak_at = lo + int(np.argmax(rect[lo:hi]))
    peak = float(rect[peak_at])
    noise_rms = 10.0 ** (floor_db / 20.0)
    threshold = max(ONSET_FRACTION * peak, NOISE_MULTIPLE * noise_rms)
    below = np.flatnonzero(rect[: peak_at + 1] < threshold)
    if len(below) == 0:
        onset = 0.0
    else:
        i = int(below[-1])
        a, b = rect[i], rect[min(i + 1, len(x) - 1)]
        onset = i + (threshold - a) / (b - a) if b > a else float(i)
    start = int(np.floor(onset))
    ms = sample_rate / 1000.0
    after = x[start:]
    first_100 = after[: round(100 * ms)]
    full_peak = float(np.max(np.abs(after[: round(50 * ms)])))
    reached = np.flatnonzero(np.abs(after) >= 0.9 * peak)
    rise_ms = float(reached[0]) / ms if len(reached) else 0.0
    energy_100 = float(np.mean(first_100**2))
    early = float(np.sum(after[: round(5 * ms)] ** 2))
    envelope = 10.0 * np.log10(
        np.mean(after[: (len(after) // frame) * frame].reshape(-1, frame) ** 2, axis=1) + 1e-12
    )
    top = int(np.argmax(envelope[: max(1, round(10 * ms / frame))]))
    limit = max(float(envelope[top]) - DURATION_DROP_DB, floor_db + 3.0)
    fallen = np.flatnonzero(envelope[top:] < limit)
    duration_ms = (top + (int(fallen[0]) if len(fallen) else len(envelope) - top)) * frame / ms
    pre = x[max(0, start - round(100 * ms)) : start]
    pre_energy = float(np.mean(pre**2)) if len(pre) else 0.0
    head = after[: round(20 * ms)]
    spectrum = np.abs(np.fft.rfft(head, 512)) ** 2
    freqs = np.fft.rfftfreq(512, 1.0 / sample_rate)
    centroid = float(np.sum(freqs * spectrum) / max(float(np.sum(spectrum)), 1e-20))
    low = float(np.sum(spectrum[freqs < 500.0]))
    shape = np.array(
        [
            rise_ms,
            _db(full_peak**2) - _db(energy_100),
            _db(early) - _db(energy_100 * len(first_100)),
            duration_ms,
            float(envelope[top]) - floor_db,
            _db(pre_energy) - _db(energy_100),
            centroid / 1000.0,
            _db(low) - _db(float(np.sum(spectrum))),
            *_physics(after, sample_rate, envelope, top, frame),
        ],
        dtype=np.float32,
    )
    peak_dbfs = min(0.0, 20.0 * float(np.log10(max(full_peak, 1e-10))))
    return Impulse(onset=float(onset), peak_dbfs=peak_dbfs, duration_ms=float(duration_ms), shape=shape)


def _physics(after: np.ndarray, sample_rate: int, envelope: np.ndarray, top: int, frame: int) -> list[float]:
    """What separates a muzzle blast from other bangs, from the 100 ms after the onset: how fast
    the envelope decays, how the first 20 ms spectrum tilts and where its energy sits, whether
    the low-passed wave swings into a negative phase (a Friedlander blast does, a struck object
    rings symmetrically; polarity-free, as microphones may invert), how noisy the first 10 ms are
    and how much energy comes late (reverberation, a rattle) rather than early."""
    ms = sample_rate / 1000.0
    seg = envelope[top : top + round(40 * ms / frame)]
    decay = float(np.polyfit(np.arange(len(seg)) * frame / ms, seg, 1)[0]) if len(seg) > 1 else 0.0
    head = after[: round(20 * ms)]
    spectrum = np.abs(np.fft.rfft(head * np.hanning(len(head)), 512)) ** 2 + 1e-20
    freqs = np.fft.rfftfreq(512, 1.0 / sample_rate)
    band = (freqs > 200.0) & (freqs < 7000.0)
    tilt = float(np.polyfit(np.log2(freqs[band]), 10.0 * np.log10(spectrum[band]), 1)[0])
    total = float(np.sum(spectrum))
    mid = _db(float(np.sum(spectrum[(freqs >= 1000.0) & (freqs < 4000.0)]))) - _db(total)
    high = _db(float(np.sum(spectrum[freqs >= 4000.0]))) - _db(total)
    smooth = np.convolve(after[: round(30 * ms)], np.ones(8) / 8, mode="same")
    polarity = float(np.sign(smooth[int(np.argmax(np.abs(smooth[: round(10 * ms)])))])) or 1.0
    negative = -float(np.min(polarity * smooth)) / (float(np.max(polarity * smooth)) + 1e-12)
    crossings = float(np.mean(np.abs(np.diff(np.sign(after[: round(10 * ms)]))) > 0)) * ms
    early, late = after[: round(50 * ms)], after[round(50 * ms) : round(100 * ms)]
    late_db = _db(float(np.mean(late**2)) if len(late) else 0.0) - _db(float(np.mean(early**2)))
    return [decay, tilt, mid, high, negative, crossings, late_db]
