"""Every event is signed by its device; ingest dead-letters bad signatures, unknown devices and
replayed seq numbers with their codes, through a real mosquitto into a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from link_fixtures import SITE, enrol, tamper, wait_until
from paho.mqtt.enums import CallbackAPIVersion

from impetus.aggregator.device_registry import DeviceRegistry
from impetus.aggregator.ingest import Ingest
from impetus.aggregator.link_guard import LinkGuard
from impetus.aggregator.mosquitto import MosquittoProcess
from impetus.aggregator.store import EventStore
from impetus.edge_agent.credentials import EventSigner
from impetus.protocol import topic_for
from impetus.protocol.canonical import canonical_json


class Site:
    def __init__(self, tmp_path: Path, broker: MosquittoProcess, require: bool) -> None:
        self.registry = DeviceRegistry(tmp_path / "registry.db")
        self.device = enrol(self.registry, SITE, "pole-a")
        self.signer = EventSigner(self.device.key)
        self.guard = LinkGuard(self.registry, require_signatures=require, replay_window=8)
        self.store = EventStore(tmp_path / "events.db")
        self.ingest = Ingest(self.store, broker.url, sender_check=self.guard)
        self.ingest.start()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sender")
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.sent = 0

    def send(self, payload: bytes, device_id: str = "pole-a") -> None:
        self.client.publish(topic_for(SITE, device_id, "tamper"), payload, qos=1).wait_for_publish(5)
        self.sent += 1
        wait_until(lambda: self.ingest.counters()["received"] >= self.sent, "ingest received it")
        wait_until(
            lambda: (
                sum(self.ingest.counters()[k] for k in ("stored", "duplicates", "dead_letters")) >= self.sent
            ),
            "ingest recorded it",
        )

    def dead_letter_codes(self) -> list[str]:
        return [item["reason_code"] for item in reversed(self.store.dead_letters().items)]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
        self.ingest.stop()
        self.store.close()
        self.registry.close()


@pytest.fixture
def site(tmp_path: Path, mosquitto: MosquittoProcess) -> Iterator[Site]:
    site = Site(tmp_path, mosquitto, require=False)
    yield site
    site.close()


def test_a_signed_event_from_an_enrolled_device_is_stored(site: Site) -> None:
    site.send(site.signer.sign(tamper("pole-a", 1)).to_bytes())
    assert site.store.event_count() == 1
    assert site.guard.counters()["verified"] == 1


def test_an_altered_event_is_rejected_as_bad_signature(site: Site) -> None:
    signed = json.loads(site.signer.sign(tamper("pole-a", 1)).to_bytes())
    signed["payload"]["score"] = 0.1  # someone on the path lowers the score
    site.send(json.dumps(signed).encode())
    unsigned = tamper("pole-a", 2).to_bytes()
    site.send(unsigned)
    assert site.store.event_count() == 0
    assert site.dead_letter_codes() == ["bad_signature", "bad_signature"]
    assert site.guard.counters()["bad_signature"] == 2


def test_an_event_altered_and_reencoded_canonically_is_rejected_too(site: Site) -> None:
    signed = json.loads(site.signer.sign(tamper("pole-a", 1)).to_bytes())
    signed["payload"]["kind"] = "moved"
    site.send(canonical_json(signed))
    assert site.store.event_count() == 0
    assert site.dead_letter_codes() == ["bad_signature"]


def test_a_signed_event_sent_with_other_whitespace_is_verified_over_its_canonical_form(site: Site) -> None:
    event = site.signer.sign(tamper("pole-a", 1))
    site.send(json.dumps(json.loads(event.to_bytes()), indent=2).encode())
    assert site.store.event_count() == 1
    assert site.guard.counters()["verified"] == 1


def test_a_replayed_seq_is_rejected_and_a_redelivery_is_not(site: Site) -> None:
    events = [site.signer.sign(tamper("pole-a", seq)) for seq in range(1, 21)]
    for event in events:
        site.send(event.to_bytes())
    site.send(events[-1].to_bytes())  # the broker delivering the newest again: a duplicate
    site.send(events[0].to_bytes())  # a captured old event played back: older than the window
    reused = site.signer.sign(tamper("pole-a", 20))  # a cloned key reusing a seq
    site.send(reused.to_bytes())
    assert site.store.event_count() == 20
    assert site.dead_letter_codes() == ["replayed_seq", "replayed_seq"]
    assert site.ingest.counters()["duplicates"] == 1
    assert site.guard.counters()["replayed_seq"] == 2


def test_unsigned_events_of_devices_the_registry_does_not_know_pass_unless_signatures_are_required(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    lenient = Site(tmp_path / "lenient", mosquitto, require=False)
    try:
        lenient.send(tamper("lab-1", 1).to_bytes(), device_id="lab-1")
        assert lenient.store.event_count() == 1
    finally:
        lenient.close()
    strict = Site(tmp_path / "strict", mosquitto, require=True)
    try:
        strict.send(tamper("lab-1", 2).to_bytes(), device_id="lab-1")
        assert strict.store.event_count() == 0
        assert strict.dead_letter_codes() == ["unknown_device"]
    finally:
        strict.close()


def test_a_revoked_device_is_dead_lettered_even_with_a_valid_signature(site: Site) -> None:
    site.send(site.signer.sign(tamper("pole-a", 1)).to_bytes())
    site.registry.revoke("pole-a")
    site.guard.forget("pole-a")
    site.send(site.signer.sign(tamper("pole-a", 2)).to_bytes())
    assert site.store.event_count() == 1
    assert site.dead_letter_codes() == ["unknown_device"]
