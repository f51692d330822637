"""`impetus edge rotate-credentials`: a new MQTT password (and, with `new_key`, a new signing key)
without a token, by proving the current key to the aggregator (`POST /api/v1/enrol/rotate`).

The new key is written beside the old one and replaces it only once the aggregator has accepted
it, so a failed rotation leaves the device working as before.
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from impetus.configfile import load_toml_model, read_toml, validate
from impetus.edge_agent.config import DeviceFile
from impetus.edge_agent.credentials import (
    CredentialsFile,
    generate_signing_key,
    load_signing_key,
    public_key_b64,
    write_private,
)
from impetus.edge_agent.provision import ProvisionError, post_json
from impetus.protocol import format_ts
from impetus.protocol.enrolment import rotation_proof_bytes


def rotate_credentials(device_file: Path, *, new_key: bool = False) -> str:
    """Rotate the device's credentials in place; returns the MQTT username."""
    device = validate(device_file, read_toml(device_file), DeviceFile)
    if device.credentials is None:
        raise ProvisionError(f"{device_file}: no `credentials` file: provision the device first")
    path = device.credentials if device.credentials.is_absolute() else device_file.parent / device.credentials
    current = load_toml_model(path, CredentialsFile)
    if current.signing_key is None or current.aggregator_url is None:
        raise ProvisionError(f"{path}: expected signing_key and aggregator_url (written by provision)")
    key_path = current.signing_key if current.signing_key.is_absolute() else path.parent / current.signing_key
    key = load_signing_key(key_path)
    pending = key_path.with_suffix(".new")
    public_key = public_key_b64(generate_signing_key(pending)) if new_key else None
    ts = format_ts(datetime.now(UTC))
    proof = key.sign(rotation_proof_bytes(device.device_id, ts, public_key))
    body = {
        "device_id": device.device_id,
        "ts": ts,
        "public_key": public_key,
        "sig": base64.b64encode(proof).decode("ascii"),
    }
    try:
        identity = post_json(current.aggregator_url, "/api/v1/enrol/rotate", body, "rotation")
    except ProvisionError:
        pending.unlink(missing_ok=True)
        raise
    if new_key:
        os.replace(pending, key_path)
    updated = current.model_copy(update={"mqtt_password": identity["mqtt_password"]})
    lines = [
        f"{name} = {_quoted(value)}" for name, value in updated.model_dump().items() if value is not None
    ]
    write_private(path, ("\n".join(lines) + "\n").encode("utf-8"))
    return updated.mqtt_username


def _quoted(value: object) -> str:
    return json.dumps(str(value))
