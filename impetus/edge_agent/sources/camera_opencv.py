"""A live camera through OpenCV: a USB camera by index, an RTSP/HTTP stream by URL, or a GStreamer
pipeline (a Jetson's CSI camera through nvarguscamerasrc).

A camera that disappears (cable pulled, stream dropped, power glitch) is released and reopened
with exponential back-off (`reopen_min_s` doubling up to `reopen_max_s`); `read()` keeps waiting
through it, as a live source never ends on its own. `health()` says whether the camera is
delivering, how often it was lost and the last error, for the agent's health report and logs.

```toml
[[sources]]
type = "camera_opencv"
device = 0                               # or "rtsp://user:pass@10.0.0.5/stream1"
# Jetson CSI: device = "nvarguscamerasrc ! video/x-raw(memory:NVMM),width=1280,height=720 !
#   nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! appsink drop=1"  (one line in the file)
backend = "auto"                         # gstreamer for a pipeline, ffmpeg for RTSP, v4l2 for USB
width = 640
height = 360
```
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import Field

from impetus.edge_agent.sources.base import Source, SourceConfig, VideoFrame, register_source
from impetus.protocol.payloads import SourceHealth

log = logging.getLogger(__name__)

BACKENDS = {
    "auto": cv2.CAP_ANY,
    "gstreamer": cv2.CAP_GSTREAMER,
    "ffmpeg": cv2.CAP_FFMPEG,
    "v4l2": cv2.CAP_V4L2,
}


class CameraUnavailable(OSError):
    """The camera could not be opened; the message names it and the backend tried."""


class OpenCvCameraConfig(SourceConfig):
    type: Literal["camera_opencv"] = "camera_opencv"
    device: Annotated[int, Field(ge=0, le=63)] | Annotated[str, Field(min_length=1, max_length=2000)] = 0
    backend: Literal["auto", "gstreamer", "ffmpeg", "v4l2"] = "auto"
    width: Annotated[int, Field(ge=16, le=7680)] | None = None
    height: Annotated[int, Field(ge=16, le=4320)] | None = None
    fps: Annotated[float, Field(gt=0.0, le=240.0)] | None = None
    reopen_min_s: Annotated[float, Field(gt=0.0, le=60.0)] = 1.0
    reopen_max_s: Annotated[float, Field(gt=0.0, le=3600.0)] = 30.0
    require_at_start: bool = Field(True, description="refuse to start when the camera cannot be opened")


def _backend(config: OpenCvCameraConfig) -> int:
    if config.backend != "auto":
        return BACKENDS[config.backend]
    if isinstance(config.device, str) and "!" in config.device:
        return cv2.CAP_GSTREAMER
    return cv2.CAP_ANY


def describe(config: OpenCvCameraConfig) -> str:
    """The camera's name for messages, with any password in a URL hidden."""
    device = config.device
    if isinstance(device, str) and "://" in device and "@" in device:
        scheme, rest = device.split("://", 1)
        device = f"{scheme}://***@{rest.split('@', 1)[1]}"
    return f"camera {device!r} ({config.backend})"


@register_source
class OpenCvCameraSource(Source):
    type_name = "camera_opencv"
    kind = "video"
    Config = OpenCvCameraConfig

    def __init__(self, config: OpenCvCameraConfig) -> None:  # type: ignore[override]
        super().__init__(config)
        self.config: OpenCvCameraConfig = config
        self._capture: cv2.VideoCapture | None = None
        self._closed = threading.Event()
        self._index = 0
        self._losses = 0
        self._delay = config.reopen_min_s
        self._next_try = 0.0
        self._last_error: str | None = None

    def _open_capture(self) -> cv2.VideoCapture | None:
        c = self.config
        capture = cv2.VideoCapture(c.device, _backend(c))
        if not capture.isOpened():
            capture.release()
            self._last_error = f"{describe(c)} cannot be opened"
            return None
        for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, c.width), (cv2.CAP_PROP_FRAME_HEIGHT, c.height)):
            if value is not None:
                capture.set(prop, value)
        if c.fps is not None:
            capture.set(cv2.CAP_PROP_FPS, c.fps)
        return capture

    def open(self) -> None:
        self._closed.clear()
        self._capture = self._open_capture()
        if self._capture is None and self.config.require_at_start:
            raise CameraUnavailable(
                f"{self._last_error}; check the cable or URL, or set require_at_start = false to wait for it"
            )
        if self._capture is None:
            self._lost(self._last_error or "not available at start")

    def _lost(self, why: str) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        self._losses += 1
        self._last_error = why
        self._next_try = time.monotonic() + self._delay
        log.warning("%s lost (%s); reopening in %.1f s", describe(self.config), why, self._delay)

    def read(self) -> VideoFrame | None:
        while not self._closed.is_set():
            if self._capture is None:
                if self._closed.wait(max(0.0, self._next_try - time.monotonic())):
                    return None
                self._capture = self._open_capture()
                if self._capture is None:
                    self._delay = min(self._delay * 2.0, self.config.reopen_max_s)
                    self._next_try = time.monotonic() + self._delay
                    continue
                log.info("%s reopened after %d loss(es)", describe(self.config), self._losses)
            ok, image = self._capture.read()
            if not ok or image is None or not isinstance(image, np.ndarray):
                self._lost("no frame")
                continue
            self._delay = self.config.reopen_min_s
            frame = VideoFrame(image=image, ts=datetime.now(UTC), index=self._index)
            self._index += 1
            return frame
        return None

    @property
    def reopen_in_s(self) -> float:
        """Seconds until the next attempt to reopen a lost camera (0 while it delivers)."""
        return max(0.0, self._next_try - time.monotonic()) if self._capture is None else 0.0

    def health(self) -> SourceHealth:
        if self._closed.is_set():
            state: Literal["delivering", "reopening", "closed"] = "closed"
        else:
            state = "delivering" if self._capture is not None else "reopening"
        error = None if self._last_error is None else self._last_error[:200]
        return SourceHealth(state=state, samples=self._index, losses=self._losses, last_error=error)

    def close(self) -> None:
        self._closed.set()
        if self._capture is not None:
            self._capture.release()
            self._capture = None
