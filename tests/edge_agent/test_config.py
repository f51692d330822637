"""Config files as a technician writes them: mistakes are named by file, key and expectation."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from edge_fixtures import DarkConfig, write_frames

from impetus.configfile import ConfigError
from impetus.edge_agent.config import PROFILES_DIR, known_profiles, load_agent_config, load_profile

REPO = Path(__file__).resolve().parents[2]
PROFILE = """
name = "bench"
board = "test bench"
execution_providers = ["CPUExecutionProvider"]
health_interval_s = 5

[outbox]
max_rows = 500

[detectors.dark]
max_fps = 3
max_mean = 30
"""
PLAN = """
site = "test-site"
name = "Test square"
width_m = 40
depth_m = 30

[[zones]]
name = "north"
polygon = [{x_m = 0, y_m = 15}, {x_m = 40, y_m = 15}, {x_m = 40, y_m = 30}, {x_m = 0, y_m = 30}]

[[devices]]
device_id = "pole-1"
sensors = ["camera"]
position = {x_m = 5, y_m = 25}
zone = "north"
"""


def device_file(tmp_path: Path, extra: str = "", head: str = "") -> Path:
    write_frames(tmp_path / "frames", 2)
    (tmp_path / "bench.toml").write_text(PROFILE)
    (tmp_path / "plan.toml").write_text(PLAN)
    path = tmp_path / "device.toml"
    path.write_text(
        f'device_id = "pole-1"\nsite = "test-site"\nprofile = "bench.toml"\nsite_plan = "plan.toml"\n{head}'
        '[[sources]]\ntype = "file_video"\npath = "frames"\n' + extra
    )
    return path


def test_a_device_file_resolves_profile_plan_sources_and_overrides(tmp_path: Path) -> None:
    config = load_agent_config(device_file(tmp_path, extra="[detectors.dark]\nmax_mean = 50\n"))
    assert config.profile.name == "bench"
    assert config.zone == "north", "the zone comes from the device's placement on the site plan"
    assert config.placement is not None and config.placement.position.x_m == 5
    assert config.outbox_path == tmp_path / "outbox.sqlite"
    assert config.sources[0].path == tmp_path / "frames"  # type: ignore[attr-defined]
    dark = config.detectors["dark"]
    assert dark.config == DarkConfig(max_mean=50.0), "the device file's key wins over the profile's"
    assert dark.max_fps == 3.0, "budgets the device file does not touch stay as the profile says"
    assert config.profile.settings.outbox.max_rows == 500
    assert config.policy.policy_id == "counting-only"


@pytest.mark.parametrize(
    ("line", "key", "expected"),
    [
        ('devise_id = "x"\n', "devise_id", "unknown key"),
        ("zone = 7\n", "zone", "expected a valid string"),
        ('broker = "http://x"\n', "broker", "mqtt://HOST:PORT"),
    ],
)
def test_device_file_mistakes_name_file_key_and_expectation(
    tmp_path: Path, line: str, key: str, expected: str
) -> None:
    path = device_file(tmp_path, head=line)
    with pytest.raises(ConfigError) as caught:
        load_agent_config(path)
    message = str(caught.value)
    assert str(path) in message and key in message and expected in message


def test_a_wrong_source_key_is_named_with_its_position(tmp_path: Path) -> None:
    path = device_file(tmp_path, extra='[[sources]]\ntype = "file_video"\npath = "frames"\nfsp = 5\n')
    with pytest.raises(ConfigError, match=r"device.toml: sources\.1\.fsp: unknown key"):
        load_agent_config(path)


@pytest.mark.parametrize(
    ("change", "key", "expected"),
    [
        (("health_interval_s = 5", "helth_interval_s = 5"), "helth_interval_s", "unknown key"),
        (("max_rows = 500", 'max_rows = "lots"'), "outbox.max_rows", "expected a valid integer"),
        (("max_mean = 30", 'max_mean = "dark"'), "detectors.dark.max_mean", "expected a valid number"),
        (("max_mean = 30", "max_maen = 30"), "detectors.dark.max_maen", "unknown key"),
        (("max_fps = 3", "max_fps = -1"), "detectors.dark.max_fps", "frames per second > 0"),
    ],
)
def test_profile_mistakes_name_file_key_and_expectation(
    tmp_path: Path, change: tuple[str, str], key: str, expected: str
) -> None:
    path = device_file(tmp_path)
    (tmp_path / "bench.toml").write_text(PROFILE.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_agent_config(path)
    message = str(caught.value)
    assert str(tmp_path / "bench.toml") in message and key in message and expected in message


def test_a_profile_naming_a_missing_detector_lists_the_installed_ones(tmp_path: Path) -> None:
    (tmp_path / "bench.toml").write_text(PROFILE + "\n[detectors.telepathy]\n")
    with pytest.raises(ConfigError) as caught:
        load_profile(tmp_path / "bench.toml")
    message = str(caught.value)
    assert "detectors.telepathy: detector 'telepathy' is not installed" in message
    assert "dark" in message.split("known:")[1]


def test_an_unknown_profile_name_lists_the_shipped_ones(tmp_path: Path) -> None:
    path = device_file(tmp_path)
    path.write_text(path.read_text().replace('profile = "bench.toml"', 'profile = "rpi6"'))
    with pytest.raises(ConfigError, match=r"no firmware profile named 'rpi6'; known: .*rpi5"):
        load_agent_config(path)


def test_a_device_missing_from_the_site_plan_is_refused(tmp_path: Path) -> None:
    path = device_file(tmp_path)
    path.write_text(path.read_text().replace('device_id = "pole-1"', 'device_id = "pole-7"'))
    with pytest.raises(
        ConfigError, match=r"device_id: expected a device of the site plan .*pole-1.*'pole-7'"
    ):
        load_agent_config(path)


def test_the_shipped_profiles_cover_every_board() -> None:
    assert known_profiles() == sorted(
        ["generic-linux", "rpi4", "rpi5", "rpi-zero-2w", "jetson-nano", "jetson-orin-nano"]
    )


@pytest.mark.parametrize("name", sorted(p.stem for p in PROFILES_DIR.glob("*.toml")))
def test_every_shipped_profile_loads_with_the_installed_detectors(name: str) -> None:
    profile = load_profile(name)
    assert profile.detectors, f"profile {name} runs no detector"
    if name.startswith("jetson"):
        assert profile.settings.execution_providers == [
            "TensorrtExecutionProvider",
            "CUDAExecutionProvider",
            "CPUExecutionProvider",
        ]
    if name == "rpi-zero-2w":
        assert set(profile.detectors) == {"gunshot"}, "the Zero 2 W is an acoustic node only"


def test_edge_run_with_a_bad_config_prints_the_problem_without_a_traceback(tmp_path: Path) -> None:
    path = device_file(tmp_path, head="zone = 7\n")
    done = subprocess.run(
        [sys.executable, "-c", "from impetus.cli import main; main()", "edge", "run", "--config", str(path)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"{path}: zone: expected a valid string (got 7)" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_device_file_template_loads() -> None:
    config = load_agent_config(PROFILES_DIR / "templates" / "device.toml")
    assert (config.device_id, config.site, config.profile.name) == ("pole-1", "piazza", "rpi5")
    assert config.detectors["objects"].max_fps == 2
    assert config.detectors["tamper"].config.enabled is False
