"""The detector plugin interface: one file per detector, like Frigate's detector plugins.

A detector declares what it consumes (video or audio), its typed config and its expected cost;
`process` turns one sample into zero or more detections. Detectors keep a cheap gate in front
of their expensive model (motion for vision, onset energy for audio).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from impetus.edge_agent.sources.base import Sample, SampleKind
from impetus.protocol.site import DevicePlacement, SiteDescription


@dataclass(frozen=True, slots=True)
class Detection:
    """What a detector found; the runtime wraps it into a signed, policy-checked envelope."""

    type: str
    payload: BaseModel
    ts: datetime
    confidence: float = 1.0
    zone: str | None = None


class DetectorConfig(BaseModel):
    """Base of every detector's typed config; each plugin narrows `type` to its own literal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: str
    enabled: bool = True


@dataclass(frozen=True)
class DetectorContext:
    """What a detector may know about where it runs."""

    device_id: str
    site: str
    models_dir: Path
    execution_providers: tuple[str, ...] = ("CPUExecutionProvider",)
    placement: DevicePlacement | None = None
    site_plan: SiteDescription | None = None
    extras: dict[str, object] = field(default_factory=dict)


class Detector(ABC):
    type_name: ClassVar[str]
    consumes: ClassVar[SampleKind]
    Config: ClassVar[type[DetectorConfig]]
    declared_cost_ms: ClassVar[float] = 1.0

    def __init__(self, config: DetectorConfig, context: DetectorContext) -> None:
        self.config = config
        self.context = context

    def setup(self) -> None:
        """Load models; called once before the first `process`."""
        return None

    @abstractmethod
    def process(self, sample: Sample) -> list[Detection]: ...

    def finish(self) -> list[Detection]:
        """The recording has ended: decide what was still waiting for samples that will not come.
        The next sample, if any, starts a new recording."""
        return []

    def close(self) -> None:
        return None


DETECTORS: dict[str, type[Detector]] = {}


def register_detector(cls: type[Detector]) -> type[Detector]:
    """Class decorator: makes a detector plugin available under its `type_name`."""
    DETECTORS[cls.type_name] = cls
    return cls
