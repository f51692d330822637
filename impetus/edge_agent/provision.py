"""`impetus edge provision`: from a bare board to an enrolled, verified sensor in one command.

1. check the firmware profile; 2. find the aggregator (URL given, or zeroconf); 3. generate the
device's Ed25519 key (the private half never leaves the device); 4. spend the one-time token at
`POST /api/v1/enrol` for an MQTT account and the site CA; 5. write the device file, credentials
(0600), CA and key under `/etc/impetus`; 6. install `impetus-edge.service`; 7. run the doctor.

Everything is written under `root` (default `/`), so tests and SD-card preparation never touch
this machine's /etc.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from impetus.configfile import read_toml
from impetus.edge_agent.config import Profile, load_agent_config, load_profile
from impetus.edge_agent.credentials import generate_signing_key, public_key_b64, write_private
from impetus.edge_agent.doctor import Check, run_doctor
from impetus.protocol.topics import TopicError, check_name

CONFIG_DIR = Path("etc/impetus")
UNIT_PATH = Path("etc/systemd/system/impetus-edge.service")
STATE_DIR = Path("var/lib/impetus")
TARGET_CONFIG = Path("/etc/impetus/device.toml")
ENROL_TIMEOUT_S = 15.0


class ProvisionError(RuntimeError):
    """Provisioning stopped; the message says at which step and what to do."""


@dataclass(frozen=True)
class Provisioned:
    device_id: str
    site: str
    device_file: Path
    unit_file: Path
    broker_url: str
    checks: list[Check]


def default_device_id() -> str:
    name = re.sub(r"[^a-z0-9_-]", "-", socket.gethostname().lower().split(".")[0]).strip("-_")
    return name or "impetus-device"


def profile_sources(profile: Profile) -> list[dict[str, Any]]:
    """The device's sources from the profile's camera and microphone sections."""
    sources: list[dict[str, Any]] = []
    camera, microphone = profile.settings.camera, profile.settings.microphone
    if camera is not None and camera.backend == "picamera2":
        sources.append(
            {
                "type": "picamera",
                "name": "camera",
                "width": camera.width,
                "height": camera.height,
                "fps": camera.fps,
            }
        )
    elif camera is not None and camera.backend == "jetson-csi":
        pipeline = (
            f"nvarguscamerasrc ! video/x-raw(memory:NVMM),width={camera.width},height={camera.height},"
            f"framerate={round(camera.fps)}/1 ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! "
            "video/x-raw,format=BGR ! appsink drop=true max-buffers=1"
        )
        sources.append(
            {"type": "camera_opencv", "name": "camera", "device": pipeline, "backend": "gstreamer"}
        )
    elif camera is not None and camera.backend == "v4l2":
        sources.append(
            {
                "type": "camera_opencv",
                "name": "camera",
                "device": camera.device,
                "backend": "v4l2",
                "width": camera.width,
                "height": camera.height,
                "fps": camera.fps,
            }
        )
    if microphone is not None:
        table: dict[str, Any] = {
            "type": "microphone",
            "name": "microphone",
            "sample_rate": microphone.sample_rate,
        }
        if microphone.device is not None:
            table["device"] = microphone.device
        sources.append(table)
    return sources


def systemd_unit(target_config: Path = TARGET_CONFIG, python: str = sys.executable) -> str:
    """Restart on failure; no privileges, a read-only system, only its state folder writable."""
    return f"""[Unit]
Description=impetus edge agent (detection, privacy gate, outbox, publisher)
Wants=network-online.target time-sync.target
After=network-online.target time-sync.target

[Service]
Type=simple
ExecStart={python} -m impetus.cli edge run --config {target_config}
Restart=on-failure
RestartSec=5
DynamicUser=yes
SupplementaryGroups=video audio gpio
StateDirectory=impetus
ConfigurationDirectory=impetus
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK
RestrictNamespaces=yes
LockPersonality=yes
MemoryDenyWriteExecute=no
CapabilityBoundingSet=
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
"""


def enrol(aggregator_url: str, token: str, device_id: str, public_key: str, profile: str) -> dict[str, Any]:
    body = {"token": token, "device_id": device_id, "public_key": public_key, "profile": profile}
    return post_json(aggregator_url, "/api/v1/enrol", body, "enrolment")


def post_json(aggregator_url: str, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
    """POST to the aggregator; `ProvisionError` with its reason when it refuses or cannot be reached."""
    request = urllib.request.Request(
        aggregator_url.rstrip("/") + path,
        data=json.dumps(body).encode("utf-8"),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=ENROL_TIMEOUT_S) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("detail", "")
        except ValueError:
            detail = ""
        raise ProvisionError(f"the aggregator refused {what} ({error.code}): {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise ProvisionError(f"cannot reach the aggregator at {aggregator_url}: {error}") from None


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def _toml_table(data: dict[str, Any]) -> list[str]:
    return [f"{key} = {_toml_value(value)}" for key, value in data.items()]


def device_file_text(settings: dict[str, Any], sources: list[dict[str, Any]]) -> str:
    lines = [
        "# Written by `impetus edge provision`; `impetus edge doctor` checks it.",
        *_toml_table(settings),
    ]
    for source in sources:
        lines += ["", "[[sources]]", *_toml_table(source)]
    return "\n".join(lines) + "\n"


def _broker_for_device(
    identity: dict[str, Any], aggregator_url: str, broker_url: str | None, discovered: str | None
) -> str:
    """The technician's --broker, else the one enrolment names, else the advertised one."""
    if broker_url:
        return broker_url
    if identity.get("broker_url"):
        return str(identity["broker_url"])
    if discovered:
        return discovered
    host = urlsplit(aggregator_url).hostname or "127.0.0.1"
    return f"mqtts://{host}:8883"


def provision(
    *,
    profile: str,
    site: str,
    token: str,
    aggregator_url: str,
    root: Path = Path("/"),
    device_id: str | None = None,
    broker_url: str | None = None,
    discovered_broker_url: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    self_test: bool = True,
) -> Provisioned:
    loaded = load_profile(profile)
    try:
        site = check_name("site", site)
        device_id = check_name("device_id", device_id or default_device_id())
    except TopicError as error:
        raise ProvisionError(str(error)) from None
    device_sources = sources if sources is not None else profile_sources(loaded)
    if not device_sources:
        raise ProvisionError(f"profile {profile} declares no camera or microphone; pass --sources FILE")
    config_dir = root / CONFIG_DIR
    config_dir.mkdir(parents=True, exist_ok=True)
    key = generate_signing_key(config_dir / "signing.key")
    identity = enrol(aggregator_url, token, device_id, public_key_b64(key), loaded.name)
    if identity.get("site") != site:
        raise ProvisionError(f"the token was issued for site {identity.get('site')!r}, not {site!r}")
    broker = _broker_for_device(identity, aggregator_url, broker_url, discovered_broker_url)
    credentials = {"mqtt_username": identity["mqtt_username"], "mqtt_password": identity["mqtt_password"]}
    if identity.get("ca_cert"):
        (config_dir / "ca.crt").write_text(identity["ca_cert"], encoding="ascii")
        credentials["ca_cert"] = "ca.crt"
    credentials["signing_key"] = "signing.key"
    credentials["aggregator_url"] = aggregator_url
    write_private(config_dir / "credentials.toml", "\n".join(_toml_table(credentials)).encode() + b"\n")
    state_dir = root / STATE_DIR
    state_dir.mkdir(parents=True, exist_ok=True)
    device_file = config_dir / "device.toml"
    settings = {
        "device_id": device_id,
        "site": site,
        "profile": loaded.name,
        "broker": broker,
        "outbox": str(Path("/") / STATE_DIR / "outbox.sqlite")
        if root == Path("/")
        else str(state_dir / "outbox.sqlite"),
        "privacy_policy": "counting-only",
        "credentials": "credentials.toml",
    }
    device_file.write_text(device_file_text(settings, device_sources), encoding="utf-8")
    unit_file = root / UNIT_PATH
    unit_file.parent.mkdir(parents=True, exist_ok=True)
    unit_file.write_text(systemd_unit(), encoding="utf-8")
    if root == Path("/") and shutil.which("systemctl") and os.geteuid() == 0:
        subprocess.run(["systemctl", "daemon-reload"], check=False)
        subprocess.run(["systemctl", "enable", "impetus-edge.service"], check=False)
    checks = run_doctor(load_agent_config(device_file)) if self_test else []
    return Provisioned(device_id, site, device_file, unit_file, broker, checks)


def read_sources_file(path: Path) -> list[dict[str, Any]]:
    """`[[sources]]` tables from a TOML file (instead of the profile's camera and microphone)."""
    data = read_toml(path)
    tables = data.get("sources")
    if not isinstance(tables, list) or not tables:
        raise ProvisionError(f"{path}: expected one or more [[sources]] tables")
    resolved = []
    for table in tables:
        table = dict(table)
        if isinstance(table.get("path"), str) and not Path(table["path"]).is_absolute():
            table["path"] = str((path.parent / table["path"]).resolve())
        resolved.append(table)
    return resolved
