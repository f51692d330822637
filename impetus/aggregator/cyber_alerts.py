"""Cyber findings into the operator queue: each `CyberFinding` becomes an alert of type `cyber`
with its evidence as the first note and the `sop/cyber.toml` checklist, beside the physical alerts.

    link.finding_sinks.append(cyber_alert_sink(soc.alerts))
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from impetus.aggregator.alerts_store import AlertStore, HistoryEntry
from impetus.aggregator.correlator import SYSTEM, load_sop
from impetus.aggregator.cyber_watch import CyberFinding, FindingSink
from impetus.protocol import format_ts

ACTOR = "cyber-watch"
TITLES = {
    "signature_failures": "Forged events (signature failures)",
    "replays": "Replayed events",
    "unknown_device": "Unknown device on the broker",
    "rate_anomaly": "Device flooding events",
    "silent_after_tamper": "Device silent after tampering",
}


def alert_fields(finding: CyberFinding, sop: list[str]) -> dict[str, object]:
    stamp = format_ts(datetime.fromtimestamp(finding.at, UTC))
    evidence = json.dumps(finding.evidence, sort_keys=True, default=str)
    return {
        "key": f"cyber:{finding.site}:{finding.device_id}:{finding.kind}:{stamp}",
        "site": finding.site,
        "zone": None,
        "device": finding.device_id,
        "type": "cyber",
        "title": f"{TITLES[finding.kind]} at {finding.site}/{finding.device_id}",
        "severity": finding.severity,
        "urgency": "Immediate",
        "certainty": "Observed",
        "status": "new",
        "first_seen": stamp,
        "last_seen": stamp,
        "event_count": 0,
        "devices": [finding.device_id],
        "confidence": 1.0,
        "untrusted": False,
        "test": False,
        "location": None,
        "sop": [
            {"step": n, "text": text, "done": False, "by": None, "at": None} for n, text in enumerate(sop, 1)
        ],
        "notes": [{"at": stamp, "by": ACTOR, "text": f"{finding.summary}. Evidence: {evidence}"}],
    }


def cyber_alert_sink(alerts: AlertStore) -> FindingSink:
    sop = load_sop("cyber")

    def sink(finding: CyberFinding) -> None:
        alerts.create(alert_fields(finding, sop), [], HistoryEntry(SYSTEM, "raised", None, "new"))

    return sink
