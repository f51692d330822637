"""An operator asks a device for a snapshot through the aggregator, over a real mosquitto: the
device's policy decides, the anonymiser runs on the device, the audit log records it, and only
operators and privacy officers may see the image."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest

from impetus.aggregator.service import AggregatorService
from impetus.edge_agent.agent import EdgeAgent
from impetus.edge_agent.config import load_agent_config
from impetus.edge_agent.snapshot_responder import SnapshotResponder
from impetus.privacy.audit import read_records, verify_chain
from impetus.privacy.conformance import check
from impetus.privacy.device_audit import audit_dir_for
from impetus.privacy.effectiveness import independent_faces
from impetus.privacy.retention import enforce, history

PROFILE = 'name = "bench"\nboard = "test bench"\nhealth_interval_s = 1\n[detectors.tamper]\nmax_fps = 2\n'


@dataclass
class Site:
    service: AggregatorService
    agent: EdgeAgent
    responder: SnapshotResponder
    keys: dict[str, str]
    frame: np.ndarray

    def call(self, method: str, path: str, role: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        return httpx.request(method, self.service.api_url + path, headers=headers, timeout=30.0, **kwargs)

    def ask(self, role: str = "operator") -> httpx.Response:
        return self.call("POST", "/api/v1/devices/cam-1/snapshots", role, json={"reason": "verify alert"})

    def answer(self, request_id: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            item = self.call("GET", f"/api/v1/snapshots/{request_id}", "privacy_officer").json()
            if item["status"] != "requested":
                return item
            time.sleep(0.2)
        raise AssertionError(f"no answer to snapshot {request_id} within {timeout} s")


def open_site(tmp_path: Path, broker_url: str, policy: str, photo: Path) -> Iterator[Site]:
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / photo.name).write_bytes(photo.read_bytes())
    (tmp_path / "bench.toml").write_text(PROFILE)
    (tmp_path / "device.toml").write_text(
        f'device_id = "cam-1"\nsite = "test-site"\nprofile = "bench.toml"\nbroker = "{broker_url}"\n'
        f'privacy_policy = "{policy}"\noutbox = "state/outbox.sqlite"\n'
        '[[sources]]\ntype = "file_video"\npath = "frames"\nfps = 5\nrealtime = true\nloop = true\n'
    )
    service = AggregatorService(broker_url, tmp_path / "aggregator.db", "127.0.0.1:0")
    service.start()
    assert service.soc is not None
    keys = {
        role: service.soc.alerts.add_user(f"user-{role}", role)
        for role in ("operator", "privacy_officer", "technician")
    }
    agent = EdgeAgent(load_agent_config(tmp_path / "device.toml"))
    responder = SnapshotResponder(agent)
    agent.start()
    responder.start()
    try:
        assert responder.wait_subscribed(), "the device never subscribed to its cmd topic"
        deadline = time.monotonic() + 20
        while not any(d["device_id"] == "cam-1" for d in service.store.devices()):
            assert time.monotonic() < deadline, "the aggregator never heard from cam-1"
            time.sleep(0.1)
        image = cv2.imread(str(photo))
        yield Site(service, agent, responder, keys, image)
    finally:
        responder.stop()
        agent.stop()
        service.stop()


@pytest.fixture
def snapshot_site(tmp_path: Path, mosquitto, photos: list[Path]) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    yield from open_site(tmp_path, mosquitto.url, "counting-with-redacted-snapshots", photos[2])


@pytest.fixture
def counting_site(tmp_path: Path, mosquitto, photos: list[Path]) -> Iterator[Site]:  # type: ignore[no-untyped-def]
    yield from open_site(tmp_path, mosquitto.url, "counting-only", photos[2])


def test_an_operator_gets_an_anonymised_audited_snapshot_the_privacy_officer_can_audit(
    snapshot_site: Site,
) -> None:
    site = snapshot_site
    asked = site.ask()
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request_id"]
    answer = site.answer(request_id)
    assert answer["status"] == "sent", answer
    assert answer["masked"]["faces"] == 2 and answer["policy"] == "counting-with-redacted-snapshots v1"

    fetched = site.call("GET", f"/api/v1/snapshots/{request_id}/image", "privacy_officer")
    assert fetched.status_code == 200 and fetched.headers["content-type"] == "image/jpeg"
    jpeg = fetched.content
    assert hashlib.sha256(jpeg).hexdigest() == answer["jpeg_sha256"]
    snapshot = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert snapshot.shape[1] == 640, "the policy caps a snapshot at 640 px wide"
    same_size = cv2.resize(site.frame, (snapshot.shape[1], snapshot.shape[0]), interpolation=cv2.INTER_AREA)
    assert len(independent_faces(same_size)) >= 2, "the unmasked frame shows faces to YuNet"
    assert independent_faces(snapshot) == [], "YuNet finds no face in what left the device"
    assert site.call("GET", f"/api/v1/snapshots/{request_id}/image", "operator").status_code == 200

    assert site.call("GET", f"/api/v1/snapshots/{request_id}/image", "technician").status_code == 403
    assert site.call("GET", f"/api/v1/snapshots/{request_id}", "technician").status_code == 403
    assert site.ask("technician").status_code == 403
    assert site.ask("privacy_officer").status_code == 403, "the privacy officer audits, never asks"
    seen = site.call("GET", f"/api/v1/snapshots/{request_id}", "privacy_officer").json()["accesses"]
    assert [(a["user"], a["role"]) for a in seen] == [
        ("user-privacy_officer", "privacy_officer"),
        ("user-operator", "operator"),
    ]

    folder = audit_dir_for(site.agent.config.outbox_path)
    records = read_records(folder)
    (run,) = [r for r in records if r["kind"] == "anonymisation"]
    assert run["data"]["request_id"] == request_id and run["data"]["requested_by"] == "user-operator"
    assert run["data"]["jpeg_sha256"] == answer["jpeg_sha256"]
    assert run["data"]["models"]["faces"] and run["data"]["settings"]["face_threshold"] == 0.2
    assert len(run["data"]["faces"]) == 2
    (sent,) = [r for r in records if r["kind"] == "sent" and r["data"]["type"] == "snapshot"]
    assert sent["data"]["digest"] == answer["jpeg_sha256"]
    assert answer["audit_head"] in {r["hash"] for r in records}, "the reply names a record of the chain"
    assert verify_chain(folder).ok


def test_a_counting_only_device_refuses_and_says_why_and_audits_the_refusal(counting_site: Site) -> None:
    site = counting_site
    asked = site.ask()
    assert asked.status_code == 202, asked.text
    request_id = asked.json()["request_id"]
    answer = site.answer(request_id)
    assert answer["status"] == "refused" and "snapshots_not_allowed" in answer["refusal"]
    assert answer["jpeg_sha256"] is None and answer["jpeg_bytes"] is None
    assert site.call("GET", f"/api/v1/snapshots/{request_id}/image", "operator").status_code == 404

    records = read_records(audit_dir_for(site.agent.config.outbox_path))
    (refused,) = [r for r in records if r["kind"] == "refused" and r["data"]["type"] == "snapshot"]
    assert refused["data"]["request_id"] == request_id
    assert "snapshots_not_allowed" in refused["data"]["reason"]
    assert not [r for r in records if r["kind"] == "anonymisation"], "no image was even prepared"


def test_a_request_for_an_unknown_device_is_not_found(counting_site: Site) -> None:
    response = counting_site.call("POST", "/api/v1/devices/cam-9/snapshots", "operator", json={})
    assert response.status_code == 404 and "cam-9" in response.json()["detail"]


def test_retention_deletes_exactly_the_snapshots_requested_before_the_period(snapshot_site: Site) -> None:
    site = snapshot_site
    first = site.ask().json()["request_id"]
    assert site.answer(first)["status"] == "sent"
    assert site.call("GET", f"/api/v1/snapshots/{first}/image", "operator").status_code == 200
    boundary = datetime.now(UTC)
    time.sleep(0.05)
    second = site.ask().json()["request_id"]
    assert site.answer(second)["status"] == "sent"

    run = enforce(site.service.store.path, 7, now=boundary + timedelta(days=7))
    assert run.snapshots_deleted == 1
    assert run.other_ids_sha256 == hashlib.sha256(f"snapshot:{first}".encode()).hexdigest()
    assert site.call("GET", f"/api/v1/snapshots/{first}", "privacy_officer").status_code == 404
    assert site.call("GET", f"/api/v1/snapshots/{first}/image", "operator").status_code == 404
    assert site.call("GET", f"/api/v1/snapshots/{second}/image", "operator").status_code == 200
    assert history(site.service.store.path)[-1]["snapshots_deleted"] == 1


def test_check_matches_stored_snapshots_with_the_device_audit_and_flags_one_without_a_snapshot_policy(
    snapshot_site: Site,
) -> None:
    site = snapshot_site
    request_id = site.ask().json()["request_id"]
    assert site.answer(request_id)["status"] == "sent"
    db = site.service.store.path
    folder = audit_dir_for(site.agent.config.outbox_path)

    report = check(db, audit=folder, device="cam-1")
    assert report.snapshots == 1 and report.violation_count == 0
    assert report.audit is not None and report.audit["stored_not_in_audit"] == 0, report.audit
    assert report.ok

    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE snapshots SET policy = 'counting-only v1', jpeg_sha256 = ?", ("0" * 64,))
    tampered = check(db, audit=folder, device="cam-1")
    assert [v["event_id"] for v in tampered.violations] == [request_id]
    assert "counting-only v1" in tampered.violations[0]["problem"]
    assert tampered.audit is not None and tampered.audit["stored_not_in_audit"] == 1
    assert not tampered.ok
