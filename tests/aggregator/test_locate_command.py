"""`impetus aggregator locate FILE.json`: an analyst re-solves a shot from positions and arrival times."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from six_microphones import MICROPHONES

from impetus.cli import main

SHOOTER = (40.0, 25.0)
EMITTED_S = 12.0
TEMPERATURE_C = 15.0
SPEED = 331.3 * math.sqrt(1.0 + TEMPERATURE_C / 273.15)


def sensors(echo_on: str | None = None, echo_delay_s: float = 0.060) -> list[dict[str, float | str]]:
    out = []
    for name, (x, y) in MICROPHONES.items():
        t = EMITTED_S + math.dist((x, y), SHOOTER) / SPEED
        out.append({"id": name, "x": x, "y": y, "t": t + (echo_delay_s if name == echo_on else 0.0)})
    return out


def locate(tmp_path: Path, body: object | str) -> tuple[int, str]:
    path = tmp_path / "shot.json"
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    result = CliRunner().invoke(main, ["aggregator", "locate", str(path)])
    return result.exit_code, result.output


def test_six_clean_arrivals_put_the_shooter_where_he_stood(tmp_path: Path) -> None:
    code, output = locate(tmp_path, {"sensors": sensors(), "temperature_c": TEMPERATURE_C})
    assert code == 0, output
    answer = json.loads(output)
    assert math.dist((answer["x"], answer["y"]), SHOOTER) < 0.5
    assert 0.0 < answer["radius_90_m"] < 10.0
    assert sorted(answer["used"]) == sorted(MICROPHONES) and answer["rejected"] == []


def test_a_microphone_that_heard_an_echo_is_rejected_and_named(tmp_path: Path) -> None:
    code, output = locate(tmp_path, {"sensors": sensors(echo_on="mic-ne"), "temperature_c": TEMPERATURE_C})
    assert code == 0, output
    answer = json.loads(output)
    assert answer["rejected"] == ["mic-ne"] and "mic-ne" not in answer["used"]
    assert math.dist((answer["x"], answer["y"]), SHOOTER) < 1.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"sensors": sensors()[:2], "temperature_c": 15}, "cannot localise"),
        ({"sensors": [{"id": "a", "x": 0.0, "y": 0.0}]}, "sensors.0.t"),
        ('{"sensors": [', "not JSON"),
    ],
)
def test_too_few_sensors_or_a_bad_file_is_an_error_not_a_guess(
    tmp_path: Path, body: object, expected: str
) -> None:
    code, output = locate(tmp_path, body)
    assert code != 0
    assert expected in output and "shot.json" in output
