"""Enrolment tokens are one-time, expire and are stored hashed; credentials rotate by proof of the
device key; the aggregator is found by zeroconf on loopback."""

from __future__ import annotations

import base64
import secrets
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from impetus.aggregator.advertise import Advertiser, Advertising
from impetus.aggregator.device_registry import DeviceRegistry, EnrolmentRefused, hash_token
from impetus.aggregator.enrolment_api import EnrolmentSettings, enrolment_router
from impetus.aggregator.security_cli import parse_duration
from impetus.aggregator.service import AggregatorService
from impetus.edge_agent.credentials import public_key_b64
from impetus.edge_agent.discovery import NotDiscovered, discover
from impetus.protocol.enrolment import rotation_proof_bytes


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[DeviceRegistry]:
    registry = DeviceRegistry(tmp_path / "registry.db")
    yield registry
    registry.close()


@pytest.fixture
def api(registry: DeviceRegistry) -> TestClient:
    app = FastAPI()
    app.include_router(
        enrolment_router(registry, EnrolmentSettings(ca_cert_pem="PEM", device_broker_url=None))
    )
    return TestClient(app)


def test_tokens_are_stored_only_as_hashes(registry: DeviceRegistry) -> None:
    token = registry.issue_token("piazza", timedelta(hours=1))
    rows = sqlite3.connect(registry.path).execute("SELECT token_hash FROM enrol_tokens").fetchall()
    assert rows == [(hash_token(token),)]
    assert token not in registry.path.read_bytes().decode("latin-1")


def test_an_expired_token_is_refused(registry: DeviceRegistry) -> None:
    token = registry.issue_token("piazza", timedelta(seconds=1))
    registry._db.execute(
        "UPDATE enrol_tokens SET expires_at = ?", ((datetime.now(UTC) - timedelta(seconds=1)).isoformat(),)
    )
    with pytest.raises(EnrolmentRefused, match="expired"):
        registry.enrol(token, "pole-1", public_key_b64(Ed25519PrivateKey.generate()))


def test_enrolment_needs_a_raw_ed25519_public_key(api: TestClient, registry: DeviceRegistry) -> None:
    token = registry.issue_token("piazza", timedelta(hours=1))
    answer = api.post(
        "/api/v1/enrol",
        json={"token": token, "device_id": "pole-1", "public_key": base64.b64encode(b"x" * 40).decode()},
    )
    assert answer.status_code == 403 and "32 bytes" in answer.json()["detail"]


def test_durations_are_read_with_their_unit() -> None:
    assert parse_duration("1h") == timedelta(hours=1)
    assert parse_duration("15m") == timedelta(minutes=15)
    with pytest.raises(ValueError, match="unit s, m, h or d"):
        parse_duration("1 week")


def test_rotation_needs_proof_of_the_registered_key(api: TestClient, registry: DeviceRegistry) -> None:
    key = Ed25519PrivateKey.generate()
    token = registry.issue_token("piazza", timedelta(hours=1))
    first = api.post(
        "/api/v1/enrol", json={"token": token, "device_id": "pole-1", "public_key": public_key_b64(key)}
    )
    assert first.status_code == 200 and first.json()["ca_cert"] == "PEM"
    old_hash = registry.device("pole-1").password_hash  # type: ignore[union-attr]

    ts = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    new_key = Ed25519PrivateKey.generate()
    body = {"device_id": "pole-1", "ts": ts, "public_key": public_key_b64(new_key)}
    forged = Ed25519PrivateKey.generate().sign(rotation_proof_bytes("pole-1", ts, body["public_key"]))
    refused = api.post("/api/v1/enrol/rotate", json={**body, "sig": base64.b64encode(forged).decode()})
    assert refused.status_code == 403 and "registered key" in refused.json()["detail"]

    proof = key.sign(rotation_proof_bytes("pole-1", ts, body["public_key"]))
    rotated = api.post("/api/v1/enrol/rotate", json={**body, "sig": base64.b64encode(proof).decode()})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["mqtt_password"] != first.json()["mqtt_password"]
    device = registry.device("pole-1")
    assert device is not None and device.password_hash != old_hash
    assert device.public_key_b64 == public_key_b64(new_key)


def test_the_agent_discovers_the_aggregator_of_its_site_on_loopback() -> None:
    with Advertiser(
        site="piazza",
        api_port=18080,
        broker_port=18883,
        tls=True,
        addresses=["127.0.0.1"],
        interfaces=["127.0.0.1"],
        instance="test-soc",
    ):
        found = discover("piazza", timeout_s=8, interfaces=["127.0.0.1"])
        assert found.api_url == "http://127.0.0.1:18080"
        assert found.broker_url == "mqtts://127.0.0.1:18883"
        with pytest.raises(NotDiscovered, match="pass --aggregator"):
            discover("harbour", timeout_s=1.5, interfaces=["127.0.0.1"])


def test_an_aggregator_that_names_no_site_serves_any_but_a_named_one_wins() -> None:
    loopback = {"addresses": ["127.0.0.1"], "interfaces": ["127.0.0.1"], "tls": False}
    with (
        Advertiser(site=None, api_port=18090, broker_port=18893, instance="test-any", **loopback),
        Advertiser(site="piazza", api_port=18091, broker_port=18894, instance="test-piazza", **loopback),
    ):
        assert discover("harbour", timeout_s=8, interfaces=["127.0.0.1"]).api_url == "http://127.0.0.1:18090"
        found = discover("piazza", timeout_s=8, interfaces=["127.0.0.1"])
        assert found.api_url == "http://127.0.0.1:18091"
        assert found.broker_url == "mqtt://127.0.0.1:18894"


def test_a_running_aggregator_on_loopback_advertises_its_api_and_broker_there(tmp_path: Path) -> None:
    site = f"lab-{secrets.token_hex(3)}"  # not another test run's aggregator
    advertise = Advertising(site=site)
    service = AggregatorService(None, tmp_path / "events.db", "127.0.0.1:0", advertise=advertise)
    with service:
        assert service.advertiser is not None and service.advertiser.addresses == ["127.0.0.1"]
        found = discover(site, timeout_s=10, interfaces=["127.0.0.1"])
        assert found.api_url == service.api_url
        assert found.broker_url == service.broker_url
