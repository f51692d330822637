"""The correlator turns a stream of stored events into few alerts: grouping, corroboration,
localisation, escalation, silences and inhibition, each on real SQLite and real events."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest
from six_microphones import T0
from soc_events import SITE, crowd, event, piazza, shot

from impetus.aggregator import alert_lifecycle as lifecycle
from impetus.aggregator.alert_rules import load_rules
from impetus.aggregator.alerts_store import AlertStore
from impetus.aggregator.correlator import Correlator
from impetus.aggregator.store import EventStore, ValidMessage
from impetus.configfile import ConfigError
from impetus.protocol import EnvelopeBase, format_ts, topic_for


@pytest.fixture
def alerts(store: EventStore):
    opened = AlertStore(store.path)
    yield opened
    opened.close()


@pytest.fixture
def correlate(store: EventStore, alerts: AlertStore):
    """`correlate(events)`: store the events as ingest does and correlate what was new."""
    correlator = Correlator(alerts, load_rules(), piazza())

    def run(events: list[EnvelopeBase]) -> list[dict]:
        outcome = store.record(
            [ValidMessage(e, topic_for(SITE, e.device_id, e.type), e.ts) for e in events]  # type: ignore[attr-defined]
        )
        correlator.process(outcome.stored)
        return alerts.page()[0]

    run.correlator = correlator  # type: ignore[attr-defined]
    return run


def test_six_microphones_hearing_one_shot_make_one_located_alert(correlate, alerts):
    [alert] = correlate(shot(30.0, 20.0))
    assert (alert["type"], alert["status"], alert["severity"]) == ("gunshot", "new", "severe")
    assert alert["corroborating_devices"] == 6
    assert alert["event_count"] == 6
    assert alert["confidence"] > 0.99  # six devices at 0.9 each
    location = alert["location"]
    assert abs(location["x_m"] - 30.0) < 1.0 and abs(location["y_m"] - 20.0) < 1.0
    assert 0 < location["radius_95_m"] < 5.0
    assert location["lat"] == pytest.approx(45.4642 + 20.0 / 111_320.0, abs=1e-5)
    assert alert["zone"] == "west"
    assert [h["action"] for h in alerts.history(alert["id"])][:2] == ["raised", "corroborated"]
    assert [s["step"] for s in alert["sop"]] == list(range(1, len(alert["sop"]) + 1))
    assert not any(s["done"] for s in alert["sop"])


def test_a_burst_and_its_repeats_stay_one_alert_and_a_late_shot_opens_another(correlate):
    burst = [r for n in range(3) for r in shot(70.0, 40.0, T0 + timedelta(seconds=0.6 * n))]
    [alert] = correlate(burst)
    assert alert["event_count"] == 18
    assert alert["corroborating_devices"] == 6
    later = correlate(shot(70.0, 40.0, T0 + timedelta(minutes=10)))
    assert [a["event_count"] for a in later] == [6, 18]


def test_a_gunshot_followed_by_crowd_dispersal_within_a_minute_is_extreme(correlate, alerts):
    [gunshot] = correlate(shot(30.0, 20.0))
    correlate([crowd("cam-w", T0 + timedelta(seconds=20), "D", zone="west", dispersal=True)])
    escalated = alerts.alert(gunshot["id"])
    assert escalated["severity"] == "extreme"
    [entry] = [h for h in alerts.history(gunshot["id"]) if h["action"] == "escalated"]
    assert "gunshot_then_dispersal" in entry["note"]


def test_dispersal_long_after_the_shot_does_not_escalate_it(correlate, alerts):
    [gunshot] = correlate(shot(30.0, 20.0))
    correlate([crowd("cam-w", T0 + timedelta(seconds=200), "D", zone="west", dispersal=True)])
    assert alerts.alert(gunshot["id"])["severity"] == "severe"


def test_crowd_at_level_f_for_two_minutes_becomes_severe_and_not_before(correlate):
    minute = [crowd("cam-e", T0 + timedelta(seconds=s), "F", zone="east", seq=s) for s in range(0, 61, 10)]
    [alert] = correlate(minute)
    assert (alert["type"], alert["severity"]) == ("crowd", "moderate")
    more = [crowd("cam-e", T0 + timedelta(seconds=s), "F", zone="east", seq=s) for s in range(70, 131, 10)]
    [alert] = correlate(more)
    assert alert["severity"] == "severe"


def test_an_ordinary_crowd_raises_nothing(correlate):
    assert (
        correlate([crowd("cam-w", T0 + timedelta(seconds=s), "C", zone="west", seq=s) for s in range(5)])
        == []
    )


def test_a_silenced_zone_raises_no_alert_while_the_others_still_do(correlate, alerts):
    alerts.add_silence(
        {
            "site": SITE,
            "zone": "east",
            "device": None,
            "type": None,
            "starts_at": format_ts(T0 - timedelta(hours=1)),
            "ends_at": format_ts(T0 + timedelta(hours=1)),
            "author": "tech",
            "comment": "fountain works",
        }
    )
    raised = correlate([crowd("cam-e", T0, "F", zone="east"), crowd("cam-w", T0, "F", zone="west", seq=1)])
    assert [(a["zone"], a["type"]) for a in raised] == [("west", "crowd")]
    assert correlate.correlator.counters["silenced"] == 1


def test_a_tampered_devices_detections_are_marked_untrusted(correlate, alerts):
    correlate([event("tamper", "cam-e", T0, {"kind": "covered", "score": 0.95}, zone="east")])
    bag = {
        "class_name": "backpack",
        "box": {"x": 0.4, "y": 0.5, "w": 0.1, "h": 0.1},
        "score": 0.8,
        "track_id": 3,
        "dwell_s": 120.0,
        "unattended_s": 90.0,
    }
    raised = correlate([event("left_object", "cam-e", T0 + timedelta(seconds=30), bag, zone="east", seq=1)])
    left = next(a for a in raised if a["type"] == "left_object")
    assert left["untrusted"] is True
    assert alerts.event_links(left["id"])[0][1] is True
    tamper = next(a for a in raised if a["type"] == "tamper")
    assert tamper["untrusted"] is False


def test_an_event_after_the_alert_is_resolved_opens_a_new_alert(correlate, alerts):
    [first] = correlate([crowd("cam-w", T0, "F", zone="west")])
    lifecycle.close(alerts, first["id"], "op", "resolved", "stewards on it")
    raised = correlate([crowd("cam-w", T0 + timedelta(seconds=30), "F", zone="west", seq=1)])
    assert [a["status"] for a in raised] == ["new", "resolved"]


def test_open_alerts_survive_a_restart_of_the_correlator(correlate, store, alerts):
    [first] = correlate([crowd("cam-w", T0, "F", zone="west")])
    again = Correlator(alerts, load_rules(), piazza())
    outcome = store.record(
        [
            ValidMessage(e, "t", e.ts)
            for e in [crowd("cam-w", T0 + timedelta(seconds=20), "F", zone="west", seq=1)]
        ]
    )
    again.process(outcome.stored)
    [alert] = alerts.page()[0]
    assert (alert["id"], alert["event_count"]) == (first["id"], 2)


def test_the_audit_trail_cannot_be_rewritten(correlate, store):
    assert len(correlate([crowd("cam-w", T0, "F", zone="west")])) == 1
    conn = sqlite3.connect(store.path)
    try:
        for statement in ("UPDATE alert_history SET actor = 'someone else'", "DELETE FROM alert_history"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
    finally:
        conn.close()


def test_a_city_checklist_replaces_the_shipped_one_for_its_type_only(store, alerts, tmp_path):
    (tmp_path / "crowd.toml").write_text('steps = ["Call the city crowd desk", "Open gate 4"]\n')
    correlator = Correlator(alerts, load_rules(), piazza(), sop_dir=tmp_path)
    events = [crowd("cam-w", T0, "F", zone="west"), *shot(30.0, 20.0)]
    outcome = store.record([ValidMessage(e, "t", e.ts) for e in events])
    correlator.process(outcome.stored)
    by_type = {a["type"]: a for a in alerts.page()[0]}
    assert [s["text"] for s in by_type["crowd"]["sop"]] == ["Call the city crowd desk", "Open gate 4"]
    assert by_type["gunshot"]["sop"][0]["text"].startswith("Check the located position")


def test_a_broken_checklist_file_stops_the_start_naming_the_file(alerts, tmp_path):
    (tmp_path / "gunshot.toml").write_text("steps = []\n")
    with pytest.raises(ConfigError, match=r"gunshot\.toml: steps: expected a non-empty list"):
        Correlator(alerts, load_rules(), piazza(), sop_dir=tmp_path)
