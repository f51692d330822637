"""YAMNet's log-mel front end in numpy, bit-for-bit the recipe the model was trained with.

YAMNet (and the quantised export in `models/yamnet/`) expects 16 kHz mono audio turned into a
magnitude STFT (25 ms periodic Hann window, 10 ms hop, 512-point FFT, no padding), projected on
64 HTK-mel triangles between 125 and 7500 Hz (TensorFlow's `linear_to_mel_weight_matrix`), then
`log(mel + 0.001)`. A patch is 96 frames, i.e. 0.975 s of audio. Any deviation (power instead of
magnitude, a different log offset) shifts every input and quietly ruins the scores.
"""

from __future__ import annotations

from functools import cache

import numpy as np

SAMPLE_RATE = 16_000
WINDOW = 400
HOP = 160
FFT = 512
MEL_BANDS = 64
MEL_LOW_HZ = 125.0
MEL_HIGH_HZ = 7500.0
LOG_OFFSET = 0.001
PATCH_FRAMES = 96
PATCH_SAMPLES = (PATCH_FRAMES - 1) * HOP + WINDOW
"""15 600 samples: the audio one patch covers."""


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


@cache
def mel_matrix() -> np.ndarray:
    """(257, 64) weights of TensorFlow's `linear_to_mel_weight_matrix` (DC bin zeroed)."""
    bins = FFT // 2 + 1
    spectrum_mel = _hz_to_mel(np.linspace(0.0, SAMPLE_RATE / 2, bins))[1:, None]
    edges = np.linspace(_hz_to_mel(MEL_LOW_HZ), _hz_to_mel(MEL_HIGH_HZ), MEL_BANDS + 2)
    lower, centre, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (spectrum_mel - lower) / (centre - lower)
    falling = (upper - spectrum_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.vstack([np.zeros((1, MEL_BANDS)), weights]).astype(np.float32)


@cache
def _mel_sparse() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The mel matrix as (bins, weights, band starts), band by band: each band is a short run of
    FFT bins, so a gather and `add.reduceat` beat a dense product (and call no threaded BLAS,
    which spins for milliseconds on a busy CPU)."""
    matrix = mel_matrix()
    columns = [np.flatnonzero(matrix[:, band]) for band in range(MEL_BANDS)]
    bins = np.concatenate(columns)
    weights = np.concatenate([matrix[c, band] for band, c in enumerate(columns)])
    starts = np.cumsum([0] + [len(c) for c in columns[:-1]])
    return bins, weights.astype(np.float32), starts


@cache
def _window() -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WINDOW) / WINDOW)).astype(np.float32)


def log_mel(waveform: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel spectrogram of 16 kHz audio in [-1, 1]."""
    if waveform.ndim != 1 or len(waveform) < WINDOW:
        raise ValueError(f"expected 1-D audio of at least {WINDOW} samples, got shape {waveform.shape}")
    frames = 1 + (len(waveform) - WINDOW) // HOP
    index = np.arange(WINDOW)[None, :] + HOP * np.arange(frames)[:, None]
    framed = waveform.astype(np.float32)[index] * _window()
    magnitude = np.abs(np.fft.rfft(framed, FFT, axis=1)).astype(np.float32)
    bins, weights, starts = _mel_sparse()
    mel = np.add.reduceat(magnitude[:, bins] * weights, starts, axis=1)
    return np.log(mel + LOG_OFFSET)


def patch(waveform: np.ndarray) -> np.ndarray:
    """The (96, 64) patch of exactly PATCH_SAMPLES samples of 16 kHz audio."""
    if len(waveform) != PATCH_SAMPLES:
        raise ValueError(f"a patch needs exactly {PATCH_SAMPLES} samples at 16 kHz, got {len(waveform)}")
    return log_mel(waveform)


def resample(x: np.ndarray, from_rate: int, to_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Band-limited resampling by FFT (fine for the short windows the classifier sees)."""
    if from_rate == to_rate:
        return x
    n_out = round(len(x) * to_rate / from_rate)
    spectrum = np.fft.rfft(x.astype(np.float64))
    keep = min(len(spectrum), n_out // 2 + 1)
    out = np.fft.irfft(spectrum[:keep], n_out) * (n_out / len(x))
    return out.astype(np.float32)
