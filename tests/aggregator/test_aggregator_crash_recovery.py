"""`kill -9` of the aggregator in the middle of ingest loses no event and stores none twice."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from impetus.protocol import topic_for

IMPETUS = [str(Path(sys.executable).with_name("impetus"))]


class Aggregator:
    """`impetus aggregator serve` as a separate process, with its two ready lines read."""

    def __init__(self, broker_url: str, db: Path) -> None:
        self.process = subprocess.Popen(
            [
                *IMPETUS,
                "aggregator",
                "serve",
                "--broker",
                broker_url,
                "--db",
                str(db),
                "--listen",
                "127.0.0.1:0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in self.process.stdout], daemon=True
        ).start()
        self.ready = {}
        while len(self.ready) < 2:
            line = lines.get(timeout=20)
            key, _, value = line.strip().partition(": ")
            self.ready[key] = value

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)


def stored_ids(db: Path) -> list[str]:
    with sqlite3.connect(db, timeout=10) as conn:
        return [row[0] for row in conn.execute("SELECT event_id FROM events")]


@pytest.mark.slow
def test_kill_minus_nine_mid_ingest_loses_and_duplicates_nothing(
    mosquitto, tmp_path, new_event, device_client
):
    db = tmp_path / "aggregator.db"
    first = Aggregator(mosquitto.url, db)
    assert first.ready == {"broker": mosquitto.url, "api": first.ready["api"]}
    device = device_client(mosquitto.url, "cam-01")
    events = [new_event("crowd", seq=i) for i in range(2000)]
    sent = []

    def publish_steadily() -> None:
        for i, event in enumerate(events):
            sent.append(device.publish(topic_for("square", "cam-01", "crowd"), event.to_bytes(), qos=1))
            if i % 100 == 99:
                time.sleep(0.05)

    publisher = threading.Thread(target=publish_steadily)
    publisher.start()
    while len(stored_ids(db)) < 300:
        time.sleep(0.01)
    first.kill()
    stored_at_kill = len(stored_ids(db))
    publisher.join()
    for info in sent:
        info.wait_for_publish(20)
    assert stored_at_kill < len(events), "the kill came after ingest had finished: nothing was tested"

    second = Aggregator(mosquitto.url, db)
    deadline = time.monotonic() + 60
    while len(stored_ids(db)) < len(events) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # anything redelivered late would show up as an extra row or a failed insert
    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(15) == 0

    ids = stored_ids(db)
    assert len(ids) == len(events)
    assert set(ids) == {event.event_id for event in events}
    assert os.path.getsize(db) > 0
