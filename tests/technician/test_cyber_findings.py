"""What the aggregator sees of attacks on the fleet becomes findings with evidence: bursts of bad
signatures or replays, unknown devices, a device far above its rate, silence after a tamper."""

from __future__ import annotations

import json
from pathlib import Path

from test_signed_events import Site, tamper

from impetus.aggregator.alerts_store import AlertStore
from impetus.aggregator.cyber_alerts import cyber_alert_sink
from impetus.aggregator.cyber_watch import CyberFinding, CyberThresholds, CyberWatch
from impetus.aggregator.link_guard import Rejection
from impetus.aggregator.mosquitto import MosquittoProcess


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


def test_a_finding_becomes_a_cyber_alert_with_its_evidence_and_checklist(tmp_path: Path) -> None:
    alerts = AlertStore(tmp_path / "alerts.db")
    try:
        clock = Clock()
        cyber = CyberWatch(cyber_alert_sink(alerts), thresholds=CyberThresholds(replays=2), clock=clock)
        for seq in (3, 4):
            cyber.on_rejection(Rejection("replayed_seq", "pole-a", "piazza", f"seq {seq} reused", clock.now))
        items, total = alerts.page(alert_type="cyber")
        assert total == 1
        alert = items[0]
        assert (alert["site"], alert["device"], alert["severity"], alert["status"]) == (
            "piazza",
            "pole-a",
            "severe",
            "new",
        )
        assert alert["title"] == "Replayed events at piazza/pole-a"
        assert "seq 4 reused" in alert["notes"][0]["text"]
        assert any("revoke" in step["text"] for step in alert["sop"])
    finally:
        alerts.close()
