"""Canonical JSON: one byte string per message, so signatures and digests are reproducible.

Keys sorted, no insignificant whitespace, UTF-8, no NaN or infinity, datetimes as UTC ISO 8601
with microseconds and a `Z`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_ts(value)
    raise TypeError(f"cannot encode {type(value).__name__} in canonical JSON")


def format_ts(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timestamps on the wire must carry a timezone (UTC)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(data: Any) -> bytes:
    return json.dumps(
        data,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
        default=_default,
    ).encode("utf-8")


def digest(data: Any) -> str:
    """SHA-256 hex digest of the canonical form; what audit logs record of a message."""
    return hashlib.sha256(canonical_json(data)).hexdigest()
