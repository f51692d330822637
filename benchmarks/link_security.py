"""The cost of securing the device link: Ed25519 signing on the device (per envelope, including
re-reading the outbox row), verification at ingest (the whole `LinkGuard` check: registry lookup,
signature, seq memory) over the bytes as received, as ingest does, and over the canonical form
rebuilt from the parsed event (what a non-canonical sender costs), the bare Ed25519 verify, and
ingest throughput through mosquitto with and without the guard.

    python benchmarks/link_security.py [--messages 5000]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from impetus.aggregator.device_registry import DeviceRegistry
from impetus.aggregator.ingest import Ingest
from impetus.aggregator.link_guard import LinkGuard
from impetus.aggregator.mosquitto import MosquittoProcess
from impetus.aggregator.store import EventStore
from impetus.edge_agent.credentials import EventSigner, public_key_b64
from impetus.protocol import ClockQuality, EnvelopeBase, PrivacyStamp, make_event, topic_for

RESULTS = Path(__file__).resolve().parent / "results"
SITE = "bench"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def event(seq: int) -> EnvelopeBase:
    return make_event(
        "crowd",
        device_id="pole-1",
        site=SITE,
        seq=seq,
        payload={"count": 120, "area_m2": 100.0, "density": 1.2, "level_of_service": "C"},
        ts=T0 + timedelta(milliseconds=seq),
        clock=ClockQuality(source="ntp", offset_ms=0.4),
        privacy=PrivacyStamp(policy_id="default", policy_version=1),
    )


def per_item_us(action, items: list) -> float:  # type: ignore[no-untyped-def, type-arg]
    started = time.perf_counter()
    for item in items:
        action(item)
    return (time.perf_counter() - started) / len(items) * 1e6


def ingest_rate(workdir: Path, payloads: list[bytes], guard: LinkGuard | None) -> float:
    broker = MosquittoProcess(workdir=workdir / "mosquitto")
    broker.start()
    store = EventStore(workdir / "events.db")
    ingest = Ingest(store, broker.url, sender_check=guard, client_id=f"bench-{guard is not None}")
    ingest.start()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sender")
    client.max_inflight_messages_set(1000)
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        started = time.perf_counter()
        for payload in payloads:
            client.publish(topic_for(SITE, "pole-1", "crowd"), payload, qos=1)
        deadline = time.monotonic() + 120
        while ingest.counters()["stored"] + ingest.counters()["dead_letters"] < len(payloads):
            if time.monotonic() > deadline:
                raise RuntimeError(f"ingest stalled at {ingest.counters()}")
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        if ingest.counters()["dead_letters"]:
            raise RuntimeError(f"unexpected dead letters: {ingest.counters()}")
        return len(payloads) / elapsed
    finally:
        client.loop_stop()
        client.disconnect()
        ingest.stop()
        store.close()
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        registry = DeviceRegistry(work / "registry.db")
        key = Ed25519PrivateKey.generate()
        registry.enrol(registry.issue_token(SITE, timedelta(hours=1)), "pole-1", public_key_b64(key))
        signer = EventSigner(key)
        events = [event(seq) for seq in range(args.messages)]
        unsigned_rows = [e.to_bytes() for e in events]
        sign_us = per_item_us(signer.sign, events)
        sign_row_us = per_item_us(signer.sign_payload, unsigned_rows)
        signed = [signer.sign(e) for e in events]
        signed_rows = [e.to_bytes() for e in signed]
        guard = LinkGuard(registry, require_signatures=True, replay_window=len(signed) + 1)
        verify_us = per_item_us(lambda pair: guard(*pair), list(zip(signed, signed_rows, strict=True)))
        rebuilt_us = per_item_us(
            LinkGuard(registry, require_signatures=True, replay_window=len(signed) + 1), signed
        )
        public_key = key.public_key()
        bare = [(base64.b64decode(e.sig or ""), e.signing_bytes()) for e in signed]
        ed25519_us = per_item_us(lambda pair: public_key.verify(*pair), bare)
        plain = [ingest_rate(work / f"plain{i}", unsigned_rows, None) for i in range(2)]
        guarded = [
            ingest_rate(
                work / f"guarded{i}",
                signed_rows,
                LinkGuard(registry, require_signatures=True, replay_window=len(signed) + 1),
            )
            for i in range(2)
        ]
        registry.close()
    rows = {
        "sign, per envelope (us)": sign_us,
        "sign outbox row (us)": sign_row_us,
        "verify at ingest (us)": verify_us,
        "verify, form rebuilt (us)": rebuilt_us,
        "bare Ed25519 verify (us)": ed25519_us,
        "ingest unsigned (msg/s)": statistics.median(plain),
        "ingest signed+verified (msg/s)": statistics.median(guarded),
    }
    print(f"link security, {args.messages} messages, {os.cpu_count()} CPUs")
    for name, value in rows.items():
        print(f"{name:34}{value:12,.1f}")
    RESULTS.mkdir(exist_ok=True)
    result = {
        "benchmark": "link_security",
        "messages": args.messages,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sign_us": round(sign_us, 1),
        "sign_outbox_row_us": round(sign_row_us, 1),
        "verify_us": round(verify_us, 1),
        "verify_rebuilt_us": round(rebuilt_us, 1),
        "ed25519_verify_us": round(ed25519_us, 1),
        "ingest_unsigned_msg_s": round(statistics.median(plain)),
        "ingest_signed_verified_msg_s": round(statistics.median(guarded)),
    }
    (RESULTS / "link_security.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
