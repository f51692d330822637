"""`impetus privacy check`: does everything the aggregator stored conform to the policies in force?

For every stored event: its `privacy` stamp names a known policy version, the event type is allowed
by it and the payload holds only fields that policy lets leave (redacted fields must be absent).
Every stored snapshot image must have left under a known policy version with a `[snapshots]`
table. With a device's audit log, every stored event and snapshot image of that device must also
have been admitted by its gate (`sent`, same digest), and the heads the device reported in
`health` must be in the chain.
Heads are snapshotted into `privacy_audit_heads` on each check so successive heads can be compared.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from impetus.privacy.audit import read_records, verify_chain
from impetus.privacy.device_audit import content_digest
from impetus.privacy.policy import POLICIES_DIR, PrivacyPolicy, load_policy
from impetus.privacy.retention import open_db
from impetus.protocol import format_ts

HEADS_TABLE = "privacy_audit_heads"
_CREATE_HEADS = f"""
CREATE TABLE IF NOT EXISTS {HEADS_TABLE} (
    site TEXT NOT NULL, device_id TEXT NOT NULL, head TEXT NOT NULL, first_seen TEXT NOT NULL,
    PRIMARY KEY (site, device_id, head)
)
"""
MAX_LISTED = 50


def known_policies(extra: list[Path] | None = None) -> dict[tuple[str, int], PrivacyPolicy]:
    policies = [load_policy(path) for path in sorted(POLICIES_DIR.glob("*.toml"))]
    policies += [load_policy(path) for path in extra or []]
    return {(p.policy_id, p.version): p for p in policies}


@dataclass
class CheckReport:
    events: int = 0
    conforming: int = 0
    snapshots: int = 0
    violations: list[dict[str, Any]] = field(default_factory=list)
    violation_count: int = 0
    policies: list[str] = field(default_factory=list)
    audit: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.violation_count == 0 and (self.audit is None or self.audit.get("ok", False))

    def violation(self, event_id: str, device: str, problem: str) -> None:
        self.violation_count += 1
        if len(self.violations) < MAX_LISTED:
            self.violations.append({"event_id": event_id, "device": device, "problem": problem})

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "conforming": self.conforming,
            "snapshots": self.snapshots,
            "violation_count": self.violation_count,
            "violations": self.violations,
            "policies": self.policies,
            "audit": self.audit,
        }


def event_problem(envelope: dict[str, Any], policies: dict[tuple[str, int], PrivacyPolicy]) -> str | None:
    stamp = envelope.get("privacy") or {}
    key = (stamp.get("policy_id"), stamp.get("policy_version"))
    policy = policies.get(key)  # type: ignore[arg-type]
    if policy is None:
        return f"stamped with policy {key[0]} v{key[1]}, which is not a known policy version"
    rule = policy.types.get(envelope.get("type", ""))
    if rule is None:
        return f"type {envelope.get('type')!r} is not allowed by {policy.policy_id} v{policy.version}"
    extra = sorted(set(envelope.get("payload", {})) - set(rule.fields))
    if extra:
        return f"payload fields {extra} are not allowed by {policy.policy_id} v{policy.version}"
    return None


def check(
    db_path: Path,
    *,
    policy_files: list[Path] | None = None,
    audit: Path | None = None,
    device: str | None = None,
) -> CheckReport:
    policies = known_policies(policy_files)
    report = CheckReport(policies=[f"{pid} v{version}" for pid, version in sorted(policies)])
    conn = open_db(db_path)
    try:
        digests_by_device: dict[str, set[str]] = {}
        for row in conn.execute("SELECT event_id, device_id, body FROM events ORDER BY ts"):
            envelope = json.loads(row["body"])
            report.events += 1
            problem = event_problem(envelope, policies)
            if problem:
                report.violation(row["event_id"], row["device_id"], problem)
            else:
                report.conforming += 1
            digests_by_device.setdefault(row["device_id"], set()).add(content_digest(envelope))
        for device_id, digest in stored_snapshots(conn, policies, report):
            digests_by_device.setdefault(device_id, set()).add(digest)
        heads = snapshot_heads(conn)
        if audit is not None:
            report.audit = audit_against_store(audit, device, digests_by_device, heads)
    finally:
        conn.close()
    return report


def stored_snapshots(
    conn: sqlite3.Connection, policies: dict[tuple[str, int], PrivacyPolicy], report: CheckReport
) -> list[tuple[str, str]]:
    """(device, JPEG digest) of every stored snapshot image; one that names no known
    policy allowing snapshots is a violation."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "snapshots" not in tables:
        return []
    found = []
    rows = conn.execute(
        "SELECT request_id, device_id, policy, jpeg_sha256 FROM snapshots WHERE jpeg IS NOT NULL"
    )
    for row in rows.fetchall():
        report.snapshots += 1
        policy_id, _, version = (row["policy"] or "").partition(" v")
        policy = policies.get((policy_id, int(version))) if version.isdigit() else None
        if policy is None or policy.snapshots is None:
            report.violation(
                row["request_id"],
                row["device_id"],
                f"snapshot image under {row['policy']!r}, "
                "which is no known policy version with a [snapshots] table",
            )
        found.append((row["device_id"], row["jpeg_sha256"]))
    return found


def snapshot_heads(conn: sqlite3.Connection) -> dict[str, list[str]]:
    """Record the newest head each device reported in health; return every head seen, oldest first."""
    with conn:
        conn.execute(_CREATE_HEADS)
        now = format_ts(datetime.now(UTC))
        reported = conn.execute(
            "SELECT site, device_id, last_health FROM devices WHERE last_health IS NOT NULL"
        )
        for row in reported.fetchall():
            head = json.loads(row["last_health"]).get("payload", {}).get("audit_head")
            if head:
                conn.execute(
                    f"INSERT OR IGNORE INTO {HEADS_TABLE} VALUES (?, ?, ?, ?)",
                    (row["site"], row["device_id"], head, now),
                )
    heads: dict[str, list[str]] = {}
    for row in conn.execute(f"SELECT device_id, head FROM {HEADS_TABLE} ORDER BY first_seen, rowid"):
        heads.setdefault(row["device_id"], []).append(row["head"])
    return heads


def heads_for(db_path: Path, device: str) -> list[str]:
    conn = open_db(db_path)
    try:
        return snapshot_heads(conn).get(device, [])
    finally:
        conn.close()


def audit_against_store(
    folder: Path, device: str | None, stored: dict[str, set[str]], heads: dict[str, list[str]]
) -> dict[str, Any]:
    records = read_records(folder) if folder.is_dir() else []
    if device is None:
        devices = {r["data"].get("device_id") for r in records if r.get("kind") == "policy"} - {None}
        device = next(iter(devices), None) if len(devices) == 1 else None
    if device is None:
        return {"ok": False, "problem": "name the audit log's device with --device"}
    chain = verify_chain(folder, reported_heads=heads.get(device, []))
    admitted = {r["data"]["digest"] for r in records if r.get("kind") == "sent"}
    unaudited = sorted(stored.get(device, set()) - admitted)
    result = chain.as_dict() | {"device": device, "stored_not_in_audit": len(unaudited)}
    result["ok"] = chain.ok and not unaudited
    return result
