"""Provision -> enrol -> self-test on this machine with the generic-linux profile, against a real
aggregator and a real mosquitto running the generated TLS/password/ACL config."""

from __future__ import annotations

import stat
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from impetus.aggregator.cli import aggregator_cli
from impetus.aggregator.link_security import LinkSecurity
from impetus.aggregator.mosquitto import MosquittoProcess, free_port
from impetus.aggregator.service import AggregatorService
from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.cli import edge_cli
from impetus.edge_agent.config import load_agent_config
from impetus.edge_agent.doctor import broker_round_trip
from impetus.edge_agent.publisher import make_client
from impetus.edge_agent.test_event import build_test_event
from impetus.protocol import topic_for


@dataclass
class Soc:
    registry: Path
    broker_dir: Path
    service: AggregatorService
    tls_port: int

    def token(self, site: str = "piazza") -> str:
        result = CliRunner().invoke(
            aggregator_cli, ["token", "--site", site, "--expires", "10m", "--registry", str(self.registry)]
        )
        assert result.exit_code == 0, result.output
        return result.output.strip()


@pytest.fixture
def soc(tmp_path: Path) -> Iterator[Soc]:
    registry, broker_dir = tmp_path / "registry.db", tmp_path / "broker"
    tls_port, local_port = free_port(), free_port()
    written = CliRunner().invoke(
        aggregator_cli,
        [
            "broker-config",
            str(broker_dir),
            "--site",
            "piazza",
            "--server-name",
            "127.0.0.1",
            "--tls-port",
            str(tls_port),
            "--local-port",
            str(local_port),
            "--user",
            "root",
            "--registry",
            str(registry),
        ],
    )
    assert written.exit_code == 0, written.output
    broker = MosquittoProcess(workdir=broker_dir, port=local_port, config_file=broker_dir / "mosquitto.conf")
    broker.start()
    security = LinkSecurity(
        registry_path=registry,
        require_signatures=True,
        broker_secret=broker_dir / "aggregator.secret",
        ca_cert=broker_dir / "ca.crt",
        device_broker_url=f"mqtts://127.0.0.1:{tls_port}",
        broker_dir=broker_dir,
    )
    service = AggregatorService(
        f"mqtt://127.0.0.1:{local_port}", tmp_path / "events.db", "127.0.0.1:0", security=security
    )
    service.start()
    yield Soc(registry, broker_dir, service, tls_port)
    service.stop()
    broker.stop()


def sensor_recordings(folder: Path) -> Path:
    """A real WAV file and a folder of camera frames, and a sources file naming them."""
    folder.mkdir(parents=True)
    rate = 16_000
    noise = (np.random.default_rng(7).normal(0, 0.05, rate * 2) * 32767).astype(np.int16)
    with wave.open(str(folder / "street.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(noise.tobytes())
    frames = folder / "frames"
    frames.mkdir()
    for index in range(3):
        image = np.full((480, 640, 3), 90 + index, dtype=np.uint8)
        cv2.rectangle(image, (100, 200), (220, 420), (40, 40, 200), -1)
        cv2.imwrite(str(frames / f"{index:03d}.png"), image)
    sources = folder / "sources.toml"
    sources.write_text(
        '[[sources]]\ntype = "wav_file"\nname = "microphone"\npath = "street.wav"\n\n'
        '[[sources]]\ntype = "file_video"\nname = "camera"\npath = "frames"\n',
        encoding="utf-8",
    )
    return sources


def provision(soc: Soc, root: Path, sources: Path, token: str, device_id: str = "pole-7") -> tuple[int, str]:
    result = CliRunner().invoke(
        edge_cli,
        [
            "provision",
            "--profile",
            "generic-linux",
            "--site",
            "piazza",
            "--token",
            token,
            "--aggregator",
            soc.service.api_url,
            "--device-id",
            device_id,
            "--sources",
            str(sources),
            "--root",
            str(root),
        ],
    )
    return result.exit_code, result.output


def test_provision_enrols_writes_a_hardened_service_and_passes_its_self_test(
    soc: Soc, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    code, output = provision(soc, root, sensor_recordings(tmp_path / "media"), soc.token())
    assert code == 0, output
    assert "enrolled piazza/pole-7" in output
    for line in ("camera camera", "microphone microphone", "detector gunshot", "broker mqtts://127.0.0.1"):
        assert any(row.startswith("PASS") and line in row for row in output.splitlines()), (line, output)
    assert "0 failed" in output

    config_dir = root / "etc/impetus"
    for secret in ("credentials.toml", "signing.key"):
        assert stat.S_IMODE((config_dir / secret).stat().st_mode) == 0o600
    unit = (root / "etc/systemd/system/impetus-edge.service").read_text()
    for line in (
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "--config /etc/impetus/device.toml",
    ):
        assert line in unit
    assert soc.service.link is not None
    assert soc.service.link.guard.counters()["verified"] >= 1  # the self-test's signed test event

    agent = EdgeAgent(load_agent_config(config_dir / "device.toml"))
    agent.run(duration=3.0)
    counters = soc.service.link.guard.counters()
    assert counters["verified"] >= 2 and counters["bad_signature"] == 0 and counters["unknown_device"] == 0
    devices = {d["device_id"]: d for d in soc.service.store.devices()}
    assert "pole-7" in devices


def test_rotated_credentials_work_and_the_old_password_no_longer_does(soc: Soc, tmp_path: Path) -> None:
    root = tmp_path / "root"
    code, output = provision(soc, root, sensor_recordings(tmp_path / "media"), soc.token())
    assert code == 0, output
    device_file = root / "etc/impetus/device.toml"
    before = load_agent_config(device_file)
    rotated = CliRunner().invoke(edge_cli, ["rotate-credentials", "--config", str(device_file), "--new-key"])
    assert rotated.exit_code == 0, rotated.output
    assert "rotated the password and signing key of pole-7" in rotated.output
    after = load_agent_config(device_file)
    assert after.credentials is not None and before.credentials is not None
    assert after.credentials.password != before.credentials.password
    verified = soc.service.link.guard.counters()["verified"]  # type: ignore[union-attr]
    assert broker_round_trip(after).status == "pass"  # new password, new key, broker reloaded
    guard = soc.service.link.guard  # type: ignore[union-attr]
    deadline = time.monotonic() + 5
    while guard.counters()["verified"] == verified and time.monotonic() < deadline:
        time.sleep(0.02)
    assert guard.counters()["verified"] == verified + 1 and guard.counters()["bad_signature"] == 0
    old = broker_round_trip(before)
    assert old.status == "fail" and "refused" in old.detail


def test_a_test_event_from_the_device_file_is_signed_and_reaches_the_store_over_tls(
    soc: Soc, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    code, output = provision(soc, root, sensor_recordings(tmp_path / "media"), soc.token())
    assert code == 0, output
    device_file = str(root / "etc/impetus/device.toml")
    sent = CliRunner().invoke(edge_cli, ["test-event", "--config", device_file, "--type", "gunshot"])
    assert sent.exit_code == 0, sent.output
    event_id = sent.output.strip().splitlines()[-1]
    deadline = time.monotonic() + 10
    while soc.service.store.event(event_id) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    stored = soc.service.store.event(event_id)
    assert stored is not None and stored["test"] is True and stored["sig"]
    assert soc.service.link is not None and soc.service.link.guard.counters()["bad_signature"] == 0

    anonymous = CliRunner().invoke(
        edge_cli,
        [
            "test-event", "--broker", f"mqtts://127.0.0.1:{soc.tls_port}", "--site", "piazza",
            "--device-id", "pole-7", "--type", "gunshot", "--timeout", "3",
        ],
    )  # fmt: skip
    assert anonymous.exit_code != 0  # no site CA, no account: the secured broker is out of reach
    assert "certificate verify failed" in anonymous.output, anonymous.output


def test_a_used_or_expired_token_is_refused_with_a_clear_message(soc: Soc, tmp_path: Path) -> None:
    sources = sensor_recordings(tmp_path / "media")
    token = soc.token()
    code, output = provision(soc, tmp_path / "first", sources, token, device_id="pole-8")
    assert code == 0, output
    code, output = provision(soc, tmp_path / "second", sources, token, device_id="pole-9")
    assert code != 0
    assert "already used" in output and "impetus aggregator token --site piazza" in output
    code, output = provision(soc, tmp_path / "third", sources, "made-up-token-123", device_id="pole-9")
    assert code != 0 and "not known" in output


def test_forged_events_over_the_secured_link_become_a_cyber_alert_for_the_operator(
    soc: Soc, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    code, output = provision(soc, root, sensor_recordings(tmp_path / "media"), soc.token())
    assert code == 0, output
    config = load_agent_config(root / "etc/impetus/device.toml")
    assert config.credentials is not None and config.credentials.signer is not None
    client = make_client("intruder", config.broker, config.credentials)  # a stolen password, not the key
    client.connect(config.broker.host, config.broker.port)
    client.loop_start()
    try:
        for _ in range(6):
            forged = build_test_event("piazza", "pole-7", "gunshot").model_copy(update={"test": False})
            unsigned = forged.to_bytes()
            client.publish(topic_for("piazza", "pole-7", "gunshot"), unsigned, qos=1).wait_for_publish(5)
    finally:
        client.loop_stop()
        client.disconnect()
    assert soc.service.soc is not None
    alerts = soc.service.soc.alerts
    deadline = time.monotonic() + 10
    while alerts.page(alert_type="cyber")[1] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    items, total = alerts.page(alert_type="cyber")
    assert total == 1 and items[0]["device"] == "pole-7" and items[0]["severity"] == "severe"
    assert any("signature" in (entry["note"] or "") for entry in alerts.history(items[0]["id"]))
    assert soc.service.store.event_count() == 0  # nothing forged reached the event store
    findings_url = f"{soc.service.api_url}/api/v1/cyber/findings"
    assert httpx.get(findings_url).status_code == 401
    key = soc.service.bootstrap_admin_key
    body = httpx.get(findings_url, headers={"Authorization": f"Bearer {key}"}).json()
    assert body["items"][0]["kind"] == "signature_failures" and body["counters"]["bad_signature"] == 6
