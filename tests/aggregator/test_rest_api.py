"""The SOC's REST API over a real store: filters, paging, single events, dead letters, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from impetus.aggregator.alerts_store import AlertStore
from impetus.aggregator.api import create_app
from impetus.aggregator.store import DeadLetter, ValidMessage

T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def events(new_event):
    """Twelve events a minute apart from two devices; the last is a technician's test event."""
    return [
        new_event(
            "gunshot" if i % 3 == 0 else "crowd",
            device_id="mic-01" if i % 2 else "cam-01",
            seq=i,
            ts=T0 + timedelta(minutes=i),
            test=i == 11,
        )
        for i in range(12)
    ]


@pytest.fixture
def api(store, events):
    """The API over a store holding `events` and one dead letter."""
    now = datetime.now(UTC)
    store.record([ValidMessage(e, f"impetus/v1/square/{e.device_id}/events/{e.type}", now) for e in events])
    store.record(
        [DeadLetter("impetus/v1/square/cam-01/events/crowd", "not_json", "payload is not JSON", b"{", now)]
    )
    users = AlertStore(store.path)
    key = users.add_user("tester", "admin")
    users.close()
    with TestClient(create_app(store), headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def ids(response):
    assert response.status_code == 200, response.text
    return [item["event_id"] for item in response.json()["items"]]


def test_events_come_newest_first_with_a_total(api, events):
    response = api.get("/api/v1/events")
    assert ids(response) == [e.event_id for e in reversed(events)]
    assert response.json()["total"] == 12


def test_events_filter_by_device_type_and_half_open_time_window(api, events):
    expected = [e.event_id for e in reversed(events) if e.device_id == "mic-01" and e.type == "gunshot"]
    assert ids(api.get("/api/v1/events", params={"device": "mic-01", "type": "gunshot"})) == expected

    window = {"since": "2025-06-01T12:03:00Z", "until": "2025-06-01T14:06:00+02:00"}
    assert ids(api.get("/api/v1/events", params=window)) == [e.event_id for e in reversed(events[3:6])]


def test_events_page_with_limit_and_offset(api, events):
    newest_first = [e.event_id for e in reversed(events)]
    pages = [ids(api.get("/api/v1/events", params={"limit": 5, "offset": o})) for o in (0, 5, 10)]
    assert pages == [newest_first[0:5], newest_first[5:10], newest_first[10:12]]
    assert api.get("/api/v1/events", params={"limit": 5, "offset": 10}).json()["total"] == 12


def test_test_events_come_back_marked(api):
    items = api.get("/api/v1/events").json()["items"]
    assert [item["test"] for item in items] == [True] + [False] * 11


def test_one_event_by_id_and_an_unknown_one(api, events):
    event = events[4]
    body = api.get(f"/api/v1/events/{event.event_id}").json()
    assert body["payload"] == event.wire_dict()["payload"]
    assert body["received_at"].endswith("Z")
    unknown = "01970000-0000-7000-8000-000000000000"
    assert api.get(f"/api/v1/events/{unknown}").status_code == 404
    assert api.get("/api/v1/events/not-an-id").status_code == 422


@pytest.mark.parametrize(
    ("params", "name", "words"),
    [
        ({"type": "explosion"}, "type", "expected one of gunshot"),
        ({"type": "health"}, "type", "unknown event type"),
        ({"since": "yesterday"}, "since", "datetime"),
        ({"since": "2025-06-01T12:00:00"}, "since", "timezone"),
        ({"since": "2025-06-01T13:00:00Z", "until": "2025-06-01T12:00:00Z"}, "until", "later than since"),
        ({"limit": 1001}, "limit", "less than or equal to 1000"),
        ({"limit": 0}, "limit", "greater than or equal to 1"),
        ({"offset": -1}, "offset", "greater than or equal to 0"),
        ({"device": "Cam 01!"}, "device", "pattern"),
    ],
)
def test_bad_query_parameters_answer_422_naming_the_parameter(api, params, name, words):
    response = api.get("/api/v1/events", params=params)
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["query", name]
    assert words in problem["msg"]


def test_dead_letters_are_listed_with_their_reason(api):
    body = api.get("/api/v1/dead-letters").json()
    assert body["total"] == 1
    [letter] = body["items"]
    assert (letter["reason_code"], letter["reason"], letter["payload_excerpt"]) == (
        "not_json",
        "payload is not JSON",
        "{",
    )
    assert "payload" not in letter


def test_health_without_ingest_reports_the_store(api):
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "events": 12}
