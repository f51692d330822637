"""At the aggregator: retention removes exactly what is older than the period and records that it
did; `check` finds stored events that break the policies in force and matches a device's audit."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from impetus.aggregator.alert_lifecycle import close
from impetus.aggregator.alerts_store import AlertStore, HistoryEntry
from impetus.aggregator.store import EventStore, ValidMessage
from impetus.privacy.audit import AuditLog
from impetus.privacy.conformance import check
from impetus.privacy.device_audit import DeviceAudit
from impetus.privacy.gate import PrivacyGate
from impetus.privacy.policy import load_policy
from impetus.privacy.retention import enforce, history
from impetus.protocol import ClockQuality, EnvelopeBase, format_ts, make_event
from impetus.protocol.payloads import CrowdPayload, HealthPayload, TamperPayload

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
GATE = PrivacyGate(load_policy("counting-only"))


def event(kind: str, age: timedelta, seq: int = 1, now: datetime = NOW) -> EnvelopeBase:
    payload = (
        CrowdPayload(count=12, area_m2=100.0, density=0.12, level_of_service="A")
        if kind == "crowd"
        else TamperPayload(kind="covered", score=0.9)
    )
    return GATE.admit(
        make_event(
            kind,
            device_id="cam-1",
            site="piazza",
            seq=seq,
            payload=payload,
            ts=now - age,
            clock=ClockQuality(source="ntp"),
            privacy=GATE.stamp(),
        )
    )


def store_with(path: Path, events: list[EnvelopeBase]) -> None:
    store = EventStore(path)
    store.record([ValidMessage(e, f"impetus/piazza/{e.device_id}/{e.type}", NOW) for e in events])
    store.close()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "impetus.cli", "privacy", *args], capture_output=True, text=True
    )


def test_retention_removes_exactly_what_is_older_and_records_it(tmp_path: Path) -> None:
    db = tmp_path / "aggregator.db"
    old = [event("crowd", timedelta(days=8)), event("tamper", timedelta(days=7, seconds=1))]
    kept = [event("crowd", timedelta(days=6, hours=23)), event("tamper", timedelta(hours=1))]
    store_with(db, old + kept)

    run = enforce(db, 7, now=NOW)
    assert (run.events_deleted, run.events_left) == (2, 2)
    assert run.by_type == {"crowd": 1, "tamper": 1}
    assert run.cutoff == "2026-03-03T12:00:00.000000Z"
    with sqlite3.connect(db) as conn:
        left = {row[0] for row in conn.execute("SELECT event_id FROM events")}
    assert left == {e.event_id for e in kept}
    assert [r["events_deleted"] for r in history(db)] == [2]

    again = enforce(db, 7, now=NOW)
    assert again.events_deleted == 0 and len(history(db)) == 2, "every run is recorded, even an empty one"


def test_retention_cli_prints_the_recorded_run(tmp_path: Path) -> None:
    db = tmp_path / "aggregator.db"
    now = datetime.now(UTC)
    store_with(
        db, [event("crowd", timedelta(days=400), now=now), event("crowd", timedelta(minutes=5), now=now)]
    )
    done = cli("retention", "--db", str(db), "--days", "30")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)
    assert (run["events_deleted"], run["events_left"], run["days"]) == (1, 1, 30.0)
    logged = json.loads(cli("retention", "--db", str(db), "--days", "30", "--history").stdout)
    assert [r["events_deleted"] for r in logged] == [1, 0]
    bad = cli("retention", "--db", str(tmp_path / "nothing.db"), "--days", "30")
    assert bad.returncode != 0 and "no such aggregator database" in bad.stderr


def test_check_passes_conforming_events_and_names_the_ones_that_break_the_policy(tmp_path: Path) -> None:
    db = tmp_path / "aggregator.db"
    store_with(db, [event("crowd", timedelta(minutes=3)), event("tamper", timedelta(minutes=2))])
    assert check(db).ok

    leaked = event("tamper", timedelta(minutes=1)).wire_dict()
    leaked["event_id"] = "leaked-1"
    leaked["payload"]["owner_name"] = "someone"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO events VALUES (?, 'cam-1', 'piazza', NULL, 'tamper', ?, ?, 9, 0.9, 0, ?)",
            ("leaked-1", leaked["ts"], leaked["ts"], json.dumps(leaked)),
        )
    report = check(db)
    assert not report.ok and report.violation_count == 1
    assert report.violations[0]["event_id"] == "leaked-1"
    assert "owner_name" in report.violations[0]["problem"]
    done = cli("check", "--db", str(db))
    assert done.returncode == 1 and json.loads(done.stdout)["violation_count"] == 1


def test_check_matches_stored_events_and_reported_heads_against_the_device_audit(tmp_path: Path) -> None:
    db = tmp_path / "aggregator.db"
    audit = DeviceAudit(AuditLog(tmp_path / "audit"), "cam-1")
    audit.policy_in_force(GATE.policy)
    sent = [event("crowd", timedelta(minutes=m), seq=m) for m in (3, 2)]
    for admitted in sent:
        audit.on_decision(admitted, True, "allowed")
    health = GATE.admit(
        make_event(
            "health",
            device_id="cam-1",
            site="piazza",
            seq=5,
            payload=HealthPayload(uptime_s=1.0, outbox_backlog=0, outbox_dropped=0, audit_head=audit.head),
            ts=NOW,
            clock=ClockQuality(source="ntp"),
            privacy=GATE.stamp(),
        )
    )
    store_with(db, [*sent, health])
    report = check(db, audit=tmp_path / "audit")
    assert report.ok, report.as_dict()
    assert report.audit and report.audit["device"] == "cam-1" and report.audit["stored_not_in_audit"] == 0

    store_with(db, [event("tamper", timedelta(minutes=1), seq=9)])  # stored, but never admitted by the gate
    assert check(db, audit=tmp_path / "audit").audit["stored_not_in_audit"] == 1  # type: ignore[index]
    done = cli("verify", str(tmp_path / "audit"), "--db", str(db))
    assert done.returncode == 0 and json.loads(done.stdout)["reported_heads_checked"] == 1


def new_alert(alerts: AlertStore, key: str, event_ids: list[str]) -> int:
    fields = {
        "key": key,
        "site": "piazza",
        "device": "cam-1",
        "type": "tamper",
        "title": "Camera covered",
        "severity": "moderate",
        "urgency": "expected",
        "certainty": "likely",
        "status": "new",
        "first_seen": format_ts(NOW),
        "last_seen": format_ts(NOW),
        "event_count": len(event_ids),
        "devices": ["cam-1"],
        "confidence": 0.9,
        "untrusted": False,
        "test": False,
        "sop": [],
        "notes": [],
    }
    links = [(event_id, False) for event_id in event_ids]
    return alerts.create(fields, links, HistoryEntry(actor="rules", action="created", to_status="new"))


def test_retention_removes_closed_alerts_older_than_the_period_with_their_history_and_keeps_open_ones(
    tmp_path: Path,
) -> None:
    db = tmp_path / "aggregator.db"
    tamper = event("tamper", timedelta(days=9))
    store_with(db, [tamper])
    alerts = AlertStore(db)
    old_closed = new_alert(alerts, "old-closed", [tamper.event_id])
    close(alerts, old_closed, "op-anna", "false_alarm", "a bird on the lens")
    still_open = new_alert(alerts, "still-open", [tamper.event_id])
    time.sleep(0.05)
    boundary = datetime.now(UTC)
    time.sleep(0.05)
    recent_closed = new_alert(alerts, "recent-closed", [])
    close(alerts, recent_closed, "op-anna", "resolved", "handled")

    run = enforce(db, 7, now=boundary + timedelta(days=7))
    assert (run.alerts_deleted, run.open_alerts_kept) == (1, 1)
    assert alerts.alert(old_closed) is None and alerts.history(old_closed) == []
    assert alerts.alert(still_open) is not None, "an open alert is still needed, whatever its age"
    assert alerts.alert(recent_closed) is not None and alerts.history(recent_closed)
    assert alerts.event_links(old_closed) == []
    with sqlite3.connect(db) as conn, pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM alert_history")
    (logged,) = history(db)
    assert (logged["alerts_deleted"], logged["open_alerts_kept"]) == (1, 1)
    assert logged["other_ids_sha256"] == hashlib.sha256(b"alert:old-closed").hexdigest()
    alerts.close()
