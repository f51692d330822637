"""The scenario's edge sources: every block and frame, stamped from the shared UTC start."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from impetus.edge_agent import plugins
from impetus.edge_agent.sources.base import AudioBlock, VideoFrame
from impetus.scenario import Scenario

START = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DURATION_S = 20.0


def source(kind: str, **options: object):
    cls = plugins.sources()[kind]
    return cls(cls.Config.model_validate({"type": kind, "duration_s": DURATION_S, **options}))


def test_scenario_audio_yields_every_block_with_sample_accurate_stamps() -> None:
    blocks: list[AudioBlock] = []
    with source("scenario_audio", device_id="mic-northwest", realtime=False, start=START) as mic:
        while (block := mic.read()) is not None:
            blocks.append(block)
    assert len(blocks) == 200  # 20 s in 100 ms blocks
    scenario = Scenario.shared(duration_s=DURATION_S)
    for i, block in enumerate(blocks):
        assert block.index == i and block.first_sample == i * 1600 and block.sample_rate == 16_000
        assert block.ts == START + timedelta(seconds=i * 0.1)
        assert block.samples.dtype == np.float32 and block.samples.shape == (1600,)
    shot = round(scenario.shot_times[0] * 16_000)
    k = shot // 1600
    assert np.array_equal(blocks[k].samples, scenario.audio("mic-northwest", k * 0.1, 1600))


def test_scenario_video_yields_every_frame_at_its_scenario_time() -> None:
    frames: list[VideoFrame] = []
    with source(
        "scenario_video", device_id="pole-east", fps=2, width=160, height=90, realtime=False, start=START
    ) as cam:
        while (frame := cam.read()) is not None:
            frames.append(frame)
    assert len(frames) == 40
    scenario = Scenario.shared(duration_s=DURATION_S)
    for i, frame in enumerate(frames):
        assert frame.index == i and frame.ts == START + timedelta(seconds=i / 2)
        assert frame.image.shape == (90, 160, 3) and frame.image.dtype == np.uint8
    assert np.array_equal(frames[25].image, scenario.frame("pole-east", 12.5, 160, 90))


def test_realtime_audio_hands_over_no_block_before_its_last_sample_was_due() -> None:
    start = datetime.now(UTC) - timedelta(seconds=DURATION_S - 0.4)
    received = []
    with source("scenario_audio", device_id="pole-north", realtime=True, start=start) as mic:
        while (block := mic.read()) is not None:
            received.append((block, datetime.now(UTC)))
    assert len(received) == 200
    for block, at in received:
        assert at >= block.ts + timedelta(seconds=len(block.samples) / block.sample_rate)


def test_a_realtime_camera_read_late_hands_over_the_frame_of_the_moment_not_a_stale_one() -> None:
    start = datetime.now(UTC) - timedelta(seconds=12.0)  # the reader is 12 s late
    with source(
        "scenario_video", device_id="pole-east", fps=5, width=160, height=90, realtime=True, start=start
    ) as cam:
        first = cam.read()
        second = cam.read()
    assert first is not None and second is not None
    assert first.index >= 60 and abs((datetime.now(UTC) - first.ts).total_seconds()) < 1.0
    assert second.index > first.index and second.ts > first.ts


def test_agents_of_one_process_share_one_scenario() -> None:
    a = source("scenario_audio", device_id="pole-north", realtime=False)
    b = source("scenario_video", device_id="pole-north", realtime=False)
    a.open()
    b.open()
    assert a.scenario is b.scenario is Scenario.shared(duration_s=DURATION_S)


def test_a_device_the_plan_does_not_have_is_refused_at_open() -> None:
    mic = source("scenario_audio", device_id="pole-nowhere", realtime=False)
    with pytest.raises(KeyError, match="'pole-nowhere' is not on the plan of site 'piazza'"):
        mic.open()


def test_scenario_video_can_show_photographed_people() -> None:
    with source(
        "scenario_video",
        device_id="pole-south",
        fps=1,
        width=320,
        height=180,
        realtime=False,
        sprites="photo",
    ) as cam:
        frames = [cam.read() for _ in range(13)]
    scenario = Scenario.shared(duration_s=DURATION_S)
    drawn = scenario.frame("pole-south", 12.0, 320, 180)
    assert frames[12] is not None and not np.array_equal(frames[12].image, drawn)
