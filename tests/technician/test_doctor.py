"""`impetus edge doctor`: a failed check makes the exit code non-zero and says what is wrong."""

from __future__ import annotations

import wave
from pathlib import Path

from click.testing import CliRunner

from impetus.aggregator.mosquitto import MosquittoProcess, free_port
from impetus.edge_agent.cli import edge_cli


def device_file(tmp_path: Path, broker: str, source: str) -> Path:
    path = tmp_path / "device.toml"
    path.write_text(
        f'device_id = "pole-1"\nsite = "piazza"\nprofile = "rpi-zero-2w"\nbroker = "{broker}"\n'
        f'outbox = "outbox.sqlite"\n\n[[sources]]\ntype = "wav_file"\npath = "{source}"\n',
        encoding="utf-8",
    )
    return path


def test_an_unreachable_broker_and_a_missing_microphone_fail_the_sheet(tmp_path: Path) -> None:
    config = device_file(tmp_path, f"mqtt://127.0.0.1:{free_port()}", "missing.wav")
    result = CliRunner().invoke(edge_cli, ["doctor", "--config", str(config)])
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("FAIL")]
    assert any("microphone" in line and "missing.wav" in line for line in failed), result.output
    assert any("broker" in line and "cannot reach" in line for line in failed), result.output
    assert "2 failed" in result.output


def test_a_healthy_device_passes_with_exit_code_zero(tmp_path: Path, mosquitto: MosquittoProcess) -> None:
    with wave.open(str(tmp_path / "quiet.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x10\x00\xf0\xff" * 8000)
    config = device_file(tmp_path, mosquitto.url, "quiet.wav")
    result = CliRunner().invoke(edge_cli, ["doctor", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "PASS  detector gunshot" in result.output
    assert "0 failed" in result.output


def test_a_broken_device_file_is_one_failed_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "device.toml"
    config.write_text('device_id = "pole-1"\nsite = "piazza"\nbroker = "http://x"\n', encoding="utf-8")
    result = CliRunner().invoke(edge_cli, ["doctor", "--config", str(config)])
    assert result.exit_code == 1 and "broker" in result.output
