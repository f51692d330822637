"""Group commit: ingest writes what has arrived as soon as nothing more is waiting, never holding
a lone message back for the batch window to fill (that wait was most of the alert latency)."""

from __future__ import annotations

import time

from impetus.aggregator.ingest import Ingest
from impetus.protocol import topic_for

WINDOW_S = 5.0


def test_a_lone_message_is_stored_and_acknowledged_without_waiting_for_the_batch_window(
    mosquitto, store, new_event, device_client, wait_until
):
    ingest = Ingest(store, mosquitto.url, client_id="aggregator-group-commit", max_delay_s=WINDOW_S)
    ingest.start()
    try:
        event = new_event("tamper", device_id="cam-01")
        client = device_client(mosquitto.url, "cam-01")
        sent = time.monotonic()
        client.publish(topic_for(event.site, "cam-01", "tamper"), event.to_bytes(), qos=1)
        wait_until(lambda: store.event(event.event_id) is not None, timeout=WINDOW_S * 2, what="stored")
        stored_after = time.monotonic() - sent
    finally:
        ingest.stop()
    assert stored_after < WINDOW_S / 2, f"stored after {stored_after:.2f} s: it waited for the window"
    assert ingest.counters()["batches"] == 1
