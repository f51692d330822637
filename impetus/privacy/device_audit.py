"""What a device writes into its audit log: the policy in force, every gate decision, every
anonymisation run. Plug `DeviceAudit.on_decision` into `PrivacyGate(on_decision=...)`.

The digest of a sent message covers the envelope as the gate admitted it, without `seq` and
`sig` (the outbox stamps `seq` afterwards), so the aggregator can recompute it from what it stored
(`content_digest`) and `impetus privacy check --audit` can match the two.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from impetus.privacy.audit import AuditLog
from impetus.privacy.policy import PrivacyPolicy
from impetus.protocol import EnvelopeBase, digest

UNSTAMPED = ("seq", "sig", "received_at")


def content_digest(envelope: dict[str, Any]) -> str:
    """SHA-256 of the canonical envelope without the fields stamped after the gate."""
    return digest({key: value for key, value in envelope.items() if key not in UNSTAMPED})


def policy_digest(policy: PrivacyPolicy) -> str:
    return digest(policy.model_dump(mode="json"))


def audit_dir_for(outbox_path: Path) -> Path:
    """Where a device keeps its audit log: beside its outbox, one folder per outbox file."""
    return outbox_path.parent / f"{outbox_path.stem}-audit"


class DeviceAudit:
    def __init__(self, log: AuditLog, device_id: str) -> None:
        self.log = log
        self.device_id = device_id

    @property
    def head(self) -> str:
        return self.log.head

    def policy_in_force(self, policy: PrivacyPolicy, *, reason: str = "agent start") -> None:
        self.log.append(
            "policy",
            {
                "device_id": self.device_id,
                "policy_id": policy.policy_id,
                "version": policy.version,
                "digest": policy_digest(policy),
                "reason": reason,
            },
        )

    def on_decision(self, event: EnvelopeBase, allowed: bool, reason: str) -> None:
        data = event.wire_dict()
        record = {
            "event_id": data["event_id"],
            "type": data["type"],
            "digest": content_digest(data),
        }
        if allowed:
            self.log.append("sent", record)
        else:
            self.log.append("refused", {**record, "reason": reason})

    def anonymisation(self, run: dict[str, Any]) -> None:
        self.log.append("anonymisation", run)
