"""`impetus edge bundle`: the files a technician drops on a freshly flashed SD card's boot
partition so the board provisions itself on first boot, without keyboard or screen.

cloud-init (Raspberry Pi OS Bookworm and Ubuntu read `user-data`, `network-config` and
`meta-data` from the boot partition) installs the package into /opt/impetus, runs
`impetus edge provision` with the token, deletes the token and starts the service.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from impetus.edge_agent.config import load_profile
from impetus.protocol.topics import check_name


@dataclass(frozen=True)
class Wifi:
    ssid: str
    password: str
    country: str = "IT"


def _quote(value: str) -> str:
    """A YAML/shell-safe double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(value)


def user_data(
    *,
    profile: str,
    site: str,
    token: str,
    device_id: str,
    aggregator_url: str | None,
    package: str,
) -> str:
    provision = [
        "/opt/impetus/bin/impetus",
        "edge",
        "provision",
        "--profile",
        profile,
        "--site",
        site,
        "--device-id",
        device_id,
        "--token-file",
        "/etc/impetus/enrol.token",
    ]
    if aggregator_url:
        provision += ["--aggregator", aggregator_url]
    command = " ".join(_quote(part) for part in provision)
    return f"""#cloud-config
# Written by `impetus edge bundle`: provisions this board on first boot.
hostname: {device_id}
package_update: true
packages:
  - python3-venv
  - python3-pip
  - chrony
write_files:
  - path: /etc/impetus/enrol.token
    permissions: "0600"
    content: {_quote(token)}
runcmd:
  - [python3, -m, venv, /opt/impetus]
  - [/opt/impetus/bin/pip, install, {_quote(package)}]
  - [sh, -c, {_quote(command + " && shred -u /etc/impetus/enrol.token")}]
  - [systemctl, enable, --now, impetus-edge.service]
"""


def network_config(wifi: Wifi | None) -> str:
    text = """version: 2
ethernets:
  eth0:
    dhcp4: true
    optional: true
"""
    if wifi is not None:
        text += f"""wifis:
  wlan0:
    dhcp4: true
    optional: true
    regulatory-domain: {_quote(wifi.country)}
    access-points:
      {_quote(wifi.ssid)}:
        password: {_quote(wifi.password)}
"""
    return text


def write_bundle(
    out: Path,
    *,
    profile: str,
    site: str,
    token: str,
    device_id: str,
    aggregator_url: str | None = None,
    package: str = "impetus",
    wifi: Wifi | None = None,
) -> list[Path]:
    """user-data, network-config and meta-data in `out`; the profile and names are checked first."""
    load_profile(profile, require_detectors=False)
    check_name("site", site)
    check_name("device_id", device_id)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "user-data": user_data(
            profile=profile,
            site=site,
            token=token,
            device_id=device_id,
            aggregator_url=aggregator_url,
            package=package,
        ),
        "network-config": network_config(wifi),
        "meta-data": (
            f"instance-id: impetus-{device_id}-{secrets.token_hex(4)}\nlocal-hostname: {device_id}\n"
        ),
    }
    written = []
    for name, text in files.items():
        path = out / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        written.append(path)
    return written
