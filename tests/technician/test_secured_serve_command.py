"""The commands an installer types, as processes: broker-config, mosquitto, `serve` with the link
secured (advertising itself with zeroconf on loopback), a token, `impetus edge provision` with no
address (it discovers the aggregator), `impetus edge doctor`."""

from __future__ import annotations

import io
import os
import secrets
import signal
import subprocess
import sys
import time
import wave
from pathlib import Path

import pytest

from impetus.aggregator.mosquitto import MosquittoProcess, free_port

IMPETUS = [sys.executable, "-m", "impetus.cli"]


def impetus(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*IMPETUS, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_an_installer_secures_a_site_and_provisions_a_discovered_device_from_the_shell(
    tmp_path: Path,
) -> None:
    registry, broker_dir = str(tmp_path / "registry.db"), tmp_path / "broker"
    site = f"lab-{secrets.token_hex(3)}"  # another test run advertising at once cannot be taken
    plan = tmp_path / "site.toml"
    plan.write_text(f'site = "{site}"\nname = "Lab"\nwidth_m = 40.0\ndepth_m = 30.0\n', encoding="utf-8")
    tls_port, local_port = free_port(), free_port()
    written = impetus(
        "aggregator", "broker-config", str(broker_dir), "--site", site, "--server-name", "127.0.0.1",
        "--tls-port", str(tls_port), "--local-port", str(local_port), "--user", "root",
        "--registry", registry,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    broker = MosquittoProcess(workdir=broker_dir, port=local_port, config_file=broker_dir / "mosquitto.conf")
    broker.start()
    serve = subprocess.Popen(
        [
            *IMPETUS, "aggregator", "serve", "--broker", f"mqtt://127.0.0.1:{local_port}",
            "--db", str(tmp_path / "events.db"), "--listen", "127.0.0.1:0", "--registry", registry,
            "--require-signatures", "--broker-secret", str(broker_dir / "aggregator.secret"),
            "--ca-cert", str(broker_dir / "ca.crt"), "--device-broker", f"mqtts://127.0.0.1:{tls_port}",
            "--broker-dir", str(broker_dir), "--log-level", "warning", "--site-plan", str(plan),
            "--advertise-interface", "127.0.0.1",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        api_url = None
        deadline = time.monotonic() + 60
        while api_url is None and time.monotonic() < deadline:
            line = serve.stdout.readline() if serve.stdout else ""
            if line.startswith("api: "):
                api_url = line.split(" ", 1)[1].strip()
            elif not line and serve.poll() is not None:
                break
        assert api_url, serve.stderr.read() if serve.stderr else "serve printed no api line"
        token = impetus("aggregator", "token", "--site", site, "--expires", "5m", "--registry", registry)
        assert token.returncode == 0, token.stderr
        sources = tmp_path / "sources.toml"
        (tmp_path / "quiet.wav").write_bytes(_wav())
        sources.write_text('[[sources]]\ntype = "wav_file"\npath = "quiet.wav"\n', encoding="utf-8")
        root = tmp_path / "root"
        provisioned = impetus(
            "edge", "provision", "--profile", "generic-linux", "--site", site,
            "--token", token.stdout.strip(), "--discover-interface", "127.0.0.1", "--device-id", "pole-1",
            "--sources", str(sources), "--root", str(root),
        )  # fmt: skip
        assert provisioned.returncode == 0, provisioned.stdout + provisioned.stderr
        assert f"discovered aggregator {api_url}, broker mqtts://127.0.0.1:{tls_port}" in provisioned.stdout
        assert f"enrolled {site}/pole-1" in provisioned.stdout
        assert "PASS  broker mqtts://127.0.0.1" in provisioned.stdout
        doctor = impetus("edge", "doctor", "--config", str(root / "etc/impetus/device.toml"))
        assert doctor.returncode == 0, doctor.stdout + doctor.stderr
        revoked = impetus(
            "aggregator", "revoke", "pole-1", "--registry", registry, "--broker-dir", str(broker_dir)
        )
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(0.5)
        after = impetus("edge", "doctor", "--config", str(root / "etc/impetus/device.toml"))
        assert after.returncode == 1 and "refused the connection" in after.stdout, after.stdout
    finally:
        os.kill(serve.pid, signal.SIGTERM)
        serve.wait(20)
        broker.stop()


def _wav() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x10\x00\xf0\xff" * 8000)
    return buffer.getvalue()
