"""The wire contract, as a third party integrating with impetus would rely on it."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from impetus.cli import main
from impetus.protocol import (
    EVENT_TYPES,
    MAX_MESSAGE_BYTES,
    ClockQuality,
    ContractViolation,
    PrivacyStamp,
    canonical_json,
    make_event,
    parse_message,
    topic_for,
)
from impetus.protocol.ids import event_id_time_ms, is_event_id, new_event_id
from impetus.protocol.topics import TopicError, parse_topic

CLOCK = ClockQuality(source="ntp", offset_ms=0.4)
PRIVACY = PrivacyStamp(policy_id="counting-only", policy_version=1)
TS = datetime(2026, 11, 22, 10, 0, 0, 123456, tzinfo=UTC)


def crowd(**overrides: object) -> dict:
    body = {"count": 120, "area_m2": 400.0, "density": 0.3, "level_of_service": "B"}
    body.update(overrides)
    return body


def crowd_event(**payload: object):
    return make_event(
        "crowd",
        device_id="cam-1",
        site="piazza",
        seq=7,
        payload=crowd(**payload),
        ts=TS,
        clock=CLOCK,
        privacy=PRIVACY,
        zone="gathering",
    )


def test_a_valid_event_survives_the_round_trip_unchanged() -> None:
    event = crowd_event()
    topic = topic_for("piazza", "cam-1", "crowd")
    assert topic == "impetus/v1/piazza/cam-1/events/crowd"
    parsed = parse_message(topic, event.to_bytes())
    assert parsed == event
    assert parsed.ts == TS


def test_canonical_json_is_sorted_compact_and_keeps_microseconds() -> None:
    data = json.loads(crowd_event().to_bytes())
    assert list(data) == sorted(data)
    assert data["ts"] == "2026-11-22T10:00:00.123456Z"
    assert b" " not in canonical_json({"b": 1, "a": [1, 2]})
    assert canonical_json({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_signing_bytes_exclude_the_signature() -> None:
    event = crowd_event()
    signed = event.model_copy(update={"sig": "abc"})
    assert signed.signing_bytes() == event.signing_bytes()
    assert b'"sig"' in signed.to_bytes()


def test_status_and_health_travel_on_their_own_topics() -> None:
    assert topic_for("piazza", "cam-1", "status") == "impetus/v1/piazza/cam-1/status"
    assert topic_for("piazza", "cam-1", "health") == "impetus/v1/piazza/cam-1/health"
    status = make_event(
        "status",
        device_id="cam-1",
        site="piazza",
        seq=0,
        ts=TS,
        clock=CLOCK,
        privacy=PRIVACY,
        payload={"state": "online", "agent_version": "0.1.0"},
    )
    assert parse_message("impetus/v1/piazza/cam-1/status", status.to_bytes()).type == "status"


@pytest.mark.parametrize(
    ("mutate", "code", "fragment"),
    [
        (lambda d: d["payload"].update(face_image="..."), "schema", "payload.face_image"),
        (lambda d: d.update(extra_field=1), "schema", "extra_field"),
        (lambda d: d["payload"].update(count="many"), "schema", "payload.count"),
        (lambda d: d["payload"].pop("density"), "schema", "payload.density"),
        (lambda d: d.pop("event_id"), "schema", "event_id"),
        (lambda d: d.update(ts="2026-11-22T10:00:00"), "schema", "ts"),
        (lambda d: d.update(type="alien_landing"), "unknown_type", "alien_landing"),
        (lambda d: d.update(device_id="cam-2"), "topic_mismatch", "cam-2"),
    ],
)
def test_broken_messages_are_rejected_with_a_reason(mutate, code: str, fragment: str) -> None:
    data = json.loads(crowd_event().to_bytes())
    mutate(data)
    with pytest.raises(ContractViolation) as caught:
        parse_message("impetus/v1/piazza/cam-1/events/crowd", json.dumps(data).encode())
    assert caught.value.code == code
    assert fragment in caught.value.reason


def test_not_json_and_oversized_payloads_are_rejected() -> None:
    topic = "impetus/v1/piazza/cam-1/events/crowd"
    with pytest.raises(ContractViolation) as caught:
        parse_message(topic, b"{not json")
    assert caught.value.code == "not_json"
    with pytest.raises(ContractViolation) as caught:
        parse_message(topic, b"x" * (MAX_MESSAGE_BYTES + 1))
    assert caught.value.code == "too_large"
    with pytest.raises(ContractViolation) as caught:
        parse_message("impetus/v1/Piazza!/cam-1/events/crowd", crowd_event().to_bytes())
    assert caught.value.code == "bad_topic"


def test_topics_outside_the_scheme_are_refused() -> None:
    assert parse_topic("impetus/v1/piazza/cam-1/events/gunshot").event_type == "gunshot"
    for bad in ("impetus/v2/piazza/cam-1/status", "impetus/v1/piazza/cam-1/video", "a/b"):
        with pytest.raises(TopicError):
            parse_topic(bad)


def test_event_ids_are_unique_and_time_ordered() -> None:
    ids = [new_event_id() for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(is_event_id(i) for i in ids[:10])
    assert abs(event_id_time_ms(new_event_id()) - time.time() * 1000) < 1000


def test_schema_command_writes_one_schema_per_message_type(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["protocol", "schema", str(tmp_path)])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in tmp_path.glob("*.schema.json"))
    assert names == sorted(f"{t}.schema.json" for t in EVENT_TYPES)
    gunshot = json.loads((tmp_path / "gunshot.schema.json").read_text())
    assert gunshot["additionalProperties"] is False
    assert "onset_ts" in json.dumps(gunshot)
