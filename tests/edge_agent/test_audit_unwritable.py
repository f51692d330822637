"""Nothing leaves a device unaudited: when the audit log cannot be written (a full disk, simulated
by pointing its open segment at /dev/full, which fails every write with ENOSPC), the privacy gate
refuses every message instead of sending it without a record."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from edge_fixtures import Collector, of_type, write_frames

from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.config import load_agent_config
from impetus.edge_agent.detectors.base import Detection
from impetus.privacy.audit import verify_chain
from impetus.privacy.device_audit import audit_dir_for
from impetus.protocol.payloads import TamperPayload

PROFILE = 'name = "bench"\nboard = "test bench"\nhealth_interval_s = 60\n[detectors.dark]\n'


def enclosure_opened() -> Detection:
    payload = TamperPayload(kind="enclosure_opened", score=1.0, detail="enclosure switch opened")
    return Detection(type="tamper", payload=payload, ts=datetime.now(UTC))


def test_a_full_disk_under_the_audit_log_refuses_sending_rather_than_sending_unaudited(
    mosquitto, collector: Collector, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    write_frames(tmp_path / "frames", 2, value=200)
    (tmp_path / "bench.toml").write_text(PROFILE)
    (tmp_path / "device.toml").write_text(
        f'device_id = "pole-8"\nsite = "test-site"\nprofile = "bench.toml"\nbroker = "{mosquitto.url}"\n'
        'outbox = "state/outbox.sqlite"\n'
        '[[sources]]\ntype = "file_video"\npath = "frames"\nfps = 5\nrealtime = true\nloop = true\n'
    )
    agent = EdgeAgent(load_agent_config(tmp_path / "device.toml"))
    agent.start()
    try:
        assert agent.publisher.wait_connected(10)
        agent._on_detection("tamper-switch", enclosure_opened())
        collector.wait_for(lambda ev: len(of_type(ev, "tamper")) == 1)

        folder = audit_dir_for(agent.config.outbox_path)
        (segment,) = folder.glob("audit-*.jsonl")
        kept = segment.read_bytes()
        head = agent.audit.head
        segment.unlink()
        segment.symlink_to("/dev/full")
        for _ in range(3):
            agent._on_detection("tamper-switch", enclosure_opened())
        refused = agent.gate.counts().refused  # a health report due meanwhile is refused the same way
        assert set(refused) == {"audit_unwritable"} and refused["audit_unwritable"] >= 3
        assert agent.outbox.backlog() == 0, "the refused events never reached the outbox"
        assert agent.audit.head == head
        time.sleep(1.0)
        assert len(of_type(collector.events(), "tamper")) == 1, "nothing unaudited reached the broker"

        segment.unlink()
        segment.write_bytes(kept)
        agent._on_detection("tamper-switch", enclosure_opened())
        collector.wait_for(lambda ev: len(of_type(ev, "tamper")) == 2)
    finally:
        agent.stop()
    assert verify_chain(audit_dir_for(agent.config.outbox_path)).ok
