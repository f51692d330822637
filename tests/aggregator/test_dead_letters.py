"""Whatever a third-party client sends, bad messages land in dead_letters with their reason and the
good ones around them are stored; ingest keeps running."""

from __future__ import annotations

import json
import sqlite3
import subprocess

from impetus.aggregator.broker import parse_broker_url
from impetus.aggregator.store import DEAD_LETTER_KEEP_BYTES
from impetus.protocol import topic_for


def mosquitto_pub(broker_url: str, topic: str, payload: bytes) -> None:
    """Publish with mosquitto's own client (QoS 1), the payload read from stdin."""
    host, port = parse_broker_url(broker_url)
    subprocess.run(
        ["mosquitto_pub", "-h", host, "-p", str(port), "-q", "1", "-t", topic, "-s"],
        input=payload,
        check=True,
        timeout=20,
    )


def test_each_kind_of_bad_message_is_dead_lettered_with_its_reason(
    mosquitto, store, start_ingest, new_event, wait_until
):
    ingest = start_ingest(mosquitto.url)
    tamper_topic = topic_for("square", "cam-01", "tamper")
    first, last = new_event(seq=1), new_event(seq=9)
    wrong_schema = json.dumps({"type": "tamper", "device_id": "cam-01", "site": "square"}).encode()
    unknown_type = {**new_event(seq=3).wire_dict(), "type": "explosion"}
    bad = {
        "not_json": (tamper_topic, b"{this is not json"),
        "schema": (tamper_topic, wrong_schema),
        "unknown_type": (topic_for("square", "cam-01", "explosion"), json.dumps(unknown_type).encode()),
        "too_large": (tamper_topic, b"x" * 2_000_000),
        "topic_mismatch": (topic_for("square", "cam-02", "tamper"), new_event(seq=5).to_bytes()),
        "bad_topic": ("impetus/v1/Main Square/cam-01/events/tamper", new_event(seq=6).to_bytes()),
    }

    mosquitto_pub(mosquitto.url, tamper_topic, first.to_bytes())
    for topic, payload in bad.values():
        mosquitto_pub(mosquitto.url, topic, payload)
    mosquitto_pub(mosquitto.url, tamper_topic, last.to_bytes())
    wait_until(lambda: ingest.counters()["stored"] + ingest.counters()["dead_letters"] == 8, what="8 written")

    letters = {item["reason_code"]: item for item in store.dead_letters().items}
    assert set(letters) == set(bad)
    for code, (topic, payload) in bad.items():
        assert letters[code]["topic"] == topic
        assert letters[code]["payload_size"] == len(payload)
        assert letters[code]["reason"]
    assert "payload is not JSON" in letters["not_json"]["reason"]
    assert "explosion" in letters["unknown_type"]["reason"]
    assert "2000000 bytes" in letters["too_large"]["reason"]
    assert "cam-02" in letters["topic_mismatch"]["reason"]
    assert {item["event_id"] for item in store.events().items} == {first.event_id, last.event_id}
    assert ingest.counters()["dead_letters"] == len(bad)

    after = new_event(seq=10)
    mosquitto_pub(mosquitto.url, tamper_topic, after.to_bytes())
    wait_until(lambda: store.event(after.event_id) is not None, what="an event after the bad ones")
    assert ingest.connected


def test_a_dead_letter_keeps_only_the_start_of_a_large_payload(mosquitto, store, start_ingest, wait_until):
    ingest = start_ingest(mosquitto.url)
    mosquitto_pub(mosquitto.url, topic_for("square", "cam-01", "crowd"), b"y" * 100_000)
    wait_until(lambda: ingest.counters()["dead_letters"] == 1, what="the dead letter")

    with sqlite3.connect(store.path) as conn:
        kept, size = conn.execute("SELECT length(payload), payload_size FROM dead_letters").fetchone()
    assert (kept, size) == (DEAD_LETTER_KEEP_BYTES, 100_000)


def test_binary_payloads_are_never_handed_out(mosquitto, store, start_ingest, wait_until):
    ingest = start_ingest(mosquitto.url)
    jpeg_start = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256))
    mosquitto_pub(mosquitto.url, topic_for("square", "cam-01", "object"), jpeg_start)
    wait_until(lambda: ingest.counters()["dead_letters"] == 1, what="the dead letter")

    letter = store.dead_letters().items[0]
    assert letter["reason_code"] == "not_json"
    assert letter["payload_excerpt"] is None
    assert letter["payload_size"] == len(jpeg_start)
