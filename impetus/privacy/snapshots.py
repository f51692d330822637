"""The only way an image may leave a device: an operator-requested snapshot, under a policy with a
`[snapshots]` table, anonymised first, rate-limited, and recorded in the audit log (what was found
and masked, by which model, the digest of the JPEG that left). Under any other policy - the
default - the request is refused and the refusal is audited.

>>> gate = SnapshotGate(policy, audit)
>>> jpeg = gate.release(frame, requested_by="operator-3", now=time.time())
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque

import cv2
import numpy as np

from impetus.privacy.anonymiser import Anonymiser, AnonymiserSettings
from impetus.privacy.device_audit import DeviceAudit
from impetus.privacy.gate import PrivacyRefusal
from impetus.privacy.policy import PrivacyPolicy

HOUR_S = 3600.0


def settings_for(policy: PrivacyPolicy) -> AnonymiserSettings:
    rule = policy.snapshots
    if rule is None:
        raise PrivacyRefusal(
            "snapshots_not_allowed", f"policy {policy.policy_id} v{policy.version} lets no image leave"
        )
    return AnonymiserSettings(
        face_threshold=rule.face_threshold,
        margin=rule.margin,
        mode=rule.mode,
        plates=rule.plates,
        persons=rule.persons,
    )


class SnapshotGate:
    def __init__(
        self, policy: PrivacyPolicy, audit: DeviceAudit, anonymiser: Anonymiser | None = None
    ) -> None:
        self.policy = policy
        self.audit = audit
        self._anonymiser = anonymiser
        self._released: deque[float] = deque()
        self._lock = threading.Lock()

    def release(self, frame: np.ndarray, *, requested_by: str, now: float) -> bytes:
        """The anonymised JPEG that may leave, or `PrivacyRefusal` (audited either way)."""
        try:
            settings = settings_for(self.policy)
            rule = self.policy.snapshots
            assert rule is not None
            with self._lock:
                while self._released and now - self._released[0] >= HOUR_S:
                    self._released.popleft()
                if len(self._released) >= rule.max_per_hour:
                    raise PrivacyRefusal(
                        "snapshot_rate",
                        f"{rule.max_per_hour} snapshots in the last hour is the policy's limit",
                    )
                self._released.append(now)
        except PrivacyRefusal as refusal:
            self.audit.log.append(
                "refused", {"type": "snapshot", "requested_by": requested_by, "reason": str(refusal)}
            )
            raise
        if self._anonymiser is None or self._anonymiser.settings != settings:
            self._anonymiser = Anonymiser(settings)
        if frame.shape[1] > rule.max_width:
            height = round(frame.shape[0] * rule.max_width / frame.shape[1])
            frame = cv2.resize(frame, (rule.max_width, height), interpolation=cv2.INTER_AREA)
        masked, run = self._anonymiser.anonymise(frame, "snapshot")
        ok, data = cv2.imencode(".jpg", masked, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError("could not encode the snapshot as JPEG")
        jpeg = data.tobytes()
        record = run.as_record() | {
            "requested_by": requested_by,
            "jpeg_sha256": hashlib.sha256(jpeg).hexdigest(),
        }
        record["policy"] = f"{self.policy.policy_id} v{self.policy.version}"
        self.audit.anonymisation(record)
        return jpeg
