"""The device's identity on the link: its Ed25519 signing key, MQTT account and the site CA.

Written by `impetus edge provision` into a credentials file (0600) beside the device file:

    mqtt_username = "pole-1"
    mqtt_password = "..."
    ca_cert = "ca.crt"            # the site CA: the only CA the device trusts for mqtts://
    signing_key = "signing.key"   # PKCS#8 PEM, Ed25519

The publisher signs every envelope (`EventSigner`) over `EnvelopeBase.signing_bytes()`: the
canonical form without `sig`, after the outbox has stamped `seq`.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel, ConfigDict, Field

from impetus.configfile import ConfigError, load_toml_model
from impetus.protocol import EnvelopeBase, parse_event


class CredentialsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    mqtt_username: Annotated[str, Field(min_length=1, max_length=200)]
    mqtt_password: Annotated[str, Field(min_length=1, max_length=200)]
    ca_cert: Path | None = None
    signing_key: Path | None = None
    aggregator_url: Annotated[str, Field(max_length=500)] | None = None  # where to rotate them


def write_private(path: Path, data: bytes) -> None:
    """Create or replace `path` readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, 0o600)


def generate_signing_key(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_private(path, pem)
    return key


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as error:
        raise ConfigError(path, [f"signing_key: expected a PEM Ed25519 private key ({error})"]) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(path, [f"signing_key: expected an Ed25519 key (got {type(key).__name__})"])
    return key


def public_key_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


class EventSigner:
    """Adds `sig` to an envelope, or to its wire bytes as stored in the outbox."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self.key = key

    def sign(self, event: EnvelopeBase) -> EnvelopeBase:
        signature = self.key.sign(event.signing_bytes())
        return event.model_copy(update={"sig": base64.b64encode(signature).decode("ascii")})

    def sign_payload(self, payload: bytes) -> bytes:
        return self.sign(parse_event(json.loads(payload))).to_bytes()


@dataclass(frozen=True)
class DeviceCredentials:
    username: str
    password: str
    ca_cert: Path | None
    signer: EventSigner | None


def load_credentials(path: Path) -> DeviceCredentials:
    """The credentials file; paths in it are relative to it."""
    data = load_toml_model(path, CredentialsFile)

    def rel(value: Path | None) -> Path | None:
        return None if value is None else value if value.is_absolute() else path.parent / value

    ca_cert, key_path = rel(data.ca_cert), rel(data.signing_key)
    if ca_cert is not None and not ca_cert.is_file():
        raise ConfigError(path, [f"ca_cert: expected a PEM certificate file (no file {ca_cert})"])
    signer = EventSigner(load_signing_key(key_path)) if key_path is not None else None
    return DeviceCredentials(data.mqtt_username, data.mqtt_password, ca_cert, signer)
