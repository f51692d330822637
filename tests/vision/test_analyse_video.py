"""`impetus edge analyse` on footage: a video file, a photograph, a folder of frames, and bad files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from vision_scenes import Cutouts, walking

from impetus.cli import main
from impetus.protocol import parse_event

FPS = 10.0
EMPTY_FRAMES = 15  # 1.5 s of empty pavement before the man walks in


def analyse(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(main, ["edge", "analyse", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, result.output


def frames(cut: Cutouts) -> list[np.ndarray]:
    return [cut.background.copy() for _ in range(EMPTY_FRAMES)] + walking(cut, 25, 120, 12)


def write_video(path: Path, images: list[np.ndarray]) -> Path:
    height, width = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), FPS, (width, height))
    assert writer.isOpened(), "OpenCV here cannot write MJPG"
    for image in images:
        writer.write(image)
    writer.release()
    return path


def objects(lines: list[dict], class_name: str) -> list[dict]:
    return [
        x
        for x in lines
        if x["event"]["type"] == "object" and x["event"]["payload"]["class_name"] == class_name
    ]


def test_a_video_reports_the_man_once_after_he_walks_in(cut: Cutouts, tmp_path: Path) -> None:
    code, lines, output = analyse(str(write_video(tmp_path / "pavement.avi", frames(cut))))
    assert code == 0, output
    people = objects(lines, "person")
    assert len(people) == 1, lines
    assert EMPTY_FRAMES / FPS <= people[0]["offset_s"] <= EMPTY_FRAMES / FPS + 0.5
    assert parse_event(people[0]["event"]).type == "object"
    assert not [x for x in lines if x["event"]["type"] == "tamper"]


def test_a_folder_of_frames_plays_like_a_camera(cut: Cutouts, tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, image in enumerate(frames(cut)):
        cv2.imwrite(str(folder / f"{i:04d}.png"), image)
    code, lines, output = analyse(str(folder))
    assert code == 0, output
    people = objects(lines, "person")
    assert len(people) == 1 and people[0]["offset_s"] >= EMPTY_FRAMES / FPS


def test_a_photograph_gives_its_people_and_the_bus(photos: dict[str, Path], tmp_path: Path) -> None:
    code, lines, output = analyse(str(shutil.copy(photos["bus.jpg"], tmp_path / "bus.jpg")))
    assert code == 0, output
    assert len(objects(lines, "person")) >= 3
    assert len(objects(lines, "bus")) == 1


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("corrupt.mp4", bytes(range(256)) * 40, "OpenCV cannot open"),
        ("corrupt.jpg", b"\xff\xd8\xff" + bytes(100), "not a readable image"),
    ],
)
def test_corrupt_footage_is_refused_clearly(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, lines, output = analyse(str(path))
    assert code != 0 and lines == []
    assert expected in output and name in output


def test_a_folder_without_images_is_refused(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no frames here")
    code, _, output = analyse(str(tmp_path))
    assert code != 0 and "a folder with no images" in output


def test_a_site_plan_names_the_site_and_the_device(photos: dict[str, Path], tmp_path: Path) -> None:
    plan = Path(__file__).resolve().parents[2] / "impetus" / "scenario" / "data" / "piazza.toml"
    photo = str(shutil.copy(photos["bus.jpg"], tmp_path / "bus.jpg"))
    code, lines, output = analyse(photo, "--site", str(plan), "--device-id", "pole-south")
    assert code == 0, output
    assert lines and all(x["event"]["site"] == "piazza" for x in lines)
    assert all(x["event"]["device_id"] == "pole-south" for x in lines)
    code, _, output = analyse(photo, "--site", str(tmp_path / "missing.toml"))
    assert code != 0 and "missing.toml: file not found" in output
