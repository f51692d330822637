"""Scenes made of real photographs: crops of people and the bus from `bus.jpg`, pasted with OpenCV on
a background cut from the same photo (facade above, paving below). A real detector sees them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from impetus.edge_agent.sources.base import VideoFrame

ULTRALYTICS = "ultralytics==8.4.190"
FRAME_W, FRAME_H = 640, 360
T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def fetch_photos(cache: Path) -> dict[str, Path]:
    """bus.jpg and zidane.jpg out of the ultralytics wheel (fetched once with pip, never committed)."""
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("ultralytics-*.whl"))
    if not wheels:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", ULTRALYTICS, "-d", str(cache)],
            capture_output=True,
            text=True,
        )
        wheels = sorted(cache.glob("ultralytics-*.whl"))
        if not wheels:
            raise RuntimeError(
                f"could not fetch the test photos ({ULTRALYTICS} wheel) into {cache}: {done.stderr[-500:]}"
                " -- prefetch it with `pip download --no-deps ultralytics -d <cache>`"
            )
    out = {}
    with zipfile.ZipFile(wheels[0]) as wheel:
        for name in ("bus.jpg", "zidane.jpg"):
            target = cache / name
            if not target.exists():
                target.write_bytes(wheel.read(f"ultralytics/assets/{name}"))
            out[name] = target
    return out


@dataclass(frozen=True)
class Cutouts:
    background: np.ndarray
    person: np.ndarray
    walker: np.ndarray
    bus: np.ndarray


def cutouts(bus_photo: np.ndarray) -> Cutouts:
    h, w = bus_photo.shape[:2]

    def crop(x1: float, y1: float, x2: float, y2: float) -> np.ndarray:
        return bus_photo[int(y1 * h) : int(y2 * h), int(x1 * w) : int(x2 * w)].copy()

    facade = cv2.resize(crop(0.0, 0.0, 1.0, 0.2), (FRAME_W, 140), interpolation=cv2.INTER_AREA)
    paving = cv2.resize(crop(0.0, 0.84, 1.0, 1.0), (FRAME_W, FRAME_H - 140), interpolation=cv2.INTER_AREA)
    background = np.vstack([facade, paving])
    return Cutouts(
        background=background,
        person=crop(0.05, 0.37, 0.27, 0.84),  # the man in the light coat
        walker=crop(0.27, 0.40, 0.48, 0.73),  # the man in black
        bus=crop(0.0, 0.22, 1.0, 0.68),
    )


def paste(frame: np.ndarray, item: np.ndarray, x: int, bottom: int, height: int) -> tuple[int, int, int, int]:
    """Scale `item` to `height` px and paste it with its bottom centre at (x, bottom); returns its box."""
    scale = height / item.shape[0]
    item = cv2.resize(item, (max(1, round(item.shape[1] * scale)), height), interpolation=cv2.INTER_AREA)
    ih, iw = item.shape[:2]
    x1, y1 = x - iw // 2, bottom - ih
    fx1, fy1, fx2, fy2 = max(x1, 0), max(y1, 0), min(x1 + iw, frame.shape[1]), min(bottom, frame.shape[0])
    if fx2 > fx1 and fy2 > fy1:
        frame[fy1:fy2, fx1:fx2] = item[fy1 - y1 : fy2 - y1, fx1 - x1 : fx2 - x1]
    return fx1, fy1, fx2, fy2


def video(images: list[np.ndarray], fps: float = 10.0) -> list[VideoFrame]:
    return [VideoFrame(image=im, ts=T0 + timedelta(seconds=i / fps), index=i) for i, im in enumerate(images)]


def walking(cut: Cutouts, frames: int, start_x: int, step_px: int, height: int = 220) -> list[np.ndarray]:
    """The man in the light coat walking along the pavement, `step_px` per frame."""
    out = []
    for i in range(frames):
        frame = cut.background.copy()
        paste(frame, cut.person, start_x + i * step_px, 350, height)
        out.append(frame)
    return out
