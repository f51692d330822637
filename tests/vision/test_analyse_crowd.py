"""`impetus edge analyse --detector crowd`: a recorded camera view of the gathering, counted per zone."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import pytest
from click.testing import CliRunner

from impetus.cli import main
from impetus.scenario import Scenario

PLAN = Path(__file__).resolve().parents[2] / "impetus" / "scenario" / "data" / "piazza.toml"
CAMERA = "pole-south"
FPS = 1.0
SECONDS = 60.0


def analyse(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(main, ["edge", "analyse", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, result.output


@pytest.fixture(scope="module")
def gathering_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first minute of the story seen by pole-south: the crowd grows from about 40 to 1,200."""
    scenario = Scenario.default(seed=3)
    path = tmp_path_factory.mktemp("crowd") / "gathering.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (640, 360))
    assert writer.isOpened(), "OpenCV here cannot write MJPG"
    for k in range(int(SECONDS * FPS)):
        writer.write(scenario.frame(CAMERA, k / FPS, 640, 360))
    writer.release()
    return path


def test_the_gathering_is_counted_and_seen_rising(gathering_video: Path) -> None:
    code, lines, output = analyse(
        str(gathering_video), "--site", str(PLAN), "--device-id", CAMERA, "--detector", "crowd"
    )
    assert code == 0, output
    assert lines and {x["event"]["type"] for x in lines} == {"crowd"}
    gathering = [x for x in lines if x["event"]["zone"] == "gathering"]
    counts = [x["event"]["payload"]["count"] for x in gathering]
    assert len(gathering) >= 4, lines
    assert counts[-1] > 3 * max(counts[0], 10), counts
    assert "rising" in {x["event"]["payload"]["trend"] for x in gathering}
    assert gathering[-1]["event"]["payload"]["level_of_service"] in {"C", "D", "E", "F"}


def test_the_crowd_detector_without_a_ground_calibration_is_refused(gathering_video: Path) -> None:
    code, lines, output = analyse(str(gathering_video), "--detector", "crowd")
    assert code != 0 and lines == []
    assert "needs a ground calibration" in output


def test_an_unknown_detector_name_is_refused_with_the_known_ones(gathering_video: Path) -> None:
    code, _, output = analyse(str(gathering_video), "--detector", "crowds")
    assert code != 0
    assert "no detector 'crowds'" in output and "crowd" in output
