"""Latest-frame semantics: a slow detector drops frames instead of falling behind."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from edge_fixtures import DarkConfig, DarkDetector, write_frames

from impetus.edge_agent.detectors.base import Detection, DetectorContext
from impetus.edge_agent.scheduler import Feed, NewestBuffer, Route, Scheduler
from impetus.edge_agent.sources.base import VideoFrame
from impetus.edge_agent.sources.file_video import FileVideoConfig, FileVideoSource
from impetus.protocol.payloads import TamperPayload

CONTEXT = DetectorContext(device_id="dev-1", site="test-site", models_dir=Path("models"))


def frame(index: int) -> VideoFrame:
    return VideoFrame(image=np.zeros((2, 2, 3), np.uint8), ts=datetime.now(UTC), index=index)


def test_the_buffer_hands_over_the_newest_frame_and_counts_the_rest() -> None:
    buffer = NewestBuffer(capacity=1)
    for i in range(5):
        buffer.put(frame(i))
    taken = buffer.take()
    assert taken is not None and taken.index == 4
    assert buffer.dropped == 4


def test_an_audio_buffer_keeps_the_newest_blocks_in_order() -> None:
    buffer = NewestBuffer(capacity=3)
    for i in range(5):
        buffer.put(frame(i))
    buffer.close()
    assert [s.index for s in iter(buffer.take, None)] == [2, 3, 4]
    assert buffer.dropped == 2


def run_pipeline(
    tmp_path: Path, lossless: bool, work_ms: float
) -> tuple[DarkDetector, Scheduler, list[Detection]]:
    source = FileVideoSource(FileVideoConfig(path=write_frames(tmp_path / "frames", 60)))
    detector = DarkDetector(DarkConfig(work_ms=work_ms), CONTEXT)
    found: list[Detection] = []
    scheduler = Scheduler([Feed(source, [Route("dark", detector)])], lambda _, d: found.append(d), lossless)
    scheduler.start()
    assert scheduler.wait(timeout=60), "a finite source ends the run"
    scheduler.stop()
    return detector, scheduler, found


def test_a_slow_detector_sees_fewer_frames_the_newest_ones_and_drops_are_counted(tmp_path: Path) -> None:
    detector, scheduler, found = run_pipeline(tmp_path, lossless=False, work_ms=30.0)
    produced = scheduler.produced["main"]
    health = scheduler.health()["dark"]
    assert produced == 60
    assert len(detector.seen) < produced
    assert health.dropped == produced - len(detector.seen)
    assert detector.seen == sorted(set(detector.seen)), "never an older frame after a newer one"
    assert detector.seen[-1] == 59, "the last frame processed is the newest produced"
    assert health.events == len(found) == len(detector.seen)
    assert health.inference_ms > 0


def test_lossless_mode_makes_the_reader_wait_for_the_detector(tmp_path: Path) -> None:
    detector, scheduler, found = run_pipeline(tmp_path, lossless=True, work_ms=2.0)
    assert detector.seen == list(range(60))
    assert scheduler.health()["dark"].dropped == 0
    assert [d.payload.detail for d in found] == [f"frame {i}" for i in range(60)]  # type: ignore[attr-defined]


class SummingUp(DarkDetector):
    """Holds one report back until its source has ended, as the gunshot detector holds a shot
    that is still waiting for the 100 ms after it."""

    def finish(self) -> list[Detection]:
        payload = TamperPayload(kind="covered", score=1.0, detail=f"after {len(self.seen)} frames")
        return [Detection(type="tamper", payload=payload, ts=datetime.now(UTC), confidence=1.0)]


def test_a_source_that_ends_lets_each_detector_report_what_it_held_back(tmp_path: Path) -> None:
    source = FileVideoSource(FileVideoConfig(path=write_frames(tmp_path / "frames", 5)))
    found: list[Detection] = []
    scheduler = Scheduler(
        [Feed(source, [Route("sum", SummingUp(DarkConfig(), CONTEXT))])], lambda _, d: found.append(d), True
    )
    scheduler.start()
    assert scheduler.wait(timeout=60)
    scheduler.stop()
    assert [d.payload.detail for d in found][-1] == "after 5 frames"  # type: ignore[attr-defined]


def test_a_stopped_agent_does_not_pretend_its_source_ended(tmp_path: Path) -> None:
    source = FileVideoSource(FileVideoConfig(path=write_frames(tmp_path / "frames", 60)))
    found: list[Detection] = []
    detector = SummingUp(DarkConfig(work_ms=50.0), CONTEXT)
    scheduler = Scheduler([Feed(source, [Route("sum", detector)])], lambda _, d: found.append(d), True)
    scheduler.start()
    scheduler.stop()
    assert len(detector.seen) < 60
    assert not any(d.payload.detail.startswith("after") for d in found)  # type: ignore[attr-defined]
