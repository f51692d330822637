"""Camera frames: right shape, perspective that shrinks with distance, truth that matches the pixels."""

from __future__ import annotations

import math

import numpy as np
import pytest

from impetus.scenario import DrawnSprites, PinholeCamera, Scenario
from impetus.scenario.video import People, SceneRenderer

CAMERA = "pole-west"


def person_at(camera: PinholeCamera, ahead_m: float) -> tuple[float, float]:
    """A ground point `ahead_m` straight ahead of the camera."""
    heading = math.radians(camera.placement.heading_deg)
    return (
        camera.placement.position.x_m + ahead_m * math.sin(heading),
        camera.placement.position.y_m + ahead_m * math.cos(heading),
    )


def lone_people(*spots: tuple[float, float]) -> People:
    n = len(spots)
    return People(
        [f"p{i}" for i in range(n)],
        np.array(spots, float).reshape(-1, 2),
        np.full(n, 1.75),
        np.zeros(n),
        np.arange(n),
    )


def test_frames_are_bgr_uint8_of_the_asked_size_and_deterministic(scenario: Scenario) -> None:
    frame = scenario.frame(CAMERA, 8.0, 320, 180)
    assert frame.shape == (180, 320, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame, scenario.frame(CAMERA, 8.0, 320, 180))
    assert not np.array_equal(frame, scenario.frame(CAMERA, 8.2, 320, 180))


def test_a_person_nearer_the_camera_is_drawn_larger(scenario: Scenario) -> None:
    renderer = SceneRenderer(scenario.site, DrawnSprites(), seed=0)
    camera = scenario.camera(CAMERA)
    empty = renderer.render(camera, lone_people(), [], 0.0).astype(int)
    painted = {}
    for ahead in (10.0, 30.0):
        image = renderer.render(camera, lone_people(person_at(camera, ahead)), [], 0.0).astype(int)
        painted[ahead] = int((np.abs(image - empty).sum(axis=2) > 40).sum())
    assert painted[30.0] > 20
    # Area scales with 1 / distance^2: three times nearer, about nine times the pixels.
    assert painted[10.0] > 5 * painted[30.0]


def test_a_person_hidden_behind_a_nearer_one_is_not_counted_as_visible(scenario: Scenario) -> None:
    renderer = SceneRenderer(scenario.site, DrawnSprites(), seed=0)
    camera = scenario.camera(CAMERA)
    truth = renderer.truth(camera, lone_people(person_at(camera, 12.0), person_at(camera, 14.0)), [], 0.0)
    by_id = {o.track_id: o for o in truth.objects}
    assert by_id["p0"].visible_fraction == pytest.approx(1.0)
    assert by_id["p1"].visible_fraction < 0.5
    assert truth.counts == {"person": 1}
    assert truth.in_view == 2


def test_truth_boxes_lie_inside_the_frame_and_match_the_camera_geometry(scenario: Scenario) -> None:
    t = scenario.shot_times[0] - 1.0
    truth = scenario.frame_truth(CAMERA, t)
    assert truth.counts["person"] > 50
    camera = scenario.camera(CAMERA)
    for obj in truth.objects:
        b = obj.box
        assert b.x >= 0.0 and b.y >= 0.0
        assert b.x + b.w <= 1.0 + 1e-9 and b.y + b.h <= 1.0 + 1e-9
        assert 0.0 <= obj.visible_fraction <= 1.0
    whole = [
        o
        for o in truth.objects
        if o.cls == "person" and o.box.y > 0.05 and o.box.y + o.box.h < 0.99 and 0.05 < o.box.x < 0.9
    ]
    assert len(whole) > 20
    for obj in whole[:50]:
        u, v = camera.project(np.array([[*obj.ground, 0.0]]))[0][0]
        assert (obj.box.y + obj.box.h) * camera.height == pytest.approx(v, abs=1.0)
        assert (obj.box.x + obj.box.w / 2) * camera.width == pytest.approx(u, abs=1.0)


def test_the_left_bag_is_in_the_truth_of_the_camera_that_watches_it(scenario: Scenario) -> None:
    bag = scenario.timeline.bag
    assert bag is not None
    before = scenario.frame_truth(CAMERA, bag.drop_s - 0.5)
    after = scenario.frame_truth(CAMERA, scenario.duration_s - 0.5)
    assert not [o for o in before.objects if o.cls == "backpack"]
    (found,) = [o for o in after.objects if o.cls == "backpack"]
    assert found.ground == (bag.position.x_m, bag.position.y_m)
    assert found.visible_fraction > 0.5


def test_the_ground_homography_maps_image_points_to_where_they_lie_on_the_site(scenario: Scenario) -> None:
    for device_id in ("pole-north", "pole-south", "pole-west", "pole-east"):
        calibration = scenario.ground_calibration(device_id)
        camera = scenario.camera(device_id)
        assert calibration.image_points.shape == (4, 2) and calibration.ground_points.shape == (4, 2)
        uv, depth = camera.project(np.column_stack([calibration.ground_points, np.zeros(4)]))
        assert (depth > 0).all()
        assert np.allclose(uv, calibration.image_points, atol=1e-6)
        spot = np.array(person_at(camera, 15.0))
        (foot,), _ = camera.project(np.array([[*spot, 0.0]]))
        assert np.allclose(calibration.to_ground(foot[None, :])[0], spot, atol=1e-6)


def test_a_device_without_a_camera_is_refused_clearly(scenario: Scenario) -> None:
    with pytest.raises(ValueError, match="'mic-northeast' has no camera"):
        scenario.frame("mic-northeast", 1.0)
