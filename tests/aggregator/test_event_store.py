"""The store on a real SQLite file: schema on open, idempotent writes, device state, bounds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from impetus.aggregator.store import MIGRATIONS, EventStore, StoreError, ValidMessage

NOW = datetime(2025, 6, 1, 12, 30, tzinfo=UTC)


def received(event):
    return ValidMessage(event, f"impetus/v1/{event.site}/{event.device_id}/events/{event.type}", NOW)


def test_reopening_a_store_keeps_its_events_and_schema(tmp_path, new_event):
    path = tmp_path / "var" / "aggregator.db"
    first = EventStore(path)
    event = new_event()
    first.record([received(event)])
    first.close()

    again = EventStore(path)
    try:
        assert again.event(event.event_id)["event_id"] == event.event_id
    finally:
        again.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_database_from_a_newer_aggregator_is_refused(tmp_path):
    path = tmp_path / "aggregator.db"
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(StoreError, match="newer than this aggregator knows"):
        EventStore(path)


def test_a_file_that_is_not_a_database_is_refused_by_name(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not the tables you are looking for\n" * 100)
    with pytest.raises(StoreError, match=r"notes\.txt"):
        EventStore(path)


def test_recording_the_same_event_twice_stores_it_once_and_counts_the_duplicate(store, new_event):
    event = new_event("gunshot", device_id="mic-01")
    first = store.record([received(event)])
    second = store.record([received(event), received(event)])
    assert ([i["event_id"] for i in first.stored], first.duplicates) == ([event.event_id], 0)
    assert (second.stored, second.duplicates) == ([], 2)
    assert store.event_count() == 1


def test_an_event_tells_when_its_device_was_last_seen(store, new_event):
    store.record([received(new_event(device_id="cam-03", seq=7))])
    [device] = store.devices()
    assert (device["device_id"], device["state"], device["last_seq"]) == ("cam-03", "unknown", 7)
    assert device["last_seen"] == "2025-06-01T12:30:00.000000Z"
