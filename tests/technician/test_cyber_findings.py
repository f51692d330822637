"""What the aggregator sees of attacks on the fleet becomes findings with evidence: bursts of bad
signatures or replays, unknown devices, a device far above its rate, silence after a tamper."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from test_signed_events import Site, tamper

from impetus.aggregator.alert_rules import load_rules
from impetus.aggregator.alerts_store import AlertStore
from impetus.aggregator.correlator import Correlator
from impetus.aggregator.cyber_watch import CyberFinding, CyberThresholds, CyberWatch
from impetus.aggregator.link_guard import Rejection
from impetus.aggregator.mosquitto import MosquittoProcess
from impetus.protocol import format_ts


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def watch(clock: Clock, last_seen: dict[str, float] | None = None, **limits: float) -> CyberWatch:
    seen = last_seen if last_seen is not None else {}
    return CyberWatch(
        lambda finding: None,
        thresholds=CyberThresholds(**limits),  # type: ignore[arg-type]
        last_seen=seen.get,
        clock=clock,
    )


def stored(device_id: str, event_type: str = "crowd", **extra: object) -> dict[str, object]:
    return {
        "device_id": device_id,
        "site": "piazza",
        "type": event_type,
        "event_id": f"e-{id(extra)}",
        **extra,
    }


def test_a_burst_of_forged_events_through_the_real_link_is_one_severe_finding(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    site = Site(tmp_path, mosquitto, require=True)
    findings: list[CyberFinding] = []
    cyber = CyberWatch(findings.append)
    site.guard.add_listener(cyber.on_rejection)
    try:
        for seq in range(1, 8):
            forged = json.loads(site.signer.sign(tamper("pole-a", seq)).to_bytes())
            forged["payload"]["kind"] = "moved"
            site.send(json.dumps(forged).encode())
        site.send(tamper("ghost-9", 1).to_bytes(), device_id="ghost-9")
    finally:
        site.close()
    kinds = [(f.kind, f.device_id, f.severity) for f in findings]
    assert kinds == [("signature_failures", "pole-a", "severe"), ("unknown_device", "ghost-9", "moderate")]
    assert findings[0].evidence["count"] == 5 and findings[0].evidence["reasons"]


def test_replays_below_the_threshold_are_not_a_finding_and_above_it_are() -> None:
    clock = Clock()
    cyber = watch(clock, replays=3, burst_window_s=60)
    for _ in range(2):
        cyber.on_rejection(Rejection("replayed_seq", "pole-a", "piazza", "seq 1 reused", clock.now))
        clock.now += 40  # spread out: never three within a minute
    assert cyber.findings == []
    for _ in range(3):
        cyber.on_rejection(Rejection("replayed_seq", "pole-a", "piazza", "seq 1 reused", clock.now))
    assert [f.kind for f in cyber.findings] == ["replays"]


def test_a_device_far_above_its_rate_is_reported_once_per_cooldown() -> None:
    clock = Clock()
    cyber = watch(clock, max_events_per_window=10, rate_window_s=60, cooldown_s=300)
    for _ in range(30):
        cyber.on_event(stored("pole-b"))
        cyber.on_event(stored("pole-b", "health"))  # health is not counted
        clock.now += 1
    assert [(f.kind, f.evidence["count"]) for f in cyber.findings] == [("rate_anomaly", 11)]


def test_a_device_silent_after_a_tamper_event_is_reported_and_a_talking_one_is_not() -> None:
    clock = Clock()
    last_seen: dict[str, float] = {}
    cyber = watch(clock, last_seen, silence_after_tamper_s=60)
    cyber.on_event(stored("pole-c", "tamper", payload={"kind": "enclosure_opened"}))
    cyber.on_event(stored("pole-d", "tamper", payload={"kind": "covered"}))
    cyber.on_event(stored("pole-e", "tamper", test=True, payload={"kind": "covered"}))  # a technician's test
    clock.now += 30
    last_seen["pole-d"] = clock.now  # pole-d keeps sending health
    cyber.tick()
    assert cyber.findings == []
    clock.now += 31
    cyber.tick()
    assert [(f.kind, f.device_id) for f in cyber.findings] == [("silent_after_tamper", "pole-c")]
    assert cyber.findings[0].evidence["tamper_kind"] == "enclosure_opened"


def correlated(
    tmp_path: Path, findings: list[CyberFinding], silence: dict[str, Any] | None = None
) -> AlertStore:
    """The findings through the operator queue's correlator (default rules), as serve wires it."""
    alerts = AlertStore(tmp_path / "alerts.db")
    if silence is not None:
        alerts.add_silence(silence)
    correlator = Correlator(alerts, load_rules())
    correlator.start()
    try:
        for finding in findings:
            correlator.submit(finding)
        assert correlator.wait_idle(10)
    finally:
        correlator.stop()
    return alerts


def finding(kind: str, device: str, at: float, severity: str = "severe") -> CyberFinding:
    return CyberFinding(kind, "piazza", device, severity, f"{kind} from {device}", {"seqs": [3, 4]}, at)  # type: ignore[arg-type]


def test_a_finding_becomes_a_cyber_alert_with_its_evidence_and_checklist(tmp_path: Path) -> None:
    clock = Clock()
    findings: list[CyberFinding] = []
    cyber = CyberWatch(findings.append, thresholds=CyberThresholds(replays=2), clock=clock)
    for seq in (3, 4):
        cyber.on_rejection(Rejection("replayed_seq", "pole-a", "piazza", f"seq {seq} reused", clock.now))
    alerts = correlated(tmp_path, findings)
    try:
        items, total = alerts.page(alert_type="cyber")
        assert total == 1
        alert = items[0]
        assert (alert["site"], alert["device"], alert["severity"], alert["status"]) == (
            "piazza",
            "pole-a",
            "severe",
            "new",
        )
        assert alert["title"] == "Attack on the device link at piazza/pole-a"
        assert any("seq 4 reused" in (entry["note"] or "") for entry in alerts.history(alert["id"]))
        assert any("revoke" in step["text"] for step in alert["sop"])
    finally:
        alerts.close()


def test_findings_on_one_device_within_the_grouping_window_are_one_alert(tmp_path: Path) -> None:
    at = 1_000_000.0
    alerts = correlated(
        tmp_path,
        [
            finding("unknown_device", "pole-a", at, severity="moderate"),
            finding("signature_failures", "pole-a", at + 30),
            finding("replays", "pole-b", at + 40),
            finding("replays", "pole-a", at + 3600),  # long after: a new incident
        ],
    )
    try:
        items, total = alerts.page(alert_type="cyber")
        assert total == 3
        by_device = sorted((a["device"], a["event_count"], a["severity"]) for a in items)
        assert by_device == [("pole-a", 1, "severe"), ("pole-a", 2, "severe"), ("pole-b", 1, "severe")]
        grouped = next(a for a in items if a["event_count"] == 2)
        assert [e["action"] for e in alerts.history(grouped["id"])].count("escalated") == 1
    finally:
        alerts.close()


def test_a_silence_on_a_device_holds_back_its_cyber_alerts_too(tmp_path: Path) -> None:
    at = 1_000_000.0
    window = {"starts_at": format_ts(datetime.fromtimestamp(at - 60, UTC))}
    window["ends_at"] = format_ts(datetime.fromtimestamp(at + 60, UTC))
    silence = {"site": "piazza", "zone": None, "device": "pole-a", "type": None, **window}
    silence |= {"author": "tech", "comment": "re-flashing pole-a"}
    alerts = correlated(
        tmp_path, [finding("signature_failures", "pole-a", at), finding("replays", "pole-b", at)], silence
    )
    try:
        items, total = alerts.page(alert_type="cyber")
        assert total == 1 and items[0]["device"] == "pole-b"
    finally:
        alerts.close()
