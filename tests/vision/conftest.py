"""Real photographs and the real YOLOv3-tiny model for the vision tests."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from vision_scenes import Cutouts, cutouts, fetch_photos

from impetus.edge_agent.detectors.base import DetectorContext

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="session")
def photos() -> dict[str, Path]:
    cache = Path(os.environ.get("IMPETUS_MEDIA_CACHE", Path.home() / ".cache" / "impetus" / "test-media"))
    try:
        return fetch_photos(cache)
    except RuntimeError as error:
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def bus_photo(photos: dict[str, Path]) -> np.ndarray:
    image = cv2.imread(str(photos["bus.jpg"]))
    assert image is not None, f"{photos['bus.jpg']} is not readable"
    return image


@pytest.fixture(scope="session")
def cut(bus_photo: np.ndarray) -> Cutouts:
    return cutouts(bus_photo)


@pytest.fixture
def context() -> DetectorContext:
    return DetectorContext(device_id="cam-1", site="square", models_dir=MODELS_DIR)
