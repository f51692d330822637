"""Run a mosquitto broker for the aggregator: the external-broker mode on one machine, and the
broker the tests and benchmarks use. Generated config, loopback by default, big enough queues
(mosquitto's default of 1000 queued messages silently drops QoS 1 traffic to a slow subscriber).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class MosquittoError(RuntimeError):
    """mosquitto is missing or did not come up."""


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise MosquittoError(f"nothing listens on {host}:{port} after {timeout} s")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class MosquittoProcess:
    """A mosquitto child process that can be stopped and started again on the same port."""

    workdir: Path
    port: int = 0
    host: str = "127.0.0.1"
    max_queued_messages: int = 1_000_000
    # A generated config (impetus.aggregator.broker_config) instead of the open loopback one;
    # `port` must then be one of its listeners.
    config_file: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def config_text(self) -> str:
        return (
            f"listener {self.port} {self.host}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            f"max_queued_messages {self.max_queued_messages}\n"
            "max_inflight_messages 100\n"
            "user root\n"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n"
        )

    def start(self) -> None:
        binary = shutil.which("mosquitto")
        if binary is None:
            raise MosquittoError("mosquitto is not installed (Debian: apt-get install -y mosquitto)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.port == 0:
            self.port = free_port(self.host)
        conf = self.config_file or self.workdir / "mosquitto.conf"
        if self.config_file is None:
            conf.write_text(self.config_text(), encoding="utf-8")
        self.process = subprocess.Popen(
            [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_for_port(self.port, self.host)
        except MosquittoError:
            self.stop()
            log = self.workdir / "mosquitto.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
            raise MosquittoError(f"mosquitto did not start on port {self.port}:\n{tail}") from None

    def reload(self) -> None:
        """SIGHUP: mosquitto rereads its password and ACL files (after an enrolment or revocation)."""
        if self.process is None or self.process.poll() is not None:
            raise MosquittoError("mosquitto is not running")
        self.process.send_signal(signal.SIGHUP)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
