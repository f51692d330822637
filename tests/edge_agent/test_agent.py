"""A whole agent: file source -> scheduler -> detector -> gate -> outbox -> publisher -> mosquitto."""

from __future__ import annotations

from pathlib import Path

from edge_fixtures import Collector, of_type, write_frames

from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.config import load_agent_config

PROFILE = 'name = "bench"\nboard = "test bench"\nhealth_interval_s = 0.2\n[detectors.dark]\n'


def test_an_agent_publishes_every_detection_then_says_offline(
    mosquitto, collector: Collector, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    write_frames(tmp_path / "frames", 6, value=10)
    (tmp_path / "bench.toml").write_text(PROFILE)
    (tmp_path / "device.toml").write_text(
        f'device_id = "pole-2"\nsite = "test-site"\nzone = "north"\nprofile = "bench.toml"\n'
        f'broker = "{mosquitto.url}"\n'
        '[[sources]]\ntype = "file_video"\npath = "frames"\nfps = 5\nrealtime = true\n'
    )
    agent = EdgeAgent(load_agent_config(tmp_path / "device.toml"), lossless=True)
    agent.run(duration=30)

    events = collector.wait_for(lambda ev: any(e.payload.state == "offline" for e in of_type(ev, "status")))
    tamper = of_type(events, "tamper")
    assert [e.payload.detail for e in tamper] == [f"frame {i}" for i in range(6)]  # type: ignore[attr-defined]
    assert all(e.zone == "north" and e.privacy.policy_id == "counting-only" for e in tamper)
    assert [e.payload.state for e in of_type(events, "status")] == ["online", "offline"]  # type: ignore[attr-defined]
    seqs = [e.seq for e in events]
    assert len(set(seqs)) == len(seqs), "every message of a device has its own seq"
    health = of_type(events, "health")
    assert health, "health is published while the agent runs"
    assert health[-1].payload.detectors["dark"].events >= 1  # type: ignore[attr-defined]
    assert agent.final_backlog == 0
