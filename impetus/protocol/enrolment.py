"""The enrolment exchange both sides must agree on: what a device signs to rotate its credentials.

`POST /api/v1/enrol` {token, device_id, public_key, profile} -> identity (MQTT account, site CA);
`POST /api/v1/enrol/rotate` {device_id, ts, public_key?, sig} where `sig` is the device's current
Ed25519 key over `rotation_proof_bytes(...)`, base64.
"""

from __future__ import annotations

from impetus.protocol.canonical import canonical_json

ROTATION_PURPOSE = "impetus-rotate"


def rotation_proof_bytes(device_id: str, ts: str, public_key: str | None) -> bytes:
    """What a device signs with its current key to ask for new credentials (`ts` as on the wire)."""
    return canonical_json(
        {"purpose": ROTATION_PURPOSE, "device_id": device_id, "ts": ts, "public_key": public_key}
    )
