"""Camera tamper on composited real photographs: one event per incident, none on a normal scene."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from vision_scenes import Cutouts, video, walking

from impetus.edge_agent.detectors.base import DetectorContext
from impetus.edge_agent.detectors.tamper import TamperConfig, TamperDetector
from impetus.protocol.payloads import TamperPayload
from impetus.scenario import Scenario

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


def kinds(context: DetectorContext, frames: list[np.ndarray]) -> list[str]:
    detector = TamperDetector(TamperConfig(), context)
    detector.setup()
    out = []
    for sample in video(frames):
        for event in detector.process(sample):
            assert isinstance(event.payload, TamperPayload)
            out.append(event.payload.kind)
    return out


def shifted(frame: np.ndarray, dx: int, dy: int) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(frame, matrix, frame.shape[1::-1], borderMode=cv2.BORDER_REFLECT)


def cloth(frame: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.clip(np.full_like(frame, (150, 160, 170)) + rng.normal(0, 2, frame.shape), 0, 255).astype(
        np.uint8
    )


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda f: np.zeros_like(f), "blackout"),
        (cloth, "covered"),
        (lambda f: cv2.GaussianBlur(f, (0, 0), 6), "defocused"),
        (lambda f: shifted(f, 90, 25), "moved"),
    ],
    ids=["black", "cloth", "blur", "shift"],
)
def test_each_kind_of_tamper_raises_exactly_one_event(
    tamper: object, expected: str, cut: Cutouts, context: DetectorContext
) -> None:
    scene = walking(cut, 40, 60, 12)
    frames = scene[:15] + [tamper(f) for f in scene[15:40]]  # type: ignore[operator]
    assert kinds(context, frames) == [expected]


def test_a_normal_scene_with_people_walking_raises_nothing(cut: Cutouts, context: DetectorContext) -> None:
    scene = walking(cut, 45, 40, 12) + walking(cut, 45, 600, -12)
    assert kinds(context, scene) == []


def test_a_second_incident_after_recovery_raises_a_second_event(
    cut: Cutouts, context: DetectorContext
) -> None:
    scene = walking(cut, 60, 60, 8)
    black = [np.zeros_like(f) for f in scene[:10]]
    frames = scene[:15] + black + scene[15:35] + black + scene[35:40]
    assert kinds(context, frames) == ["blackout", "blackout"]


def test_a_short_glitch_is_not_an_incident(cut: Cutouts, context: DetectorContext) -> None:
    scene = walking(cut, 30, 60, 8)
    frames = scene[:15] + [np.zeros_like(f) for f in scene[15:18]] + scene[18:]
    assert kinds(context, frames) == []


@pytest.fixture(scope="module")
def gathering() -> list[np.ndarray]:
    """pole-south while the protest gathers (seed 1, 20-50 s): a crowd hides most of the ground and
    the reference features on it; this view once read as a moved camera."""
    scenario = Scenario.default(seed=1)
    return [scenario.frame("pole-south", 20.0 + k / 2.0) for k in range(60)]


def test_a_crowd_filling_the_view_is_not_a_moved_camera(gathering: list[np.ndarray]) -> None:
    assert kinds(DetectorContext("pole-south", "piazza", MODELS_DIR), gathering) == []


def test_a_camera_turned_in_front_of_a_crowd_is_still_moved(gathering: list[np.ndarray]) -> None:
    turned = gathering[:20] + [np.roll(frame, frame.shape[1] // 5, axis=1) for frame in gathering[20:]]
    assert kinds(DetectorContext("pole-south", "piazza", MODELS_DIR), turned) == ["moved"]
