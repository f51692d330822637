"""`impetus edge analyse FILE.wav`: a recorded burst through the profile's audio detectors, offline."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_detector import SR, scene

from impetus.cli import main
from impetus.edge_agent.sources.wav_file import resample
from impetus.protocol import parse_event
from impetus.scenario.propagation import delay_s

DISTANCE_M = 30.0
SHOTS_S = (1.0, 1.4, 1.8)


def write_wav(path: Path, audio: np.ndarray, rate: int) -> Path:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def burst() -> np.ndarray:
    return scene([("gunshot", DISTANCE_M, at) for at in SHOTS_S], seed=31, duration_s=3.5)


def analyse(*args: str) -> tuple[int, list[dict], str]:
    result = CliRunner().invoke(main, ["edge", "analyse", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return result.exit_code, lines, result.output


def assert_burst_found(lines: list[dict]) -> None:
    arrivals = [at + delay_s(DISTANCE_M, 18.0) for at in SHOTS_S]
    assert [line["event"]["type"] for line in lines] == ["gunshot"] * len(SHOTS_S)
    for line, arrival in zip(lines, arrivals, strict=True):
        assert line["offset_s"] == pytest.approx(arrival, abs=0.002)
    burst_ids = {line["event"]["payload"]["burst_id"] for line in lines}
    assert len(burst_ids) == 1 and None not in burst_ids
    assert [line["event"]["seq"] for line in lines] == [0, 1, 2]


def test_a_burst_in_a_wav_gives_one_wire_event_per_shot_at_its_offset(
    burst: np.ndarray, tmp_path: Path
) -> None:
    code, lines, output = analyse(str(write_wav(tmp_path / "burst.wav", burst, SR)), "--profile", "rpi5")
    assert code == 0, output
    assert_burst_found(lines)
    for line in lines:
        assert parse_event(line["event"]).type == "gunshot"  # what a receiver accepts


def test_a_wav_at_another_rate_is_resampled_not_misread(burst: np.ndarray, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "burst44k.wav", resample(burst, SR, 44_100), 44_100)
    code, lines, output = analyse(str(path))
    assert code == 0, output
    assert_burst_found(lines)


def test_a_recording_that_stops_just_after_a_shot_still_reports_it(burst: np.ndarray, tmp_path: Path) -> None:
    """The head decides on 100 ms after the onset; a file that ends 70 ms after must not lose the shot."""
    end = round((SHOTS_S[-1] + delay_s(DISTANCE_M, 18.0) + 0.07) * SR)
    code, lines, output = analyse(str(write_wav(tmp_path / "cut.wav", burst[:end], SR)))
    assert code == 0, output
    assert_burst_found(lines)


def test_quiet_street_gives_no_events(tmp_path: Path) -> None:
    code, lines, output = analyse(str(write_wav(tmp_path / "street.wav", scene([], seed=32), SR)))
    assert code == 0, output
    assert lines == []


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("noise.wav", b"RIFX0000WAVEjunk", "not a RIFF/WAVE file"),
        ("notes.txt", b"hello", "unknown kind of recording '.txt'"),
    ],
)
def test_bad_recordings_are_refused_with_what_was_expected(
    tmp_path: Path, name: str, content: bytes, expected: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    code, lines, output = analyse(str(path))
    assert code != 0 and lines == []
    assert expected in output


def test_a_missing_file_and_an_unknown_profile_are_named(tmp_path: Path) -> None:
    code, _, output = analyse(str(tmp_path / "gone.wav"))
    assert code != 0 and "gone.wav: no such file" in output
    path = write_wav(tmp_path / "x.wav", np.zeros(SR, np.float32), SR)
    code, _, output = analyse(str(path), "--profile", "toaster")
    assert code != 0 and "no firmware profile named 'toaster'" in output
