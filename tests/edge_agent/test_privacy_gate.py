"""The privacy gate: what the policy does not allow never reaches the broker, and is counted."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from edge_fixtures import Collector, of_type, tamper_event

from impetus.configfile import ConfigError
from impetus.edge_agent.broker import BrokerAddress
from impetus.edge_agent.clock import SystemClock
from impetus.edge_agent.outbox import Outbox
from impetus.edge_agent.publisher import DeviceIdentity, Publisher
from impetus.privacy.gate import PrivacyGate, PrivacyRefusal
from impetus.privacy.policy import load_policy
from impetus.protocol import ClockQuality, EnvelopeBase, make_event
from impetus.protocol.payloads import Box, GroundPoint, ObjectPayload, TamperPayload

STRICT = """
policy_id = "tamper-only"
version = 3
[types.tamper]
fields = ["kind", "score"]
[types.status]
fields = ["state", "agent_version", "profile", "capabilities"]
"""


def object_event(position: bool = True) -> EnvelopeBase:
    gate = PrivacyGate(load_policy("counting-only"))
    return make_event(
        "object",
        device_id="dev-1",
        site="test-site",
        seq=0,
        payload=ObjectPayload(
            class_name="person",
            box=Box(x=0.1, y=0.2, w=0.1, h=0.3),
            score=0.9,
            track_id=4,
            position=GroundPoint(x_m=3.0, y_m=4.0) if position else None,
        ),
        ts=datetime.now(UTC),
        clock=ClockQuality(source="ntp"),
        privacy=gate.stamp(),
    )


def test_refused_messages_never_reach_the_broker_and_are_counted(
    mosquitto, collector: Collector, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "strict.toml").write_text(STRICT)
    decisions: list[tuple[str, bool, str]] = []
    gate = PrivacyGate(
        load_policy(tmp_path / "strict.toml"),
        on_decision=lambda e, ok, why: decisions.append((e.event_id, ok, why)),
    )
    outbox = Outbox(tmp_path / "outbox.sqlite")
    publisher = Publisher(
        DeviceIdentity("dev-1", "test-site"), outbox, gate, SystemClock(), BrokerAddress.parse(mosquitto.url)
    )
    publisher.start()

    refused = [object_event(), tamper_event(detail="the detail field is not allowed")]
    for event in refused:
        with pytest.raises(PrivacyRefusal):
            outbox.put(gate.admit(event))
    allowed = tamper_event(detail=None)
    outbox.put(gate.admit(allowed))
    publisher.notify()

    collector.wait_for(lambda ev: any(e.event_id == allowed.event_id for e in ev))
    assert publisher.wait_drained(10)
    sent = {e.event_id for e in collector.events()}
    assert not sent & {e.event_id for e in refused}
    counts = gate.counts()
    assert counts.refused == {"type_not_allowed": 1, "field_not_allowed": 1}
    assert [(event_id, ok) for event_id, ok, _ in decisions if event_id in {e.event_id for e in refused}] == [
        (refused[0].event_id, False),
        (refused[1].event_id, False),
    ]
    assert "detail" in next(why for event_id, _, why in decisions if event_id == refused[1].event_id)
    stamped = of_type(collector.events(), "tamper")[0]
    assert (stamped.privacy.policy_id, stamped.privacy.policy_version) == ("tamper-only", 3)
    publisher.stop()
    outbox.close()


def test_redacted_fields_are_removed_and_named_in_the_stamp() -> None:
    gate = PrivacyGate(load_policy("counting-only"))
    sent = gate.admit(object_event(position=True))
    assert sent.payload.position is None  # type: ignore[attr-defined]
    assert sent.privacy.redacted == ["position"]
    assert gate.admit(object_event(position=False)).privacy.redacted == []


def test_no_policy_can_allow_images_or_audio(tmp_path: Path) -> None:
    (tmp_path / "leaky.toml").write_text(
        'policy_id = "leaky"\nversion = 1\n[types.tamper]\nfields = ["kind", "score", "snapshot"]\n'
    )
    with pytest.raises(ConfigError, match="images or audio can never be allowed"):
        load_policy(tmp_path / "leaky.toml")


def test_long_text_that_could_smuggle_media_is_refused() -> None:
    """A plugin that builds its payload without validation cannot slip encoded pixels past the gate."""
    gate = PrivacyGate(load_policy("counting-only"))
    unchecked = TamperPayload.model_construct(kind="covered", score=0.9, detail="iVBORw0KGgo" + "A" * 600)
    smuggled = tamper_event().model_copy(update={"payload": unchecked})
    with pytest.raises(PrivacyRefusal, match="binary_like"):
        gate.admit(smuggled)
    assert gate.counts().refused == {"binary_like": 1}
