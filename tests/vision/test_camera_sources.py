"""Live camera sources: an OpenCV camera that disappears is reopened with back-off; picamera2 is
optional and says so; a corrupt video file is refused clearly."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import MODELS_DIR

from impetus.edge_agent import plugins
from impetus.edge_agent.detectors.base import DetectorContext
from impetus.edge_agent.detectors.tamper import TamperConfig, TamperDetector
from impetus.edge_agent.scheduler import Feed, Route, Scheduler
from impetus.edge_agent.sources.camera_opencv import CameraUnavailable, OpenCvCameraConfig, OpenCvCameraSource
from impetus.edge_agent.sources.file_video import FileVideoConfig, FileVideoSource
from impetus.edge_agent.sources.picamera import PicameraConfig, PicameraSource, PicameraUnavailable
from impetus.protocol.payloads import HealthPayload


def write_clip(path: Path, frames: int = 5) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (64, 48))
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    return path


def test_camera_plugins_register_without_their_hardware() -> None:
    assert {"camera_opencv", "picamera"} <= set(plugins.sources())


def test_a_lost_camera_is_reopened_with_back_off_and_reported(tmp_path: Path) -> None:
    # A stream that ends (a clip played through the camera source) behaves like a camera that drops.
    clip = write_clip(tmp_path / "stream.avi")
    source = OpenCvCameraSource(OpenCvCameraConfig(device=str(clip), reopen_min_s=0.1, reopen_max_s=0.4))
    source.open()
    assert [source.read().index for _ in range(5)] == [0, 1, 2, 3, 4]
    assert source.health().state == "delivering"
    parked = tmp_path / "parked.avi"
    clip.rename(parked)  # the camera disappears
    frames: list[int] = []
    reader = threading.Thread(target=lambda: frames.append(source.read().index))
    reader.start()
    time.sleep(0.9)
    health = source.health()
    assert health.state == "reopening" and health.losses == 1
    assert "cannot be opened" in (health.last_error or "")
    assert 0.0 <= source.reopen_in_s <= 0.4, "the back-off doubles up to its ceiling"
    shutil.move(parked, clip)  # it comes back
    reader.join(timeout=3.0)
    assert frames == [5], "frame numbering continues across the loss"
    assert source.health().state == "delivering"
    source.close()
    assert source.health().state == "closed"


def test_a_missing_camera_is_refused_at_start_with_its_name(tmp_path: Path) -> None:
    source = OpenCvCameraSource(OpenCvCameraConfig(device=str(tmp_path / "no-such-camera.avi")))
    with pytest.raises(CameraUnavailable, match=r"no-such-camera\.avi.*cannot be opened"):
        source.open()


def test_a_camera_password_never_appears_in_messages() -> None:
    config = OpenCvCameraConfig(device="rtsp://admin:hunter2@127.0.0.1:1/stream", require_at_start=True)
    with pytest.raises(CameraUnavailable) as caught:
        OpenCvCameraSource(config).open()
    assert "hunter2" not in str(caught.value) and "***@127.0.0.1" in str(caught.value)


def test_picamera_without_picamera2_says_how_to_get_it() -> None:
    try:
        import picamera2  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("picamera2 is installed here")
    with pytest.raises(PicameraUnavailable, match="apt install python3-picamera2"):
        PicameraSource(PicameraConfig()).open()


def test_a_corrupt_video_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(bytes(range(256)) * 20)
    with pytest.raises(FileNotFoundError, match=r"OpenCV cannot open .*corrupt\.mp4 as a video"):
        FileVideoSource(FileVideoConfig(path=path)).open()


def test_the_agent_health_report_carries_the_camera_state(tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "stream.avi", frames=3)
    camera = OpenCvCameraSource(OpenCvCameraConfig(name="door", device=str(clip), reopen_min_s=5.0))
    tamper = TamperDetector(TamperConfig(), DetectorContext("cam-1", "square", MODELS_DIR))
    scheduler = Scheduler([Feed(camera, [Route("tamper", tamper)])], lambda route, detection: None)
    scheduler.start()
    clip.unlink()  # the clip plays once, then the camera is gone for good
    deadline = time.monotonic() + 5.0
    while scheduler.source_health()["door"].state != "reopening" and time.monotonic() < deadline:
        time.sleep(0.05)
    report = HealthPayload(uptime_s=1.0, outbox_backlog=0, sources=scheduler.source_health())
    scheduler.stop()
    assert report.sources is not None
    door = report.sources["door"]
    assert door.state == "reopening" and door.losses == 1 and door.samples == 3
    assert door.last_error == "no frame"
