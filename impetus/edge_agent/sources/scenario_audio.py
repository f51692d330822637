"""The scenario's microphone: what a device of the site plan hears during the validation exercise.

Blocks carry sample-accurate `first_sample` and `ts = start + first_sample / sample_rate`; every
agent of one demo run is given the same UTC `start`, so their microphones agree on when a shot
was heard. With `realtime`, a block is handed over once the wall clock has passed its last sample.
Ends (returns None) when the scenario does.

```toml
[[sources]]
type = "scenario_audio"
device_id = "pole-north"
sample_rate = 16000
block_ms = 100
```
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from impetus.edge_agent.sources.base import AudioBlock, Source, SourceConfig, register_source
from impetus.scenario import Scenario


class ScenarioAudioConfig(SourceConfig):
    type: Literal["scenario_audio"] = "scenario_audio"
    device_id: str
    sample_rate: Annotated[int, Field(ge=8000, le=192_000)] = 16_000
    block_ms: Annotated[float, Field(gt=0.0, le=10_000.0)] = 100.0
    realtime: bool = True
    start: datetime | None = Field(default=None, description="UTC of scenario second 0; default: at open")
    duration_s: Annotated[float, Field(gt=0.0)] | None = Field(
        default=None, description="Compress the scenario to this length; default: its natural length"
    )
    seed: int = 0
    plan: Path | None = None
    timeline: Path | None = None


def wait_until(due: datetime, closed: threading.Event) -> bool:
    """Sleep until wall-clock `due`; True if the source was closed meanwhile."""
    return closed.wait(max(0.0, (due - datetime.now(UTC)).total_seconds()))


@register_source
class ScenarioAudioSource(Source):
    type_name = "scenario_audio"
    kind = "audio"
    Config = ScenarioAudioConfig

    def __init__(self, config: ScenarioAudioConfig) -> None:  # type: ignore[override]
        super().__init__(config)
        self.config: ScenarioAudioConfig = config
        self.block_samples = max(1, round(config.sample_rate * config.block_ms / 1000.0))
        self._scenario: Scenario | None = None
        self._start = datetime.now(UTC)
        self._index = 0
        self._blocks = 0
        self._closed = threading.Event()

    def open(self) -> None:
        c = self.config
        self._scenario = Scenario.shared(c.plan, c.timeline, c.duration_s, c.seed)
        self._scenario.device(c.device_id, "microphone")
        self._start = (c.start or datetime.now(UTC)).astimezone(UTC)
        self._blocks = math.ceil(self._scenario.duration_s * c.sample_rate / self.block_samples)
        self._index = 0
        self._closed.clear()

    def read(self) -> AudioBlock | None:
        if self._scenario is None:
            raise RuntimeError("scenario_audio source read before open()")
        if self._index >= self._blocks or self._closed.is_set():
            return None
        rate = self.config.sample_rate
        first = self._index * self.block_samples
        if self.config.realtime:
            due = self._start + timedelta(seconds=(first + self.block_samples) / rate)
            if wait_until(due, self._closed):
                return None
        samples = self._scenario.audio(self.config.device_id, first / rate, self.block_samples, rate)
        block = AudioBlock(
            samples=samples,
            sample_rate=rate,
            ts=self._start + timedelta(seconds=first / rate),
            index=self._index,
            first_sample=first,
        )
        self._index += 1
        return block

    @property
    def scenario(self) -> Scenario | None:
        """The shared world this source renders from, once open."""
        return self._scenario

    def close(self) -> None:
        self._closed.set()
