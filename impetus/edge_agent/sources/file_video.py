"""A video file, or a folder of images, played as a camera.

For tests, benchmarks and replaying footage through the real detectors. `fps` is the rate
frames are delivered at: a 30 fps file read at `fps = 5` hands over every sixth frame (by media
time); a folder of images plays at `fps` (default 10). `realtime` paces delivery to the wall
clock like a live camera; without it frames come as fast as they are read. `loop` starts over at
the end, with frame indices and timestamps continuing.

```toml
[[sources]]
type = "file_video"
path = "clips/square.mp4"
fps = 5
realtime = true
loop = true
```
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import Field

from impetus.edge_agent.sources.base import Source, SourceConfig, VideoFrame, register_source

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_IMAGE_FPS = 10.0


class FileVideoConfig(SourceConfig):
    type: Literal["file_video"] = "file_video"
    path: Path
    fps: Annotated[float, Field(gt=0.0, le=240.0)] | None = None
    realtime: bool = False
    loop: bool = False
    start: datetime | None = Field(default=None, description="UTC time of the first frame; default: at open")


class _Frames:
    """Decoded frames with their media time in seconds, from a video file or an image folder."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.images = (
            sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else None
        )
        self.capture: cv2.VideoCapture | None = None
        self.native_fps = DEFAULT_IMAGE_FPS
        if self.images is not None:
            if not self.images:
                raise FileNotFoundError(
                    f"file_video source: no images ({', '.join(IMAGE_SUFFIXES)}) in {path}"
                )
            return
        self.capture = cv2.VideoCapture(str(path))
        if not self.capture.isOpened():
            raise FileNotFoundError(f"file_video source: OpenCV cannot open {path} as a video")
        rate = self.capture.get(cv2.CAP_PROP_FPS)
        self.native_fps = rate if rate and rate > 0 else 25.0

    def image_at(self, position: int) -> np.ndarray | None:
        """Frame number `position` of this pass, None past the end."""
        if self.images is not None:
            if position >= len(self.images):
                return None
            image = cv2.imread(str(self.images[position]), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"file_video source: {self.images[position]} is not a readable image")
            return image
        return None

    def close(self) -> None:
        if self.capture is not None:
            self.capture.release()


@register_source
class FileVideoSource(Source):
    type_name = "file_video"
    kind = "video"
    Config = FileVideoConfig

    def __init__(self, config: FileVideoConfig) -> None:  # type: ignore[override]
        super().__init__(config)
        self.config: FileVideoConfig = config
        self._frames: _Frames | None = None
        self._closed = threading.Event()
        self._index = 0
        self._pass_start = 0
        self._native_position = 0
        self._start = datetime.now(UTC)
        self._opened_at = 0.0

    @property
    def fps(self) -> float:
        assert self._frames is not None, "open() the source first"
        return self.config.fps or self._frames.native_fps

    def open(self) -> None:
        if not self.config.path.exists():
            raise FileNotFoundError(f"file_video source: {self.config.path} not found")
        self._frames = _Frames(self.config.path)
        self._start = (self.config.start or datetime.now(UTC)).astimezone(UTC)
        self._opened_at = time.monotonic()
        self._closed.clear()

    def _next_image(self) -> np.ndarray | None:
        """The native frame at the media time of output frame `_index - _pass_start`."""
        frames = self._frames
        assert frames is not None, "open() the source first"
        target = (self._index - self._pass_start) / self.fps
        if frames.images is not None:
            return frames.image_at(self._index - self._pass_start)
        assert frames.capture is not None
        # Skip native frames that fall before the target time (decimation); grab() skips the copy.
        while self._native_position / frames.native_fps + 1e-9 < target - 0.5 / frames.native_fps:
            if not frames.capture.grab():
                return None
            self._native_position += 1
        ok, image = frames.capture.read()
        if not ok:
            return None
        self._native_position += 1
        return image

    def _restart(self) -> None:
        assert self._frames is not None
        self._frames.close()
        self._frames = _Frames(self.config.path)
        self._pass_start = self._index
        self._native_position = 0

    def read(self) -> VideoFrame | None:
        if self._closed.is_set():
            return None
        image = self._next_image()
        if image is None and self.config.loop and self._index > self._pass_start:
            self._restart()
            image = self._next_image()
        if image is None:
            return None
        offset = self._index / self.fps
        if self.config.realtime and self._closed.wait(max(0.0, self._opened_at + offset - time.monotonic())):
            return None
        frame = VideoFrame(image=image, ts=self._start + timedelta(seconds=offset), index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._closed.set()
        if self._frames is not None:
            self._frames.close()
