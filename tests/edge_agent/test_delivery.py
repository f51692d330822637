"""Delivery guarantees of the outbox and publisher, against a real mosquitto."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from edge_fixtures import Collector, PersistentBroker, of_type, tamper_event, write_frames

from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.clock import SystemClock
from impetus.edge_agent.outbox import Outbox
from impetus.edge_agent.publisher import DeviceIdentity, Publisher
from impetus.privacy.gate import PrivacyGate
from impetus.privacy.policy import load_policy
from impetus.protocol.payloads import HealthPayload

REPO = Path(__file__).resolve().parents[2]


def make_publisher(outbox: Outbox, url: str, device_id: str = "dev-1", **options: object) -> Publisher:
    return Publisher(
        DeviceIdentity(device_id=device_id, site="test-site", profile="generic-linux"),
        outbox,
        PrivacyGate(load_policy("counting-only")),
        SystemClock(),
        BrokerAddress.parse(url),
        reconnect_min_s=1,
        reconnect_max_s=2,
        **options,  # type: ignore[arg-type]
    )


def test_broker_outage_loses_no_event(persistent_broker: PersistentBroker, tmp_path: Path) -> None:
    sub = Collector(persistent_broker.port, client_id="soc-subscriber", persistent=True)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = make_publisher(outbox, persistent_broker.url)
    publisher.start()
    assert publisher.wait_connected(10)
    produced = []

    def produce(count: int) -> None:
        for i in range(count):
            _, stored = outbox.put(tamper_event(detail=f"event {len(produced)}"))
            produced.append(stored.event_id)
            publisher.notify()
            if i % 10 == 0:
                time.sleep(0.01)

    produce(100)
    persistent_broker.stop()
    produce(100)
    time.sleep(0.5)
    produce(50)
    assert not publisher.connected
    assert outbox.backlog() >= 150, "events produced during the outage wait in the outbox"
    persistent_broker.start()
    produce(50)

    assert publisher.wait_drained(30), f"backlog still {outbox.backlog()}"
    arrived = sub.wait_for(lambda events: {e.event_id for e in of_type(events, "tamper")} >= set(produced))
    received = [e.event_id for e in of_type(arrived, "tamper")]
    assert set(received) == set(produced)
    assert outbox.backlog() == 0
    assert publisher.connects >= 2
    seq_of = {e.event_id: e.seq for e in of_type(arrived, "tamper")}
    seqs = [seq_of[event_id] for event_id in produced]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), "seq follows production order"
    publisher.stop()
    sub.close()
    outbox.close()


WRITER = """
import sys
sys.path.insert(0, sys.argv[2])
from edge_fixtures import tamper_event
from impetus.edge_agent.outbox import Outbox
box = Outbox(sys.argv[1])
for i in range(int(sys.argv[3])):
    _, stored = box.put(tamper_event(detail=f"before restart {i}"))
    print(stored.event_id, stored.seq, flush=True)
"""


def test_outbox_survives_a_process_restart(mosquitto, collector: Collector, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "outbox.sqlite"
    written = subprocess.run(
        [sys.executable, "-c", WRITER, str(path), str(Path(__file__).parent), "40"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    before_ids, before_seqs = written[0::2], [int(s) for s in written[1::2]]
    assert before_seqs == list(range(40))

    outbox = Outbox(path)
    assert outbox.backlog() == 40, "rows written by the process that is gone are still there"
    publisher = make_publisher(outbox, mosquitto.url)
    publisher.start()
    assert publisher.wait_drained(15)
    events = collector.wait_for(lambda ev: {e.event_id for e in ev} >= set(before_ids))
    assert {e.event_id for e in of_type(events, "tamper")} == set(before_ids)
    _, after = outbox.put(tamper_event(detail="after restart"))
    assert after.seq > max(before_seqs), "seq keeps counting across restarts"
    publisher.stop()
    outbox.close()


def test_full_outbox_drops_oldest_events_and_counts_them(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite", max_rows=10)
    ids = [outbox.put(tamper_event(detail=f"n{i}"))[1].event_id for i in range(25)]
    assert outbox.backlog() == 10
    assert outbox.dropped() == 15
    assert [row.event_id for row in outbox.claim(100)] == ids[-10:]
    outbox.close()


def test_last_will_marks_a_vanished_device_offline(mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    write_frames(tmp_path / "frames", 3)
    (tmp_path / "quiet.toml").write_text('name = "quiet"\nboard = "test"\nhealth_interval_s = 60\n')
    (tmp_path / "device.toml").write_text(
        f'device_id = "pole-9"\nsite = "test-site"\nprofile = "quiet.toml"\nbroker = "{mosquitto.url}"\n'
        '[[sources]]\ntype = "file_video"\npath = "frames"\nloop = true\nrealtime = true\nfps = 2\n'
    )
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from impetus.cli import main; main()",
            "edge",
            "run",
            "--config",
            str(tmp_path / "device.toml"),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        watcher = Collector(mosquitto.port, client_id="watcher")
        online = watcher.wait_for(lambda ev: any(e.payload.state == "online" for e in of_type(ev, "status")))
        assert of_type(online, "status")[-1].device_id == "pole-9"
        watcher.close()
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        late = Collector(mosquitto.port, client_id="late-subscriber")
        statuses = late.wait_for(lambda ev: any(e.payload.state == "offline" for e in of_type(ev, "status")))
        offline = [m for m in late.messages if m[0].endswith("/pole-9/status")]
        assert offline[-1][2], "the offline status is retained"
        assert of_type(statuses, "status")[-1].payload.state == "offline"
        late.close()
    finally:
        if agent.poll() is None:
            agent.kill()


def test_health_reports_outbox_backlog(mosquitto, collector: Collector, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = make_publisher(
        outbox,
        mosquitto.url,
        health=lambda: HealthPayload(uptime_s=1.0, outbox_backlog=outbox.backlog()),
        health_interval_s=0.2,
    )
    publisher.start()
    events = collector.wait_for(lambda ev: len(of_type(ev, "health")) >= 2)
    assert all(e.device_id == "dev-1" for e in of_type(events, "health"))
    publisher.stop()
    outbox.close()
