"""What an operator may do to an alert, and the audit entry each action leaves.

    new -> acknowledged -> assigned -> resolved | false_alarm
      \\-> assigned (acknowledges too)   \\-> resolved | false_alarm from any open state

Resolved and false alarms are final: acting on them again is refused (HTTP 409) with the reason.
Notes and checklist ticks are allowed in every state (a debrief note on a closed alert is normal).
Each change and its audit entry are written in one transaction.
"""

from __future__ import annotations

from typing import Any

from impetus.aggregator.alerts_store import OPEN_STATUSES, AlertStore, HistoryEntry, now_ts

MAX_NOTE_CHARS = 2000


class TransitionError(ValueError):
    """The action is not allowed in the alert's current state; the message says why."""


def _require_open(alert: dict[str, Any], action: str) -> None:
    if alert["status"] not in OPEN_STATUSES:
        raise TransitionError(f"cannot {action} alert {alert['id']}: it is already {alert['status']}")


def acknowledge(alerts: AlertStore, alert_id: int, actor: str) -> dict[str, Any] | None:
    def change(alert: dict[str, Any]) -> tuple[dict[str, Any], list[HistoryEntry]]:
        _require_open(alert, "acknowledge")
        if alert["status"] != "new":
            raise TransitionError(
                f"alert {alert_id} is already {alert['status']} (acknowledged by {alert['acknowledged_by']})"
            )
        return (
            {"status": "acknowledged", "acknowledged_by": actor, "acknowledged_at": now_ts()},
            [HistoryEntry(actor, "acknowledged", "new", "acknowledged")],
        )

    return alerts.mutate(alert_id, change)


def assign(alerts: AlertStore, alert_id: int, actor: str, assignee: str) -> dict[str, Any] | None:
    def change(alert: dict[str, Any]) -> tuple[dict[str, Any], list[HistoryEntry]]:
        _require_open(alert, "assign")
        fields: dict[str, Any] = {"status": "assigned", "assignee": assignee}
        if alert["acknowledged_by"] is None:
            fields.update(acknowledged_by=actor, acknowledged_at=now_ts())
        note = f"assigned to {assignee}" + (f" (was {alert['assignee']})" if alert["assignee"] else "")
        return fields, [HistoryEntry(actor, "assigned", alert["status"], "assigned", note)]

    return alerts.mutate(alert_id, change)


def close(alerts: AlertStore, alert_id: int, actor: str, outcome: str, note: str) -> dict[str, Any] | None:
    """`outcome` is "resolved" or "false_alarm"; the note says why and goes to the alert's notes."""
    if outcome not in ("resolved", "false_alarm"):
        raise ValueError(f"unknown outcome {outcome!r}; expected resolved or false_alarm")

    def change(alert: dict[str, Any]) -> tuple[dict[str, Any], list[HistoryEntry]]:
        _require_open(alert, "resolve" if outcome == "resolved" else "mark as false alarm")
        stamp = now_ts()
        fields: dict[str, Any] = {"status": outcome, "closed_by": actor, "closed_at": stamp}
        if alert["acknowledged_by"] is None:
            fields.update(acknowledged_by=actor, acknowledged_at=stamp)
        if note:
            fields["notes"] = [*alert["notes"], {"at": stamp, "by": actor, "text": note}]
        return fields, [HistoryEntry(actor, outcome, alert["status"], outcome, note or None)]

    return alerts.mutate(alert_id, change)


def add_note(alerts: AlertStore, alert_id: int, actor: str, text: str) -> dict[str, Any] | None:
    def change(alert: dict[str, Any]) -> tuple[dict[str, Any], list[HistoryEntry]]:
        stamp = now_ts()
        notes = [*alert["notes"], {"at": stamp, "by": actor, "text": text}]
        return {"notes": notes}, [HistoryEntry(actor, "note", note=text)]

    return alerts.mutate(alert_id, change)


def tick(alerts: AlertStore, alert_id: int, actor: str, step: int, done: bool) -> dict[str, Any] | None:
    def change(alert: dict[str, Any]) -> tuple[dict[str, Any], list[HistoryEntry]]:
        steps = alert["sop"]
        if not 1 <= step <= len(steps):
            raise LookupError(f"alert {alert_id} has SOP steps 1..{len(steps)}; there is no step {step}")
        updated = [
            {**s, "done": done, "by": actor if done else None, "at": now_ts() if done else None}
            if s["step"] == step
            else s
            for s in steps
        ]
        action = "sop_done" if done else "sop_undone"
        return {"sop": updated}, [HistoryEntry(actor, action, note=f"step {step}: {steps[step - 1]['text']}")]

    return alerts.mutate(alert_id, change)
