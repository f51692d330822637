"""The wire contract shared by devices and aggregator. Imports nothing else of ours."""

from impetus.protocol.canonical import canonical_json, digest, format_ts
from impetus.protocol.envelope import (
    EVENT_MODELS,
    EVENT_TYPES,
    MAX_MESSAGE_BYTES,
    SCHEMA_ID,
    ClockQuality,
    ContractViolation,
    EnvelopeBase,
    PrivacyStamp,
    make_event,
    parse_event,
    parse_message,
)
from impetus.protocol.ids import new_event_id
from impetus.protocol.topics import topic_for

__all__ = [
    "EVENT_MODELS",
    "EVENT_TYPES",
    "MAX_MESSAGE_BYTES",
    "SCHEMA_ID",
    "ClockQuality",
    "ContractViolation",
    "EnvelopeBase",
    "PrivacyStamp",
    "canonical_json",
    "digest",
    "format_ts",
    "make_event",
    "new_event_id",
    "parse_event",
    "parse_message",
    "topic_for",
]
