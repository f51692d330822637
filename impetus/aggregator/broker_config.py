"""mosquitto configuration from the device registry: password file, ACL, TLS listener.

Each enrolled device may publish only its own events, status and health and read only its own
config and cmd topics; the aggregator's account reads everything and writes config/cmd. Revoked
devices are left out, so after `kill -HUP` of mosquitto (it rereads both files) they are refused.

    files = write_broker_config(registry, Path("/etc/impetus/broker"), server_names=["soc.local"])
"""

from __future__ import annotations

import os
import pwd
import signal
from dataclasses import dataclass
from pathlib import Path

from impetus.aggregator.device_registry import AGGREGATOR_USER, DeviceRegistry
from impetus.aggregator.site_pki import SiteCA
from impetus.protocol.topics import ROOT

PASSWORD_FILE = "passwd"
ACL_FILE = "acl"
CONF_FILE = "mosquitto.conf"
PID_FILE = "mosquitto.pid"
AGGREGATOR_SECRET = "aggregator.secret"
MAX_QUEUED = 1_000_000


@dataclass(frozen=True)
class BrokerFiles:
    directory: Path
    conf: Path
    password_file: Path
    acl_file: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    aggregator_secret: Path
    tls_port: int
    local_port: int


def acl_text(registry: DeviceRegistry) -> str:
    lines = [
        f"user {AGGREGATOR_USER}",
        f"topic read {ROOT}/#",
        f"topic write {ROOT}/+/+/config",
        f"topic write {ROOT}/+/+/cmd",
        "",
    ]
    for device in registry.devices():
        if not device.active:
            continue
        prefix = f"{ROOT}/{device.site}/{device.device_id}"
        lines += [
            f"user {device.device_id}",
            f"topic write {prefix}/events/#",
            f"topic write {prefix}/status",
            f"topic write {prefix}/health",
            f"topic write {prefix}/snapshot",
            f"topic read {prefix}/config",
            f"topic read {prefix}/cmd",
            "",
        ]
    return "\n".join(lines)


def password_text(registry: DeviceRegistry) -> str:
    lines = [f"{AGGREGATOR_USER}:{registry.service_password_hash()}"]
    lines += [f"{d.device_id}:{d.password_hash}" for d in registry.devices() if d.active]
    return "\n".join(lines) + "\n"


def conf_text(files: BrokerFiles, tls_host: str, local_host: str, run_as: str) -> str:
    return "\n".join(
        [
            "# Written by `impetus aggregator broker-config`; rerun it after enrolment or revocation,",
            "# then `kill -HUP` mosquitto to reread the password and ACL files.",
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {files.password_file}",
            f"acl_file {files.acl_file}",
            "persistence false",
            f"max_queued_messages {MAX_QUEUED}",
            "max_inflight_messages 100",
            f"user {run_as}",
            f"pid_file {files.directory / PID_FILE}",
            f"log_dest file {files.directory / 'mosquitto.log'}",
            "",
            "# The aggregator on this host (still password-authenticated).",
            f"listener {files.local_port} {local_host}",
            "",
            "# Devices: TLS only, server certificate from the site CA.",
            f"listener {files.tls_port} {tls_host}",
            f"cafile {files.ca_cert}",
            f"certfile {files.server_cert}",
            f"keyfile {files.server_key}",
            "tls_version tlsv1.2",
            "",
        ]
    )


def _give_to(path: Path, user: str) -> None:
    """Readable by the account mosquitto drops to (it refuses to start otherwise)."""
    if os.geteuid() != 0 or user == "root":
        return
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _write(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(path, mode)


def write_broker_config(
    registry: DeviceRegistry,
    directory: Path,
    *,
    site: str,
    server_names: list[str],
    pki_dir: Path | None = None,
    tls_port: int = 8883,
    local_port: int = 1883,
    tls_host: str = "0.0.0.0",
    local_host: str = "127.0.0.1",
    run_as: str = "mosquitto",
) -> BrokerFiles:
    """Write everything mosquitto needs into `directory`; the CA is created once and kept."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    ca = SiteCA.load_or_create((pki_dir or directory / "ca").resolve(), site)
    server_cert, server_key = ca.issue_server_certificate(server_names, directory)
    ca_copy = directory / "ca.crt"
    ca_copy.write_text(ca.cert_pem(), encoding="ascii")
    files = BrokerFiles(
        directory=directory,
        conf=directory / CONF_FILE,
        password_file=directory / PASSWORD_FILE,
        acl_file=directory / ACL_FILE,
        ca_cert=ca_copy,
        server_cert=server_cert,
        server_key=server_key,
        aggregator_secret=directory / AGGREGATOR_SECRET,
        tls_port=tls_port,
        local_port=local_port,
    )
    if not files.aggregator_secret.exists() or registry.service_password_hash() is None:
        password = registry.reset_service_password()
        _write(files.aggregator_secret, f"{AGGREGATOR_USER}:{password}\n", 0o600)
    _write(files.password_file, password_text(registry), 0o640)
    _write(files.acl_file, acl_text(registry), 0o640)
    _write(files.conf, conf_text(files, tls_host, local_host, run_as), 0o644)
    for path in (files.password_file, files.acl_file, files.server_key):
        _give_to(path, run_as)
    return files


def refresh_access(registry: DeviceRegistry, directory: Path) -> bool:
    """Rewrite the password and ACL files from the registry and HUP the running mosquitto (found
    by the pid file its config names), so an enrolment or revocation takes effect at once.
    Returns whether a broker was signalled."""
    directory = directory.resolve()
    conf = directory / CONF_FILE
    if not conf.is_file():
        raise FileNotFoundError(f"{conf}: no broker config here; run `impetus aggregator broker-config`")
    run_as = next(
        (
            line.split()[1]
            for line in conf.read_text(encoding="utf-8").splitlines()
            if line.startswith("user ")
        ),
        "mosquitto",
    )
    for name, text in ((PASSWORD_FILE, password_text(registry)), (ACL_FILE, acl_text(registry))):
        _write(directory / name, text, 0o640)
        _give_to(directory / name, run_as)
    try:
        pid = int((directory / PID_FILE).read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        return False
    return True


def read_secret(path: Path) -> tuple[str, str]:
    """`username:password` from the aggregator's secret file."""
    username, sep, password = path.read_text(encoding="utf-8").strip().partition(":")
    if not sep or not username or not password:
        raise ValueError(f"{path}: expected one line USERNAME:PASSWORD")
    return username, password
