"""Ingest turns the broker's at-least-once delivery into effectively-once storage."""

from __future__ import annotations

import sqlite3

from impetus.aggregator.ingest import Ingest
from impetus.protocol import topic_for


def _written(ingest: Ingest) -> int:
    counters = ingest.counters()
    return counters["stored"] + counters["duplicates"] + counters["dead_letters"]


def test_each_event_delivered_twice_is_stored_once(
    any_broker_url, store, start_ingest, new_event, device_client, wait_until
):
    ingest = start_ingest(any_broker_url)
    device = device_client(any_broker_url, "cam-01")
    events = [new_event("tamper", seq=i) for i in range(50)]
    sent = [
        device.publish(topic_for(e.site, e.device_id, "tamper"), e.to_bytes(), qos=1)
        for e in events
        for _ in range(2)
    ]
    for info in sent:
        info.wait_for_publish(10)

    wait_until(lambda: _written(ingest) == 100, what="100 deliveries written")

    stored = store.events(limit=1000)
    assert stored.total == 50
    assert sorted(item["event_id"] for item in stored.items) == sorted(e.event_id for e in events)
    counters = ingest.counters()
    assert (counters["stored"], counters["duplicates"], counters["dead_letters"]) == (50, 50, 0)


def test_the_broker_keeps_events_for_the_aggregator_while_it_is_away(
    mosquitto, store, new_event, device_client, wait_until
):
    first = Ingest(store, mosquitto.url, client_id="aggregator-a")
    first.start()
    first.stop()  # a clean disconnect: the persistent session stays with the broker
    device = device_client(mosquitto.url, "cam-01")
    events = [new_event("gunshot", seq=i) for i in range(20)]
    for event in events:
        device.publish(
            topic_for(event.site, event.device_id, "gunshot"), event.to_bytes(), qos=1
        ).wait_for_publish(5)

    again = Ingest(store, mosquitto.url, client_id="aggregator-a")
    again.start()
    try:
        wait_until(lambda: store.event_count() == 20, what="the queued events")
    finally:
        again.stop()
    assert {item["event_id"] for item in store.events().items} == {e.event_id for e in events}


def test_a_message_the_store_refuses_is_dead_lettered_as_internal_and_ingest_carries_on(
    mosquitto, store, start_ingest, new_event, device_client, wait_until
):
    with sqlite3.connect(store.path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse_cam_99 BEFORE INSERT ON events WHEN NEW.device_id = 'cam-99' "
            "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
        )
    ingest = start_ingest(mosquitto.url)
    good = device_client(mosquitto.url, "cam-01")
    bad = device_client(mosquitto.url, "cam-99")
    before, refused, after = new_event(seq=1), new_event(device_id="cam-99", seq=1), new_event(seq=2)
    for client, event in ((good, before), (bad, refused), (good, after)):
        client.publish(
            topic_for(event.site, event.device_id, "tamper"), event.to_bytes(), qos=1
        ).wait_for_publish(5)

    wait_until(lambda: _written(ingest) == 3, what="three deliveries written")

    letter = store.dead_letters().items[0]
    assert letter["reason_code"] == "internal"
    assert "refused by a trigger" in letter["reason"]
    assert {item["event_id"] for item in store.events().items} == {before.event_id, after.event_id}
    assert ingest.connected
