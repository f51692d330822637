"""People cut from a real photograph: painted exactly where the truth box says, or drawn instead."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from impetus.scenario import DrawnSprites, PhotoSprites, Scenario
from impetus.scenario.photo_sprites import default_cache, fetch_bus_photo
from impetus.scenario.video import People, SceneRenderer


@pytest.fixture(scope="module")
def photo_people() -> PhotoSprites:
    try:
        return PhotoSprites.from_photo(fetch_bus_photo(default_cache()))
    except FileNotFoundError as error:
        pytest.fail(str(error))


def test_a_photographed_person_fills_its_truth_box(scenario: Scenario, photo_people: PhotoSprites) -> None:
    renderer = SceneRenderer(scenario.site, photo_people, seed=0)
    camera = scenario.camera("pole-south")
    nobody = People([], np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros(0, int))
    someone = People(["a"], np.array([[50.0, 20.0]]), np.array([1.75]), np.zeros(1), np.array([1]))
    empty = renderer.render(camera, nobody, [], 0.0).astype(int)
    image = renderer.render(camera, someone, [], 0.0).astype(int)
    rows, cols = np.nonzero(np.abs(image - empty).sum(axis=2) > 40)
    box = renderer.truth(camera, someone, [], 0.0).objects[0].box
    assert rows.min() == pytest.approx(box.y * camera.height, abs=2)
    assert rows.max() == pytest.approx((box.y + box.h) * camera.height, abs=2)
    assert cols.min() >= box.x * camera.width - 2 and cols.max() <= (box.x + box.w) * camera.width + 2
    assert box.w * camera.width / (box.h * camera.height) == pytest.approx(
        photo_people.person_aspect(1), rel=0.05
    )


def test_every_cut_out_keeps_most_of_its_box_as_person(photo_people: PhotoSprites) -> None:
    assert len(photo_people.looks) == 4
    for _, alpha in photo_people.looks:
        assert 0.35 < float(alpha.mean()) < 0.9
        legs = alpha[int(alpha.shape[0] * 0.7) :]
        assert float(legs.mean()) > 0.15  # GrabCut did not give the legs to the background


def test_without_the_photograph_people_are_drawn_and_the_log_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        bank = PhotoSprites.from_cache(tmp_path / "empty", download=False)
    assert isinstance(bank, DrawnSprites)
    assert "photographed people unavailable" in caplog.text and "pip download" in caplog.text
