"""A Raspberry Pi camera module through picamera2 (libcamera), imported only when opened.

picamera2 ships with Raspberry Pi OS (`apt install python3-picamera2`) and is not on PyPI for
other machines, so this plugin always registers and says clearly what is missing when a device
file asks for it on a machine without it.

```toml
[[sources]]
type = "picamera"
width = 640
height = 360
fps = 10
```
"""

from __future__ import annotations

import importlib
import threading
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from impetus.edge_agent.sources.base import Source, SourceConfig, VideoFrame, register_source


class PicameraUnavailable(ImportError):
    """picamera2 is not installed here; the message says how to get it."""


class PicameraConfig(SourceConfig):
    type: Literal["picamera"] = "picamera"
    camera: Annotated[int, Field(ge=0, le=7)] = 0
    width: Annotated[int, Field(ge=64, le=4608)] = 640
    height: Annotated[int, Field(ge=64, le=2592)] = 360
    fps: Annotated[float, Field(gt=0.0, le=120.0)] = 10.0


def load_picamera2() -> Any:
    try:
        return importlib.import_module("picamera2")
    except ImportError as error:
        raise PicameraUnavailable(
            f"the picamera source needs picamera2 ({error}); on Raspberry Pi OS: "
            "sudo apt install python3-picamera2 and create the venv with --system-site-packages; "
            'elsewhere use type = "camera_opencv"'
        ) from None


@register_source
class PicameraSource(Source):
    type_name = "picamera"
    kind = "video"
    Config = PicameraConfig

    def __init__(self, config: PicameraConfig) -> None:  # type: ignore[override]
        super().__init__(config)
        self.config: PicameraConfig = config
        self._camera: Any = None
        self._closed = threading.Event()
        self._index = 0

    def open(self) -> None:
        module = load_picamera2()
        c = self.config
        camera = module.Picamera2(c.camera)
        settings = camera.create_video_configuration(
            # libcamera's RGB888 is stored B, G, R per pixel: the order OpenCV and the detectors use.
            main={"size": (c.width, c.height), "format": "RGB888"},
            controls={"FrameRate": c.fps},
        )
        camera.configure(settings)
        camera.start()
        self._camera = camera
        self._closed.clear()

    def read(self) -> VideoFrame | None:
        if self._closed.is_set() or self._camera is None:
            return None
        image = np.ascontiguousarray(self._camera.capture_array("main")[:, :, :3])
        frame = VideoFrame(image=image, ts=datetime.now(UTC), index=self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._closed.set()
        if self._camera is not None:
            self._camera.stop()
            self._camera.close()
            self._camera = None
