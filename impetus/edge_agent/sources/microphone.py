"""A live microphone through PortAudio (ALSA on a Pi): fixed-size float32 mono blocks, counted to the sample.

`sounddevice` is an optional extra, imported when the source opens, so a camera-only device never
needs it. PortAudio calls back with exactly `block` frames; each block is stamped with the device
clock at the ADC time of its first sample (PortAudio's own latency figure), and `first_sample`
counts every frame captured since open, so a block dropped because the consumer was too slow leaves
a visible gap instead of silently shifting later timestamps.

    [[sources]]
    type = "microphone"
    device = "hw:1,0"      # default: the system's default input
    sample_rate = 16000
    block_ms = 50
"""

from __future__ import annotations

import logging
import queue
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from impetus.edge_agent.sources.base import AudioBlock, Source, SourceConfig, register_source

log = logging.getLogger(__name__)


class MicrophoneUnavailable(RuntimeError):
    """The microphone cannot be opened here; the message says what is missing."""


class MicrophoneConfig(SourceConfig):
    type: Literal["microphone"] = "microphone"
    device: str | int | None = Field(None, description="PortAudio device name or index; None: default input")
    sample_rate: Annotated[int, Field(ge=8000, le=192_000)] = 16_000
    block_ms: Annotated[float, Field(ge=5.0, le=1000.0)] = 50.0
    channels: Annotated[int, Field(ge=1, le=32)] = 1
    channel: Annotated[int, Field(ge=0, le=31)] = Field(
        0, description="which input channel is the microphone"
    )
    queue_blocks: Annotated[int, Field(ge=2, le=10_000)] = 40

    @property
    def block(self) -> int:
        return max(1, round(self.sample_rate * self.block_ms / 1000.0))


def _import_sounddevice() -> Any:
    try:
        import sounddevice  # optional extra: imported only when a microphone opens
    except ImportError as error:
        raise MicrophoneUnavailable(
            "the microphone source needs the optional 'sounddevice' package and PortAudio: "
            "pip install sounddevice; apt install libportaudio2"
        ) from error
    except OSError as error:
        raise MicrophoneUnavailable(f"sounddevice is installed but PortAudio is missing: {error}") from error
    return sounddevice


@register_source
class MicrophoneSource(Source):
    type_name = "microphone"
    kind = "audio"
    Config = MicrophoneConfig

    config: MicrophoneConfig

    def __init__(self, config: MicrophoneConfig) -> None:
        if config.channel >= config.channels:
            raise ValueError(f"channel {config.channel} does not exist in a {config.channels}-channel input")
        super().__init__(config)
        self._queue: queue.Queue[AudioBlock] = queue.Queue(maxsize=config.queue_blocks)
        self._stream: Any = None
        self._captured = 0
        self._index = 0
        self.dropped_blocks = 0

    def open(self) -> None:
        sd = _import_sounddevice()
        try:
            self._stream = sd.InputStream(
                device=self.config.device,
                samplerate=self.config.sample_rate,
                blocksize=self.config.block,
                channels=self.config.channels,
                dtype="float32",
                callback=self._on_audio,
            )
            self._stream.start()
        except Exception as error:  # PortAudioError and ValueError name the device problem
            raise MicrophoneUnavailable(f"cannot open microphone {self.config.device!r}: {error}") from error

    def _on_audio(self, data: np.ndarray, frames: int, timing: Any, status: Any) -> None:
        latency = float(getattr(timing, "currentTime", 0.0) - getattr(timing, "inputBufferAdcTime", 0.0))
        if not 0.0 <= latency < 1.0:
            latency = frames / self.config.sample_rate
        block = AudioBlock(
            samples=data[:, self.config.channel].copy(),
            sample_rate=self.config.sample_rate,
            ts=datetime.now(UTC) - timedelta(seconds=latency),
            index=self._index,
            first_sample=self._captured,
        )
        self._captured += frames
        self._index += 1
        if status:
            log.warning("microphone: %s", status)
        try:
            self._queue.put_nowait(block)
        except queue.Full:
            self.dropped_blocks += 1

    def read(self) -> AudioBlock | None:
        if self._stream is None:
            raise MicrophoneUnavailable("read() before open(): use the source as a context manager")
        return self._queue.get()

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
