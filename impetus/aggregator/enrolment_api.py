"""`POST /api/v1/enrol`: a device spends a one-time token for its identity; the one route
authenticated by the token itself. `POST /api/v1/enrol/rotate`: an enrolled device proves its key
and gets a new MQTT password (and may register a new key).

Answers 403 with the reason (used, expired, unknown token; revoked device; bad proof) so the
technician's terminal says what to do next.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from cryptography.exceptions import InvalidSignature
from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from impetus.aggregator.device_registry import DeviceRegistry, EnrolmentRefused, IssuedCredentials
from impetus.protocol.enrolment import rotation_proof_bytes
from impetus.protocol.topics import NAME_PATTERN

ROTATION_CLOCK_SKEW = timedelta(minutes=5)


class EnrolRequest(BaseModel):
    token: Annotated[str, Field(min_length=8, max_length=200)]
    device_id: Annotated[str, Field(pattern=NAME_PATTERN)]
    public_key: Annotated[str, Field(min_length=40, max_length=64, description="raw Ed25519, base64")]
    profile: Annotated[str | None, Field(max_length=100)] = None


class RotateRequest(BaseModel):
    device_id: Annotated[str, Field(pattern=NAME_PATTERN)]
    ts: datetime
    public_key: Annotated[str | None, Field(max_length=64)] = None
    sig: Annotated[str, Field(max_length=200, description="Ed25519 over rotation_proof_bytes, base64")]


class Identity(BaseModel):
    device_id: str
    site: str
    mqtt_username: str
    mqtt_password: str
    ca_cert: str | None
    broker_url: str | None


@dataclass
class EnrolmentSettings:
    """What a new device is told besides its credentials."""

    ca_cert_pem: str | None = None
    device_broker_url: str | None = None


def _identity(issued: IssuedCredentials, settings: EnrolmentSettings) -> Identity:
    return Identity(
        device_id=issued.device_id,
        site=issued.site,
        mqtt_username=issued.mqtt_username,
        mqtt_password=issued.mqtt_password,
        ca_cert=settings.ca_cert_pem,
        broker_url=settings.device_broker_url,
    )


def enrolment_router(
    registry: DeviceRegistry,
    settings: EnrolmentSettings,
    on_change: Callable[[str], None] | None = None,
) -> APIRouter:
    """`on_change(device_id)` runs after an enrolment or rotation (regenerate the broker files)."""
    router = APIRouter(prefix="/api/v1/enrol", tags=["enrolment"])

    def changed(device_id: str) -> None:
        if on_change is not None:
            on_change(device_id)

    @router.post("")
    def enrol(request: EnrolRequest) -> Identity:
        try:
            issued = registry.enrol(request.token, request.device_id, request.public_key, request.profile)
        except EnrolmentRefused as refusal:
            raise HTTPException(status_code=403, detail=str(refusal)) from None
        changed(issued.device_id)
        return _identity(issued, settings)

    @router.post("/rotate")
    def rotate(request: RotateRequest) -> Identity:
        device = registry.device(request.device_id)
        if device is None or not device.active:
            raise HTTPException(status_code=403, detail=f"device {request.device_id!r} is not enrolled")
        if request.ts.tzinfo is None or abs(datetime.now(UTC) - request.ts) > ROTATION_CLOCK_SKEW:
            raise HTTPException(status_code=403, detail="ts: expected the current time in UTC (within 5 min)")
        ts = request.ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            device.public_key.verify(
                base64.b64decode(request.sig, validate=True),
                rotation_proof_bytes(request.device_id, ts, request.public_key),
            )
        except (InvalidSignature, binascii.Error, ValueError):
            raise HTTPException(
                status_code=403, detail="sig: not signed by the device's registered key"
            ) from None
        try:
            issued = registry.rotate(request.device_id, request.public_key)
        except EnrolmentRefused as refusal:
            raise HTTPException(status_code=403, detail=str(refusal)) from None
        changed(issued.device_id)
        return _identity(issued, settings)

    return router
