"""A WAV file played as a microphone: fixed-size float32 mono blocks with sample-accurate timing.

For tests, benchmarks and replaying field recordings through the real detectors. PCM (8, 16, 24,
32 bit) and IEEE float (32, 64 bit) files; several channels are averaged; a file at another rate
is resampled once at open (band-limited, FFT) so `first_sample` counts samples at the
configured rate. The whole file is held in memory, which suits clips, not day-long recordings.

```toml
[[sources]]
type = "wav_file"
path = "recordings/shot.wav"
sample_rate = 16000
block_ms = 100
realtime = false
```
"""

from __future__ import annotations

import struct
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from impetus.edge_agent.sources.base import AudioBlock, Source, SourceConfig, register_source

PCM, IEEE_FLOAT, EXTENSIBLE = 1, 3, 0xFFFE


class WavFormatError(ValueError):
    """A file that is not a WAV this reader understands; the message says what it found."""


class WavFileConfig(SourceConfig):
    type: Literal["wav_file"] = "wav_file"
    path: Path
    sample_rate: Annotated[int, Field(ge=8000, le=192_000)] = 16_000
    block_ms: Annotated[float, Field(gt=0.0, le=10_000.0)] = 100.0
    realtime: bool = False
    start: datetime | None = Field(default=None, description="UTC time of the first sample; default: at open")


def _decode(fmt: int, bits: int, raw: bytes) -> np.ndarray:
    if fmt == PCM and bits == 8:
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if fmt == PCM and bits == 16:
        return np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    if fmt == PCM and bits == 24:
        triplets = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8).reshape(-1, 3).astype(np.int32)
        values = triplets[:, 0] | (triplets[:, 1] << 8) | (triplets[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        return values.astype(np.float32) / float(1 << 23)
    if fmt == PCM and bits == 32:
        return (np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    if fmt == IEEE_FLOAT and bits in (32, 64):
        return np.frombuffer(raw, "<f4" if bits == 32 else "<f8").astype(np.float32)
    raise WavFormatError(
        f"unsupported WAV encoding (format {fmt}, {bits} bits); expected PCM 8/16/24/32 or float 32/64"
    )


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the file's sample rate."""
    data = path.read_bytes()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavFormatError(f"{path}: not a RIFF/WAVE file")
    offset, fmt_chunk, samples = 12, None, None
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack("<I", data[offset + 4 : offset + 8])[0]
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt_chunk = body
        elif chunk_id == b"data":
            samples = body
        offset += 8 + size + (size & 1)
    if fmt_chunk is None or samples is None:
        raise WavFormatError(f"{path}: WAV file without a fmt or data chunk")
    fmt, channels, rate = struct.unpack("<HHI", fmt_chunk[:8])
    bits = struct.unpack("<H", fmt_chunk[14:16])[0]
    if fmt == EXTENSIBLE and len(fmt_chunk) >= 26:
        fmt = struct.unpack("<H", fmt_chunk[24:26])[0]
    frame_bytes = channels * bits // 8
    mono = _decode(fmt, bits, samples[: len(samples) // frame_bytes * frame_bytes])
    if channels > 1:
        mono = mono.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return np.clip(mono, -1.0, 1.0).astype(np.float32), rate


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of a whole signal; sample 0 stays at time 0."""
    if rate_in == rate_out or samples.size == 0:
        return samples.astype(np.float32)
    length = round(samples.size * rate_out / rate_in)
    spectrum = np.fft.rfft(samples.astype(np.float64))
    bins = length // 2 + 1
    if bins <= spectrum.size:
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - spectrum.size, dtype=spectrum.dtype)])
    out = np.fft.irfft(spectrum, n=length) * (length / samples.size)
    return np.clip(out, -1.0, 1.0).astype(np.float32)


@register_source
class WavFileSource(Source):
    type_name = "wav_file"
    kind = "audio"
    Config = WavFileConfig

    def __init__(self, config: WavFileConfig) -> None:  # type: ignore[override]
        super().__init__(config)
        self.config: WavFileConfig = config
        self.block_samples = max(1, round(config.sample_rate * config.block_ms / 1000.0))
        self._samples = np.zeros(0, np.float32)
        self._position = 0
        self._index = 0
        self._start = datetime.now(UTC)
        self._opened_at = 0.0
        self._closed = threading.Event()

    def open(self) -> None:
        if not self.config.path.is_file():
            raise FileNotFoundError(f"wav_file source: {self.config.path} not found")
        samples, rate = read_wav(self.config.path)
        self._samples = resample(samples, rate, self.config.sample_rate)
        self._start = (self.config.start or datetime.now(UTC)).astimezone(UTC)
        self._opened_at = time.monotonic()
        self._closed.clear()

    def read(self) -> AudioBlock | None:
        if self._position >= self._samples.size or self._closed.is_set():
            return None
        first = self._position
        block = self._samples[first : first + self.block_samples]
        self._position += block.size
        if self.config.realtime:
            due = self._opened_at + self._position / self.config.sample_rate
            if self._closed.wait(max(0.0, due - time.monotonic())):
                return None
        sample = AudioBlock(
            samples=block,
            sample_rate=self.config.sample_rate,
            ts=self._start + timedelta(seconds=first / self.config.sample_rate),
            index=self._index,
            first_sample=first,
        )
        self._index += 1
        return sample

    def close(self) -> None:
        self._closed.set()
