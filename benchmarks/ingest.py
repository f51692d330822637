"""Ingest throughput: N simulated devices publish through mosquitto; how fast does the aggregator store?

Two phases on the same broker with the same publishers (one paho client per device, QoS 1):
  raw     -> mosquitto_sub, a plain subscriber that only receives: the broker's own rate here;
  stored  -> `impetus aggregator serve --broker` in its own process (validate, dedup, batch into
             SQLite, PUBACK after commit), timed until its /healthz counts every event stored.
The ratio stored / raw is the figure to watch (goal: >= 0.5).

    python benchmarks/ingest.py [--devices 20] [--events 500]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from impetus.aggregator.mosquitto import MosquittoProcess
from impetus.protocol import ClockQuality, PrivacyStamp, make_event, topic_for

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
CLOCK = ClockQuality(source="ntp", offset_ms=0.5)
PRIVACY = PrivacyStamp(policy_id="counting-only", policy_version=1)
SUBSCRIBE_GRACE_S = 1.0


def device_messages(device: int, count: int) -> list[tuple[str, bytes]]:
    device_id = f"dev-{device:04d}"
    topic = topic_for(SITE, device_id, "crowd")
    now = datetime.now(UTC)
    return [
        (
            topic,
            make_event(
                "crowd",
                device_id=device_id,
                site=SITE,
                seq=seq,
                ts=now,
                clock=CLOCK,
                privacy=PRIVACY,
                zone="gathering",
                payload={"count": 40 + seq % 50, "area_m2": 300.0, "density": 0.2, "level_of_service": "A"},
            ).to_bytes(),
        )
        for seq in range(count)
    ]


def publish_until(port: int, batches: list[list[tuple[str, bytes]]], done: Callable[[], bool]) -> float:
    """Every device publishes its batch at once; seconds from the first publish until `done()`.

    The clients are torn down only after the clock stops: paho's loop_stop waits for its network
    thread, which would otherwise count against the rate.
    """
    clients = []
    for i in range(len(batches)):
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"bench-pub-{i}")
        client.max_inflight_messages_set(200)
        connected = threading.Event()
        client.on_connect = lambda *args, ready=connected: ready.set()
        client.connect("127.0.0.1", port)
        client.loop_start()
        if not connected.wait(10):
            raise TimeoutError(f"publisher {i} could not connect to the broker")
        clients.append(client)

    def run(client: mqtt.Client, batch: list[tuple[str, bytes]]) -> None:
        infos = [client.publish(topic, body, qos=1) for topic, body in batch]
        for info in infos:
            info.wait_for_publish(60)

    started = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c, b)) for c, b in zip(clients, batches, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deadline = started + 300.0
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the benchmark did not complete in time")
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    for client in clients:
        client.disconnect()
        client.loop_stop()
    return elapsed


def raw_phase(port: int, batches: list[list[tuple[str, bytes]]], total: int) -> float:
    """mosquitto_sub, mosquitto's own C client, as the plain subscriber: the broker's rate here."""
    sub = subprocess.Popen(
        [
            "mosquitto_sub",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-q",
            "1",
            "-i",
            "bench-raw",
            "-t",
            f"impetus/v1/{SITE}/+/events/+",
            "-C",
            str(total),
        ],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(SUBSCRIBE_GRACE_S)
    try:
        return total / publish_until(port, batches, lambda: sub.poll() is not None)
    finally:
        sub.kill()
        sub.wait()


def stored_phase(url: str, db: Path, batches: list[list[tuple[str, bytes]]], total: int) -> float:
    """`impetus aggregator serve` in its own process, as deployed; its /healthz counts what it stored."""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "impetus.cli",
            "aggregator",
            "serve",
            "--broker",
            url,
            "--db",
            str(db),
            "--listen",
            "127.0.0.1:0",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        api = ""
        while not api:
            line = server.stdout.readline() if server.stdout else ""
            if not line:
                raise RuntimeError("impetus aggregator serve exited before it was ready")
            if line.startswith("api: "):
                api = line.split()[1]
        http = httpx.Client(base_url=api, timeout=5.0)

        def stored() -> bool:
            time.sleep(0.02)
            return http.get("/healthz").json()["counters"]["stored"] >= total

        rate = total / publish_until(int(url.rsplit(":", 1)[1]), batches, stored)
        count = http.get("/healthz").json()["events"]
        if count != total:
            raise RuntimeError(f"stored {count} events, expected exactly {total}")
        return rate
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--events", type=int, default=500, help="events per device and phase")
    args = parser.parse_args()
    total = args.devices * args.events
    with tempfile.TemporaryDirectory(prefix="impetus-bench-") as tmp:
        broker = MosquittoProcess(Path(tmp) / "mosquitto")
        broker.start()
        try:
            print(f"{args.devices} devices x {args.events} events = {total} per phase (QoS 1)", flush=True)
            raw = raw_phase(
                broker.port, [device_messages(d, args.events) for d in range(args.devices)], total
            )
            print(f"raw broker rate   {raw:9.0f} msg/s", flush=True)
            stored = stored_phase(
                broker.url,
                Path(tmp) / "aggregator.db",
                [device_messages(d, args.events) for d in range(args.devices)],
                total,
            )
            print(f"stored rate       {stored:9.0f} events/s", flush=True)
        finally:
            broker.stop()
    ratio = stored / raw
    print(f"stored / raw      {ratio:9.2f}   (goal >= 0.50: {'met' if ratio >= 0.5 else 'NOT met'})")
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": "ingest",
        "when": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "devices": args.devices,
        "events_per_device": args.events,
        "raw_msgs_per_s": round(raw, 1),
        "stored_events_per_s": round(stored, 1),
        "ratio": round(ratio, 3),
    }
    (RESULTS / "ingest.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
