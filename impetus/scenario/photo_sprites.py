"""People cut out of real photographs, so a detector trained on COCO sees people in the scenario.

The photographs are not ours to commit: `bus.jpg` comes out of the ultralytics wheel (AGPL-3.0
package; the image is Ultralytics' sample asset), fetched once with pip into a cache directory.
The two full-length people in it are cut out with GrabCut (initialised with their boxes) and kept
with an alpha mask; mirrored, that gives four looks. Bags and vehicles stay drawn. When the photo
cannot be had (no network, no pip), `PhotoSprites.from_cache` logs why and returns drawn figures.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np

from impetus.scenario.sprites import Box, DrawnSprites, SpriteBank

log = logging.getLogger(__name__)

ULTRALYTICS = "ultralytics==8.4.190"
PEOPLE_IN_BUS_JPG = ((48, 398, 245, 902), (221, 405, 344, 857))
"""Pixel boxes (x0, y0, x1, y1) of the two whole people in bus.jpg (810 x 1080)."""
MARGIN_PX = 12
QUANT_PX = 2
"""Scaled cut-outs are cached per height rounded to this many pixels."""


def default_cache() -> Path:
    """Shared with the vision tests: `IMPETUS_MEDIA_CACHE`, else ~/.cache/impetus/test-media."""
    return Path(os.environ.get("IMPETUS_MEDIA_CACHE") or Path.home() / ".cache" / "impetus" / "test-media")


def fetch_bus_photo(cache: Path, download: bool = True) -> Path:
    """bus.jpg out of the ultralytics wheel in `cache`, fetching the wheel with pip if allowed."""
    target = cache / "bus.jpg"
    if target.is_file():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("ultralytics-*.whl"))
    if not wheels and download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", ULTRALYTICS, "-d", str(cache)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        wheels = sorted(cache.glob("ultralytics-*.whl"))
    if not wheels:
        fetch = f"pip download --no-deps {ULTRALYTICS} -d {cache}"
        raise FileNotFoundError(f"no ultralytics wheel in {cache}; fetch it with `{fetch}`")
    with zipfile.ZipFile(wheels[-1]) as wheel:
        target.write_bytes(wheel.read("ultralytics/assets/bus.jpg"))
    return target


def cut_out(photo: np.ndarray, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The person inside `box`: BGR pixels and a float alpha mask, separated from the background
    by GrabCut started from the box."""
    h, w = photo.shape[:2]
    x0, y0, x1, y1 = box
    ox0, oy0 = max(0, x0 - MARGIN_PX), max(0, y0 - MARGIN_PX)
    ox1, oy1 = min(w, x1 + MARGIN_PX), min(h, y1 + MARGIN_PX)
    region = np.ascontiguousarray(photo[oy0:oy1, ox0:ox1])
    # Outside the box is background; a strip down the middle (head, body, legs) is surely the person,
    # which keeps GrabCut from giving the jeans to the blue bus behind them.
    mask = np.full(region.shape[:2], cv2.GC_BGD, np.uint8)
    bx0, by0, bw, bh = x0 - ox0, y0 - oy0, x1 - x0, y1 - y0
    mask[by0 : by0 + bh, bx0 : bx0 + bw] = cv2.GC_PR_FGD
    mask[by0 + bh // 20 : by0 + bh * 19 // 20, bx0 + bw * 2 // 5 : bx0 + bw * 3 // 5] = cv2.GC_FGD
    background, foreground = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(region, mask, None, background, foreground, 5, cv2.GC_INIT_WITH_MASK)
    alpha = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.float32)
    alpha = cv2.GaussianBlur(alpha, (3, 3), 0)
    sub = (slice(y0 - oy0, y1 - oy0), slice(x0 - ox0, x1 - ox0))
    return region[sub].copy(), alpha[sub].copy()


class PhotoSprites(SpriteBank):
    """People from photographs, alpha-blended at the box the camera gives; the rest drawn."""

    name = "photo"

    def __init__(
        self, people: list[tuple[np.ndarray, np.ndarray]], fallback: SpriteBank | None = None
    ) -> None:
        if not people:
            raise ValueError("PhotoSprites needs at least one cut-out person")
        looks = []
        for pixels, alpha in people:
            looks.append((pixels, alpha))
            looks.append((pixels[:, ::-1].copy(), alpha[:, ::-1].copy()))
        self.looks = looks
        self.fallback = fallback or DrawnSprites()
        self._scaled: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    @classmethod
    def from_photo(cls, path: Path) -> PhotoSprites:
        photo = cv2.imread(str(path))
        if photo is None:
            raise ValueError(f"{path} is not a readable image")
        return cls([cut_out(photo, box) for box in PEOPLE_IN_BUS_JPG])

    @classmethod
    def from_cache(cls, cache: Path | None = None, download: bool = True) -> SpriteBank:
        """Photo people if the photograph can be had, else drawn figures (with a log line saying why)."""
        cache = cache or default_cache()
        try:
            return cls.from_photo(fetch_bus_photo(cache, download))
        except (OSError, ValueError, subprocess.SubprocessError, zipfile.BadZipFile, KeyError) as error:
            log.warning("scenario: photographed people unavailable (%s); drawing figures instead", error)
            return DrawnSprites()

    def person_aspect(self, variant: int) -> float:
        pixels, _ = self.looks[variant % len(self.looks)]
        return pixels.shape[1] / pixels.shape[0]

    def _look(self, variant: int, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        index = variant % len(self.looks)
        key = (index, width, height)
        scaled = self._scaled.get(key)
        if scaled is None:
            pixels, alpha = self.looks[index]
            size = (width, height)
            scaled = (
                cv2.resize(pixels, size, interpolation=cv2.INTER_AREA).astype(np.float32),
                cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)[..., None],
            )
            if len(self._scaled) > 4096:
                self._scaled.clear()
            self._scaled[key] = scaled
        return scaled

    def draw(self, image: np.ndarray, kind: str, box: Box, variant: int, stride: float = 0.0) -> None:
        if kind != "person":
            self.fallback.draw(image, kind, box, variant, stride)
            return
        x0, y0, x1, y1 = box
        height = max(QUANT_PX, round(float(y1 - y0) / QUANT_PX) * QUANT_PX)
        width = max(1, round(height * self.person_aspect(variant)))
        left = round(float(x0 + x1) / 2 - width / 2)
        top = round(float(y1)) - height
        h, w = image.shape[:2]
        cx0, cy0, cx1, cy1 = max(left, 0), max(top, 0), min(left + width, w), min(top + height, h)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        scaled, mask = self._look(variant, width, height)
        sub = (slice(cy0 - top, cy1 - top), slice(cx0 - left, cx1 - left))
        roi = image[cy0:cy1, cx0:cx1]
        a = mask[sub]
        roi[:] = (scaled[sub] * a + roi * (1.0 - a)).astype(np.uint8)
