"""A whole agent keeps a hash-chained audit log: the policy in force, every message the gate let
out, every refusal with its reason; its head travels in health."""

from __future__ import annotations

from pathlib import Path

from edge_fixtures import Collector, of_type, write_frames

from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.config import load_agent_config
from impetus.privacy.audit import read_records, verify_chain
from impetus.privacy.device_audit import audit_dir_for

PROFILE = 'name = "bench"\nboard = "test bench"\nhealth_interval_s = 0.2\n[detectors.dark]\n'
# Tamper events may leave, but not their free-text `detail`: the dark detector always sets it.
NO_DETAIL = """
policy_id = "no-detail"
version = 2
[types.tamper]
fields = ["kind", "score"]
[types.status]
fields = ["state", "agent_version", "profile", "capabilities"]
[types.health]
fields = ["uptime_s", "cpu_percent", "cpu_temp_c", "throttled", "mem_used_mb", "outbox_backlog",
          "outbox_dropped", "clock_offset_ms", "detectors", "audit_head"]
"""


def test_a_field_the_policy_refuses_never_reaches_the_broker_and_the_refusal_is_audited(
    mosquitto, collector: Collector, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    write_frames(tmp_path / "frames", 4, value=10)
    (tmp_path / "bench.toml").write_text(PROFILE)
    (tmp_path / "no-detail.toml").write_text(NO_DETAIL)
    (tmp_path / "device.toml").write_text(
        f'device_id = "pole-7"\nsite = "test-site"\nprofile = "bench.toml"\nbroker = "{mosquitto.url}"\n'
        'privacy_policy = "no-detail.toml"\noutbox = "state/outbox.sqlite"\n'
        '[[sources]]\ntype = "file_video"\npath = "frames"\nfps = 5\nrealtime = true\n'
    )
    config = load_agent_config(tmp_path / "device.toml")
    agent = EdgeAgent(config, lossless=True)
    agent.run(duration=30)

    events = collector.wait_for(lambda ev: any(e.payload.state == "offline" for e in of_type(ev, "status")))
    assert of_type(events, "tamper") == [], "a tamper event with `detail` must never reach the broker"

    folder = audit_dir_for(config.outbox_path)
    records = read_records(folder)
    policy = records[0]
    assert (policy["kind"], policy["data"]["policy_id"], policy["data"]["version"]) == (
        "policy",
        "no-detail",
        2,
    )
    refused = [r for r in records if r["kind"] == "refused"]
    assert len(refused) == 4 and all(r["data"]["type"] == "tamper" for r in refused)
    assert all("detail" in r["data"]["reason"] for r in refused)
    sent_ids = {r["data"]["event_id"] for r in records if r["kind"] == "sent"}
    assert {e.event_id for e in events} <= sent_ids, "every message that reached the broker is in the log"

    heads = [e.payload.audit_head for e in of_type(events, "health")]
    assert heads and all(heads)
    chain = verify_chain(folder, reported_heads=heads)
    assert chain.ok, chain.problem
    assert chain.records == len(records)
