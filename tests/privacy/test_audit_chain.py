"""The audit chain: intact logs verify; a modified, deleted or cut-off record is named by `verify`;
rotation keeps the chain verifiable within a bounded size."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from impetus.privacy.audit import AuditError, AuditLog, read_records, segments, verify_chain


def filled(folder: Path, count: int = 10, **limits: int) -> AuditLog:
    log = AuditLog(folder, **limits)
    log.append("policy", {"policy_id": "counting-only", "version": 1})
    for index in range(1, count):
        log.append("sent", {"event_id": f"ev-{index}", "type": "crowd", "digest": f"{index:064x}"})
    return log


def lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def verify_cli(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impetus.cli", "privacy", "verify", str(folder)],
        capture_output=True,
        text=True,
    )


def test_an_intact_chain_verifies_with_exit_status_0(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit")
    report = verify_chain(log.folder)
    assert report.ok and report.records == 10 and report.head == log.head
    done = verify_cli(log.folder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] is True


def test_a_modified_record_is_named(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit")
    path = segments(log.folder)[0]
    content = lines(path)
    content[4] = content[4].replace(b'"crowd"', b'"gunshot"')
    path.write_bytes(b"".join(content))
    report = verify_chain(log.folder)
    assert report.bad_record == "audit-000001.jsonl line 5 (seq 4)"
    assert "modified" in (report.problem or "")
    done = verify_cli(log.folder)
    assert done.returncode == 1
    assert "first bad record audit-000001.jsonl line 5 (seq 4)" in done.stderr


def test_a_deleted_record_is_named(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit")
    path = segments(log.folder)[0]
    content = lines(path)
    del content[6]
    path.write_bytes(b"".join(content))
    report = verify_chain(log.folder)
    assert report.bad_record == "audit-000001.jsonl line 7 (seq 7)"
    assert "record 6 was deleted" in (report.problem or "")
    assert verify_cli(log.folder).returncode == 1


def test_a_rewritten_record_with_a_fresh_hash_breaks_the_link_to_the_next(tmp_path: Path) -> None:
    from impetus.privacy.audit import record_hash

    log = filled(tmp_path / "audit")
    path = segments(log.folder)[0]
    content = lines(path)
    record = json.loads(content[3])
    record["data"]["type"] = "gunshot"
    record["hash"] = record_hash(record)
    content[3] = json.dumps(record).encode() + b"\n"
    path.write_bytes(b"".join(content))
    report = verify_chain(log.folder)
    assert report.bad_record == "audit-000001.jsonl line 5 (seq 4)"
    assert "prev does not match" in (report.problem or "")


def test_truncating_mid_record_or_whole_records_is_named(tmp_path: Path) -> None:
    log = filled(tmp_path / "cut")
    path = segments(log.folder)[0]
    path.write_bytes(path.read_bytes()[:-20])
    report = verify_chain(log.folder)
    assert report.bad_record == "audit-000001.jsonl line 10 (seq ?)"
    assert "truncated" in (report.problem or "")

    log = filled(tmp_path / "shortened")
    path = segments(log.folder)[0]
    path.write_bytes(b"".join(lines(path)[:7]))
    report = verify_chain(log.folder)
    assert report.bad_record == "seq 7"
    assert "ends at seq 9" in (report.problem or "") and "truncated" in (report.problem or "")
    done = verify_cli(log.folder)
    assert done.returncode == 1 and "first bad record seq 7" in done.stderr


def test_a_chain_rewritten_after_the_device_reported_its_head_is_caught(tmp_path: Path) -> None:
    """Rewriting the whole tail consistently (new hashes, new HEAD) passes the local checks; the
    heads the aggregator received in health do not."""
    log = filled(tmp_path / "audit", count=5)
    reported = [log.head]
    path = segments(log.folder)[0]
    path.write_bytes(b"".join(lines(path)[:3]))
    (log.folder / "HEAD").unlink()
    head = json.loads(lines(path)[-1])
    (log.folder / "HEAD").write_text(json.dumps({"seq": head["seq"], "hash": head["hash"]}))
    forged = AuditLog(log.folder)
    forged.append("sent", {"event_id": "forged", "type": "crowd", "digest": "0" * 64})
    assert verify_chain(log.folder).ok
    report = verify_chain(log.folder, reported_heads=reported)
    assert not report.ok and "reported in health" in (report.problem or "")


def test_rotation_bounds_the_size_and_keeps_the_chain_verifiable(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit", count=400, max_segment_bytes=4096, max_segments=3)
    files = segments(log.folder)
    assert len(files) == 3
    assert sum(p.stat().st_size for p in files) < 4 * 4096
    report = verify_chain(log.folder)
    assert report.ok, report.problem
    assert report.first_seq and report.first_seq > 0 and report.last_seq == log.last_seq
    records = read_records(log.folder)
    assert records[0]["kind"] == "rotation"
    assert any(r["kind"] == "pruned" for r in records)


def test_deleting_the_oldest_segment_without_a_pruned_record_is_caught(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit", count=120, max_segment_bytes=4096, max_segments=8)
    files = segments(log.folder)
    assert len(files) >= 3 and verify_chain(log.folder).ok
    files[0].unlink()
    report = verify_chain(log.folder)
    assert report.bad_record == f"{files[1].name} line 1 (seq {read_records(log.folder)[0]['seq']})"
    assert "segment deleted" in (report.problem or "")


def test_a_log_folder_without_head_refuses_to_append(tmp_path: Path) -> None:
    log = filled(tmp_path / "audit", count=3)
    (log.folder / "HEAD").unlink()
    with pytest.raises(AuditError, match="HEAD is missing"):
        AuditLog(log.folder)
    with pytest.raises(ValueError, match="unknown audit record kind"):
        filled(tmp_path / "other", count=1).append("gossip", {})
