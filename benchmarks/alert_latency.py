"""Alert latency: an event published on MQTT -> the alert change that includes it, received on the
alert WebSocket, at a steady offered rate (default 1,000 events/s).

`impetus aggregator serve --broker` (ingest, store, correlator, API on uvicorn) runs in its own
process on mosquitto, as deployed; the paced publishers run in a third process (so their threads
do not delay the receiving client's clock readings), the WebSocket client in this one; both read
the same system-wide monotonic clock.
D devices each send tamper reports at rate/D per second; tamper alerts group per device, so each
device's alert counts its events, and a pushed alert with `event_count` n settles the latency of
that device's first n events (receive time - publish time). Goal: p99 <= 100 ms.

    python benchmarks/alert_latency.py [--rate 1000] [--seconds 5] [--devices 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from websockets.sync.client import connect as websocket_connect

from impetus.aggregator.mosquitto import MosquittoProcess
from impetus.protocol import ClockQuality, PrivacyStamp, make_event, topic_for

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
KEY = "imp_benchmark-key"
GOAL_P99_MS = 100.0


def messages(device: int, count: int) -> list[tuple[str, bytes]]:
    device_id = f"cam-{device:03d}"
    now = datetime.now(UTC)
    return [
        (
            topic_for(SITE, device_id, "tamper"),
            make_event(
                "tamper",
                device_id=device_id,
                site=SITE,
                seq=seq,
                ts=now,
                clock=ClockQuality(source="ntp", offset_ms=0.5),
                privacy=PrivacyStamp(policy_id="default", policy_version=1),
                payload={"kind": "covered", "score": 0.9},
            ).to_bytes(),
        )
        for seq in range(count)
    ]


def publish(port: int, device: int, batch: list[tuple[str, bytes]], rate: float, sent: Any) -> None:
    """Paced publishing: message k leaves at start + k / rate (no bursts hiding latency)."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{device}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    start = time.perf_counter() + 0.2
    for k, (topic, payload) in enumerate(batch):
        due = start + k / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent[k] = time.perf_counter()
        client.publish(topic, payload, qos=1)
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()


def publish_all(port: int, rate: float, devices: int, per_device: int, sent: Any) -> None:
    """The publishers' process: one paced client per device; `sent[d * per_device + k]` is when
    device d's message k left (time.perf_counter, the system-wide monotonic clock)."""
    batches = [messages(d, per_device) for d in range(devices)]
    views = [_Slice(sent, d * per_device) for d in range(devices)]
    threads = [
        threading.Thread(target=publish, args=(port, d, batches[d], rate / devices, views[d]))
        for d in range(devices)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


class _Slice:
    """One device's part of the shared array of send times."""

    def __init__(self, array: Any, start: int) -> None:
        self._array, self._start = array, start

    def __setitem__(self, k: int, value: float) -> None:
        self._array[self._start + k] = value

    def __getitem__(self, k: int) -> float:
        return float(self._array[self._start + k])


def start_server(broker_url: str, db: Path) -> tuple[subprocess.Popen[str], str]:
    """`impetus aggregator serve` in its own process; returns it and its API URL once ready."""
    command = ["aggregator", "serve", "--broker", broker_url, "--db", str(db), "--listen", "127.0.0.1:0"]
    command += ["--admin-key", KEY, "--log-level", "warning", "--no-advertise"]  # mDNS is not measured
    server = subprocess.Popen(
        [sys.executable, "-m", "impetus.cli", *command],
        stdout=subprocess.PIPE,
        text=True,
    )
    while True:
        line = server.stdout.readline() if server.stdout else ""
        if not line:
            raise RuntimeError("impetus aggregator serve exited before it was ready")
        if line.startswith("api: "):
            return server, line.split()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="events per second, all devices")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--devices", type=int, default=10)
    args = parser.parse_args()
    per_device = int(args.rate * args.seconds / args.devices)
    total = per_device * args.devices
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter, not a fork of a threaded one
    sent_times = spawn.Array("d", total, lock=False)
    sent = [_Slice(sent_times, d * per_device) for d in range(args.devices)]
    settled = [0] * args.devices
    latencies: list[float] = []
    with tempfile.TemporaryDirectory(prefix="impetus-bench-") as tmp:
        broker = MosquittoProcess(Path(tmp) / "mosquitto")
        broker.start()
        server = None
        try:
            server, api = start_server(broker.url, Path(tmp) / "aggregator.db")
            url = api.replace("http://", "ws://") + f"/api/v1/alerts/live?token={KEY}"
            with websocket_connect(url, max_size=None) as live:
                publishers = spawn.Process(
                    target=publish_all, args=(broker.port, args.rate, args.devices, per_device, sent_times)
                )
                publishers.start()
                deadline = time.monotonic() + args.seconds + 30
                while sum(settled) < total and time.monotonic() < deadline:
                    try:
                        message = json.loads(live.recv(timeout=5))
                    except TimeoutError:
                        if publishers.is_alive():  # still starting (a fresh interpreter) or sending
                            continue
                        break
                    received = time.perf_counter()
                    if message["kind"] != "alert" or message["alert"]["type"] != "tamper":
                        continue
                    device = int(message["alert"]["devices"][0].split("-")[1])
                    count = min(message["alert"]["event_count"], per_device)
                    latencies.extend(received - sent[device][k] for k in range(settled[device], count))
                    settled[device] = max(settled[device], count)
                publishers.join()
        finally:
            if server is not None:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
            broker.stop()
    ms = np.array(latencies) * 1000.0
    p50, p99, worst = (float(np.percentile(ms, q)) for q in (50, 99, 100)) if len(ms) else (0.0, 0.0, 0.0)
    print(
        f"{total} events at {args.rate:.0f}/s from {args.devices} devices; {len(ms)} settled on the WebSocket"
    )
    print(f"{'':20}{'ms':>10}")
    for name, value in (("p50", p50), ("p99", p99), ("max", worst)):
        print(f"{name:20}{value:10.1f}")
    print(
        f"goal p99 <= {GOAL_P99_MS:.0f} ms: {'met' if p99 <= GOAL_P99_MS and len(ms) == total else 'NOT met'}"
    )
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": "alert_latency",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "rate_per_s": args.rate,
        "events": total,
        "settled": len(ms),
        "p50_ms": round(p50, 2),
        "p99_ms": round(p99, 2),
        "max_ms": round(worst, 2),
        "goal_p99_ms": GOAL_P99_MS,
    }
    (RESULTS / "alert_latency.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
