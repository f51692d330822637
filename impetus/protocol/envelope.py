"""The event envelope and the one function that turns bytes off the wire into a typed event.

Every message a device sends is an envelope: who sent it, when, in which order, under which
privacy policy, and one typed payload. `parse_message` is the single gate both sides use: the
edge checks what it is about to send, the aggregator checks what it received.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from impetus.protocol.canonical import canonical_json, format_ts
from impetus.protocol.ids import EVENT_ID_PATTERN, new_event_id
from impetus.protocol.payloads import (
    PAYLOADS,
    CrowdPayload,
    GunshotPayload,
    HealthPayload,
    LeftObjectPayload,
    Name,
    ObjectPayload,
    Score,
    StatusPayload,
    TamperPayload,
    VehiclePayload,
)
from impetus.protocol.topics import TopicError, parse_topic

SCHEMA_ID = "impetus.event/1"
MAX_MESSAGE_BYTES = 64 * 1024
EVENT_TYPES: tuple[str, ...] = tuple(PAYLOADS)


class ContractViolation(ValueError):
    """A message that breaks the wire contract; `code` is stable, `reason` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class ClockQuality(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Literal["ntp", "ptp", "gps", "rtc", "unsynced", "simulated"]
    offset_ms: float | None = Field(default=None, description="Estimated offset from true UTC")


class PrivacyStamp(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_id: Name
    policy_version: Annotated[int, Field(ge=1)]
    redacted: list[Name] = Field(default_factory=list, max_length=16)


class EnvelopeBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: Literal["impetus.event/1"] = Field(default=SCHEMA_ID, alias="schema")
    event_id: Annotated[str, Field(pattern=EVENT_ID_PATTERN)]
    device_id: Name
    site: Name
    zone: Name | None = None
    ts: datetime
    clock: ClockQuality
    seq: Annotated[int, Field(ge=0)]
    confidence: Score = 1.0
    privacy: PrivacyStamp
    test: bool = Field(default=False, description="A technician's test event, not a detection")
    sig: Annotated[str, Field(max_length=200)] | None = None

    @field_validator("ts")
    @classmethod
    def _ts_has_timezone(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("ts must carry a timezone (UTC)")
        return value

    def wire_dict(self) -> dict[str, Any]:
        """The JSON-ready dict as it travels (aliases, UTC timestamps)."""
        return json.loads(self.model_dump_json(by_alias=True, exclude_none=True))

    def to_bytes(self) -> bytes:
        return canonical_json(self.wire_dict())

    def signing_bytes(self) -> bytes:
        """What a device signs: the canonical form without `sig`."""
        data = self.wire_dict()
        data.pop("sig", None)
        return canonical_json(data)


class GunshotEvent(EnvelopeBase):
    type: Literal["gunshot"]
    payload: GunshotPayload


class CrowdEvent(EnvelopeBase):
    type: Literal["crowd"]
    payload: CrowdPayload


class ObjectEvent(EnvelopeBase):
    type: Literal["object"]
    payload: ObjectPayload


class LeftObjectEvent(EnvelopeBase):
    type: Literal["left_object"]
    payload: LeftObjectPayload


class VehicleInPedestrianZoneEvent(EnvelopeBase):
    type: Literal["vehicle_in_pedestrian_zone"]
    payload: VehiclePayload


class TamperEvent(EnvelopeBase):
    type: Literal["tamper"]
    payload: TamperPayload


class HealthEvent(EnvelopeBase):
    type: Literal["health"]
    payload: HealthPayload


class StatusEvent(EnvelopeBase):
    type: Literal["status"]
    payload: StatusPayload


EVENT_MODELS: dict[str, type[EnvelopeBase]] = {
    "gunshot": GunshotEvent,
    "crowd": CrowdEvent,
    "object": ObjectEvent,
    "left_object": LeftObjectEvent,
    "vehicle_in_pedestrian_zone": VehicleInPedestrianZoneEvent,
    "tamper": TamperEvent,
    "health": HealthEvent,
    "status": StatusEvent,
}

Event = Annotated[
    Union[  # noqa: UP007 - a discriminated union needs the Union form
        GunshotEvent,
        CrowdEvent,
        ObjectEvent,
        LeftObjectEvent,
        VehicleInPedestrianZoneEvent,
        TamperEvent,
        HealthEvent,
        StatusEvent,
    ],
    Field(discriminator="type"),
]
_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(message)"
        parts.append(f"{where}: {item['msg']}")
    more = error.error_count() - len(parts)
    return "; ".join(parts) + (f" (and {more} more)" if more > 0 else "")


def parse_event(data: dict[str, Any]) -> EnvelopeBase:
    """Validate an already-decoded JSON object against the contract."""
    if not isinstance(data, dict):
        raise ContractViolation("schema", "message must be a JSON object")
    kind = data.get("type")
    if kind is None:
        raise ContractViolation("schema", "type: field required")
    if kind not in EVENT_MODELS:
        raise ContractViolation(
            "unknown_type", f"unknown event type {kind!r}; known: {', '.join(EVENT_TYPES)}"
        )
    try:
        return _EVENT_ADAPTER.validate_python(data)
    except ValidationError as error:
        raise ContractViolation("schema", _describe(error)) from None


def parse_message(topic: str, data: bytes) -> EnvelopeBase:
    """Bytes off the wire -> a typed event, or `ContractViolation` saying why not."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ContractViolation("too_large", f"{len(data)} bytes, the limit is {MAX_MESSAGE_BYTES}")
    try:
        parts = parse_topic(topic)
    except TopicError as error:
        raise ContractViolation("bad_topic", str(error)) from None
    try:
        decoded = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ContractViolation("not_json", f"payload is not UTF-8: {error}") from None
    except json.JSONDecodeError as error:
        raise ContractViolation("not_json", f"payload is not JSON: {error}") from None
    event = parse_event(decoded)
    expected = (parts.site, parts.device_id, parts.event_type)
    actual = (event.site, event.device_id, event.type)  # type: ignore[attr-defined]
    if expected != actual:
        raise ContractViolation(
            "topic_mismatch",
            f"topic says site/device/type {'/'.join(map(str, expected))}, "
            f"envelope says {'/'.join(map(str, actual))}",
        )
    return event


def make_event(
    event_type: str,
    *,
    device_id: str,
    site: str,
    seq: int,
    payload: dict[str, Any] | BaseModel,
    ts: datetime,
    clock: ClockQuality,
    privacy: PrivacyStamp,
    zone: str | None = None,
    confidence: float = 1.0,
    test: bool = False,
    event_id: str | None = None,
) -> EnvelopeBase:
    """Build and validate an event; raises `ContractViolation` like a receiver would."""
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    data: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "event_id": event_id or new_event_id(),
        "device_id": device_id,
        "site": site,
        "type": event_type,
        "ts": format_ts(ts),
        "clock": clock.model_dump(mode="json"),
        "seq": seq,
        "confidence": confidence,
        "privacy": privacy.model_dump(mode="json"),
        "test": test,
        "payload": body,
    }
    if zone is not None:
        data["zone"] = zone
    return parse_event(data)
