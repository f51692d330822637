"""Snapshots on the wire: an aggregator's request on a device's `cmd` topic, and the device's
answer on its own `snapshot` topic.

An answer is never an event (no event may carry pixels): it carries either one anonymised JPEG or
the reason the device refused, and the device's audit head after it recorded the decision. Only
a device whose privacy policy has a `[snapshots]` table ever answers with an image.

    request = SnapshotRequest(request_id=new_event_id(), requested_by="op-anna")
    reply = parse_snapshot_reply(message.payload)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from impetus.protocol.envelope import ContractViolation
from impetus.protocol.ids import EVENT_ID_PATTERN
from impetus.protocol.topics import NAME_PATTERN

# A 1920-px JPEG at quality 85 stays well below this once base64-encoded.
MAX_SNAPSHOT_BYTES = 2 * 1024 * 1024

RequestId = Annotated[str, Field(pattern=EVENT_ID_PATTERN)]
DeviceName = Annotated[str, Field(pattern=NAME_PATTERN)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class SnapshotRequest(BaseModel):
    """`{"command": "snapshot", "request_id": ..., "requested_by": ...}` on the device's cmd topic."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: Literal["snapshot"] = "snapshot"
    request_id: RequestId
    requested_by: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(max_length=200)] = ""


class SnapshotReply(BaseModel):
    """What a device answers: `sent` with the anonymised JPEG, or `refused` with the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: RequestId
    device_id: DeviceName
    site: DeviceName
    ts: AwareDatetime
    status: Literal["sent", "refused"]
    reason: Annotated[str, Field(max_length=500)] = ""
    policy: Annotated[str, Field(max_length=100)]
    masked: dict[str, int] = Field(default_factory=dict)
    jpeg_b64: str | None = None
    jpeg_sha256: Sha256 | None = None
    audit_head: Sha256

    @model_validator(mode="after")
    def _image_only_when_sent(self) -> Self:
        if self.status == "refused":
            if self.jpeg_b64 is not None or self.jpeg_sha256 is not None:
                raise ValueError("a refused snapshot carries no image")
            return self
        if self.jpeg_b64 is None or self.jpeg_sha256 is None:
            raise ValueError("a sent snapshot carries jpeg_b64 and jpeg_sha256")
        if hashlib.sha256(self.jpeg()).hexdigest() != self.jpeg_sha256:
            raise ValueError("jpeg_sha256 does not match the image")
        return self

    def jpeg(self) -> bytes:
        if self.jpeg_b64 is None:
            return b""
        try:
            return base64.b64decode(self.jpeg_b64, validate=True)
        except binascii.Error:
            raise ValueError("jpeg_b64 is not base64") from None

    def to_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def sent_reply(
    *,
    request_id: str,
    device_id: str,
    site: str,
    ts: datetime,
    policy: str,
    jpeg: bytes,
    masked: dict[str, int],
    audit_head: str,
) -> SnapshotReply:
    return SnapshotReply(
        request_id=request_id,
        device_id=device_id,
        site=site,
        ts=ts,
        status="sent",
        policy=policy,
        masked=masked,
        jpeg_b64=base64.b64encode(jpeg).decode(),
        jpeg_sha256=hashlib.sha256(jpeg).hexdigest(),
        audit_head=audit_head,
    )


def parse_snapshot_reply(raw: bytes) -> SnapshotReply:
    """A device's answer, or `ContractViolation` naming what is wrong with it."""
    if len(raw) > MAX_SNAPSHOT_BYTES:
        raise ContractViolation(
            "too_large", f"snapshot reply of {len(raw)} bytes exceeds {MAX_SNAPSHOT_BYTES}"
        )
    try:
        return SnapshotReply.model_validate_json(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "reply"
        raise ContractViolation("invalid_snapshot", f"{where}: {first['msg']}") from None
