"""The scenario's camera: the frames a device of the site plan captures during the exercise.

Frame i shows scenario time i / fps and is stamped `start + i / fps`; with `realtime` it is handed
over when the wall clock reaches that time, and a reader that fell behind gets the frame of the
current moment, not the next one in line: a live camera drops the frames nobody read in time (a
demo on two cores once saw its cameras a third of the way through a story that had ended, the
dispersal after the shots never shown). Ends (returns None) when the scenario does.

```toml
[[sources]]
type = "scenario_video"
device_id = "pole-west"
fps = 5
sprites = "photo"          # or "drawn" (default: no photograph needed)
width = 640
height = 360
```
"""

from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from impetus.edge_agent.sources.base import Source, SourceConfig, VideoFrame, register_source
from impetus.edge_agent.sources.scenario_audio import wait_until
from impetus.scenario import PhotoSprites, Scenario, SpriteBank

_photo_people: list[SpriteBank] = []
_photo_lock = threading.Lock()


def photo_people() -> SpriteBank:
    """One photo sprite bank per process (cutting people out takes a second)."""
    with _photo_lock:
        if not _photo_people:
            _photo_people.append(PhotoSprites.from_cache())
        return _photo_people[0]


class ScenarioVideoConfig(SourceConfig):
    type: Literal["scenario_video"] = "scenario_video"
    device_id: str
    fps: Annotated[float, Field(gt=0.0, le=120.0)] = 5.0
    width: Annotated[int, Field(ge=16, le=7680)] = 640
    height: Annotated[int, Field(ge=16, le=4320)] = 360
    realtime: bool = True
    start: datetime | None = Field(default=None, description="UTC of scenario second 0; default: at open")
    duration_s: Annotated[float, Field(gt=0.0)] | None = Field(
        default=None, description="Compress the scenario to this length; default: its natural length"
    )
    seed: int = 0
    sprites: Literal["drawn", "photo"] = Field(
        default="drawn", description="photo: people cut from a real photograph, so COCO detectors see them"
    )
    plan: Path | None = None
    timeline: Path | None = None


@register_source
class ScenarioVideoSource(Source):
    type_name = "scenario_video"
    kind = "video"
    Config = ScenarioVideoConfig

    def __init__(self, config: ScenarioVideoConfig) -> None:  # type: ignore[override]
        super().__init__(config)
        self.config: ScenarioVideoConfig = config
        self._scenario: Scenario | None = None
        self._sprites: SpriteBank | None = None
        self._start = datetime.now(UTC)
        self._index = 0
        self._frames = 0
        self._closed = threading.Event()

    def open(self) -> None:
        c = self.config
        self._scenario = Scenario.shared(c.plan, c.timeline, c.duration_s, c.seed)
        self._scenario.device(c.device_id, "camera")
        self._sprites = photo_people() if c.sprites == "photo" else None
        self._start = (c.start or datetime.now(UTC)).astimezone(UTC)
        self._frames = math.ceil(self._scenario.duration_s * c.fps)
        self._index = 0
        self._closed.clear()

    def read(self) -> VideoFrame | None:
        if self._scenario is None:
            raise RuntimeError("scenario_video source read before open()")
        if self._index >= self._frames or self._closed.is_set():
            return None
        c = self.config
        if c.realtime:
            now_index = math.floor((datetime.now(UTC) - self._start).total_seconds() * c.fps)
            self._index = max(self._index, now_index)
            if self._index >= self._frames:
                return None
        t = self._index / c.fps
        ts = self._start + timedelta(seconds=t)
        if c.realtime and wait_until(ts, self._closed):
            return None
        frame = VideoFrame(
            self._scenario.frame(c.device_id, t, c.width, c.height, self._sprites), ts, self._index
        )
        self._index += 1
        return frame

    @property
    def scenario(self) -> Scenario | None:
        """The shared world this source renders from, once open."""
        return self._scenario

    def close(self) -> None:
        self._closed.set()
