"""The gunshot pipeline short of the decision: gate, measure, classify with YAMNet.

Audio goes into a ring buffer that keeps one YAMNet patch plus a margin (about 1.5 s, memory only).
The gate looks at every sample once; a candidate waits until `post_onset_s` of audio after it has
arrived, then it is measured and, unless the `screen` turns its shape away (cheaply, where most
impulses of a street end), its patch (the 0.975 s ending `post_onset_s` after the onset) goes
through YAMNet. Training (`models/gunshot_head/train.py`) and the detector share this class, so
the head is fitted on exactly what it will see.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from impetus.edge_agent.audio import logmel
from impetus.edge_agent.audio.impulse import Impulse, measure
from impetus.edge_agent.audio.onset import Onset, OnsetGate
from impetus.edge_agent.audio.yamnet import Yamnet

PRE_CONTEXT_S = 0.15
PEAK_MARGIN_S = 0.01


@dataclass(frozen=True, slots=True)
class Candidate:
    """An impulse the gate let through, measured and scored by YAMNet."""

    onset_sample: float
    """Absolute onset in samples from the start of the stream (fractional)."""
    impulse: Impulse
    logits: np.ndarray
    gate: Onset


class ImpulseStream:
    """Example::

    stream = ImpulseStream(yamnet, sample_rate=16_000)
    for block in blocks:
        for candidate in stream.feed(block):
            print(candidate.onset_sample / 16_000, candidate.impulse.peak_dbfs)
    """

    def __init__(
        self,
        yamnet: Yamnet | None,
        sample_rate: int,
        post_onset_s: float = 0.1,
        screen: Callable[[Impulse], bool] | None = None,
        **gate: float,
    ) -> None:
        if post_onset_s < 0.1:
            raise ValueError(
                f"post_onset_s must be at least 0.1 s (the impulse measures 100 ms), got {post_onset_s}"
            )
        self.yamnet = yamnet
        self.sample_rate = sample_rate
        self.post_onset_s = post_onset_s
        self.screen = screen
        self.gate = OnsetGate(sample_rate=sample_rate, **gate)
        self._patch_len = math.ceil(logmel.PATCH_SAMPLES * sample_rate / logmel.SAMPLE_RATE)
        self._capacity = self._patch_len + round((PRE_CONTEXT_S + post_onset_s + 0.1) * sample_rate)
        self._buffer = np.zeros(0, dtype=np.float32)
        self._total = 0
        self._pending: list[Onset] = []

    @property
    def samples_seen(self) -> int:
        return self._total

    def _window(self, start: int, end: int) -> np.ndarray:
        """Samples [start, end) of the stream; zeros before the stream began."""
        first = self._total - len(self._buffer)
        if 0 <= start < first:
            raise RuntimeError(f"samples from {start} have left the ring buffer (it starts at {first})")
        out = np.zeros(end - start, dtype=np.float32)
        lo, hi = max(start, first), min(end, self._total)
        if hi > lo:
            out[lo - start : hi - start] = self._buffer[lo - first : hi - first]
        return out

    def feed(self, samples: np.ndarray) -> list[Candidate]:
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples (1-D), got shape {samples.shape}")
        keep = self._capacity + len(samples)  # a long block may hold several candidates
        self._buffer = np.concatenate([self._buffer, samples.astype(np.float32, copy=False)])[-keep:]
        self._total += len(samples)
        self._pending.extend(self.gate.feed(samples))
        return self._ready()

    def flush(self) -> list[Candidate]:
        """At the end of a finite stream: pad with silence so pending candidates are decided."""
        if not self._pending:
            return []
        need = self._pending[-1].sample + self._after() - self._total
        self._buffer = np.concatenate([self._buffer, np.zeros(max(0, need), np.float32)])[-self._capacity :]
        self._total += max(0, need)
        return self._ready()

    def _after(self) -> int:
        return round((self.post_onset_s + PEAK_MARGIN_S) * self.sample_rate)

    def _ready(self) -> list[Candidate]:
        found: list[Candidate] = []
        while self._pending and self._pending[0].sample + self._after() <= self._total:
            candidate = self._analyse(self._pending.pop(0))
            if candidate is not None:
                found.append(candidate)
        return found

    def _analyse(self, onset: Onset) -> Candidate | None:
        """The measured, classified candidate; None when the screen turns its shape away."""
        sr = self.sample_rate
        start = onset.sample - round(PRE_CONTEXT_S * sr)
        window = self._window(start, onset.sample + self._after())
        impulse = measure(window, onset.sample - start, sr, onset.floor_db)
        if self.screen is not None and not self.screen(impulse):
            return None
        onset_abs = start + impulse.onset
        logits = self.classify(onset_abs) if self.yamnet is not None else np.zeros(0, np.float32)
        return Candidate(onset_sample=onset_abs, impulse=impulse, logits=logits, gate=onset)

    def classify(self, onset_abs: float) -> np.ndarray:
        """YAMNet logits of the patch that ends `post_onset_s` after the onset."""
        assert self.yamnet is not None
        end = int(onset_abs) + round(self.post_onset_s * self.sample_rate)
        audio = logmel.resample(self._window(end - self._patch_len, end), self.sample_rate)
        audio = np.pad(audio, (max(0, logmel.PATCH_SAMPLES - len(audio)), 0))[-logmel.PATCH_SAMPLES :]
        return self.yamnet.logits(logmel.patch(audio))
