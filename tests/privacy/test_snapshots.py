"""By default no image leaves a device; under the snapshot policy one may, anonymised, rate-limited
and audited."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from impetus.privacy.anonymiser import Anonymiser
from impetus.privacy.audit import AuditLog, read_records, verify_chain
from impetus.privacy.device_audit import DeviceAudit
from impetus.privacy.gate import PrivacyRefusal
from impetus.privacy.policy import load_policy
from impetus.privacy.snapshots import SnapshotGate


def test_the_default_policy_lets_no_image_leave_and_the_refusal_is_audited(tmp_path: Path) -> None:
    audit = DeviceAudit(AuditLog(tmp_path / "audit"), "cam-1")
    gate = SnapshotGate(load_policy("counting-only"), audit)
    with pytest.raises(PrivacyRefusal, match="snapshots_not_allowed"):
        gate.release(np.zeros((360, 640, 3), np.uint8), requested_by="op-1", now=0.0)
    (record,) = read_records(tmp_path / "audit")
    assert record["kind"] == "refused" and record["data"]["requested_by"] == "op-1"


def test_a_snapshot_policy_releases_anonymised_rate_limited_audited_jpegs(
    tmp_path: Path, photos: list[Path], anonymiser: Anonymiser
) -> None:
    audit = DeviceAudit(AuditLog(tmp_path / "audit"), "cam-1")
    gate = SnapshotGate(load_policy("counting-with-redacted-snapshots"), audit, anonymiser)
    zidane = cv2.imread(str(photos[2]))
    released = [gate.release(zidane, requested_by="op-1", now=60.0 * i) for i in range(6)]
    with pytest.raises(PrivacyRefusal, match="snapshot_rate"):
        gate.release(zidane, requested_by="op-1", now=400.0)
    assert gate.release(zidane, requested_by="op-1", now=3600.0)  # the first has aged out of the hour

    image = cv2.imdecode(np.frombuffer(released[0], np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[1] == 640
    assert len(anonymiser.faces.detect(image)) == 0, "the faces in the released frame are masked"
    records = read_records(tmp_path / "audit")
    kinds = [r["kind"] for r in records]
    assert kinds == ["anonymisation", "sent"] * 6 + ["refused", "anonymisation", "sent"]
    assert records[0]["data"]["jpeg_sha256"] == hashlib.sha256(released[0]).hexdigest()
    assert records[1]["data"] == {
        "type": "snapshot",
        "request_id": None,
        "digest": hashlib.sha256(released[0]).hexdigest(),
    }
    assert len(records[0]["data"]["faces"]) == 2
    assert verify_chain(tmp_path / "audit").ok


def test_a_snapshot_the_audit_log_cannot_record_never_leaves(
    tmp_path: Path, photos: list[Path], anonymiser: Anonymiser
) -> None:
    log = AuditLog(tmp_path / "audit")
    audit = DeviceAudit(log, "cam-1")
    audit.policy_in_force(load_policy("counting-with-redacted-snapshots"))
    head = log.head
    (segment,) = (tmp_path / "audit").glob("audit-*.jsonl")
    kept = segment.read_bytes()
    segment.unlink()
    segment.symlink_to("/dev/full")  # every write now fails with ENOSPC, as on a full disk
    gate = SnapshotGate(load_policy("counting-with-redacted-snapshots"), audit, anonymiser)
    with pytest.raises(PrivacyRefusal, match="audit_unwritable"):
        gate.release(cv2.imread(str(photos[2])), requested_by="op-1", now=0.0)
    assert log.head == head, "a record that could not be written does not move the head"
    segment.unlink()
    segment.write_bytes(kept)
    assert verify_chain(tmp_path / "audit").ok
