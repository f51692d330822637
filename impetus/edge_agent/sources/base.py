"""What every camera and microphone source hands to detectors.

Samples live in memory only: no source writes a frame or an audio block to disk, and nothing
downstream of the privacy gate ever sees one.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import ClassVar, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict

from impetus.protocol.payloads import SourceHealth

SampleKind = Literal["video", "audio"]


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One camera frame: BGR uint8 (H, W, 3), stamped with the device clock at capture."""

    image: np.ndarray
    ts: datetime
    index: int


@dataclass(frozen=True, slots=True)
class AudioBlock:
    """A block of mono float32 samples in [-1, 1]; `first_sample` counts from stream start,
    so `ts + (n - first_sample) / sample_rate` is the time of sample n to the sample."""

    samples: np.ndarray
    sample_rate: int
    ts: datetime
    index: int
    first_sample: int


Sample = VideoFrame | AudioBlock


class SourceConfig(BaseModel):
    """Base of every source's typed config; each plugin narrows `type` to its own literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    name: str = "main"


class Source(ABC):
    """A camera or a microphone. `read()` blocks for the next sample and returns None at the end
    of a finite stream (a file, a scenario); live sources never end on their own."""

    type_name: ClassVar[str]
    kind: ClassVar[SampleKind]
    Config: ClassVar[type[SourceConfig]]

    def __init__(self, config: SourceConfig) -> None:
        self.config = config

    @abstractmethod
    def open(self) -> None: ...

    @abstractmethod
    def read(self) -> Sample | None: ...

    def close(self) -> None:
        return None

    def health(self) -> SourceHealth | None:
        """A live source's state for the health report; None for sources that cannot be lost."""
        return None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


SOURCES: dict[str, type[Source]] = {}


def register_source(cls: type[Source]) -> type[Source]:
    """Class decorator: makes a source plugin available under its `type_name`."""
    SOURCES[cls.type_name] = cls
    return cls


SourceFactory = Callable[[SourceConfig], Source]
