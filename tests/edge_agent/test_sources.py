"""File sources: WAV blocks with sample-accurate timing, video files and image folders."""

from __future__ import annotations

import struct
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest

from impetus.edge_agent.sources.base import AudioBlock, VideoFrame
from impetus.edge_agent.sources.file_video import FileVideoConfig, FileVideoSource
from impetus.edge_agent.sources.wav_file import WavFileConfig, WavFileSource, WavFormatError

START = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


def write_pcm16(path: Path, samples: np.ndarray, rate: int, channels: int = 1) -> Path:
    interleaved = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes((np.clip(interleaved, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def write_float32(path: Path, samples: np.ndarray, rate: int) -> Path:
    data = samples.astype("<f4").tobytes()
    fmt = struct.pack("<HHIIHH", 3, 1, rate, rate * 4, 4, 32)
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def read_all(source: WavFileSource | FileVideoSource) -> list:  # type: ignore[type-arg]
    with source:
        return list(iter(source.read, None))


def test_wav_blocks_are_contiguous_and_timed_to_the_sample(tmp_path: Path) -> None:
    signal = np.zeros(16000, np.float32)
    signal[12345] = 0.9
    path = write_pcm16(tmp_path / "click.wav", signal, 16000)
    blocks: list[AudioBlock] = read_all(WavFileSource(WavFileConfig(path=path, block_ms=100, start=START)))
    assert [b.first_sample for b in blocks] == list(range(0, 16000, 1600))
    assert all(b.samples.dtype == np.float32 and b.samples.size == 1600 for b in blocks)
    assert all(b.ts == START + timedelta(seconds=b.first_sample / 16000) for b in blocks)
    block = blocks[12345 // 1600]
    assert block.first_sample + int(np.argmax(block.samples)) == 12345
    assert block.samples.max() == pytest.approx(0.9, abs=1e-3)


def test_a_stereo_48k_file_is_resampled_to_mono_16k_keeping_time(tmp_path: Path) -> None:
    rate = 48000
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    tone[36000:36003] = 0.95  # a click at 0.75 s
    path = write_pcm16(tmp_path / "tone.wav", tone.astype(np.float32), rate, channels=2)
    blocks: list[AudioBlock] = read_all(
        WavFileSource(WavFileConfig(path=path, sample_rate=16000, block_ms=250))
    )
    audio = np.concatenate([b.samples for b in blocks])
    assert audio.size == 16000 and blocks[0].sample_rate == 16000
    spectrum = np.abs(np.fft.rfft(audio[:8000]))
    assert np.argmax(spectrum) * 16000 / 8000 == pytest.approx(1000, abs=2)
    assert abs(int(np.argmax(audio[11000:13000])) + 11000 - 12000) <= 1


def test_float_wav_files_are_read(tmp_path: Path) -> None:
    ramp = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    blocks: list[AudioBlock] = read_all(
        WavFileSource(WavFileConfig(path=write_float32(tmp_path / "f.wav", ramp, 8000), sample_rate=8000))
    )
    np.testing.assert_allclose(np.concatenate([b.samples for b in blocks]), ramp, atol=1e-6)


def test_a_file_that_is_not_a_wav_is_refused_with_what_was_found(tmp_path: Path) -> None:
    (tmp_path / "x.wav").write_bytes(b"ID3 not a wave file")
    with pytest.raises(WavFormatError, match="not a RIFF/WAVE file"):
        read_all(WavFileSource(WavFileConfig(path=tmp_path / "x.wav")))


def test_a_video_file_read_at_a_lower_fps_delivers_frames_by_media_time(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    for i in range(30):
        writer.write(np.full((48, 64, 3), i * 8, np.uint8))
    writer.release()
    frames: list[VideoFrame] = read_all(FileVideoSource(FileVideoConfig(path=path, fps=10, start=START)))
    assert [f.index for f in frames] == list(range(10))
    assert [f.ts for f in frames] == [START + timedelta(seconds=i / 10) for i in range(10)]
    assert [round(float(f.image.mean()) / 8) for f in frames] == list(range(0, 30, 3))


def test_an_image_folder_loops_with_continuing_indices(tmp_path: Path) -> None:
    folder = tmp_path / "frames"
    folder.mkdir()
    for i, value in enumerate((20, 120, 220)):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((8, 8, 3), value, np.uint8))
    source = FileVideoSource(FileVideoConfig(path=folder, loop=True, fps=4, start=START))
    with source:
        frames = [source.read() for _ in range(7)]
    assert [f.index for f in frames if f] == list(range(7))
    assert [int(f.image.mean()) for f in frames if f] == [20, 120, 220, 20, 120, 220, 20]
    assert frames[6] is not None and frames[6].ts == START + timedelta(seconds=1.5)
