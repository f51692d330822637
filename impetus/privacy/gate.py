"""The privacy gate: every message a device sends passes here before it reaches the outbox.

The gate checks an event against the policy in force, removes the fields the policy redacts,
and stamps the envelope with the policy id, version and what was redacted. A refused message is
logged, counted and never stored, so it can never be published.

Issue #5 adds anonymisers and a hash-chained audit log on top: pass `on_decision`, which is
called for every message with `(event, allowed, reason)`.

>>> gate = PrivacyGate(load_policy("counting-only"))
>>> sent = gate.admit(event)            # stamped copy, or PrivacyRefusal
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from impetus.privacy.policy import PrivacyPolicy
from impetus.protocol import ContractViolation, EnvelopeBase, PrivacyStamp, parse_event

log = logging.getLogger(__name__)

# No payload field of the contract needs this much text; longer strings are what encoded
# pixels or sound would look like.
MAX_TEXT_CHARS = 512

DecisionHook = Callable[[EnvelopeBase, bool, str], None]


class PrivacyRefusal(Exception):
    """A message the policy does not allow to leave the device; `code` is stable."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class GateCounts:
    admitted: int
    refused: dict[str, int]


def _long_text(value: Any, path: str = "payload") -> str | None:
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        return path
    if isinstance(value, dict):
        for key, item in value.items():
            if (found := _long_text(item, f"{path}.{key}")) is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _long_text(item, f"{path}[{index}]")) is not None:
                return found
    return None


class PrivacyGate:
    def __init__(self, policy: PrivacyPolicy, on_decision: DecisionHook | None = None) -> None:
        self.policy = policy
        self.on_decision = on_decision
        self._lock = threading.Lock()
        self._admitted = 0
        self._refused: Counter[str] = Counter()

    def stamp(self, redacted: list[str] | None = None) -> PrivacyStamp:
        return PrivacyStamp(
            policy_id=self.policy.policy_id, policy_version=self.policy.version, redacted=redacted or []
        )

    def admit(self, event: EnvelopeBase) -> EnvelopeBase:
        """The event as it may leave (redacted, stamped), or `PrivacyRefusal` saying why not."""
        try:
            allowed = self._apply(event)
            if self.on_decision is not None:
                self._record(allowed, True, "allowed")
        except PrivacyRefusal as refusal:
            with self._lock:
                self._refused[refusal.code] += 1
            log.warning("privacy gate refused %s event %s: %s", event.type, event.event_id, refusal)  # type: ignore[attr-defined]
            if self.on_decision is not None and refusal.code != "audit_unwritable":
                self._record(event, False, str(refusal))
            raise
        with self._lock:
            self._admitted += 1
        return allowed

    def _record(self, event: EnvelopeBase, allowed: bool, reason: str) -> None:
        """Hand the decision to the audit hook; a log that cannot be written refuses the message,
        because nothing may leave unaudited (a full disk, a read-only file system)."""
        assert self.on_decision is not None
        try:
            self.on_decision(event, allowed, reason)
        except OSError as error:
            raise PrivacyRefusal(
                "audit_unwritable", f"the audit log could not record the decision ({error})"
            ) from error

    def counts(self) -> GateCounts:
        with self._lock:
            return GateCounts(admitted=self._admitted, refused=dict(self._refused))

    def _apply(self, event: EnvelopeBase) -> EnvelopeBase:
        event_type: str = event.type  # type: ignore[attr-defined]
        rule = self.policy.types.get(event_type)
        if rule is None:
            raise PrivacyRefusal(
                "type_not_allowed",
                f"policy {self.policy.policy_id} v{self.policy.version} does not allow {event_type} events",
            )
        data = event.wire_dict()
        payload: dict[str, Any] = data["payload"]
        present = set(payload)
        refused = sorted(present - set(rule.fields) - set(rule.redact))
        if refused:
            raise PrivacyRefusal(
                "field_not_allowed",
                f"{event_type} fields {refused} are not allowed by policy "
                f"{self.policy.policy_id} v{self.policy.version}",
            )
        if (where := _long_text(payload)) is not None:
            raise PrivacyRefusal(
                "binary_like",
                f"{where} holds more than {MAX_TEXT_CHARS} characters (images and audio never leave)",
            )
        redacted = sorted(present & set(rule.redact))
        data["payload"] = {key: value for key, value in payload.items() if key not in redacted}
        data["privacy"] = self.stamp(redacted).model_dump(mode="json")
        try:
            return parse_event(data)
        except ContractViolation as violation:
            raise PrivacyRefusal("invalid_after_redaction", violation.reason) from None
