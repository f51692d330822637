"""Firmware profiles are validated key by key; `impetus edge profiles` lists them; `impetus edge
bundle` writes cloud-init files for the SD card."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from impetus.configfile import ConfigError
from impetus.edge_agent.cli import edge_cli
from impetus.edge_agent.config import known_profiles, load_profile, resolve_source
from impetus.edge_agent.provision import profile_sources

SHIPPED = {"rpi4", "rpi5", "rpi-zero-2w", "jetson-nano", "jetson-orin-nano", "generic-linux"}


def write_profile(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "board.toml"
    path.write_text('name = "board"\nboard = "Test board"\n' + body, encoding="utf-8")
    return path


def test_every_shipped_profile_loads_and_declares_its_peripherals() -> None:
    assert set(known_profiles()) >= SHIPPED
    for name in SHIPPED:
        settings = load_profile(name).settings
        assert settings.microphone is not None, name
        assert (settings.camera is None) == (name == "rpi-zero-2w"), name
    assert load_profile("rpi5").settings.gpio.tamper_switch == 27
    assert load_profile("jetson-orin-nano").settings.execution_providers[0] == "TensorrtExecutionProvider"


def test_a_pin_number_written_as_text_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = write_profile(tmp_path, '[gpio]\nstatus_led = "17"\n')
    with pytest.raises(ConfigError) as error:
        load_profile(path)
    assert "gpio.status_led" in str(error.value) and str(path) in str(error.value)


def test_a_pin_used_twice_or_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="siren"):
        load_profile(write_profile(tmp_path, "[gpio]\nstatus_led = 17\nsiren = 17\n"))
    with pytest.raises(ConfigError, match=r"gpio\.tamper_switch"):
        load_profile(write_profile(tmp_path, "[gpio]\ntamper_switch = 99\n"))


def test_an_unknown_detector_or_key_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"detectors\.teleport"):
        load_profile(write_profile(tmp_path, "[detectors.teleport]\n"))
    with pytest.raises(ConfigError, match=r"camera\.resolution"):
        load_profile(write_profile(tmp_path, '[camera]\nresolution = "4k"\n'))


def test_profiles_command_summarises_each_board() -> None:
    result = CliRunner().invoke(edge_cli, ["profiles"])
    assert result.exit_code == 0, result.output
    for name in SHIPPED:
        assert name in result.output
    assert "gpio: status_led=17, tamper_switch=27" in result.output
    assert "camera: none; microphone: 16000 Hz" in result.output  # the audio-only Zero 2 W


def test_bundle_writes_cloud_init_that_provisions_on_first_boot(tmp_path: Path) -> None:
    out = tmp_path / "boot"
    result = CliRunner().invoke(
        edge_cli,
        [
            "bundle",
            "--profile",
            "rpi5",
            "--site",
            "piazza",
            "--token",
            "tok-123456789",
            "--device-id",
            "pole-3",
            "--aggregator",
            "http://10.0.0.5:8080",
            "--wifi-ssid",
            "city-iot",
            "--wifi-password",
            "s3cret",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    user_data = (out / "user-data").read_text()
    assert user_data.startswith("#cloud-config\n")
    config = yaml.safe_load(user_data)
    assert config["hostname"] == "pole-3"
    assert config["write_files"][0] == {
        "path": "/etc/impetus/enrol.token",
        "permissions": "0600",
        "content": "tok-123456789",
    }
    commands = " ".join(" ".join(map(str, step)) for step in config["runcmd"])
    for part in ("edge", "provision", "--profile", "rpi5", "--token-file", "http://10.0.0.5:8080", "shred"):
        assert part in commands
    assert "enable --now impetus-edge.service" in commands
    network = yaml.safe_load((out / "network-config").read_text())
    assert network["wifis"]["wlan0"]["access-points"]["city-iot"]["password"] == "s3cret"
    assert "instance-id" in yaml.safe_load((out / "meta-data").read_text())


def test_bundle_refuses_an_unknown_profile(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        edge_cli,
        [
            "bundle",
            "--profile",
            "rpi9",
            "--site",
            "piazza",
            "--token",
            "t",
            "--device-id",
            "p",
            str(tmp_path),
        ],
    )
    assert result.exit_code != 0 and "no firmware profile named 'rpi9'" in result.output


def test_each_profiles_camera_and_microphone_become_sources_the_agent_accepts(tmp_path: Path) -> None:
    kinds = {}
    for name in SHIPPED:
        sources = profile_sources(load_profile(name))
        for index, table in enumerate(sources):
            resolve_source(tmp_path / "device.toml", index, table)  # raises ConfigError if invalid
        kinds[name] = [table["type"] for table in sources]
    assert kinds["rpi5"] == ["picamera", "microphone"]
    assert kinds["generic-linux"] == ["camera_opencv", "microphone"]
    assert kinds["rpi-zero-2w"] == ["microphone"]
    jetson = profile_sources(load_profile("jetson-orin-nano"))[0]
    assert jetson["backend"] == "gstreamer" and "nvarguscamerasrc" in jetson["device"]
